"""Sentence vectors: each sentence becomes a weighted average of its known words' vectors.

Tokens become vocabulary ids by Arrow's hash lookup (once per distinct token when they come
dictionary-encoded, as the vectorize stage reads them from Parquet), then a compiled kernel
(:mod:`fewlabel.kernels`) sums each sentence's (weighted: ``sif``, ``usif`` or ``tfidf``) embedding
rows and divides by its known-token count; no Python loop over sentences. Optionally SIF's common
component, or uSIF's weighted principal components, are removed (fitted on unlabeled and training
text, never the test split: :func:`fit_common`), and the element-wise max (and min) of the word
vectors is concatenated (``pooling``), by segment reductions. A sentence with no known token gets a
zero vector; callers count those from the known-token counts returned beside the vectors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from fewlabel import catalog

if TYPE_CHECKING:  # the config validates weightings and poolings against this module's registries
    from fewlabel.config import VectorizeConfig

ARMS = {"pretrained": catalog.VECTORS, "no_pretraining": catalog.BASELINE_VECTORS}
STRINGS = pa.list_(pa.string())


def embedding(table: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """(vocabulary, matrix vocabulary x dim) from a vectors table."""
    column = table["vector"].combine_chunks()
    dim = column.type.list_size
    matrix = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), dim)
    return table["token"].combine_chunks(), matrix.astype(np.float32, copy=False)


USIF_EPS = float(np.finfo(np.float32).eps)
"""uSIF's guard against a zero denominator when no word is frequent enough (fse's ``EPS``)."""


def _sif(p: np.ndarray, sif_a: float, length: int | None) -> np.ndarray:
    return (sif_a / (sif_a + p)).astype(np.float32)


def _usif(p: np.ndarray, sif_a: float, length: int | None) -> np.ndarray:
    if length is None or length < 1:
        raise ValueError(f"usif weighting needs the fitting text's mean sentence length n >= 1, not {length}")
    words = len(p)
    if not words:
        return np.zeros(0, np.float32)
    threshold = 1 - (1 - 1 / words) ** length
    alpha = np.count_nonzero(p > threshold) / words
    a = (1 - alpha) / (alpha * words / 2 + USIF_EPS)
    return (a / (a / 2 + p)).astype(np.float32)


def _tfidf(p: np.ndarray, sif_a: float, length: int | None) -> np.ndarray:
    return np.log(1.0 / np.maximum(p, 1e-12)).astype(np.float32)


class Weighting(NamedTuple):
    """One way to weigh the words of a sentence: ``weigh(p, sif_a, length)`` gives a float32 weight per
    word from p(w), or the weighting is None (a plain mean)."""

    weigh: Callable[[np.ndarray, float, int | None], np.ndarray] | None
    description: str
    fitted: bool = False
    """Whether its weights and removal need a fit on unlabeled + training text (:class:`Common`)."""


WEIGHTINGS: dict[str, Weighting] = {
    "mean": Weighting(None, "every word counts the same"),
    "sif": Weighting(_sif, "a/(a+p(w)), a = vectorize.sif_a (Arora et al. 2017)"),
    "usif": Weighting(
        _usif,
        "a/(a/2+p(w)), a from the vocabulary size and the fitting text's mean sentence length; "
        "vectorize.usif_components weighted components removed (Ethayarajh 2018)",
        fitted=True,
    ),
    "tfidf": Weighting(_tfidf, "log(1/p(w))"),
}
"""The registry of ``vectorize.weighting``: p(w) is a word's share of the Word2Vec corpus counts."""


