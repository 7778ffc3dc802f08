"""Word2Vec: fit gensim's model on token lists or a LineSentence file, and its vectors as an Arrow table.

The pretrained model sees the unlabeled text plus the training sentences (no labels); the
no-pretraining baseline is the same Word2Vec on the training sentences alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from gensim.models import FastText, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from gensim.models.word2vec_inner import MAX_WORDS_IN_BATCH

from fewlabel import store
from fewlabel.config import Word2VecConfig
from fewlabel.corpus import LineCorpus, tokens_of, write_line_sentences
from fewlabel.errors import UserError

log = logging.getLogger(__name__)


FASTTEXT_BUCKETS = 200_000
"""Hash buckets of FastText's character n-grams (gensim's default, 2M, takes 2.4 GB at 300 dimensions)."""

MAX_SENTENCE = MAX_WORDS_IN_BATCH
"""gensim trains on at most this many tokens of one sentence and silently drops the rest."""


def chunked(sentences: Sequence[list[str]]) -> tuple[list[list[str]], int]:
    """(the sentences with every one longer than :data:`MAX_SENTENCE` cut into consecutive pieces of at
    most that length, so every token trains; how many were cut). gensim's corpus_file reader does
    the same to the lines of a LineSentence file."""
    long = sum(len(s) > MAX_SENTENCE for s in sentences)
    if not long:
        return list(sentences), 0
    out = []
    for sentence in sentences:
        if len(sentence) > MAX_SENTENCE:
            out += [sentence[i : i + MAX_SENTENCE] for i in range(0, len(sentence), MAX_SENTENCE)]
        else:
            out.append(sentence)
    return out, long


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
    sentences: Sequence[list[str]] | None,
    config: Word2VecConfig,
    report: Callable | None = None,
    corpus_file: Path | None = None,
    vocabulary: LineCorpus | None = None,
) -> Word2Vec | None:
    """A trained model, or None when no word reaches ``min_count``.

    Either ``sentences`` (lists of tokens) or ``corpus_file`` (one sentence per line, tokens separated
    by spaces: gensim's corpus_file mode, which streams from disk) is the corpus. With the
    ``vocabulary`` :func:`fewlabel.corpus.write_line_sentences` counted while writing ``corpus_file``,
    a Word2Vec model takes it as is (gensim's ``build_vocab_from_freq``: the same words, counts, order
    and sentence count as gensim's scan, without reading the file twice).
    """
    kind = FastText if config.model == "fasttext" else Word2Vec
    extra = {"bucket": FASTTEXT_BUCKETS} if config.model == "fasttext" else {}
    model = kind(
        **extra,
        vector_size=config.vector_size,
        window=config.window,
        min_count=config.min_count,
        sg=config.sg,
        negative=config.negative,
        sample=config.sample,
        alpha=config.alpha,
        workers=config.workers,
        seed=config.seed,
        hashfxn=stable_hash,
    )
    source = {"corpus_file": str(corpus_file)} if corpus_file else {"corpus_iterable": chunked(sentences)[0]}
    if corpus_file and vocabulary is not None and kind is Word2Vec:
        model.build_vocab_from_freq(dict(vocabulary.counts), corpus_count=vocabulary.pieces)
        model.corpus_total_words = vocabulary.words  # what build_vocab's scan sets besides
    else:  # FastText keeps every word's corpus count: the words below min_count get vectors from their n-grams
        model.build_vocab(**source, keep_raw_vocab=config.model == "fasttext" and config.rare_words)
    if not model.wv.index_to_key:
        return None
    callbacks = [EpochProgress(config.epochs, report)] if report else []
    model.train(
        **source,
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
        epochs=config.epochs,
        callbacks=callbacks,
    )
    return model


def fit_ensemble(
    sentences: Sequence[list[str]] | None,
    config: Word2VecConfig,
    report: Callable | None = None,
    corpus_file: Path | None = None,
    vocabulary: LineCorpus | None = None,
) -> list[Word2Vec] | None:
    """``config.ensemble`` models of :func:`fit_word2vec`, seeds ``config.seed``, ``config.seed + 1``, ...
    (one model for the default ensemble of 1), or None when no word reaches ``min_count``. Progress is
    reported over all of them."""
    size, models, start = config.ensemble, [], time.perf_counter()
    for i in range(size):
        step = (lambda e, n, _, i=i: report(i * n + e, size * n, time.perf_counter() - start)) if report else None
        model = fit_word2vec(
            sentences, config.model_copy(update={"seed": config.seed + i}), step, corpus_file, vocabulary
        )
        if model is None:
            return None
        models.append(model)
    return models


def rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal matrix R minimizing ||source R - target|| (orthogonal Procrustes: R = U V^T from
    the SVD of source^T target). Two Word2Vec runs with different seeds learn the same geometry up to
    about a rotation, so their vectors can be averaged only once rotated onto each other."""
    u, _, vt = np.linalg.svd(source.T.astype(np.float64) @ target.astype(np.float64))
    return u @ vt


def rare_words(model: Word2Vec) -> list[tuple[str, int]]:
    """(word, corpus count) of the words of a FastText model's training corpus that stayed below
    ``min_count`` (so out of its vocabulary), most frequent first, then by word; empty for Word2Vec,
    with ``word2vec.rare_words`` false, and after a vocabulary update (gensim keeps the raw counts only
    when :func:`fit_word2vec` asks)."""
    if not isinstance(model, FastText):
        return []
    raw = getattr(model, "raw_vocab", None) or {}
    known = model.wv.key_to_index
    return sorted(((w, int(c)) for w, c in raw.items() if w not in known), key=lambda wc: (-wc[1], wc[0]))


def _matrix(model: Word2Vec, tokens: list[str], known: int) -> np.ndarray:
    """The vectors of ``tokens`` (the first ``known`` are the vocabulary, the rest FastText's rare
    words) in one model, float64."""
    if model.wv.index_to_key[:known] != tokens[:known] or len(model.wv) != known:
        raise RuntimeError("the ensemble's models have different vocabularies")  # the same corpus: a bug
    rows = [np.asarray(model.wv.vectors, np.float64)]
    if len(tokens) > known:
        rows.append(np.stack([model.wv.get_vector(w) for w in tokens[known:]]).astype(np.float64))
    return np.vstack(rows)


def vectors_table(model: Word2Vec | Sequence[Word2Vec] | None, dim: int) -> pa.Table:
    """token, count, vector (fixed_size_list<float32>[dim]); empty for a model without vocabulary.

    For a seed ensemble (a list of models trained on the same corpus, :func:`fit_ensemble`) each
    model's vectors are rotated onto the first's (:func:`rotation`, fitted on the vocabulary) and the
    vectors are their mean.

    The model's vocabulary first (gensim's order). For FastText, then every word of its training corpus
    below ``min_count``, its vector composed from its character n-grams (gensim's out-of-vocabulary
    vector) and its count the corpus count: the subwords reach the rare and misspelled words of the
    pretraining text, while the table stays the one interface to the later stages. Words never seen in
    pretraining (test-only words) stay unknown, as with Word2Vec: the pretrain stage reads no test text.
    """
    models = [model] if isinstance(model, Word2Vec) else model
    if not models:
        tokens, counts, flat = [], np.zeros(0, np.int64), np.zeros(0, np.float32)
    else:
        first = models[0]
        rare = rare_words(first)
        tokens = list(first.wv.index_to_key) + [w for w, _ in rare]
        counts = np.array(
            [first.wv.get_vecattr(t, "count") for t in first.wv.index_to_key] + [c for _, c in rare], np.int64
        )
        matrices = [_matrix(m, tokens, len(first.wv)) for m in models]
        known = len(first.wv)
        for other in matrices[1:]:  # rotated onto the first model's space on the shared vocabulary
            other[:] = other @ rotation(other[:known], matrices[0][:known])
        matrix = matrices[0] if len(matrices) == 1 else np.mean(matrices, axis=0)
        flat = np.ascontiguousarray(matrix, dtype=np.float32).ravel()
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), dim)
    return pa.table({"token": pa.array(tokens, pa.string()), "count": counts, "vector": vectors})


