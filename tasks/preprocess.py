"""Stage 2, preprocess: tokenize, lowercase, remove stopwords (negations kept by default).

The tokenizer is chosen by ``preprocess.language`` from :mod:`fewlabel.tokenizers` (English runs
as Arrow compute kernels over whole columns; Chinese is segmented with jieba). Writes ``unlabeled|train|test.parquet`` with a
``tokens`` column of ``list<string>``; the unlabeled documents are first split into lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fewlabel import store, tokenizers
from fewlabel.config import PreprocessConfig
from fewlabel.errors import UserError
from fewlabel.stage import stage

SPLITS = ("unlabeled", "train", "test")


def stopword_set(config: PreprocessConfig) -> frozenset[str]:
    """The words to drop: a named list or the user's own, minus negations if they are kept."""
    if isinstance(config.stopwords, str):
        words = tokenizers.stopwords(config.stopwords, config.language)
    else:
        words = frozenset(w.lower() if config.lowercase else w for w in config.stopwords)
    return words - tokenizers.LANGUAGES[config.language].negations if config.keep_negations else words


def filter_tokens(tokens: pa.ListArray, drop: frozenset[str], min_length: int = 1) -> pa.ListArray:
    """Remove the tokens in ``drop`` and those shorter than ``min_length``, list by list."""
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    flat = pc.list_flatten(tokens)
    keep = pc.invert(pc.is_in(flat, value_set=pa.array(sorted(drop), pa.string())))
    if min_length > 1:
        keep = pc.and_(keep, pc.greater_equal(pc.utf8_length(flat), min_length))
    parents = pc.list_parent_indices(tokens).to_numpy()[keep.to_numpy(zero_copy_only=False)]
    counts = np.bincount(parents, minlength=len(tokens))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat.filter(keep))


def tokenize(texts: pa.Array, config: PreprocessConfig) -> pa.ListArray:
    """The full text-to-tokens transformation of a column, as configured."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    tokens = tokenizers.LANGUAGES[config.language].tokenize(texts, config.lowercase)
    return filter_tokens(tokens, stopword_set(config) | {""}, config.min_token_length)


def split_lines(table: pa.Table) -> pa.Table:
    """One row per non-blank line of each document, keeping its origin and row."""
    lines = pc.split_pattern_regex(table["text"], r"\r?\n")
    parents = pc.list_parent_indices(lines)
    flat = pc.list_flatten(lines)
    exploded = table.drop(["text"]).take(parents).append_column("text", flat)
    return exploded.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(flat)), 0))


@stage("preprocess")
def preprocess(out: Path, ingest: store.Ref, config: PreprocessConfig) -> dict:
    """Tokenize the three tables of the ingest artifact."""
    stats = {}
    for split in SPLITS:
        table = store.read_table(ingest, f"{split}.parquet")
        if split == "unlabeled" and config.split_lines:
            table = split_lines(table)
        tokens = tokenize(table["text"], config)
        lengths = pc.list_value_length(tokens).to_numpy()
        if split == "train" and not lengths.any():
            raise UserError(
                f"every token of the {len(lengths)} training sentences was removed by "
                f"preprocess.stopwords={config.stopwords!r}: use a shorter list or 'none'"
            )
        store.write_table(out, f"{split}.parquet", table.append_column("tokens", tokens))
        stats[split] = {"rows": len(table), "tokens": int(lengths.sum()), "empty": int((lengths == 0).sum())}
    return stats
