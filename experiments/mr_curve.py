"""The MR learning-curve setup shared by experiments/pseudo_labels.py and experiments/post_processing.py.

What the curve flow builds for ``data.source=mr``, without Prefect or the artifact store: ``read_mr``
and the stratified split (``data.seed``, 2,000 test sentences); the reviews (plus extra corpora, if
any) with those equal to a test sentence removed, split into lines and tokenized; the training and
test sentences tokenized; Word2Vec pretrained on the unlabeled lines + all 2,000 training sentences
(no labels), cached per (word2vec config, extra corpora, data seed) in ``data/experiments/``.

Taken from the retired bench/levers_experiment.py (``prepare``, ``pretrained_table``), with the data
seed and the cache folder passed explicitly instead of patched in. Import it from a script of this
folder run as ``python experiments/<script>.py`` (Python puts the script's folder on the path).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fewlabel import store
from fewlabel.config import DataConfig, PreprocessConfig, Word2VecConfig
from fewlabel.corpora import read_mr
from fewlabel.dataset import split, with_extra
from fewlabel.text import split_lines, tokenize
from fewlabel.word2vec import fit_word2vec, vectors_table


def prepare(extra: list[str], data_seed: int = 0):
    """(unlabeled token lists, train dict, test dict, each unlabeled line's document) as the curve flow
    builds them (a document is a review: origin + row). train/test: ``labels``, ``tokens``, ``token_array``."""
    reviews, labeled = read_mr()
    train, test = split(labeled, DataConfig(seed=data_seed))
    unlabeled = with_extra(reviews, extra)
    test_texts = set(test["text"].str.strip())
    unlabeled = unlabeled[~unlabeled["text"].str.strip().isin(test_texts)]
    pre = PreprocessConfig()
    lines = split_lines(pa.Table.from_pandas(unlabeled[["text", "origin", "row"]], preserve_index=False))
    unl_tokens = tokenize(lines["text"], pre)
    splits = {}
    for name, frame in (("train", train), ("test", test)):
        arr = tokenize(pa.array(frame["text"].tolist(), pa.string()), pre)
        splits[name] = {
            "labels": np.asarray(frame["label"].tolist(), dtype=object),
            "tokens": arr.to_pylist(),
            "token_array": arr,
        }
    keys = np.stack(
        [lines["origin"].to_numpy(zero_copy_only=False).astype(str), lines["row"].to_numpy().astype(str)], axis=1
    )
    documents = np.unique(keys, axis=0, return_inverse=True)[1]
    return unl_tokens, splits["train"], splits["test"], documents.ravel()


def pretrained_table(
    unl_tokens: pa.ListArray, train: dict, w2v: Word2VecConfig, extra: list[str], data_seed: int = 0
) -> pa.Table:
    """The pretrained vectors table (token, count, vector), read from the cache when present."""
    key_data = [w2v.model_dump(mode="json"), extra] + ([data_seed] if data_seed else [])
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"vectors-{key}.parquet"
    if path.exists():
        return pq.read_table(path)
    corpus = unl_tokens.to_pylist() + train["tokens"]
    t0 = time.perf_counter()
    table = vectors_table(fit_word2vec(corpus, w2v), w2v.vector_size)
    print(
        f"# pretrain {len(corpus)} sentences, {sum(map(len, corpus))} words, vocabulary {len(table)}, "
        f"{time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table


def cache_dir() -> Path:
    """data/experiments/ under the data folder ($FEWLABEL_DATA_DIR or ./data), git-ignored."""
    return store.data_dir() / "experiments"
