"""Stage 4, vectorize: each sentence becomes the average of its known words' vectors.

The average is one sparse matrix product: token ids and 1/len weights in a CSR matrix (sentences x
vocabulary) times the embedding matrix; no per-sentence loop. A sentence with no known token gets a
zero vector; those are counted and reported. Writes ``train.parquet`` and ``test.parquet`` with the
label and one vector column per arm: ``pretrained`` and ``no_pretraining``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from fewlabel import store
from fewlabel.config import VectorizeConfig
from fewlabel.stage import stage

ARMS = {"pretrained": "vectors.parquet", "no_pretraining": "baseline_vectors.parquet"}
log = logging.getLogger(__name__)


def embedding(table: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """(vocabulary, matrix vocabulary x dim) from a vectors table."""
    column = table["vector"].combine_chunks()
    dim = column.type.list_size
    matrix = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), dim)
    return table["token"].combine_chunks(), matrix.astype(np.float32, copy=False)


def average(tokens: pa.ListArray | pa.ChunkedArray, vocabulary: pa.Array, matrix: np.ndarray):
    """(sentence vectors n x dim, known-token count per sentence) for lists of tokens."""
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    n = len(tokens)
    ids = pc.index_in(pc.list_flatten(tokens), value_set=vocabulary)
    known = ids.is_valid()
    rows = pc.list_parent_indices(tokens).filter(known).to_numpy()
    cols = ids.filter(known).to_numpy()
    counts = np.bincount(rows, minlength=n)
    weights = (1.0 / counts[rows]).astype(np.float32)
    weighted = sp.csr_matrix((weights, (rows, cols)), shape=(n, len(vocabulary)))
    return np.asarray(weighted @ matrix, dtype=np.float32), counts


def vector_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel(), pa.float32()), matrix.shape[1])


def matrix_of(table: pa.Table, column: str) -> np.ndarray:
    """A fixed-size-list vector column as an n x dim float32 array."""
    values = table[column].combine_chunks()
    return values.flatten().to_numpy(zero_copy_only=False).reshape(len(values), values.type.list_size)


@stage("vectorize")
def vectorize(out: Path, preprocess: store.Ref, pretrain: store.Ref, config: VectorizeConfig) -> dict:
    """Average word vectors of the train and test sentences, for both arms."""
    embeddings = {arm: embedding(store.read_table(pretrain, name)) for arm, name in ARMS.items()}
    stats = {}
    for split in ("train", "test"):
        table = store.read_table(preprocess, f"{split}.parquet", ["label", "origin", "row", "tokens"])
        tokens = table["tokens"]
        total = max(int(pc.sum(pc.list_value_length(tokens)).as_py() or 0), 1)
        features = table.drop(["tokens"])
        for arm, (vocabulary, matrix) in embeddings.items():
            vectors, counts = average(tokens, vocabulary, matrix)
            features = features.append_column(arm, vector_column(vectors))
            stats[f"{split}_{arm}"] = {
                "rows": len(counts),
                "zero_vectors": int((counts == 0).sum()),
                "oov_share": round(1 - counts.sum() / total, 4),
            }
            if (counts == 0).any():
                log.warning("%s/%s: %d sentences have no known word (zero vector)", split, arm, (counts == 0).sum())
        store.write_table(out, f"{split}.parquet", features)
    return stats
