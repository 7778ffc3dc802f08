"""Stage evaluate: test-set metrics for the pretrained model and three baselines on the same labels.

Methods: ``pretrained``; ``no_pretraining`` (Word2Vec on the training sentences only); ``tfidf_lr``
(TF-IDF + logistic regression on the training sentences' tokens, :mod:`fewlabel.lexical`: the words
alone, fitted here, not kept); ``majority`` (the most frequent training label), scored by
:mod:`fewlabel.metrics`. Writes ``metrics.json``, ``metrics.parquet``, ``confusion.parquet``,
``predictions.parquet``, ``report.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from fewlabel import catalog, classifiers, report, store
from fewlabel.config import ClassifierConfig, Config, EvaluateConfig
from fewlabel.orchestration.stage import stage
from fewlabel.vectors import ARMS, matrix_of

LEXICAL = "tfidf_lr"
"""The lexical baseline's method name (as the learning curve names it)."""


@stage("evaluate")
def evaluate(
    out: Path,
    preprocess: store.Ref,
    vectorize: store.Ref,
    train: store.Ref,
    config: EvaluateConfig,
    tfidf_C: float,
    batch_size: int = 65_536,
) -> dict:
    """Score every method on the test split, ``batch_size`` test rows at a time; only labels and
    predictions are kept whole. The lexical baseline is fitted on preprocess's training tokens, with
    inverse regularization ``tfidf_C`` (``curve.tfidf_C``: the curve's TF-IDF + LR is the same)."""
    from fewlabel.lexical import fit_tfidf_lr  # loaded when the stage runs, not on a cache hit
    from fewlabel.metrics import confusion, majority_label, metrics
    from fewlabel.modelio import load_model

    train_labels = store.read_table(vectorize, catalog.TRAIN, ["label"])["label"].to_pylist()
    tokens = store.read_table(preprocess, catalog.TRAIN, ["tokens", "label"])
    if tokens["label"].to_pylist() != train_labels:  # a bug upstream, never the user's input
        raise RuntimeError("preprocess and vectorize disagree on the training rows")
    lexical = fit_tfidf_lr(tokens["tokens"].to_pylist(), np.asarray(train_labels, dtype=object), tfidf_C)
    metadata = store.read_json(train, catalog.METADATA)
    classes = metadata["classes"]
    models = {arm: load_model(store.read_bytes(train, catalog.MODELS[arm]), catalog.MODELS[arm]) for arm in ARMS}
    parts = {name: [] for name in ("label", "origin", "row", *ARMS, LEXICAL)}
    for batch in store.iter_batches(vectorize, catalog.TEST, batch_size)[1]:
        for name in ("label", "origin", "row"):
            parts[name].append(batch[name])
        for arm, model in models.items():
            parts[arm].append(model.predict(matrix_of(batch, arm)))
    rows = []
    for words in store.iter_batches(preprocess, catalog.TEST, batch_size, ["origin", "row", "tokens"])[1]:
        rows.append(words.select(["origin", "row"]))
        parts[LEXICAL].append(lexical.predict(words["tokens"].to_pylist()))
    test = {name: pa.chunked_array(parts[name]) for name in ("label", "origin", "row")}
    keys = pa.table({"origin": test["origin"], "row": test["row"]})
    if not (pa.concat_tables(rows) if rows else keys.slice(0, 0)).equals(keys):
        raise RuntimeError("preprocess and vectorize disagree on the test rows")  # a bug upstream, not the input
    y_true = np.asarray(test["label"].to_pylist(), dtype=object)
    predictions = {m: np.concatenate(parts[m]) if parts[m] else np.zeros(0, object) for m in (*ARMS, LEXICAL)}
    predictions["majority"] = np.full(len(y_true), majority_label(train_labels), dtype=object)
    result = metrics(y_true, predictions, classes, config)
    store.write_json(out, catalog.METRICS, result)
    rows = [
        {
            "method": m,
            "accuracy": v["accuracy"],
            "macro_f1": v["macro_f1"],
            "accuracy_ci_low": v["accuracy_ci"][0],
            "accuracy_ci_high": v["accuracy_ci"][1],
            "n": v["n"],
        }
        for m, v in result["methods"].items()
    ]
    store.write_table(out, catalog.METRICS_TABLE, pa.Table.from_pylist(rows))
    store.write_table(out, catalog.CONFUSION, pa.Table.from_pylist(confusion(y_true, predictions, classes)))
    store.write_table(
        out,
        catalog.PREDICTIONS,
        pa.table(
            {
                "origin": test["origin"],
                "row": test["row"],
                "label": test["label"],
                **{m: pa.array(p.astype(str).tolist(), pa.string()) for m, p in predictions.items()},
            }
        ),
    )
    store.output_path(out, catalog.REPORT).write_text(
        report.metrics_markdown(
            result, classifiers.title(ClassifierConfig.model_validate(metadata["config"]).estimator.kind)
        ),
        encoding="utf-8",
    )
    return {
        m: {"accuracy": round(v["accuracy"], 4), "macro_f1": round(v["macro_f1"], 4)}
        for m, v in result["methods"].items()
    }


def evaluate_args(_, refs: dict, config: Config) -> dict:
    """The stage's keyword arguments: its inputs, the ``evaluate`` section, and ``curve.tfidf_C`` (one
    setting for the TF-IDF + LR baseline wherever fewlabel reports it)."""
    return {
        "preprocess": refs["preprocess"],
        "vectorize": refs["vectorize"],
        "train": refs["train"],
        "config": config.evaluate,
        "tfidf_C": config.curve.tfidf_C,
    }
