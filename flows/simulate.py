"""The labeling simulation flow: features as in the training flow (every training label), then one
task per (strategy, seed) and the report."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from fewlabel.config import Config
from fewlabel.flows.train import PIPELINE, STAGES
from fewlabel.orchestration.pipeline import Steps, Wiring
from fewlabel.orchestration.publish import finish_simulation
from fewlabel.orchestration.runner import threads
from fewlabel.tasks.simulate import items, report_args, simulate, simulate_args, simulate_report

SIMULATION = (
    *PIPELINE[: STAGES.index("vectorize") + 1],
    Wiring(simulate, ("vectorize",), each=items, call=simulate_args),
    Wiring(simulate_report, ("simulate",), call=report_args),
)


@flow(
    name="fewlabel-simulate",
    task_runner=threads(),
    description="Simulated labeling: test accuracy against labels used, per selection strategy and for random "
    "draws, over seeds, on a fixed test split.",
)
def simulate_flow(config: Config = Config()) -> dict:
    step = Steps()
    every_label = config.model_copy(update={"data": config.data.model_copy(update={"labels_per_class": None})})
    step.run(SIMULATION, every_label)
    return finish_simulation(config, step.refs, step.states, str(flow_run.id))