def pretrain(
    parts: list[tuple[store.Ref, str]], config: Word2VecConfig, workdir: Path, report: Callable | None = None
) -> tuple[list[Word2Vec], list[Word2Vec] | None, dict]:
    """(pretrained models, baseline models or None, corpus counts) from the corpus ``parts``, whose last
    part is the training text (the baseline's whole corpus); ``config.ensemble`` models each (seeds
    ``config.seed`` on, :func:`fit_ensemble`), one by default.

    From ``config.corpus_file_from`` sentences on, the corpus is streamed into a LineSentence file in
    ``workdir`` (gensim's corpus_file mode); below, it is held as token lists.
    """
    train = tokens_of(*parts[-1])
    if sum(store.parquet_rows(ref, name) for ref, name in parts) >= config.corpus_file_from:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            lines = Path(tmp) / "corpus.txt"
            written = write_line_sentences(parts, lines, MAX_SENTENCE)
            sentences, words, long = written.sentences, written.words, written.long
            log.info("word2vec (corpus_file) on %d sentences, %d words, %d epochs", sentences, words, config.epochs)
            model = fit_ensemble(None, config, report=report, corpus_file=lines, vocabulary=written)
    else:
        corpus = [tokens for ref, name in parts[:-1] for tokens in tokens_of(ref, name)] + train
        sentences, words, long = len(corpus), sum(map(len, corpus)), chunked(corpus)[1]
        log.info("word2vec on %d sentences, %d words, %d epochs", sentences, words, config.epochs)
        model = fit_ensemble(corpus, config, report=report)
    if model is None:
        raise UserError(
            f"the pretraining corpus ({sentences} sentences, {words} words) has no word seen "
            f"word2vec.min_count={config.min_count} times: add unlabeled text or lower word2vec.min_count"
        )
    if long:
        log.warning(
            "%d sentences have more than %d tokens: each was cut into pieces of at most %d, so every "
            "token trains (gensim would drop the rest)",
            long,
            MAX_SENTENCE,
            MAX_SENTENCE,
        )
    counts = {"corpus_sentences": sentences, "corpus_words": words, "long_sentences_split": long}
    return model, fit_ensemble(train, config), counts


