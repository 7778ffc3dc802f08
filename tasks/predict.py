"""Predict: classify new texts with a trained run's preprocessing, vectors and model.

Reads a CSV/TSV/Parquet/.txt file, writes Parquet: origin, row, text, the predicted label and one
``proba_<class>`` column per class. Every input row gets exactly one output row.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from fewlabel import readers, runs, store
from fewlabel.config import Config
from fewlabel.errors import UserError
from tasks.preprocess import tokenize
from tasks.train import load_model
from tasks.vectorize import pretrained_featurizer


class Classifier:
    """A trained run's preprocessing, sentence features and model, loaded once."""

    def __init__(self, record: dict):
        self.config = Config.model_validate(record["config"])
        refs = record["refs"]
        self.features = pretrained_featurizer(refs["pretrain"], refs.get("vectorize"), self.config.vectorize)
        self.model = load_model(store.read_bytes(refs["train"], "pretrained.skops"), "pretrained.skops")
        self.classes = [str(c) for c in self.model.classes_]

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(labels, probabilities) for raw texts."""
        tokens = tokenize(pa.array(texts, pa.string()), self.config.preprocess)
        proba = self.model.predict_proba(self.features(tokens))
        return np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)], proba


def output_file(name: str | None, input_path: str) -> Path:
    """``data/predictions/<name>.parquet``: predictions are never written outside the data folder."""
    name = name or Path(input_path).stem
    if not name or Path(name).name != name or name.startswith("."):
        raise UserError(f"output name {name!r}: give a plain file name (no folders); it goes in data/predictions/")
    return store.data_dir() / "predictions" / (name if name.endswith(".parquet") else f"{name}.parquet")


@task(name="predict", retries=2, retry_delay_seconds=2)
def predict(input_path: str, output_name: str | None, run: str, text_column: str, encoding: str,
            batch_size: int = 65_536) -> dict:
    """Classify every row of ``input_path``, ``batch_size`` rows at a time; write the predictions atomically."""
    classify = Classifier(runs.read_run(run))
    frame = readers.read_unlabeled(input_path, text_column, encoding)
    out = output_file(output_name, input_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("origin", pa.string()), ("row", pa.int64()), ("text", pa.string()),
                        ("predicted", pa.string()), *[(f"proba_{c}", pa.float32()) for c in classify.classes]])
    counts = dict.fromkeys(classify.classes, 0)
    tmp = out.with_name(f".tmp-{out.name}-{uuid.uuid4().hex[:8]}")
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for start in range(0, len(frame), batch_size):
                part = frame.iloc[start:start + batch_size]
                labels, proba = classify(part["text"].tolist())
                writer.write_table(pa.table({
                    "origin": part["origin"].tolist(), "row": part["row"].tolist(), "text": part["text"].tolist(),
                    "predicted": labels.tolist(),
                    **{f"proba_{c}": proba[:, i].astype(np.float32) for i, c in enumerate(classify.classes)},
                }, schema=schema))
                for label in classify.classes:
                    counts[label] += int((labels == label).sum())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"output": str(out), "rows": len(frame), "predicted": counts, "run": runs.read_run(run)["flow_run_id"]}
