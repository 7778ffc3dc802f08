"""The label flow: suggest sentences, pause for a person to label them in the Prefect UI, store the
labels, and optionally retrain."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.flow_runs import pause_flow_run
from prefect.runtime import flow_run

from fewlabel import runs
from fewlabel.config import Config, SelectionConfig, one_of
from fewlabel.flows.train import train_flow
from fewlabel.orchestration.form import description, field_name, label_form
from fewlabel.orchestration.publish import publish_suggestions
from fewlabel.selection import STRATEGIES
from fewlabel.tasks.suggest import store_labels, suggest

DEFAULTS = SelectionConfig()
POLL_INTERVAL = 2
"""Seconds between a paused run's checks for the submitted form: the run carries on within this long
after Submit (one small API read each)."""


@flow(name="fewlabel-label", description="Suggest sentences, label them in the Prefect UI, store the labels, retrain.")
def label_flow(
    run: str = "latest",
    n: int = DEFAULTS.n,
    strategy: one_of(STRATEGIES) = DEFAULTS.strategy,
    train_after: bool = False,
    timeout: int = 86_400,
    pool_max: int = DEFAULTS.pool_max,
    seed: int = 0,
    poll_interval: int = POLL_INTERVAL,
) -> dict:
    """Pauses (up to ``timeout`` seconds) with a form of ``n`` sentences; stores what was labeled as
    ``ui:<flow run id>``, as labels of the run's data set; with ``train_after`` (and at least one new
    label) runs the training flow with the run's config.

    Args:
        run: The training run whose model picks the sentences and whose classes the form offers:
            latest, or a flow-run id.
        n: How many sentences the form asks about.
        strategy: How to choose them: one of the selection strategies (fewlabel/selection.py describes each).
        train_after: Once the form is submitted, train again with the new labels (the run's config).
        timeout: Seconds the run waits for the form before it fails ("paused and never resumed").
        pool_max: Score at most this many unlabeled sentences (a seeded sample).
        seed: The seed of that sample and of the strategies that draw at random.
        poll_interval: Seconds between the paused run's checks for the submitted form.
    """
    run_id = str(flow_run.id)
    result = suggest(run, strategy, n, pool_max, seed, run_id)
    publish_suggestions(result)
    text = description(result["rows"], result["classes"], strategy, result["run"], result["dataset"]["id"])
    form = label_form(result["rows"], result["classes"], guide=text)
    answer = pause_flow_run(
        wait_for_input=form.with_initial_data(description=text), timeout=timeout, poll_interval=poll_interval
    )
    rows = [{**row, "label": getattr(answer, field_name(i))} for i, row in enumerate(result["rows"])]
    stored = store_labels(rows, f"ui:{run_id}", result["dataset"])
    get_run_logger().info(
        "stored %d labels (%d skipped) for data set %s in %s",
        stored["stored"],
        stored["skipped"],
        stored["dataset"],
        stored["file"],
    )
    out = {"suggestions": result["suggestions"], "labels": stored, "trained": None}
    if train_after and stored["stored"]:
        config = Config.model_validate(runs.read_run(run)["config"])
        summary = train_flow(config)
        out["trained"] = {k: summary[k] for k in ("flow_run_id", "stages", "metrics", "run_record")}
    return out
