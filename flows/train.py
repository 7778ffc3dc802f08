"""The training flow: ingest -> preprocess -> pretrain -> vectorize -> train -> evaluate."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from fewlabel import runs
from fewlabel.config import Config
from fewlabel.stage import Steps
from tasks.evaluate import evaluate
from tasks.ingest import ingest
from tasks.preprocess import preprocess
from tasks.pretrain import pretrain
from tasks.train import train
from tasks.vectorize import vectorize


@flow(name="fewlabel-train", description="Pretrain Word2Vec on unlabeled text, train an MLP on few labels, "
      "and measure what pretraining bought.")
def train_flow(config: Config = Config()) -> dict:
    step = Steps()
    ingested = step(ingest, config.data)
    tokens = step(preprocess, ingested, config.preprocess)
    vectors = step(pretrain, tokens, config.word2vec)
    features = step(vectorize, tokens, vectors, config.vectorize)
    models = step(train, features, config.classifier)
    step(evaluate, features, models, config.evaluate)
    return runs.finish(config, step.refs, step.states, str(flow_run.id))
