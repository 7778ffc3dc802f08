"""Stage 6, evaluate: test-set metrics for the pretrained model and two baselines on the same labels.

Methods: ``pretrained``; ``no_pretraining`` (Word2Vec on the training sentences only); ``majority``
(the most frequent training label). Accuracy and macro-F1 with paired-bootstrap intervals, the
accuracy gain of pretraining with its interval and an exact McNemar test, confusion matrices. Writes
``metrics.json``, ``metrics.parquet``, ``confusion.parquet``, ``predictions.parquet``, ``report.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from fewlabel import report, stats, store
from fewlabel.config import EvaluateConfig
from fewlabel.stage import stage
from tasks.train import load_model
from tasks.vectorize import ARMS, matrix_of


def majority_label(labels: list[str]) -> str:
    """The most frequent label (ties broken by sorted order, so it is deterministic)."""
    counts = pd.Series(labels).value_counts()
    return sorted(counts[counts == counts.max()].index)[0]


def score(y_true: np.ndarray, y_pred: np.ndarray, config: EvaluateConfig) -> dict:
    correct = (y_true == y_pred).astype(float)
    low, high = stats.bootstrap_interval(correct, config.bootstrap, config.confidence, config.seed)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "accuracy_ci": [low, high],
        "n": len(y_true),
    }


def compare(y_true: np.ndarray, a: np.ndarray, b: np.ndarray, config: EvaluateConfig) -> dict:
    """Accuracy of a minus b, with a paired-bootstrap interval and McNemar's exact p-value."""
    a_ok, b_ok = y_true == a, y_true == b
    diff = a_ok.astype(float) - b_ok.astype(float)
    low, high = stats.bootstrap_interval(diff, config.bootstrap, config.confidence, config.seed)
    return {"accuracy_gain": float(diff.mean()), "ci": [low, high], "mcnemar_p": stats.mcnemar_exact(a_ok, b_ok)}


@stage("evaluate")
def evaluate(out: Path, vectorize: store.Ref, train: store.Ref, config: EvaluateConfig,
             batch_size: int = 65_536) -> dict:
    """Score every method on the test split; write metrics, confusion matrices and the report.

    The test vectors are read and classified ``batch_size`` rows at a time; only labels and
    predictions are kept whole.
    """
    train_labels = store.read_table(vectorize, "train.parquet", ["label"])["label"].to_pylist()
    classes = store.read_json(train, "metadata.json")["classes"]
    models = {arm: load_model(store.read_bytes(train, f"{arm}.skops"), f"{arm}.skops") for arm in ARMS}
    parts = {name: [] for name in ("label", "origin", "row", *ARMS)}
    for batch in store.iter_batches(vectorize, "test.parquet", batch_size)[1]:
        for name in ("label", "origin", "row"):
            parts[name].append(batch[name])
        for arm, model in models.items():
            parts[arm].append(model.predict(matrix_of(batch, arm)))
    test = {name: pa.chunked_array(parts[name]) for name in ("label", "origin", "row")}
    y_true = np.asarray(test["label"].to_pylist(), dtype=object)
    predictions = {arm: np.concatenate(parts[arm]) if parts[arm] else np.zeros(0, object) for arm in ARMS}
    predictions["majority"] = np.full(len(y_true), majority_label(train_labels), dtype=object)
    metrics = {
        "methods": {m: score(y_true, p, config) for m, p in predictions.items()},
        "pretraining_vs_none": compare(y_true, predictions["pretrained"], predictions["no_pretraining"], config),
        "classes": classes,
        "confidence": config.confidence,
    }
    labels = sorted(set(classes) | set(y_true))
    confusion = [
        {"method": m, "true": t, "predicted": p, "count": int(c)}
        for m, pred in predictions.items()
        for t, row in zip(labels, confusion_matrix(y_true, pred, labels=labels))
        for p, c in zip(labels, row)
    ]
    store.write_json(out, "metrics.json", metrics)
    store.write_table(out, "metrics.parquet", pa.Table.from_pylist(
        [{"method": m, "accuracy": v["accuracy"], "macro_f1": v["macro_f1"],
          "accuracy_ci_low": v["accuracy_ci"][0], "accuracy_ci_high": v["accuracy_ci"][1], "n": v["n"]}
         for m, v in metrics["methods"].items()]
    ))
    store.write_table(out, "confusion.parquet", pa.Table.from_pylist(confusion))
    store.write_table(out, "predictions.parquet", pa.table(
        {"origin": test["origin"], "row": test["row"], "label": test["label"],
         **{m: pa.array(p.astype(str).tolist(), pa.string()) for m, p in predictions.items()}}
    ))
    (out / "report.md").write_text(report.metrics_markdown(metrics), encoding="utf-8")
    return {m: {"accuracy": round(v["accuracy"], 4), "macro_f1": round(v["macro_f1"], 4)}
            for m, v in metrics["methods"].items()}
