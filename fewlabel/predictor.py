"""A trained run's classifier: its preprocessing, its pretrained sentence features and its model,
loaded once, applied to raw texts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from fewlabel import catalog, store
from fewlabel.config import Config, PreprocessConfig, VectorizeConfig
from fewlabel.errors import UserError
from fewlabel.text import tokenize
from fewlabel.vectors import common_of, counts_of, embedding, needs_fit, sentence_vectors

MODEL_STAGES = ("pretrain", "vectorize", "train")
"""The artifacts of a training run that a prediction depends on."""


def pretrained_featurizer(pretrain: store.Ref, vectorize: store.Ref | None, config: VectorizeConfig):
    """A function from new token lists to (pretrained-arm vectors, known words per text), made exactly
    as the vectorize stage made its features (same weighting, its own common component from
    ``components.parquet``, same pooling); the vectors are read once."""
    table = store.read_table(pretrain, catalog.VECTORS)
    vocabulary, matrix = embedding(table)
    counts = counts_of(table)
    component = None
    if needs_fit(config):
        component = common_of(store.read_table(vectorize, catalog.COMPONENTS), "pretrained")
    return lambda tokens: sentence_vectors(tokens, vocabulary, matrix, counts, config, component)


class Classifier:
    """A trained run's preprocessing, sentence features and model, loaded once."""

    def __init__(
        self,
        preprocess: PreprocessConfig,
        vectorize: VectorizeConfig,
        pretrain: store.Ref,
        features: store.Ref | None,
        train: store.Ref,
    ):
        self.preprocess = preprocess
        from fewlabel.modelio import load_model  # skops and scikit-learn load with the first model

        self.features = pretrained_featurizer(pretrain, features, vectorize)
        self.model = load_model(store.read_bytes(train, catalog.MODELS["pretrained"]), catalog.MODELS["pretrained"])
        self.classes = [str(c) for c in self.model.classes_]

    @classmethod
    def of_run(cls, record: dict) -> Classifier:
        """The classifier of a run record (``runs.read_run``)."""
        config, refs = Config.model_validate(record["config"]), record["refs"]
        return cls(config.preprocess, config.vectorize, refs["pretrain"], refs.get("vectorize"), refs["train"])

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, probabilities, known words per text) for raw texts. A text with no known word is
        classified from a zero vector: its label is the model's prior, flagged by ``known == 0``."""
        tokens = tokenize(pa.array(texts, pa.string()), self.preprocess)
        vectors, known = self.features(tokens)
        proba = self.model.predict_proba(vectors)
        return np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)], proba, known


def schema(classes: list[str]) -> pa.Schema:
    """The predictions table: origin, row, text, predicted, one ``proba_<class>`` per class, and
    ``known_words`` (how many of the text's words the vectors know; 0: the prediction is a guess)."""
    return pa.schema(
        [
            ("origin", pa.string()),
            ("row", pa.int64()),
            ("text", pa.string()),
            ("predicted", pa.string()),
            *[(f"proba_{c}", pa.float32()) for c in classes],
            ("known_words", pa.int64()),
        ]
    )


def output_name(input_path: str) -> str:
    """The predictions' name for an input file or folder: its name without its extension and without
    leading dots (``.new.csv`` -> ``new``; ``.`` -> the folder's name), ``predictions`` if nothing is left."""
    name = Path(os.path.abspath(input_path)).name  # '.', '..' and 'inbox/' name the folder itself
    name = (Path(name).stem if Path(name).suffix else name).lstrip(". ").rstrip()
    return name or "predictions"


def output_file(name: str | None, input_path: str) -> Path:
    """``data/predictions/<name>.parquet``: predictions are never written outside the data folder. Without a
    ``name``, one derived from the input's (:func:`output_name`); a name given must be a plain file name."""
    name = name or output_name(input_path)
    if not name or Path(name).name != name or name.startswith("."):
        raise UserError(
            f"output name {name[:60]!r}: give a plain file name (no folders, not starting with a dot); it goes in "
            "data/predictions/"
        )
    return store.data_dir() / "predictions" / (name if name.endswith(".parquet") else f"{name}.parquet")
