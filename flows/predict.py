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

    Args:
        input_path: The file of new texts to classify (CSV, TSV, Parquet, or .txt with one text per
            line), or a folder of such files, as the machine running the flow sees it.
        output_name: The name of the predictions file in data/predictions/ (default: the input's name).
        run: Which model: production (the promoted one; before any promotion, the latest run, with a
            note), latest, a training run's flow-run id, or the path of a run record.
        text_column: The column holding the texts in CSV, TSV and Parquet files.
        encoding: The encoding of the input files (a byte-order mark always wins).
        damaged_text: Input files holding replacement characters U+FFFD (damaged before they reached you):
            refuse them (default), drop_characters or drop_lines (as data.damaged_text).
    """
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
