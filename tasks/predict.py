"""Predict: classify new texts with a trained run's preprocessing, vectors and model.

Each input file (the file itself, or every file of a folder) is a shard: the ``predict`` stage
classifies one file, ``batch_size`` rows at a time, into a cached artifact (so a folder that gained
a file only classifies that file, and shards can run on a Dask cluster). ``write_predictions`` then
joins the shards, in file order, into ``data/predictions/<name>.parquet``: origin, row, text, the
predicted label and one ``proba_<class>`` column per class. Every input row gets exactly one output row.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from fewlabel import readers, store
from fewlabel.config import Config, PreprocessConfig, VectorizeConfig
from fewlabel.errors import UserError
from fewlabel.stage import stage
from tasks.preprocess import tokenize
from tasks.train import load_model
from tasks.vectorize import pretrained_featurizer

MODEL_STAGES = ("pretrain", "vectorize", "train")
"""The artifacts of a training run that a prediction depends on."""


class Classifier:
    """A trained run's preprocessing, sentence features and model, loaded once."""

    def __init__(self, preprocess: PreprocessConfig, vectorize: VectorizeConfig, pretrain: store.Ref,
                 features: store.Ref | None, train: store.Ref):
        self.preprocess = preprocess
        self.features = pretrained_featurizer(pretrain, features, vectorize)
        self.model = load_model(store.read_bytes(train, "pretrained.skops"), "pretrained.skops")
        self.classes = [str(c) for c in self.model.classes_]

    @classmethod
    def of_run(cls, record: dict) -> Classifier:
        """The classifier of a run record (``runs.read_run``)."""
        config, refs = Config.model_validate(record["config"]), record["refs"]
        return cls(config.preprocess, config.vectorize, refs["pretrain"], refs.get("vectorize"), refs["train"])

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(labels, probabilities) for raw texts."""
        tokens = tokenize(pa.array(texts, pa.string()), self.preprocess)
        proba = self.model.predict_proba(self.features(tokens))
        return np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)], proba


def shard_calls(input_path: str, record: dict, text_column: str, encoding: str) -> list[list]:
    """One ``predict`` task's arguments per input file, with the run's model artifacts and config."""
    config, refs = Config.model_validate(record["config"]), record["refs"]
    model = [refs[name] for name in MODEL_STAGES]
    return [[str(path.resolve()), *model, config.preprocess, config.vectorize, text_column, encoding]
            for path in readers.input_files(input_path, "input")]


def _schema(classes: list[str]) -> pa.Schema:
    return pa.schema([("origin", pa.string()), ("row", pa.int64()), ("text", pa.string()),
                      ("predicted", pa.string()), *[(f"proba_{c}", pa.float32()) for c in classes]])


@stage("predict", fingerprint=store.file_fingerprint)
def predict(out: Path, path: str, pretrain: store.Ref, vectorize: store.Ref, train: store.Ref,
            preprocess_config: PreprocessConfig, vectorize_config: VectorizeConfig, text_column: str,
            encoding: str, batch_size: int = 65_536) -> dict:
    """Classify every row of one input file, ``batch_size`` rows at a time, into ``predictions.parquet``."""
    classify = Classifier(preprocess_config, vectorize_config, pretrain, vectorize, train)
    frame = readers.read_unlabeled(path, text_column, encoding, what="input")
    counts = dict.fromkeys(classify.classes, 0)
    schema = _schema(classify.classes)
    with store.table_writer(out, "predictions.parquet", schema) as write:
        for start in range(0, len(frame), batch_size):
            part = frame.iloc[start:start + batch_size]
            labels, proba = classify(part["text"].tolist())
            write(pa.table({
                "origin": part["origin"].tolist(), "row": part["row"].tolist(), "text": part["text"].tolist(),
                "predicted": labels.tolist(),
                **{f"proba_{c}": proba[:, i].astype(np.float32) for i, c in enumerate(classify.classes)},
            }, schema=schema))
            for label in classify.classes:
                counts[label] += int((labels == label).sum())
    return {"file": Path(path).name, "rows": len(frame), "predicted": counts, "classes": classify.classes}


def output_file(name: str | None, input_path: str) -> Path:
    """``data/predictions/<name>.parquet``: predictions are never written outside the data folder."""
    name = name or Path(input_path).stem
    if not name or Path(name).name != name or name.startswith("."):
        raise UserError(f"output name {name!r}: give a plain file name (no folders); it goes in data/predictions/")
    return store.data_dir() / "predictions" / (name if name.endswith(".parquet") else f"{name}.parquet")


@task(name="write-predictions", retries=2, retry_delay_seconds=2)
def write_predictions(shards: list[store.Ref], output_name: str | None, input_path: str) -> dict:
    """Join the shards' predictions, in input order, into one file, atomically; the counts per label."""
    out = output_file(output_name, input_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    classes = shards[0]["stats"]["classes"]
    counts = {c: sum(s["stats"]["predicted"][c] for s in shards) for c in classes}
    tmp = out.with_name(f".tmp-{out.name}-{uuid.uuid4().hex[:8]}")
    try:
        with pq.ParquetWriter(tmp, _schema(classes), compression="zstd") as writer:
            for shard in shards:
                for table in store.iter_batches(shard, "predictions.parquet")[1]:
                    writer.write_table(table)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"output": str(out), "rows": sum(s["stats"]["rows"] for s in shards), "predicted": counts,
            "shards": len(shards)}
