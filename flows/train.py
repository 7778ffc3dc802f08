"""The training flow: ingest -> shard (one per unlabeled file) + preprocess -> pretrain -> vectorize ->
train -> evaluate."""

from __future__ import annotations

from prefect import flow

from fewlabel.catalog import TRAINING
from fewlabel.config import Config
from fewlabel.dataset import shard_files
from fewlabel.orchestration.lifecycle import tracked
from fewlabel.orchestration.pipeline import Steps, Wiring
from fewlabel.orchestration.publish import finish
from fewlabel.orchestration.runner import threads
from fewlabel.tasks.evaluate import evaluate, evaluate_args
from fewlabel.tasks.ingest import ingest
from fewlabel.tasks.preprocess import preprocess
from fewlabel.tasks.pretrain import pretrain, pretrain_args
from fewlabel.tasks.shard import shard, shard_args
from fewlabel.tasks.train import train
from fewlabel.tasks.vectorize import vectorize

PIPELINE = (
    Wiring(ingest, (), "data"),
    Wiring(shard, ("ingest",), each=lambda config: shard_files(config.data), call=shard_args),
    Wiring(preprocess, ("ingest",), "preprocess"),
    Wiring(pretrain, ("preprocess", "shard"), "word2vec", call=pretrain_args),
    Wiring(vectorize, ("preprocess", "shard", "pretrain"), "vectorize"),
    Wiring(train, ("vectorize",), "classifier"),
    Wiring(evaluate, ("preprocess", "vectorize", "train"), "evaluate", call=evaluate_args),
)
STAGES = tuple(w.name for w in PIPELINE)
assert STAGES == TRAINING, "the pipeline's stages are the catalog's training stages, in order"


@flow(
    name="fewlabel-train",
    task_runner=threads(),
    description="Pretrain Word2Vec on unlabeled text, train an MLP on few labels, and measure what pretraining bought.",
)
def train_flow(config: Config = Config(), from_stage: str | None = None) -> dict:
    """Run the stages; from ``from_stage`` on (one of STAGES), recompute even if cached.

    Args:
        config: fewlabel's settings, one section per stage (`fewlabel config` prints them all, with their
            defaults); a deployment's default is the config `fewlabel serve` was given.
        from_stage: Recompute this stage and every one after it, even if cached (ingest, shard,
            preprocess, pretrain, vectorize, train or evaluate); empty: reuse every cached stage.
    """
    with tracked("train", config) as run_id:
        step = Steps(from_stage)
        step.run(PIPELINE, config)
        return finish(config, step.refs, step.states, run_id, step.items)
