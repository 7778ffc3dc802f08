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
from tasks.preprocess import tokenize
from tasks.train import load_model
from tasks.vectorize import average, embedding


def classify(texts: list[str], record: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(labels, probabilities, classes) for raw texts, with the run's own preprocessing."""
    config = Config.model_validate(record["config"])
    refs = record["refs"]
    tokens = tokenize(pa.array(texts, pa.string()), config.preprocess)
    vectors, _ = average(tokens, *embedding(store.read_table(refs["pretrain"], "vectors.parquet")))
    model = load_model(store.read_bytes(refs["train"], "pretrained.skops"), "pretrained.skops")
    proba = model.predict_proba(vectors)
    classes = [str(c) for c in model.classes_]
    return np.asarray(classes, dtype=object)[proba.argmax(axis=1)], proba, classes


@task(name="predict", retries=2, retry_delay_seconds=2)
def predict(input_path: str, output_path: str | None, run: str, text_column: str, encoding: str) -> dict:
    """Classify every row of ``input_path`` and write the predictions atomically."""
    record = runs.read_run(run)
    frame = readers.read_unlabeled(input_path, text_column, encoding)
    labels, proba, classes = classify(frame["text"].tolist(), record)
    out = Path(output_path) if output_path else store.data_dir() / "predictions" / f"{Path(input_path).stem}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "origin": frame["origin"].tolist(), "row": frame["row"].tolist(), "text": frame["text"].tolist(),
        "predicted": labels.tolist(),
        **{f"proba_{c}": proba[:, i].astype(np.float32) for i, c in enumerate(classes)},
    })
    tmp = out.with_name(f".tmp-{out.name}-{uuid.uuid4().hex[:8]}")
    try:
        pq.write_table(table, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    counts = {c: int((labels == c).sum()) for c in classes}
    return {"output": str(out), "rows": len(table), "predicted": counts, "run": record["flow_run_id"]}