def save_model(model: Word2Vec, path: Path) -> None:
    """gensim's own format, loadable by plain gensim without fewlabel, with no clock readings (the same
    training gives the same bytes), in one file: gensim would otherwise write arrays of 10 Mi values
    or more (a vocabulary of 34,953 words at 300 dimensions) to side files the artifact does not
    declare. ``separately=[]`` covers the model's own arrays only; gensim decides again for its
    KeyedVectors (``wv.vectors``) by ``sep_limit``, hence both.
    It is a pickle: fewlabel loads it only with :func:`load_own_model`."""
    model.callbacks, model.hashfxn = (), hash
    model.raw_vocab = {}  # FastText's corpus counts (:func:`rare_words`) are in the vectors table already
    model.lifecycle_events, model.total_train_time = None, 0.0
    model.save(str(path), separately=[], sep_limit=1 << 62)


def load_own_model(path: Path) -> Word2Vec:
    """A ``word2vec.model`` that :func:`save_model` wrote into one of fewlabel's own pretrain artifacts.

    gensim's format is a pickle, and unpickling runs whatever code the file names. Loading it is
    acceptable only because fewlabel wrote this file itself, inside its own artifact folder, and the
    caller has just checked its bytes against the SHA-256 the artifact's manifest recorded when it
    was committed (``store.open_verified``): an altered or foreign file is refused before this is
    called. Never call it on a model from anywhere else.
    """
    model = Word2Vec.load(str(path))
    model.hashfxn = stable_hash
    return model


