"""The nightly loop: train on the current data, gate the new model, predict the inbox with production.

Three subflows, each its own run in the UI under the ``fewlabel-nightly`` run: ``fewlabel-train``
(new shards and labels processed incrementally, the rest ``Cached``), ``fewlabel-gate`` (the
candidate against production on the same evaluation sentences: :mod:`fewlabel.promotion`) and
``fewlabel-predict`` over the inbox folder with the production model (each file a cached shard).
"""

from __future__ import annotations

from pathlib import Path

from fewlabel.flows.predict import predict_flow
from fewlabel.flows.train import train_flow
from prefect import flow
from prefect.runtime import flow_run

from fewlabel import promotion, registry
from fewlabel.config import Config
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
    "classify the inbox folder with the production model.",
)
def nightly_flow(config: Config = Config(), inbox_path: str | None = None) -> dict:
    """Train, gate, predict; ``inbox_path`` (default: ``nightly.inbox_path``) is the folder (or file)
    to predict; none, missing or empty: no predict step."""
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
    }
