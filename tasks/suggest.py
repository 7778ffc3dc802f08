"""Suggest and store labels: the adapters of ``fewlabel suggest`` and the label flow.

Neither is a cached stage: what they return depends on the label store, which changes as people label.
``suggest`` writes ``data/labels/suggestions-<name>.csv`` (:mod:`fewlabel.suggestions`); ``store_labels``
appends one file to the label store (:mod:`fewlabel.labels`).
"""

from __future__ import annotations

import pandas as pd
from prefect import task

from fewlabel import labels, runs
from fewlabel.suggestions import classes_of, write_csv
from fewlabel.suggestions import suggest as suggest_rows


# named as the stages are (no random suffix); its output is its own file, so no Prefect result is
# persisted (a persisted nightly subflow would otherwise make its tasks persist theirs, by pickle)
@task(name="suggest", task_run_name="suggest", retries=2, retry_delay_seconds=2, persist_result=False)
def suggest(run: str, strategy: str, n: int, pool_max: int, seed: int, name: str) -> dict:
    """Score the run's unlabeled pool, pick ``n`` sentences, write the suggestions CSV."""
    record = runs.read_run(run)
    frame = suggest_rows(record, strategy, n, pool_max, seed)
    path = write_csv(frame, name)
    return {
        "suggestions": str(path),
        "n": len(frame),
        "strategy": strategy,
        "run": record["flow_run_id"],
        "classes": classes_of(record),
        "rows": frame.to_dict(orient="records"),
    }


# named as the stages are (no random suffix); its output is its own file, so no Prefect result is
# persisted (a persisted nightly subflow would otherwise make its tasks persist theirs, by pickle)
@task(name="store-labels", task_run_name="store-labels", retries=2, retry_delay_seconds=2, persist_result=False)
def store_labels(rows: list[dict], how: str) -> dict:
    """Append the labeled rows (text, origin, row, label; blank or skip: not stored) to the store."""
    frame = pd.DataFrame(rows, columns=["text", "origin", "row", "label"])
    path = labels.append(frame, how)
    stored = 0 if path is None else len(labels.read_store().query("file == @path.name"))
    return {"file": None if path is None else str(path), "stored": stored, "skipped": len(frame) - stored}
