"""Sentence vectors: each sentence becomes a weighted average of its known words' vectors.

Tokens become vocabulary ids by Arrow's hash lookup (once per distinct token when they come
dictionary-encoded, as the vectorize stage reads them from Parquet), then a compiled kernel
(:mod:`fewlabel.kernels`) sums each sentence's (weighted: ``sif`` or ``tfidf``) embedding rows and
divides by its known-token count; no Python loop over sentences. Optionally SIF's common component
(estimated from unlabeled and training text, never the test split) is removed, and the element-wise
max (and min) of the word vectors is concatenated (``pooling``), by segment reductions. A sentence
with no known token gets a zero vector; callers count those from the known-token counts returned
beside the vectors.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:  # the config validates weightings and poolings against this module's registries
    from fewlabel.config import VectorizeConfig

ARMS = {"pretrained": "vectors.parquet", "no_pretraining": "baseline_vectors.parquet"}
STRINGS = pa.list_(pa.string())


def embedding(table: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """(vocabulary, matrix vocabulary x dim) from a vectors table."""
    column = table["vector"].combine_chunks()
    dim = column.type.list_size
    matrix = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), dim)
    return table["token"].combine_chunks(), matrix.astype(np.float32, copy=False)


def word_weights(counts: np.ndarray, weighting: str = "mean", sif_a: float = 1e-3) -> np.ndarray | None:
    """Per-word weights from corpus counts: None (mean), ``sif`` a/(a+p(w)), ``tfidf`` log(total/count(w)).

    ``counts`` are the word's occurrences in the corpus its vectors were trained on (the ``count``
    column of a vectors table), never test text; p(w) = count / total. tfidf's idf is estimated from
    term counts (a corpus line is not a document), so it is log(1 / p(w)).
    """
    if weighting == "mean":
        return None
    counts = np.asarray(counts, dtype=np.float64)
    p = counts / max(counts.sum(), 1.0)
    if weighting == "sif":
        return (sif_a / (sif_a + p)).astype(np.float32)
    if weighting == "tfidf":
        return np.log(1.0 / np.maximum(p, 1e-12)).astype(np.float32)
    raise ValueError(f"unknown weighting {weighting!r}: mean, sif or tfidf")


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
"""No weights / no component, for the kernel (it takes arrays only)."""


def _average_into(
    piece: pa.ListArray,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    weights: np.ndarray | None,
    component: np.ndarray | None,
    out: np.ndarray,
    known: np.ndarray,
) -> None:
    """Weighted averages and known-token counts of one piece, written into ``out`` and ``known``
    (see :func:`fewlabel.kernels.means`)."""
    from fewlabel import kernels  # numba loads where vectors are computed, not where a stage is only wired

    offsets, ids = _token_ids(piece, vocabulary)
    kernels.means(
        offsets,
        ids,
        matrix,
        NONE if weights is None else np.ascontiguousarray(weights, np.float32),
        NONE if component is None else np.ascontiguousarray(component, np.float32),
        out,
        known,
    )


def average(
    tokens: pa.ListArray | pa.ChunkedArray,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    weights: np.ndarray | None = None,
    threads: int = THREADS,
    component: np.ndarray | None = None,
):
    """(sentence vectors n x dim, known-token count per sentence) for lists of tokens.

    Without ``weights``, the mean of the known words' vectors; with per-word ``weights`` (as from
    :func:`word_weights`), the sum of weight x vector divided by the known-token count (SIF's form).
    With a unit ``component``, each vector minus its projection on it (SIF's common component),
    removed row by row while the row is in cache (:func:`remove_component` is the same arithmetic).
    Per piece of at most BLOCK rows (equal pieces, at least MIN_PIECE rows each), ``threads`` pieces
    at a time: the token lookup (Arrow's hash lookup) then the compiled kernel
    :func:`fewlabel.kernels.means`, writing straight into the result. Every row is computed alone, so
    the result does not depend on ``threads``.
    """
    n = len(tokens)
    matrix = np.ascontiguousarray(matrix, np.float32)
    out, counts = np.empty((n, matrix.shape[1]), np.float32), np.empty(n, np.int64)
    threads = max(1, min(threads, n // MIN_PIECE))
    rounds = max(1, -(-n // (threads * BLOCK)))
    rows = max(1, -(-n // (threads * rounds)))  # equal pieces, a multiple of ``threads`` of them

    def one(item: tuple[int, pa.ListArray]) -> None:
        start, piece = item
        end = start + len(piece)
        _average_into(piece, vocabulary, matrix, weights, component, out[start:end], counts[start:end])

    if threads == 1:
        for item in _pieces(tokens, rows):
            one(item)
    else:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, _pieces(tokens, rows)):  # re-raises the first failure
                pass
    return out, counts


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


def first_component(vectors: np.ndarray, block: int = GRAM_BLOCK) -> np.ndarray:
    """The first right singular vector (uncentered, as in SIF) of sentence vectors; zeros if none.

    Computed as the top eigenvector of the dim x dim Gram matrix X'X (the same vector as the SVD's,
    in 0.3 s instead of 32 s for 100k x 300, without the n x dim left factor), accumulated in
    float64 ``block`` rows at a time with BLAS's symmetric rank-k update (half the multiply-adds of
    X'X, no n x dim float64 copy). Zero rows (sentences without a known word) add exactly nothing.
    BLAS runs on one thread here: 100k x 300 takes 0.22 s on one, and 2-3 s on two threads of a
    2-core machine with anything else running (OpenBLAS's threads wait for each other).
    """
    from scipy.linalg.blas import dsyrk as syrk  # scipy loads where a component is fitted

    dim = vectors.shape[1]
    gram = np.zeros((dim, dim), np.float64, order="F")
    with threadpool_limits(1, user_api="blas"):  # see below
        for start in range(0, len(vectors), block):
            rows = vectors[start : start + block].astype(np.float64)
            # rows.T is a Fortran-ordered dim x rows view: upper triangle of gram += rows.T @ rows, in place
            gram = syrk(1.0, rows.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
    if not gram.any():
        return np.zeros(dim, np.float32)
    _, eigenvectors = np.linalg.eigh(gram, UPLO="U")
    component = eigenvectors[:, -1]
    return (component * np.sign(component[np.argmax(np.abs(component))])).astype(np.float32)


def remove_component(vectors: np.ndarray, component: np.ndarray) -> np.ndarray:
    """Each vector minus its projection on the unit ``component`` (zero vectors stay zero), with the
    arithmetic :func:`average` applies row by row (a vector is the same computed alone, in a piece or
    in the whole)."""
    from fewlabel import kernels

    vectors = np.array(vectors, np.float32, order="C")
    kernels.project_out(vectors, np.ascontiguousarray(component, np.float32))
    return vectors


POOLING = {"mean": (), "mean_max": ("max",), "mean_max_min": ("max", "min")}


def sentence_vectors(
    tokens,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    counts: np.ndarray | None,
    config: VectorizeConfig,
    component: np.ndarray | None = None,
    threads: int = THREADS,
):
    """(n x dim', known-token counts): weighted mean, minus ``component`` if given, then the pooled extrema.

    dim' = dim x (1 + number of extrema). ``counts`` are the vocabulary's corpus counts (needed for
    sif and tfidf weighting). With ``unit_vectors`` every word vector is scaled to length 1 first.
    ``threads``: as in :func:`average` (the result does not depend on it).
    """
    if config.unit_vectors:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = (matrix / np.where(norms > 0, norms, 1)).astype(np.float32)
    weights = None
    if config.weighting != "mean":
        if counts is None:
            raise ValueError(f"vectorize.weighting={config.weighting} needs word counts (the 'count' column)")
        weights = word_weights(counts, config.weighting, config.sif_a)
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


def fit_component(
    tokens,
    vocabulary: pa.Array,
    matrix: np.ndarray,
    counts: np.ndarray | None,
    config: VectorizeConfig,
    sample: int = COMPONENT_SAMPLE,
) -> np.ndarray | None:
    """SIF's common component, from the weighted means of ``tokens`` (unlabeled/training text only),
    or of a seeded ``sample`` of them."""
    if not config.remove_component:
        return None
    keep = sample_rows(len(tokens), sample)
    if keep is not None:
        tokens = tokens.take(pa.array(keep))
    plain = config.model_copy(update={"pooling": "mean"})
    return first_component(sentence_vectors(tokens, vocabulary, matrix, counts, plain)[0])


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
