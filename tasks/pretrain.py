"""Stage 3, pretrain: gensim Word2Vec on the unlabeled text plus the training sentences (no labels).

Also trains the no-pretraining baseline: the same Word2Vec on the training sentences alone. Writes
``vectors.parquet`` and ``baseline_vectors.parquet`` (token, count, vector as fixed-size list of
float32) and ``word2vec.model``, gensim's own format, for continued training (it is a pickle: load
only a model you made yourself; fewlabel never loads it).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
    sentences: Sequence[list[str]] | None, config: Word2VecConfig, report: Callable | None = None,
    corpus_file: Path | None = None,
) -> Word2Vec | None:
    """A trained model, or None when no word reaches ``min_count``.

    Either ``sentences`` (lists of tokens) or ``corpus_file`` (one sentence per line, tokens separated
    by spaces: gensim's corpus_file mode, which streams from disk) is the corpus.
    """
    model = Word2Vec(
        vector_size=config.vector_size, window=config.window, min_count=config.min_count, sg=config.sg,
        negative=config.negative, sample=config.sample, alpha=config.alpha, workers=config.workers,
        seed=config.seed, hashfxn=stable_hash,
    )
    source = {"corpus_file": str(corpus_file)} if corpus_file else {"corpus_iterable": sentences}
    model.build_vocab(**source)
    if not model.wv.index_to_key:
        return None
    callbacks = [EpochProgress(config.epochs, report)] if report else []
    model.train(**source, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                epochs=config.epochs, callbacks=callbacks)
    return model


def write_line_sentences(parts: list[tuple[store.Ref, str]], path: Path, batch: int = 65_536) -> tuple[int, int]:
    """Stream the token columns of (artifact, file) parts into a LineSentence file; (sentences, words) written."""
    sentences = words = 0
    with open(path, "w", encoding="utf-8") as out:
        for ref, name in parts:
            for table in store.iter_batches(ref, name, batch, ["tokens"])[1]:
                tokens = table["tokens"].combine_chunks()
                lines = pc.binary_join(tokens, " ").to_pylist()
                out.write("\n".join(lines) + "\n")
                sentences += len(lines)
                words += int(pc.sum(pc.list_value_length(tokens)).as_py() or 0)
    return sentences, words


def corpus_parts(preprocess: store.Ref, shards: list[store.Ref]) -> list[tuple[store.Ref, str]]:
    """The (artifact, file) parts of the pretraining corpus, in order: unlabeled text, shards, training text."""
    return [(preprocess, "unlabeled.parquet"), *((s, "unlabeled.parquet") for s in shards), (preprocess, "train.parquet")]


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


def tokens_of(ref: store.Ref, name: str) -> list[list[str]]:
    return store.read_table(ref, name, ["tokens"]).column("tokens").to_pylist()


@stage("pretrain")
def pretrain(out: Path, preprocess: store.Ref, shard: list[store.Ref], config: Word2VecConfig) -> dict:
    """Train the pretrained Word2Vec (unlabeled text, its shards and the training sentences) and the
    baseline (training sentences only); write their vectors and the model."""
    train = tokens_of(preprocess, "train.parquet")
    tracker = progress.Tracker("word2vec-epochs", "Word2Vec pretraining epochs", config.epochs)
    parts = corpus_parts(preprocess, shard)
    if sum(store.parquet_rows(ref, name) for ref, name in parts) >= config.corpus_file_from:
        with tempfile.TemporaryDirectory(dir=store.data_dir()) as tmp:
            lines = Path(tmp) / "corpus.txt"
            sentences, words = write_line_sentences(parts, lines)
            log.info("word2vec (corpus_file) on %d sentences, %d words, %d epochs", sentences, words, config.epochs)
            model = fit_word2vec(None, config, report=tracker.update, corpus_file=lines)
    else:
        corpus = [tokens for ref, name in parts[:-1] for tokens in tokens_of(ref, name)] + train
        sentences, words = len(corpus), sum(map(len, corpus))
        log.info("word2vec on %d sentences, %d words, %d epochs", sentences, words, config.epochs)
        model = fit_word2vec(corpus, config, report=tracker.update)
    if model is None:
        raise UserError(
            f"the pretraining corpus ({sentences} sentences, {words} words) has no word seen "
            f"word2vec.min_count={config.min_count} times: add unlabeled text or lower word2vec.min_count"
        )
    baseline = fit_word2vec(train, config)
    store.write_table(out, "vectors.parquet", vectors_table(model, config.vector_size))
    store.write_table(out, "baseline_vectors.parquet", vectors_table(baseline, config.vector_size))
    model.callbacks, model.hashfxn = (), hash  # loadable by plain gensim, without fewlabel
    model.lifecycle_events, model.total_train_time = None, 0.0  # no clock readings: same training, same bytes
    model.save(str(out / "word2vec.model"))
    return {
        "corpus_sentences": sentences,
        "corpus_words": words,
        "vocabulary": len(model.wv),
        "baseline_vocabulary": 0 if baseline is None else len(baseline.wv),
        "seconds": round(tracker.seconds, 2),
    }
