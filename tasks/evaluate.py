"""Stage evaluate: test-set metrics for the pretrained model and two baselines on the same labels.

Methods: ``pretrained``; ``no_pretraining`` (Word2Vec on the training sentences only); ``majority``
(the most frequent training label), scored by :mod:`fewlabel.metrics`. Writes ``metrics.json``,
``metrics.parquet``, ``confusion.parquet``, ``predictions.parquet``, ``report.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from fewlabel import catalog, classifiers, report, store
from fewlabel.config import ClassifierConfig, EvaluateConfig
from fewlabel.orchestration.stage import stage
from fewlabel.vectors import ARMS, matrix_of


@stage("evaluate")
def evaluate(
    out: Path, vectorize: store.Ref, train: store.Ref, config: EvaluateConfig, batch_size: int = 65_536
) -> dict:
    """Score every method on the test split, ``batch_size`` test rows at a time; only labels and
    predictions are kept whole."""
    from fewlabel.metrics import confusion, majority_label, metrics  # loaded when the stage runs, not on a cache hit
    from fewlabel.modelio import load_model

    train_labels = store.read_table(vectorize, catalog.TRAIN, ["label"])["label"].to_pylist()
    metadata = store.read_json(train, catalog.METADATA)
    classes = metadata["classes"]
    models = {arm: load_model(store.read_bytes(train, catalog.MODELS[arm]), catalog.MODELS[arm]) for arm in ARMS}
    parts = {name: [] for name in ("label", "origin", "row", *ARMS)}
    for batch in store.iter_batches(vectorize, catalog.TEST, batch_size)[1]:
        for name in ("label", "origin", "row"):
            parts[name].append(batch[name])
        for arm, model in models.items():
            parts[arm].append(model.predict(matrix_of(batch, arm)))
    test = {name: pa.chunked_array(parts[name]) for name in ("label", "origin", "row")}
    y_true = np.asarray(test["label"].to_pylist(), dtype=object)
    predictions = {arm: np.concatenate(parts[arm]) if parts[arm] else np.zeros(0, object) for arm in ARMS}
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
