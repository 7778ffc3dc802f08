"""The nightly loop: train on the current data, gate the new model, predict the inbox with production,
then (opt-in) ask for labels.

Subflows, each its own run in the UI under the ``fewlabel-nightly`` run and tagged as it is (``fewlabel``,
``command:...``): ``fewlabel-train`` (new shards and labels processed incrementally, the rest
``Cached``), ``fewlabel-gate`` (the candidate against production on the same evaluation sentences:
:mod:`fewlabel.promotion`), ``fewlabel-predict`` over the inbox folder with the production model (each
file a cached shard), and with ``nightly.label`` ``fewlabel-suggest`` (a suggestions CSV) or
``fewlabel-label`` (the labeling form, the run paused until it is submitted or ``nightly.label_timeout``
passes), both with the night's new model.

Idempotent: each subflow's result is persisted (JSON, beside the stages' cache records), so a retried
nightly run (the UI's Retry, ``prefect flow-run retry``) gets the subflows that had finished back as
they were, without running them again: the same model, the same gate decision, nothing registered or
promoted twice. A predict step that fails (a malformed inbox file) does not undo or skip the rest:
the night trains, decides and asks for labels, logs its summary line, and then ends Failed, naming the
file, so that it shows as failed and its Retry runs only the predict step again.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, tags
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
from fewlabel.orchestration.settings import records_dir


class NightlyStepFailed(RuntimeError):
    """A step of the night failed after the others were done: the nightly run fails, naming it."""


@flow(name="fewlabel-gate", description="Promote a trained run to production only if it is not worse.")
def gate_flow(run_id: str, tag_runs: list[str] | None = None) -> dict:
    """The promotion gate for training run ``run_id``: its decision as an artifact, a line in the run
    record and a tag; a refused promotion does not fail the run.

    Args:
        run_id: The flow-run id of the training run whose model is the candidate.
        tag_runs: Other flow runs to tag with the decision (the nightly run).
    """
    decision = promotion.gate(run_id, by=f"fewlabel-gate flow run {flow_run.id}")
    run_logger().info("promotion: %s", decision["message"])
    publish_promotion(decision, [run_id, *(tag_runs or [])])
    return decision


def kept(subflow):
    """``subflow`` with its result persisted (JSON, in the data folder's ``.prefect-records``): when the
    nightly run is retried, Prefect hands back a subflow that had completed instead of running it again
    (its ``load_subflow_run``)."""
    return subflow.with_options(persist_result=True, result_storage=records_dir(), result_serializer="json")


def subflow_tags() -> list[str]:
    """The tags the nightly run's subflows get: ``fewlabel`` and the nightly run's ``command:`` tag (its
    decision tags, ``promoted``..., are its own)."""
    return ["fewlabel", *(t for t in flow_run.tags or [] if t.startswith("command:"))]


@flow(
    name="fewlabel-nightly",
    description="Retrain on the current data, promote the model only if it is not worse, then "
    "classify the inbox folder with the production model; optionally suggest sentences to label or pause "
    "for them in the UI (nightly.label).",
)
def nightly_flow(config: Config = Config(), inbox_path: str | None = None) -> dict:
    """Train, gate, predict, label, then one summary line in the run's log. A failed predict step fails
    the nightly run at the end, after the other steps (see the module's docstring).

    Args:
        config: fewlabel's settings, one section per stage (`fewlabel config` prints them); the nightly
            section says which inbox to predict and whether to ask for labels.
        inbox_path: The folder (or file) of new texts to classify with the production model; default
            nightly.inbox_path. None, missing or empty: no predict step.
    """
    log = run_logger()
    with tags(*subflow_tags()):
        trained = kept(with_runner(train_flow))(config)
        decision = kept(gate_flow)(trained["flow_run_id"], tag_runs=[str(flow_run.id)])
        publish_markdown(promotion.markdown(decision), "fewlabel-promotion", decision["message"], once=True)
        predicted = predict_step(config, inbox_path)
        labeled = label_step(config, trained["flow_run_id"])
    summary = summary_line(decision, predicted, labeled)
    failed = predicted is not None and "failed" in predicted
    (log.error if failed else log.info)(summary)
    if failed:
        raise NightlyStepFailed(
            f"predict failed: {predicted['failed']}; the rest of the night is done and kept (train "
            f"{registry.short(trained['flow_run_id'])}; {decision['message']}); fix or remove that file, then retry "
            "this run: training and the gate come back as they were"
        )
    return {
        "flow_run_id": str(flow_run.id),
        "train": {k: trained[k] for k in ("flow_run_id", "stages", "metrics", "run_record")},
        "promotion": decision,
        "predict": predicted,
        "label": labeled,
        "summary": summary,
    }


def predict_step(config: Config, inbox_path: str | None) -> dict | None:
    """The inbox predicted with the production model (the fewlabel-predict subflow), None if there is
    nothing to predict, or ``{"failed": why, "inbox", "flow_run_id"}`` if it failed (a malformed file:
    its ``predict:<file>`` task and the subflow fail, naming it; nothing is written)."""
    log = run_logger()
    inbox = inbox_path or config.nightly.inbox_path
    if inbox is None:
        log.info("no inbox (nightly.inbox_path): nothing to predict")
        return None
    if not Path(inbox).exists() or (Path(inbox).is_dir() and not any(Path(inbox).iterdir())):
        log.info("inbox %s is missing or empty: nothing to predict", inbox)
        return None
    state = kept(with_runner(predict_flow))(input_path=inbox, run=registry.PRODUCTION, return_state=True)
    if state.is_completed():
        return {**state.result(), "inbox": inbox}
    error = state.result(raise_on_failure=False)
    why = " ".join(str(error).split()) if isinstance(error, BaseException) else (state.message or state.name)
    log.error("predict failed: %s", why)
    return {"failed": why, "inbox": inbox, "flow_run_id": str(state.state_details.flow_run_id)}


def summary_line(decision: dict, predicted: dict | None, labeled: dict | None) -> str:
    """The night in one line: the gate's decision, what was predicted (how many texts, with which model,
    written where) or why not, and the labeling step."""
    if predicted is None:
        predict = "nothing to predict"
    elif "failed" in predicted:
        predict = f"predict FAILED for {predicted['inbox']}: {predicted['failed']} (no predictions written)"
    else:
        predict = (
            f"predicted {predicted['rows']} texts ({predicted['shards']} file(s) of {predicted['inbox']}) with "
            f"model {registry.short(predicted['run_id'])} into {predicted['output']}"
        )
    parts = [f"nightly: {decision['message']}", predict]
    if labeled is not None:
        if labeled["labels"] is not None:
            parts.append(f"labels: {labeled['labels']['stored']} stored")
        elif labeled["timed_out"]:
            parts.append(f"labels: form not submitted (fill in {labeled['suggestions']})")
        else:
            parts.append(f"labels: {labeled['n']} suggestions in {labeled['suggestions']}")
    return "; ".join(parts)


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
        result = kept(suggest_flow)(run=run_id, n=sel.n, strategy=sel.strategy, pool_max=sel.pool_max)
        log.info("label: %d sentences to label in %s (fewlabel labels add it)", result["n"], result["suggestions"])
        return {
            "mode": mode,
            "suggestions": result["suggestions"],
            "n": result["n"],
            "labels": None,
            "timed_out": False,
        }
    timeout = config.nightly.label_timeout
    state = kept(label_flow)(
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
