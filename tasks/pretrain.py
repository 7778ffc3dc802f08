"""Stage 3, pretrain: gensim Word2Vec on the unlabeled text plus the training sentences (no labels).

Also trains the no-pretraining baseline: the same Word2Vec on the training sentences alone. Writes
``vectors.parquet`` and ``baseline_vectors.parquet`` (token, count, vector as fixed-size list of
float32) and ``word2vec.model``, gensim's own format, for continued training (it is a pickle: load
only a model you made yourself; fewlabel never loads it).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from fewlabel import progress, store
from fewlabel.config import Word2VecConfig
from fewlabel.errors import UserError
from fewlabel.stage import stage

log = logging.getLogger(__name__)


def stable_hash(text: str) -> int:
    """A hash independent of PYTHONHASHSEED, so seeded vectors are the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class EpochProgress(CallbackAny2Vec):
    """Report each finished epoch to a callable ``(epoch, epochs, seconds)``."""

    def __init__(self, epochs: int, report: Callable[[int, int, float], None]):
        self.epochs, self.report, self.epoch, self.start = epochs, report, 0, time.perf_counter()

    def on_epoch_end(self, model) -> None:
        self.epoch += 1
        self.report(self.epoch, self.epochs, time.perf_counter() - self.start)


def fit_word2vec(
    sentences: Sequence[list[str]], config: Word2VecConfig, report: Callable | None = None
) -> Word2Vec | None:
    """A trained model, or None when no word reaches ``min_count``."""
    model = Word2Vec(
        vector_size=config.vector_size, window=config.window, min_count=config.min_count, sg=config.sg,
        negative=config.negative, sample=config.sample, alpha=config.alpha, workers=config.workers,
        seed=config.seed, hashfxn=stable_hash,
    )
    model.build_vocab(sentences)
    if not model.wv.index_to_key:
        return None
    callbacks = [EpochProgress(config.epochs, report)] if report else []
    model.train(sentences, total_examples=model.corpus_count, epochs=config.epochs, callbacks=callbacks)
    return model


def vectors_table(model: Word2Vec | None, dim: int) -> pa.Table:
    """token, count, vector (fixed_size_list<float32>[dim]); empty for a model without vocabulary."""
    if model is None:
        tokens, counts, flat = [], np.zeros(0, np.int64), np.zeros(0, np.float32)
    else:
        tokens = model.wv.index_to_key
        counts = np.array([model.wv.get_vecattr(t, "count") for t in tokens], np.int64)
        flat = np.ascontiguousarray(model.wv.vectors, dtype=np.float32).ravel()
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), dim)
    return pa.table({"token": pa.array(tokens, pa.string()), "count": counts, "vector": vectors})


def tokens_of(ref: store.Ref, split: str) -> list[list[str]]:
    return store.read_table(ref, f"{split}.parquet", ["tokens"]).column("tokens").to_pylist()


@stage("pretrain")
def pretrain(out: Path, preprocess: store.Ref, config: Word2VecConfig) -> dict:
    """Train the pretrained and the baseline Word2Vec; write their vectors and the model."""
    train = tokens_of(preprocess, "train")
    corpus = tokens_of(preprocess, "unlabeled") + train
    words = sum(map(len, corpus))
    log.info("word2vec on %d sentences, %d words, %d epochs", len(corpus), words, config.epochs)
    tracker = progress.Tracker("word2vec-epochs", "Word2Vec pretraining epochs", config.epochs)
    model = fit_word2vec(corpus, config, report=tracker.update)
    if model is None:
        raise UserError(
            f"the pretraining corpus ({len(corpus)} sentences, {words} words) has no word seen "
            f"word2vec.min_count={config.min_count} times: add unlabeled text or lower word2vec.min_count"
        )
    baseline = fit_word2vec(train, config)
    store.write_table(out, "vectors.parquet", vectors_table(model, config.vector_size))
    store.write_table(out, "baseline_vectors.parquet", vectors_table(baseline, config.vector_size))
    model.callbacks, model.hashfxn = (), hash  # loadable by plain gensim, without fewlabel
    model.lifecycle_events, model.total_train_time = None, 0.0  # no clock readings: same training, same bytes
    model.save(str(out / "word2vec.model"))
    return {
        "corpus_sentences": len(corpus),
        "corpus_words": words,
        "vocabulary": len(model.wv),
        "baseline_vocabulary": 0 if baseline is None else len(baseline.wv),
        "seconds": round(tracker.seconds, 2),
    }
