"""The nightly loop: train on the current data, gate the new model, predict the inbox with production,
then (opt-in) ask for labels.

Subflows, each its own run in the UI under the ``fewlabel-nightly`` run: ``fewlabel-train``
(new shards and labels processed incrementally, the rest ``Cached``), ``fewlabel-gate`` (the
candidate against production on the same evaluation sentences: :mod:`fewlabel.promotion`),
``fewlabel-predict`` over the inbox folder with the production model (each file a cached shard), and
with ``nightly.label`` ``fewlabel-suggest`` (a suggestions CSV) or ``fewlabel-label`` (the labeling
form, the run paused until it is submitted or ``nightly.label_timeout`` passes), both with the night's
new model.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.exceptions import FlowPauseTimeout
from prefect.runtime import flow_run

from fewlabel import labels, promotion, registry
from fewlabel.config import Config
from fewlabel.flows.label import POLL_INTERVAL, label_flow
from fewlabel.flows.predict import predict_flow
from fewlabel.flows.suggest import suggest_flow
from fewlabel.flows.train import train_flow
from fewlabel.orchestration.progress import run_logger
from fewlabel.orchestration.publish import publish_markdown, publish_promotion
from fewlabel.orchestration.runner import with_runner


@flow(name="fewlabel-gate", description="Promote a trained run to production only if it is not worse.")
def gate_flow(run_id: str, tag_runs: list[str] | None = None) -> dict:
    """The promotion gate for training run ``run_id``: its decision as an artifact, a line in the run
    record and a tag; a refused promotion does not fail the run."""
    decision = promotion.gate(run_id, by=f"fewlabel-gate flow run {flow_run.id}")
    run_logger().info("promotion: %s", decision["message"])
    publish_promotion(decision, [run_id, *(tag_runs or [])])
    return decision


@flow(
    name="fewlabel-nightly",
    description="Retrain on the current data, promote the model only if it is not worse, then "
    "classify the inbox folder with the production model; optionally suggest sentences to label or pause "
    "for them in the UI (nightly.label).",
)
def nightly_flow(config: Config = Config(), inbox_path: str | None = None) -> dict:
    """Train, gate, predict, label; ``inbox_path`` (default: ``nightly.inbox_path``) is the folder (or
    file) to predict; none, missing or empty: no predict step. ``nightly.label``: see :func:`label_step`."""
    log = run_logger()
    trained = with_runner(train_flow)(config)
    decision = gate_flow(trained["flow_run_id"], tag_runs=[str(flow_run.id)])
    publish_markdown(promotion.markdown(decision), "fewlabel-promotion", decision["message"])
    inbox = inbox_path or config.nightly.inbox_path
    predicted = None
    if inbox is None:
        log.info("no inbox (nightly.inbox_path): nothing to predict")
    elif not Path(inbox).exists() or (Path(inbox).is_dir() and not any(Path(inbox).iterdir())):
        log.info("inbox %s is missing or empty: nothing to predict", inbox)
    else:
        predicted = with_runner(predict_flow)(input_path=inbox, run=registry.PRODUCTION)
    return {
        "flow_run_id": str(flow_run.id),
        "train": {k: trained[k] for k in ("flow_run_id", "stages", "metrics", "run_record")},
        "promotion": decision,
        "predict": predicted,
        "label": label_step(config, trained["flow_run_id"]),
    }


def label_step(config: Config, run_id: str) -> dict | None:
    """``nightly.label``: off (None), ``suggest`` (the fewlabel-suggest subflow: a CSV to fill in and
    ``fewlabel labels add``) or ``form`` (the fewlabel-label subflow, paused with the form; its labels
    are stored, not trained on: the next night's run trains on them). Both score the unlabeled pool
    with the night's new model ``run_id``, whether or not it was promoted: it has seen every label.
    A form nobody submits within ``nightly.label_timeout`` seconds fails that subflow (Prefect's
    pause timeout: "The flow was paused and never resumed."), not the nightly run: its suggestions CSV
    can still be filled in. Any other failure of the step fails the nightly run."""
    log = run_logger()
    mode, sel = config.nightly.label, config.selection
    if mode == "off":
        return None
    if mode == "suggest":
        result = suggest_flow(run=run_id, n=sel.n, strategy=sel.strategy, pool_max=sel.pool_max)
        log.info("label: %d sentences to label in %s (fewlabel labels add it)", result["n"], result["suggestions"])
        return {
            "mode": mode,
            "suggestions": result["suggestions"],
            "n": result["n"],
            "labels": None,
            "timed_out": False,
        }
    timeout = config.nightly.label_timeout
    state = label_flow(
        run=run_id,
        n=sel.n,
        strategy=sel.strategy,
        timeout=timeout,
        pool_max=sel.pool_max,
        poll_interval=min(POLL_INTERVAL, timeout),
        return_state=True,
    )
    outcome = state.result(raise_on_failure=False)
    # the engine raises FlowPauseTimeout; the server then fails the expired pause with its own message
    if isinstance(outcome, FlowPauseTimeout) or (state.is_failed() and "never resumed" in (state.message or "")):
        csv = labels.labels_dir() / f"suggestions-{state.state_details.flow_run_id}.csv"
        log.info("label: the form was not submitted within %d s; no labels stored (fill in %s instead)", timeout, csv)
        return {"mode": mode, "suggestions": str(csv), "n": sel.n, "labels": None, "timed_out": True}
    if isinstance(outcome, BaseException):
        raise outcome
    log.info("label: %d labels stored (%d skipped)", outcome["labels"]["stored"], outcome["labels"]["skipped"])
    return {
        "mode": mode,
        "suggestions": outcome["suggestions"],
        "n": sel.n,
        "labels": outcome["labels"],
        "timed_out": False,
    }
