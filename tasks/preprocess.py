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
TOKENS = pa.field("tokens", pa.list_(pa.string()))


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
    exploded = table.take(parents).set_column(table.schema.get_field_index("text"), "text", flat)
    return exploded.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(flat)), 0))


@stage("preprocess")
def preprocess(out: Path, ingest: store.Ref, config: PreprocessConfig, batch_size: int = 65_536) -> dict:
    """Tokenize the three tables of the ingest artifact, streaming ``batch_size`` rows at a time."""
    stats = {}
    for split in SPLITS:
        schema, batches = store.iter_batches(ingest, f"{split}.parquet", batch_size)
        rows = tokens = empty = 0
        with store.table_writer(out, f"{split}.parquet", schema.append(TOKENS)) as write:
            for table in batches:
                if split == "unlabeled" and config.split_lines:
                    table = split_lines(table)
                column = tokenize(table["text"], config)
                lengths = pc.list_value_length(column).to_numpy()
                write(table.append_column(TOKENS, column))
                rows, tokens, empty = rows + len(table), tokens + int(lengths.sum()), empty + int((lengths == 0).sum())
        if split == "train" and tokens == 0:
            raise UserError(
                f"every token of the {rows} training sentences was removed by "
                f"preprocess.stopwords={config.stopwords!r}: use a shorter list or 'none'"
            )
        stats[split] = {"rows": rows, "tokens": tokens, "empty": empty}
    return stats