def word_weights(
    counts: np.ndarray, weighting: str = "mean", sif_a: float = 1e-3, length: int | None = None
) -> np.ndarray | None:
    """Per-word weights from corpus counts by the weighting named ``weighting`` of :data:`WEIGHTINGS`:
    None (mean), ``sif`` a/(a+p(w)), ``usif`` a/(a/2+p(w)), ``tfidf`` log(total/count(w)).

    ``counts`` are the word's occurrences in the corpus its vectors were trained on (the ``count``
    column of a vectors table), never test text; p(w) = count / total. tfidf's idf is estimated from
    term counts (a corpus line is not a document), so it is log(1 / p(w)).

    uSIF (Ethayarajh 2018, as fse's ``uSIF`` computes it) derives its a from the vocabulary size v
    and ``length``, the mean sentence length n of the fitting text (:class:`Common`): the words whose
    p(w) exceeds 1 - (1 - 1/v)^n, a share alpha of the vocabulary, and a = (1 - alpha) / (alpha v/2).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}: {', '.join(WEIGHTINGS)}")
    weigh = WEIGHTINGS[weighting].weigh
    if weigh is None:
        return None
    counts = np.asarray(counts, dtype=np.float64)
    return weigh(counts / max(counts.sum(), 1.0), sif_a, length)


class Common(NamedTuple):
    """uSIF's fit (Ethayarajh 2018; fse's ``uSIF``) on the fitting text: what the sentence vectors of
    any text then need besides the word vectors and their counts."""

    length: int
    """n: the fitting text's tokens per sentence (every token, known or not; empty lines count),
    rounded down as fse's ``average_length``; it sets the word weights (:func:`word_weights`)."""
    components: np.ndarray
    """k x dim float32: the first k right singular vectors (uncentered) of its weighted means, unit
    rows; k = 0 removes nothing."""
    weights: np.ndarray
    """k float32: lambda_i = s_i^2 / sum_j s_j^2 over those k singular values; each vector loses
    sum_i lambda_i (v . u_i) u_i, as in the paper and its reference code (kawine/usif). fse's
    ``remove_principal_components`` weights both factors of the projection, so that for k > 1 it
    subtracts lambda_i^2 (v . u_i) u_i; with k = 1 (lambda = 1) both are SIF's removal."""


def needs_fit(config: VectorizeConfig) -> bool:
    """Whether sentence vectors need something fitted on unlabeled + training text (:func:`fit_common`)."""
    return config.remove_component or WEIGHTINGS[config.weighting].fitted


BLOCK = 65_536
"""Rows per token lookup and kernel call (the vectorize stage's Parquet batch): the temporaries stay
bounded (~12 bytes per token: ids and their copy without nulls), and the vocabulary's hash table is
built once per block."""


def _token_ids(tokens: pa.ListArray, vocabulary: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets n+1, vocabulary id of every token in sentence order, -1 for an unknown one) of one ListArray.

    Sentence i's tokens are ids[offsets[i]:offsets[i+1]]; a null list is empty. Tokens as strings are
    looked up one by one (Arrow's hash lookup); dictionary-encoded tokens (as the vectorize stage reads
    them from Parquet: :func:`fewlabel.store.iter_batches`) look up their dictionary once and take the
    ids by index, five to six times faster for the same ids.
    """
    values = pc.list_flatten(tokens)
    if pa.types.is_dictionary(values.type):
        mapping = pc.index_in(values.dictionary, value_set=vocabulary).fill_null(-1).to_numpy()
        mapping = np.append(mapping.astype(np.int32, copy=False), np.int32(-1))  # last: a null token
        ids = mapping[values.indices.fill_null(len(values.dictionary)).to_numpy()]
    else:
        ids = pc.index_in(values, value_set=vocabulary).fill_null(-1).to_numpy().astype(np.int32, copy=False)
    offsets = np.zeros(len(tokens) + 1, np.int64)
    np.cumsum(pc.list_value_length(tokens).fill_null(0).to_numpy(), out=offsets[1:])
    return offsets, ids


def _pieces(tokens, rows: int = BLOCK):
    """(first row, ListArray of at most ``rows`` rows), chunk by chunk (a ChunkedArray is not combined)."""
    start = 0
    for chunk in tokens.chunks if isinstance(tokens, pa.ChunkedArray) else [tokens]:
        for offset in range(0, len(chunk), rows):
            yield start + offset, chunk.slice(offset, rows)
        start += len(chunk)


def _known(tokens: pa.ListArray | pa.ChunkedArray, vocabulary: pa.Array) -> tuple[int, np.ndarray, np.ndarray]:
    """(sentences, sentence index, vocabulary id) of every known token, in sentence order."""
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int32)]
    for start, piece in _pieces(tokens):
        offsets, ids = _token_ids(piece, vocabulary)
        known = ids >= 0
        rows.append((start + np.repeat(np.arange(len(piece)), np.diff(offsets)))[known])
        cols.append(ids[known])
    return len(tokens), np.concatenate(rows), np.concatenate(cols)


THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
"""Blocks :func:`average` computes at once (the cores this process may use): the token lookup and the
kernel release the GIL, and the kernel's multiply-adds are most of the time."""


