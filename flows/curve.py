"""The learning-curve flow: pretrain once, then every point of the curve over repeated label draws."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from fewlabel import runs
from fewlabel.config import Config
from fewlabel.runner import threads
from fewlabel.stage import Steps
from flows.train import PIPELINE, STAGES
from tasks.curve import curve_point, curve_report


@flow(name="fewlabel-curve", task_runner=threads(),
      description="Accuracy against labels per class, with and without pretraining, "
      "against TF-IDF + LR and the majority class, over repeated label draws.")
def curve_flow(config: Config = Config()) -> dict:
    """Pretraining and features as in the training flow (with every training label), then the curve."""
    step = Steps()
    every_label = config.model_copy(update={"data": config.data.model_copy(update={"labels_per_class": None})})
    refs = step.run(PIPELINE[:STAGES.index("vectorize") + 1], every_label)
    features, tokens = refs["vectorize"], refs["preprocess"]
    futures = {
        n: curve_point.submit(features, tokens, n, config.classifier, config.word2vec, config.curve)
        for n in config.curve.labels_per_class
    }
    points = []
    for n, future in futures.items():
        future.wait()
        points.append(step.collect(future.state, f"curve-{n}"))
    step(curve_report, points, config.curve)
    return runs.finish_curve(config, step.refs, step.states, str(flow_run.id))
