"""Suggestions: the unlabeled sentences a trained run's model says a person should label next.

The pool is the run's unlabeled text as its preprocess and shard stages left it (split into lines,
tokenized, test sentences already removed by the leak filter), less the sentences of the run's
training split and of the label store, less texts with no word the run's vectors know, each text
once. A seeded sample of at most ``pool_max`` lines is scored by the run's model
(:class:`fewlabel.predictor.Classifier`) and a strategy (:mod:`fewlabel.selection`) picks ``n``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fewlabel import catalog, labels, store
from fewlabel.config import Config
from fewlabel.errors import UserError
from fewlabel.predictor import Classifier
from fewlabel.selection import STRATEGIES, select


def pool(record: dict) -> pa.Table:
    """(text, origin, row, tokens) of the run's unlabeled lines: every shard and the preprocessed table."""
    refs = record["refs"]
    columns = ["text", "origin", "row", "tokens"]
    parts = [store.read_table(ref, catalog.UNLABELED, columns) for ref in refs.get("shard", [])]
    parts.append(store.read_table(refs["preprocess"], catalog.UNLABELED, columns))
    return pa.concat_tables(parts)


def candidates(record: dict, pool_max: int, seed: int) -> pa.Table:
    """The pool less training, stored and token-less texts, each text once, sampled to ``pool_max`` rows."""
    table = pool(record)
    keys = pc.utf8_trim_whitespace(table["text"])
    train = store.read_table(record["refs"]["preprocess"], catalog.TRAIN, ["text"])
    stored = labels.labeled_texts(dataset_of(record)["id"])  # labels of this data set only
    taken = pa.array(sorted(stored | set(pc.utf8_trim_whitespace(train["text"]).to_pylist())), pa.string())
    keep = pc.and_(pc.invert(pc.is_in(keys, value_set=taken)), pc.greater(pc.list_value_length(table["tokens"]), 0))
    table, keys = table.filter(keep), keys.filter(keep)
    _, first = np.unique(keys.to_numpy(zero_copy_only=False), return_index=True)
    table = table.take(np.sort(first))
    if len(table) > pool_max:
        table = table.take(np.sort(np.random.default_rng(seed).choice(len(table), size=pool_max, replace=False)))
    return table


def suggest(record: dict, strategy: str, n: int, pool_max: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """The ``n`` suggested sentences, best first: text, origin, row, the model's guess and its
    confidence (probability of the guess), an empty ``label`` column for a person to fill in, and the
    ``dataset`` the labels will belong to."""
    table = candidates(record, pool_max, seed)
    if len(table) == 0:
        raise UserError("no unlabeled sentence left to suggest: every pool sentence is labeled or a test sentence")
    classify = Classifier.of_run(record)
    vectors, known = classify.features(table["tokens"])
    keep = np.flatnonzero(known > 0)
    table, vectors = table.take(keep), vectors[keep]
    proba = classify.model.predict_proba(vectors)
    picks = select(strategy, vectors, None if not STRATEGIES[strategy].needs_model else proba, n, seed)
    chosen = table.take(picks)
    p = proba[picks]
    return pd.DataFrame(
        {
            "text": chosen["text"].to_pylist(),
            "origin": chosen["origin"].to_pylist(),
            "row": chosen["row"].to_pylist(),
            "guess": np.asarray(classify.classes, dtype=object)[p.argmax(axis=1)],
            "confidence": np.round(p.max(axis=1), 4),
            "label": "",
            "dataset": dataset_of(record)["id"],
        }
    )


def classes_of(record: dict) -> list[str]:
    return list(store.read_json(record["refs"]["train"], catalog.METADATA)["classes"])


def write_csv(frame: pd.DataFrame, name: str) -> Path:
    """``data/labels/suggestions-<name>.csv`` (UTF-8, written atomically)."""
    path = labels.labels_dir() / f"suggestions-{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.atomic_path(path) as tmp:
        frame[labels.SUGGESTION_COLUMNS].to_csv(tmp, index=False, encoding="utf-8")
    return path


def run_config(record: dict) -> Config:
    return Config.model_validate(record["config"])


def dataset_of(record: dict) -> dict:
    """The data set a run was trained on (:func:`fewlabel.labels.dataset_info`): its suggestions are drawn
    from it, and the labels given for them belong to it."""
    return labels.dataset_info(run_config(record).data)
