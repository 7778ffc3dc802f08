"""Suggest and store labels: the adapters of ``fewlabel suggest`` and the label flow.

Neither is a cached stage: what they return depends on the label store, which changes as people label.
``suggest`` writes ``data/labels/suggestions-<name>.csv`` (:mod:`fewlabel.suggestions`); ``store_labels``
appends one file to the label store (:mod:`fewlabel.labels`).
"""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
from prefect import task

from fewlabel import labels, runs
from fewlabel.orchestration.progress import route_core_logs
from fewlabel.orchestration.stage import retry_transient
from fewlabel.suggestions import classes_of, dataset_of, write_csv
from fewlabel.suggestions import suggest as suggest_rows


# named as the stages are (no random suffix); its output is its own file, so no Prefect result is
# persisted (a persisted nightly subflow would otherwise make its tasks persist theirs, by pickle)
@task(
    name="suggest",
    task_run_name="suggest",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_transient,
    persist_result=False,
)
def suggest(run: str, strategy: str, n: int, pool_max: int, seed: int, name: str) -> dict:
    """Score the run's unlabeled pool, pick ``n`` sentences, write the suggestions CSV."""
    route_core_logs()
    record = runs.read_run(run)
    frame = suggest_rows(record, strategy, n, pool_max, seed)
    dataset = dataset_of(record)
    labels.register(dataset)  # what the CSV's dataset column stands for, for `fewlabel labels add`
    path = write_csv(frame, name)
    return {
        "suggestions": str(path),
        "n": len(frame),
        "strategy": strategy,
        "run": record["flow_run_id"],
        "classes": classes_of(record),
        "dataset": dataset,
        "rows": frame.to_dict(orient="records"),
    }


# named as the stages are (no random suffix); see suggest
@task(
    name="store-labels",
    task_run_name="store-labels",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_transient,
    persist_result=False,
)
def store_labels(rows: list[dict], how: str, dataset: dict) -> dict:
    """Append the labeled rows (text, origin, row, label; blank or skip: not stored) to the store, as labels
    of ``dataset`` (the data set the suggestions were drawn from)."""
    route_core_logs()
    frame = pd.DataFrame(rows, columns=["text", "origin", "row", "label"])
    path = labels.append(frame, how, dataset)
    stored = 0 if path is None else pq.ParquetFile(path).metadata.num_rows
    return {
        "file": None if path is None else str(path),
        "stored": stored,
        "skipped": len(frame) - stored,
        "dataset": dataset["id"],
    }
