"""The catalog: every stage of fewlabel, once, with the data layer it writes to and the files it writes.

It is the one list of stages: the store derives folder names from it, the ``@stage`` decorator
refuses a name it does not hold, and a stage's artifact must hold exactly its declared files (the
optional ones may be absent). Layers follow the data-engineering convention Kedro uses (raw,
intermediate, features, models, model output, reporting).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """A stage's data layer (folder under the data folder) and its output files."""

    layer: str
    outputs: tuple[str, ...]
    optional: tuple[str, ...] = ()


TRAINING = ("ingest", "shard", "preprocess", "pretrain", "vectorize", "train", "evaluate")
"""The training pipeline's stages, in order."""

CATALOG: dict[str, Entry] = {
    "ingest": Entry("raw", ("unlabeled.parquet", "train.parquet", "test.parquet")),
    "shard": Entry("intermediate", ("unlabeled.parquet",)),
    "preprocess": Entry("intermediate", ("unlabeled.parquet", "train.parquet", "test.parquet")),
    "pretrain": Entry("embeddings", ("vectors.parquet", "baseline_vectors.parquet", "word2vec.model")),
    "vectorize": Entry("features", ("train.parquet", "test.parquet", "unlabeled.parquet"), ("components.parquet",)),
    "train": Entry("models", ("pretrained.skops", "no_pretraining.skops", "metadata.json")),
    "evaluate": Entry(
        "reports", ("metrics.json", "metrics.parquet", "confusion.parquet", "predictions.parquet", "report.md")
    ),
    "curve": Entry("reports", ("points.parquet",)),
    "curve-report": Entry("reports", ("curve.parquet", "summary.parquet", "summary.json", "curve.png")),
    "predict": Entry("model_output", ("predictions.parquet",)),
    "simulate": Entry("reports", ("rounds.parquet",)),
    "simulate-report": Entry(
        "reports", ("simulation.parquet", "summary.parquet", "summary.json", "simulation.png", "table.md")
    ),
}


def check_outputs(stage: str, written: set[str]) -> None:
    """Raise if a stage wrote a file it does not declare, or left out one it must write (a bug, not
    the user's input)."""
    entry = CATALOG[stage]
    missing = set(entry.outputs) - written
    extra = written - set(entry.outputs) - set(entry.optional)
    if missing or extra:
        raise RuntimeError(
            f"stage {stage} wrote {sorted(written)}; the catalog declares {sorted(entry.outputs)}"
            f" (optional {sorted(entry.optional)}): missing {sorted(missing)}, undeclared {sorted(extra)}"
        )