@contextlib.contextmanager
def corpus_source(parts: list[tuple[store.Ref, str]], config: Word2VecConfig, workdir: Path):
    """(gensim's corpus arguments, sentences, words, sentences cut) of the corpus ``parts``: a LineSentence
    file in ``workdir`` (removed at exit) from ``config.corpus_file_from`` sentences on, else token lists."""
    if sum(store.parquet_rows(ref, name) for ref, name in parts) >= config.corpus_file_from:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            lines = Path(tmp) / "corpus.txt"
            written = write_line_sentences(parts, lines, MAX_SENTENCE)
            yield {"corpus_file": str(lines)}, written.sentences, written.words, written.long
    else:
        corpus = [tokens for ref, name in parts for tokens in tokens_of(ref, name)]
        pieces, long = chunked(corpus)
        yield {"corpus_iterable": pieces}, len(corpus), sum(map(len, corpus)), long


def continue_pretraining(
    model: Word2Vec,
    parts: list[tuple[store.Ref, str]],
    config: Word2VecConfig,
    workdir: Path,
    report: Callable | None = None,
) -> dict:
    """Continue training a previous pretraining's ``model``, in place, on the new corpus ``parts`` alone.

    gensim's vocabulary update: words of the new text reaching ``min_count`` in it join the vocabulary
    (their vectors seeded from ``config.seed``), known words' counts grow by their new occurrences;
    then ``config.epochs`` passes over the new text, the learning rate decaying from ``alpha`` again.
    The model is what a full retrain would give only approximately: measured in bench/RESULTS.md.
    """
    before = len(model.wv)
    with corpus_source(parts, config, workdir) as (source, sentences, words, long):
        log.info("word2vec update on %d new sentences, %d words, %d epochs", sentences, words, config.epochs)
        if sentences:
            update_model(model, source, config, report)
    return {
        "new_sentences": sentences,
        "new_words": words,
        "long_sentences_split": long,
        "words_added": len(model.wv) - before,
    }


def update_model(model: Word2Vec, source: dict, config: Word2VecConfig, report: Callable | None = None) -> Word2Vec:
    """gensim's vocabulary update and ``config.epochs`` passes of training on ``source`` (gensim's
    ``corpus_iterable`` or ``corpus_file`` argument): :func:`continue_pretraining`'s training."""
    model.workers = config.workers
    model.build_vocab(**source, update=True)
    model.train(
        **source,
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
        epochs=config.epochs,
        callbacks=[EpochProgress(config.epochs, report)] if report else [],
    )
    return model


def previous_pretraining(
    preprocess: store.Ref, shards: list[store.Ref], config: Word2VecConfig, code: str
) -> store.Ref | None:
    """The intact pretrain artifact that :func:`continue_pretraining` may continue, or None.

    It must differ from what is asked now by new shards only: the same code version ``code``, the same
    Word2Vec config (``update`` aside), the same preprocess artifact (base unlabeled text and training
    sentences), and shards that are a strict subset of ``shards`` (by content hash). Of several, the
    one with the most shards, then a full retrain before an update, then the lowest key (deterministic).
    """
    wanted = config.model_dump(mode="json", exclude={"update"})
    now = Counter(s["sha256"] for s in shards)
    candidates = []
    for ref in store.committed("pretrain"):
        origin = ref.get("lineage") or {}
        params = origin.get("params") or {}
        before = Counter(s.get("sha256") for s in params.get("shard") or [])
        if (
            origin.get("code") == code
            and {k: v for k, v in (params.get("config") or {}).items() if k != "update"} == wanted
            and (params.get("preprocess") or {}).get("sha256") == preprocess["sha256"]
            and before < now
        ):
            candidates.append((-sum(before.values()), params.get("previous") is not None, ref["key"]))
    for _, _, key in sorted(candidates):
        ref = store.load_ref("pretrain", key)  # every file checked against its manifest
        if ref is not None:
            return ref
    return None


def new_shards(previous: store.Ref, shards: list[store.Ref]) -> list[store.Ref]:
    """The shards of ``shards`` that the ``previous`` pretraining did not train on (by content hash)."""
    seen = Counter(s["sha256"] for s in previous["lineage"]["params"]["shard"])
    new = []
    for ref in shards:
        if seen[ref["sha256"]]:
            seen[ref["sha256"]] -= 1
        else:
            new.append(ref)
    return new