MIN_PIECE = 2_048
"""Rows below which a piece is not worth a thread of its own."""

NONE = np.zeros(0, np.float32)
"""No weights, for the kernel (it takes arrays only)."""

NO_COMPONENTS = np.zeros((0, 0), np.float32)
"""No common component, for the kernel."""


def _removal(component: np.ndarray | Common | None) -> tuple[np.ndarray, np.ndarray]:
    """(k x dim components, their k weights or none) as the kernel removes them: SIF's unit vector
    projected out unweighted, uSIF's components weighted (:func:`fewlabel.kernels.remove_row`)."""
    if component is None or (isinstance(component, Common) and not len(component.weights)):
        return NO_COMPONENTS, NONE
    if isinstance(component, Common):
        return (
            np.ascontiguousarray(component.components, np.float32),
            np.ascontiguousarray(component.weights, np.float32),
        )
    return np.ascontiguousarray(component, np.float32).reshape(1, -1), NONE


def _average_into(
    piece: pa.ListArray,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    weights: np.ndarray | None,
    removal: tuple[np.ndarray, np.ndarray],
    out: np.ndarray,
    known: np.ndarray,
) -> None:
    """Weighted averages and known-token counts of one piece, written into ``out`` and ``known``
    (see :func:`fewlabel.kernels.means`)."""
    offsets, ids = _token_ids(piece, vocabulary)
    _means_into(offsets, ids, matrix, weights, removal, out, known)


def _means_into(offsets, ids, matrix, weights, removal, out, known) -> None:
    """:func:`fewlabel.kernels.means` of sentences given as (offsets, vocabulary ids)."""
    from fewlabel import kernels  # numba loads where vectors are computed, not where a stage is only wired

    kernels.means(
        offsets,
        ids,
        matrix,
        NONE if weights is None else np.ascontiguousarray(weights, np.float32),
        *removal,
        out,
        known,
    )


def average(
    tokens: pa.ListArray | pa.ChunkedArray,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    weights: np.ndarray | None = None,
    threads: int = THREADS,
    component: np.ndarray | Common | None = None,
):
    """(sentence vectors n x dim, known-token count per sentence) for lists of tokens.

    Without ``weights``, the mean of the known words' vectors; with per-word ``weights`` (as from
    :func:`word_weights`), the sum of weight x vector divided by the known-token count (SIF's form).
    With a unit ``component``, each vector minus its projection on it (SIF's common component); with
    a :class:`Common`, minus its weighted projections on uSIF's components; removed row by row while
    the row is in cache (:func:`remove_component` is the same arithmetic).
    Per piece of at most BLOCK rows (equal pieces, at least MIN_PIECE rows each), ``threads`` pieces
    at a time: the token lookup (Arrow's hash lookup) then the compiled kernel
    :func:`fewlabel.kernels.means`, writing straight into the result. Every row is computed alone, so
    the result does not depend on ``threads``.
    """
    n = len(tokens)
    matrix = np.ascontiguousarray(matrix, np.float32)
    out, counts = np.empty((n, matrix.shape[1]), np.float32), np.empty(n, np.int64)
    removal = _removal(component)
    threads, rows = _split(n, threads)

    def one(item: tuple[int, pa.ListArray]) -> None:
        start, piece = item
        end = start + len(piece)
        _average_into(piece, vocabulary, matrix, weights, removal, out[start:end], counts[start:end])

    _each(one, _pieces(tokens, rows), threads)
    return out, counts


