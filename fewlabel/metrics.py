"""Test-set metrics: accuracy and macro-F1 with paired-bootstrap intervals, the gain of one method over
another with an exact McNemar test, confusion counts, and the majority-class baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from fewlabel import stats
from fewlabel.config import EvaluateConfig


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


def metrics(y_true: np.ndarray, predictions: dict[str, np.ndarray], classes: list[str], config: EvaluateConfig) -> dict:
    """Every method's scores, the pretrained arm's gain over no pretraining and, when ``predictions`` has
    the lexical baseline (``tfidf_lr``), over it."""
    lexical = {}
    if "tfidf_lr" in predictions:
        lexical["pretrained_vs_lexical"] = compare(y_true, predictions["pretrained"], predictions["tfidf_lr"], config)
    return {
        "methods": {m: score(y_true, p, config) for m, p in predictions.items()},
        "pretraining_vs_none": compare(y_true, predictions["pretrained"], predictions["no_pretraining"], config),
        **lexical,
        "classes": classes,
        "confidence": config.confidence,
    }


def confusion(y_true: np.ndarray, predictions: dict[str, np.ndarray], classes: list[str]) -> list[dict]:
    """Tidy confusion counts: one row per (method, true, predicted)."""
    labels = sorted(set(classes) | set(y_true))
    return [
        {"method": m, "true": t, "predicted": p, "count": int(c)}
        for m, pred in predictions.items()
        for t, row in zip(labels, confusion_matrix(y_true, pred, labels=labels))
        for p, c in zip(labels, row)
    ]
