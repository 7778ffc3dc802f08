"""Stage pretrain: gensim Word2Vec on the unlabeled text and its shards plus the training sentences,
and the no-pretraining baseline on the training sentences alone (:mod:`fewlabel.word2vec`)."""

from __future__ import annotations

from pathlib import Path

from fewlabel import store
from fewlabel.config import Word2VecConfig
from fewlabel.corpus import corpus_parts
from fewlabel.orchestration.progress import Tracker
from fewlabel.orchestration.stage import stage
from fewlabel.word2vec import pretrain as fit_both
from fewlabel.word2vec import save_model, vectors_table


@stage("pretrain")
def pretrain(out: Path, preprocess: store.Ref, shard: list[store.Ref], config: Word2VecConfig) -> dict:
    """Write ``vectors.parquet``, ``baseline_vectors.parquet`` and ``word2vec.model``."""
    tracker = Tracker("word2vec-epochs", "Word2Vec pretraining epochs")
    model, baseline, counts = fit_both(corpus_parts(preprocess, shard), config, store.data_dir(), tracker.update)
    store.write_table(out, "vectors.parquet", vectors_table(model, config.vector_size))
    store.write_table(out, "baseline_vectors.parquet", vectors_table(baseline, config.vector_size))
    save_model(model, out / "word2vec.model")
    return {
        **counts,
        "vocabulary": len(model.wv),
        "baseline_vocabulary": 0 if baseline is None else len(baseline.wv),
        "seconds": round(tracker.seconds, 2),
    }