def _split(n: int, threads: int) -> tuple[int, int]:
    """(threads, rows per piece) for ``n`` rows: equal pieces of at most BLOCK rows, at least MIN_PIECE
    rows each, a multiple of ``threads`` of them."""
    threads = max(1, min(threads, n // MIN_PIECE))
    rounds = max(1, -(-n // (threads * BLOCK)))
    return threads, max(1, -(-n // (threads * rounds)))


def _each(one, items, threads: int) -> None:
    """``one(item)`` for every item, ``threads`` at a time (the first failure is raised)."""
    if threads == 1:
        for item in items:
            one(item)
    else:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, items):
                pass


def _means_of_ids(offsets, ids, matrix, weights, threads: int = THREADS) -> np.ndarray:
    """Weighted means (no removal) of sentences given as (offsets n+1, vocabulary ids), in pieces on
    ``threads`` threads (each row is computed alone: the result does not depend on them)."""
    n = len(offsets) - 1
    out, known = np.empty((n, matrix.shape[1]), np.float32), np.empty(n, np.int64)
    threads, rows = _split(n, threads)

    def one(start: int) -> None:
        end = min(start + rows, n)
        first, last = offsets[start], offsets[end]
        _means_into(
            offsets[start : end + 1] - first,
            ids[first:last],
            matrix,
            weights,
            _removal(None),
            out[start:end],
            known[start:end],
        )

    _each(one, range(0, n, rows), threads)
    return out


def extrema(
    tokens: pa.ListArray | pa.ChunkedArray,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    reductions: tuple[str, ...] = ("max",),
) -> np.ndarray:
    """Element-wise max (and/or min) of the known words' vectors per sentence, n x (dim * len(reductions)).

    Segment reductions over the token vectors in sentence order (``np.maximum.reduceat``); a
    sentence without a known word gets zeros.
    """
    n, rows, cols = _known(tokens, vocabulary)
    dim = matrix.shape[1]
    out = np.zeros((n, dim * len(reductions)), np.float32)
    if len(rows):
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        vectors = matrix[cols]
        ufuncs = {"max": np.maximum, "min": np.minimum}
        for i, name in enumerate(reductions):
            out[rows[starts], i * dim : (i + 1) * dim] = ufuncs[name].reduceat(vectors, starts, axis=0)
    return out


GRAM_BLOCK = 16_384
"""Rows per float64 block in :func:`first_component` (a 40 MB copy at 300 dimensions)."""


def _blocks(vectors: np.ndarray | list[np.ndarray], block: int):
    """The rows of ``vectors`` (one array, or several stacked in order) as float64 blocks of ``block``
    rows (the last one shorter), each assembled from the pieces it spans without stacking them."""
    pieces = [vectors] if isinstance(vectors, np.ndarray) else [p for p in vectors if len(p)]
    total = sum(len(p) for p in pieces)
    index = offset = 0  # the piece and the row in it where the next block starts
    for start in range(0, total, block):
        rows = np.empty((min(block, total - start), pieces[index].shape[1]), np.float64)
        filled = 0
        while filled < len(rows):
            take = min(len(rows) - filled, len(pieces[index]) - offset)
            rows[filled : filled + take] = pieces[index][offset : offset + take]
            filled, offset = filled + take, offset + take
            if offset == len(pieces[index]):
                index, offset = index + 1, 0
        yield rows


def _eigen(vectors: np.ndarray | list[np.ndarray], block: int = GRAM_BLOCK) -> tuple[np.ndarray, np.ndarray] | None:
    """(eigenvalues ascending, eigenvectors) of X'X, or None when X is zero. X: one array, or several
    stacked in order (:func:`_blocks`: the same blocks, the same numbers).

    The upper triangle of X'X (dim x dim float64) is accumulated ``block`` rows at a time with BLAS's
    symmetric rank-k update, then decomposed by LAPACK; both on one BLAS thread. With two threads on a
    2-core machine with anything else running, OpenBLAS's threads spin waiting for each other: the
    300 x 300 decomposition took 0.8 to 6.7 s there instead of 0.13 s (10 to 30 times the CPU), and
    its float64 result depended on the thread count (1e-13; the same float32 vector).
    """
    from scipy.linalg.blas import dsyrk as syrk  # scipy loads where a component is fitted

    dim = (vectors if isinstance(vectors, np.ndarray) else vectors[0]).shape[1]
    gram = np.zeros((dim, dim), np.float64, order="F")
    with threadpool_limits(1, user_api="blas"):
        for rows in _blocks(vectors, block):
            # rows.T is a Fortran-ordered dim x rows view: upper triangle of gram += rows.T @ rows, in place
            gram = syrk(1.0, rows.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
        if not gram.any():
            return None
        return np.linalg.eigh(gram, UPLO="U")


def _signed(vector: np.ndarray) -> np.ndarray:
    """A singular vector with the sign that makes its largest entry (in absolute value) positive."""
    return vector * np.sign(vector[np.argmax(np.abs(vector))])


def first_component(vectors: np.ndarray | list[np.ndarray], block: int = GRAM_BLOCK) -> np.ndarray:
    """The first right singular vector (uncentered, as in SIF) of sentence vectors (one array, or
    several stacked in order); zeros if none.

    Computed as the top eigenvector of the dim x dim Gram matrix X'X (the same vector as the SVD's,
    in 0.3 s instead of 32 s for 100k x 300, without the n x dim left factor), accumulated in
    float64 ``block`` rows at a time with BLAS's symmetric rank-k update (half the multiply-adds of
    X'X, no n x dim float64 copy). Zero rows (sentences without a known word) add exactly nothing.
    BLAS runs on one thread here (:func:`_eigen`): 100k x 300 takes 0.22 s on one, and 2-3 s on two
    threads of a 2-core machine with anything else running (OpenBLAS's threads wait for each other).
    """
    eigen = _eigen(vectors, block)
    if eigen is None:
        return np.zeros((vectors if isinstance(vectors, np.ndarray) else vectors[0]).shape[1], np.float32)
    return _signed(eigen[1][:, -1]).astype(np.float32)


def principal_components(
    vectors: np.ndarray | list[np.ndarray], k: int, block: int = GRAM_BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """(k x dim unit rows, k weights): the first k right singular vectors (uncentered) of sentence
    vectors and lambda_i = s_i^2 / sum_j s_j^2 over those k, uSIF's weights (fse computes them with a
    randomized truncated SVD; here exactly, from the eigenvectors of X'X as :func:`first_component`).
    Fewer rows when X has fewer dimensions; none when X is zero."""
    dim = (vectors if isinstance(vectors, np.ndarray) else vectors[0]).shape[1]
    k = min(k, dim)
    eigen = _eigen(vectors, block) if k else None
    if eigen is None:
        return np.zeros((0, dim), np.float32), np.zeros(0, np.float32)
    values, eigenvectors = eigen  # ascending
    values = np.clip(values[::-1][:k], 0, None)  # s_i^2; a rounding error below zero is zero
    components = np.vstack([_signed(eigenvectors[:, -1 - i]) for i in range(k)])
    return components.astype(np.float32), (values / values.sum()).astype(np.float32)


def remove_component(vectors: np.ndarray, component: np.ndarray | Common) -> np.ndarray:
    """Each vector minus its projection on the unit ``component`` (or uSIF's weighted projections on
    a :class:`Common`'s components; zero vectors stay zero), with the arithmetic :func:`average`
    applies row by row (a vector is the same computed alone, in a piece or in the whole)."""
    from fewlabel import kernels

    vectors = np.array(vectors, np.float32, order="C")
    kernels.project_out(vectors, *_removal(component))
    return vectors


def remove_from_means(vectors: np.ndarray, component: np.ndarray | Common, dim: int) -> np.ndarray:
    """``vectors`` whose first ``dim`` columns are weighted means (:func:`sentence_vectors` made
    without a component) with ``component`` removed from those columns, in place, as if it had been
    given (the same arithmetic)."""
    from fewlabel import kernels

    if vectors.shape[1] == dim and vectors.flags.c_contiguous and vectors.dtype == np.float32:
        kernels.project_out(vectors, *_removal(component))
    else:
        vectors[:, :dim] = remove_component(vectors[:, :dim], component)
    return vectors


POOLING = {"mean": (), "mean_max": ("max",), "mean_max_min": ("max", "min")}


def _prepared(matrix: np.ndarray, config: VectorizeConfig) -> np.ndarray:
    """The embedding as configured: with ``unit_vectors`` every word vector scaled to length 1."""
    if config.unit_vectors:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return (matrix / np.where(norms > 0, norms, 1)).astype(np.float32)
    return matrix


def _weights(counts: np.ndarray | None, config: VectorizeConfig, length: int | None = None) -> np.ndarray | None:
    if WEIGHTINGS[config.weighting].weigh is None:
        return None
    if counts is None:
        raise ValueError(f"vectorize.weighting={config.weighting} needs word counts (the 'count' column)")
    return word_weights(counts, config.weighting, config.sif_a, length)


def sentence_vectors(
    tokens,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    counts: np.ndarray | None,
    config: VectorizeConfig,
    component: np.ndarray | Common | None = None,
    threads: int = THREADS,
):
    """(n x dim', known-token counts): weighted mean, minus ``component`` if given, then the pooled extrema.

    dim' = dim x (1 + number of extrema). ``counts`` are the vocabulary's corpus counts (needed for
    sif, usif and tfidf weighting). With ``unit_vectors`` every word vector is scaled to length 1
    first. ``component``: what :func:`fit_common` fitted (uSIF's :class:`Common` is needed: it holds
    the mean sentence length its weights depend on). ``threads``: as in :func:`average` (the result
    does not depend on it).
    """
    matrix = _prepared(matrix, config)
    if WEIGHTINGS[config.weighting].fitted and not isinstance(component, Common):
        raise ValueError(
            "vectorize.weighting=usif needs its fit on unlabeled + training text (fit_common): "
            "the mean sentence length sets the word weights"
        )
    weights = _weights(counts, config, component.length if isinstance(component, Common) else None)
    mean, known = average(tokens, vocabulary, matrix, weights, threads, component)
    reductions = POOLING[config.pooling]
    if not reductions:
        return mean, known
    return np.hstack([mean, extrema(tokens, vocabulary, matrix, reductions)]), known


COMPONENT_SAMPLE = 100_000
"""Sentences the common component is estimated on, at most: one direction in a few hundred
dimensions needs no more, and memory stays bounded whatever the corpus size."""


def sample_rows(total: int, sample: int = COMPONENT_SAMPLE) -> np.ndarray | None:
    """Sorted seeded row numbers of a ``sample`` of ``total`` rows; None to keep all."""
    if total <= sample:
        return None
    return np.sort(np.random.default_rng(0).choice(total, sample, replace=False))


def _sampled_ids(pieces: Iterable, total: int, first: int, keep: np.ndarray | None, vocabulary: pa.Array):
    """(offsets, ids) of the rows ``keep`` (all when None) of the token lists ``pieces`` (rows
    ``first`` to ``total``, in order), and the number of tokens of all of them."""
    sizes, chosen, tokens, start = [np.zeros(1, np.int64)], [np.zeros(0, np.int32)], 0, first
    for tokens_piece in pieces:
        for _, piece in _pieces(tokens_piece):
            n = len(piece)
            if keep is not None:
                tokens += int(pc.sum(pc.list_value_length(piece)).as_py() or 0)
                local = keep[np.searchsorted(keep, start) : np.searchsorted(keep, start + n)] - start
                piece = piece.take(pa.array(local, pa.int64()))
            offsets, ids = _token_ids(piece, vocabulary)
            if keep is None:
                tokens += int(offsets[-1])
            sizes.append(np.diff(offsets))
            chosen.append(ids)
            start += n
    if start != total:
        raise ValueError(f"the fitting text has {start} rows, not the {total} announced")
    return np.cumsum(np.concatenate(sizes)), np.concatenate(chosen), tokens


def fit_common(
    pieces: Iterable,
    total: int,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    counts: np.ndarray | None,
    config: VectorizeConfig,
    sample: int = COMPONENT_SAMPLE,
    means: np.ndarray | list[np.ndarray] | None = None,
    threads: int = THREADS,
) -> np.ndarray | Common | None:
    """What sentence vectors need fitted on the fitting text (unlabeled and training text, never the
    test split): SIF's common component (a unit vector) when ``remove_component``, uSIF's
    :class:`Common`, or None (nothing to fit: :func:`needs_fit`).

    ``pieces`` are the text's token lists (ListArrays or ChunkedArrays, strings or dictionary-encoded
    as :func:`fewlabel.store.iter_batches` reads them), in order, ``total`` rows in all. One pass
    gathers the vocabulary ids of a seeded sample of at most ``sample`` rows (:func:`sample_rows`;
    one dictionary lookup per piece) and counts every row's tokens (uSIF's n); then the compiled
    kernel computes the sample's weighted means, and the component(s) come from their Gram matrix.

    ``means``: the weighted means (this config, no component) of the first rows, one array or several
    in order, when they were computed anyway (the vectorize stage's unlabeled lines); ``pieces`` then
    hold only the rows after them. Only for a sif/tfidf/mean fit with every row in the sample
    (``total <= sample``): the component is then computed from the same numbers as without them.
    """
    if not needs_fit(config):
        return None
    if WEIGHTINGS[config.weighting].weigh is not None and counts is None:
        raise ValueError(f"vectorize.weighting={config.weighting} needs word counts (the 'count' column)")
    keep = sample_rows(total, sample)
    given = [] if means is None else [means] if isinstance(means, np.ndarray) else list(means)
    first = sum(len(m) for m in given)
    if given and (keep is not None or WEIGHTINGS[config.weighting].fitted):
        raise ValueError("means of the first rows stand in only for a sif, tfidf or mean fit on every row")
    offsets, ids, tokens = _sampled_ids(pieces, total, first, keep, vocabulary)
    length = max(1, tokens // max(total, 1))  # n: fse's int(total words / total sentences); at least 1
    matrix = _prepared(np.ascontiguousarray(matrix, np.float32), config)
    weights = _weights(counts, config, length if WEIGHTINGS[config.weighting].fitted else None)
    sampled = [*given, _means_of_ids(offsets, ids, matrix, weights, threads)]  # stacked block by block
    if WEIGHTINGS[config.weighting].fitted:
        k = config.usif_components if config.remove_component else 0
        return Common(int(length), *principal_components(sampled, k))
    return first_component(sampled)


def fit_component(
    tokens,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    counts: np.ndarray | None,
    config: VectorizeConfig,
    sample: int = COMPONENT_SAMPLE,
) -> np.ndarray | Common | None:
    """:func:`fit_common` on in-memory token lists (unlabeled/training text only), or a seeded
    ``sample`` of them."""
    return fit_common([tokens], len(tokens), vocabulary, matrix, counts, config, sample)


def common_table(fitted: dict[str, np.ndarray | Common]) -> pa.Table:
    """``components.parquet`` of the vectorize stage: per arm, SIF's component (``arm``, ``vector``),
    or uSIF's fit (``arm``, ``length``, ``weights``, ``components``)."""
    arms = list(fitted)
    if not any(isinstance(c, Common) for c in fitted.values()):
        return pa.table({"arm": arms, "vector": vector_column(np.vstack(list(fitted.values())))})
    dim = next(c.components.shape[1] for c in fitted.values())
    rows = [fitted[arm] for arm in arms]
    offsets = pa.array(np.cumsum([0] + [len(c.weights) for c in rows]), pa.int32())
    flat = np.concatenate([np.asarray(c.components, np.float32).ravel() for c in rows])
    return pa.table(
        {
            "arm": arms,
            "length": pa.array([c.length for c in rows], pa.int64()),
            "weights": pa.array([np.asarray(c.weights, np.float32) for c in rows], pa.list_(pa.float32())),
            "components": pa.ListArray.from_arrays(offsets, pa.FixedSizeListArray.from_arrays(pa.array(flat), dim)),
        }
    )


def common_of(table: pa.Table, arm: str) -> np.ndarray | Common:
    """One arm's fit from a :func:`common_table` table."""
    row = table["arm"].to_pylist().index(arm)
    if "length" not in table.column_names:
        return matrix_of(table, "vector")[row]
    components = table["components"].combine_chunks()[row].values
    dim = components.type.list_size
    return Common(
        int(table["length"][row].as_py()),
        components.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32),
        np.asarray(table["weights"][row].as_py(), np.float32),
    )


def vector_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel(), pa.float32()), matrix.shape[1])


def matrix_of(table: pa.Table, column: str) -> np.ndarray:
    """A fixed-size-list vector column as an n x dim float32 array."""
    values = table[column].combine_chunks()
    return values.flatten().to_numpy(zero_copy_only=False).reshape(len(values), values.type.list_size)


def counts_of(table: pa.Table) -> np.ndarray | None:
    """The corpus count of every word of a vectors table (None when it has no ``count`` column)."""
    return table["count"].to_numpy() if "count" in table.column_names else None


def width(dim: int, config: VectorizeConfig) -> int:
    """The length of a sentence vector made from ``dim``-dimensional word vectors as configured."""
    return dim * (1 + len(POOLING[config.pooling]))
