"""The predict flow: classify a file, or a folder of files, of new texts with a trained run."""

from __future__ import annotations

from prefect import flow

from fewlabel import registry
from fewlabel.config import one_of
from fewlabel.encodings import DAMAGED_TEXT
from fewlabel.orchestration.pipeline import Steps
from fewlabel.orchestration.progress import run_logger
from fewlabel.orchestration.runner import threads
from fewlabel.predictor import output_file
from fewlabel.tasks.predict import predict, shard_calls, write_predictions


@flow(name="fewlabel-predict", task_runner=threads(), description="Classify new texts with a trained fewlabel run.")
def predict_flow(
    input_path: str,
    output_name: str | None = None,
    run: str = "production",
    text_column: str = "text",
    encoding: str = "utf-8",
    damaged_text: one_of(DAMAGED_TEXT) = "refuse",
) -> dict:
    """Predictions go to data/predictions/<output_name or the input's name>.parquet; each input file
    is a cached ``predict`` shard (mapped by the task runner), joined in file order at the end.
    ``run``: production (the alias; before any promotion, the latest run, with a note), latest, an
    id or a record path. ``damaged_text``: refuse (default), drop_characters or drop_lines, for input files
    holding replacement characters U+FFFD (as ``data.damaged_text``)."""
    output_file(output_name, input_path)  # a bad name fails before any work
    record, note = registry.resolve(run)  # production: the alias; none yet: the latest run, with a note
    if note:
        run_logger().warning(note)
    step = Steps()
    shards = step.map(predict, shard_calls(input_path, record, text_column, encoding, damaged_text))
    result = step(write_predictions, shards, output_name, input_path)
    return {
        **result,
        "run": record["flow_run_id"],
        "run_id": record["flow_run_id"],
        "note": note,
        "stages": step.states,
        "shards_detail": step.items.get("predict", []),
    }
