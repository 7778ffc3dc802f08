"""The catalog: every stage of fewlabel, once, with the data layer it writes to and the files it writes.

It is the one list of stages: the store derives folder names from it, the ``@stage`` decorator
refuses a name it does not hold, and a stage's artifact must hold exactly its declared files (the
optional ones may be absent). Each file name is a constant here, which every reader and writer uses,
and the store reads and writes no file its stage does not declare (:func:`check_file`). Layers follow
the data-engineering convention Kedro uses (raw, intermediate, features, models, model output,
reporting).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """A stage's data layer (folder under the data folder) and its output files."""

    layer: str
    outputs: tuple[str, ...]
    optional: tuple[str, ...] = ()


UNLABELED = "unlabeled.parquet"
TRAIN = "train.parquet"
TEST = "test.parquet"
SPLITS = {"unlabeled": UNLABELED, "train": TRAIN, "test": TEST}
"""The file of each split of the data set (ingest, preprocess, vectorize and shard write them)."""
VECTORS = "vectors.parquet"
BASELINE_VECTORS = "baseline_vectors.parquet"
WORD2VEC = "word2vec.model"
COMPONENTS = "components.parquet"
MODELS = {"pretrained": "pretrained.skops", "no_pretraining": "no_pretraining.skops"}
"""The trained model of each arm."""
METADATA = "metadata.json"
METRICS = "metrics.json"
METRICS_TABLE = "metrics.parquet"
CONFUSION = "confusion.parquet"
PREDICTIONS = "predictions.parquet"
REPORT = "report.md"
POINTS = "points.parquet"
CURVE = "curve.parquet"
CURVE_PLOT = "curve.png"
ROUNDS = "rounds.parquet"
SIMULATION = "simulation.parquet"
SIMULATION_PLOT = "simulation.png"
SIMULATION_TABLE = "table.md"
SUMMARY = "summary.parquet"
SUMMARY_JSON = "summary.json"

TRAINING = ("ingest", "shard", "preprocess", "pretrain", "vectorize", "train", "evaluate")
"""The training pipeline's stages, in order."""

CATALOG: dict[str, Entry] = {
    "ingest": Entry("raw", (UNLABELED, TRAIN, TEST)),
    "shard": Entry("intermediate", (UNLABELED,)),
    "preprocess": Entry("intermediate", (UNLABELED, TRAIN, TEST)),
    "pretrain": Entry("embeddings", (VECTORS, BASELINE_VECTORS, WORD2VEC)),
    "vectorize": Entry("features", (TRAIN, TEST, UNLABELED), (COMPONENTS,)),
    "train": Entry("models", (*MODELS.values(), METADATA)),
    "evaluate": Entry("reports", (METRICS, METRICS_TABLE, CONFUSION, PREDICTIONS, REPORT)),
    "curve": Entry("reports", (POINTS,)),
    "curve-report": Entry("reports", (CURVE, SUMMARY, SUMMARY_JSON, CURVE_PLOT)),
    "predict": Entry("model_output", (PREDICTIONS,)),
    "simulate": Entry("reports", (ROUNDS,)),
    "simulate-report": Entry("reports", (SIMULATION, SUMMARY, SUMMARY_JSON, SIMULATION_PLOT, SIMULATION_TABLE)),
}


def check_file(stage: str, name: str) -> None:
    """Raise if ``name`` is not a file ``stage`` declares (a bug, not the user's input): the store reads
    and writes only declared files."""
    entry = CATALOG[stage]
    if name not in entry.outputs + entry.optional:
        raise RuntimeError(
            f"stage {stage} has no file {name}: the catalog declares {sorted(entry.outputs)}"
            f" (optional {sorted(entry.optional)})"
        )


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
