"""The learning-curve flow: pretrain once, then every point of the curve over repeated label draws."""

from __future__ import annotations

from prefect import flow

from fewlabel.config import Config
from fewlabel.flows.train import PIPELINE, STAGES
from fewlabel.orchestration.lifecycle import tracked
from fewlabel.orchestration.pipeline import Steps, Wiring
from fewlabel.orchestration.publish import finish_curve
from fewlabel.orchestration.runner import threads
from fewlabel.tasks.curve import curve_point, curve_report, point_args, report_args

CURVE = (
    *PIPELINE[: STAGES.index("vectorize") + 1],
    Wiring(
        curve_point, ("vectorize", "preprocess"), each=lambda config: config.curve.labels_per_class, call=point_args
    ),
    Wiring(curve_report, ("curve",), call=report_args),
)


@flow(
    name="fewlabel-curve",
    task_runner=threads(),
    description="Accuracy against labels per class, with and without pretraining, "
    "against TF-IDF + LR and the majority class, over repeated label draws.",
)
def curve_flow(config: Config = Config()) -> dict:
    """Pretraining and features as in the training flow (with every training label), then the curve;
    with ``curve.splits`` > 1, the same on each test split (data.seed, data.seed + 1, ...), one report.

    Args:
        config: fewlabel's settings, one section per stage (`fewlabel config` prints them all, with their
            defaults); a deployment's default is the config `fewlabel serve` was given. The curve's own
            settings are its curve section (points, draws, splits).
    """
    with tracked("curve", config) as run_id:
        step = Steps()
        points, items = [], []
        for offset in range(config.curve.splits):
            step.run(CURVE[:-1], every_label(config, offset))
            points += step.refs["curve"]
            items += step.items.get("curve", [])
        step.refs["curve"], step.items["curve"] = points, items
        step.run(CURVE[-1:], config)
        return finish_curve(config, step.refs, step.states, run_id, step.items)


def every_label(config: Config, offset: int = 0) -> Config:
    """The config the curve's pretraining and features run with on split ``offset``: every training
    label kept, the test split drawn with data.seed + offset."""
    data = config.data.model_copy(update={"labels_per_class": None, "seed": config.data.seed + offset})
    return config.model_copy(update={"data": data})
