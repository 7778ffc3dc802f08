"""Stage preprocess: tokenize, lowercase, remove stopwords (negations kept by default), by
:func:`fewlabel.text.tokenize`.

Writes ``unlabeled|train|test.parquet`` with a ``tokens`` column of ``list<string>``; the unlabeled
documents are first split into lines.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from fewlabel import catalog, store
from fewlabel.config import PreprocessConfig
from fewlabel.errors import UserError
from fewlabel.orchestration.stage import stage
from fewlabel.text import TOKENS, split_lines, tokenize, why_no_tokens


@stage("preprocess")
def preprocess(out: Path, ingest: store.Ref, config: PreprocessConfig, batch_size: int = 65_536) -> dict:
    """Tokenize the three tables of the ingest artifact, streaming ``batch_size`` rows at a time."""
    stats = {}
    for split, name in catalog.SPLITS.items():
        schema, batches = store.iter_batches(ingest, name, batch_size)
        rows = tokens = empty = 0
        with store.table_writer(out, name, schema.append(TOKENS)) as write:
            for table in batches:
                if split == "unlabeled" and config.split_lines:
                    table = split_lines(table)
                column = tokenize(table["text"], config)
                lengths = pc.list_value_length(column).to_numpy()
                write(table.append_column(TOKENS, column))
                rows, tokens, empty = rows + len(table), tokens + int(lengths.sum()), empty + int((lengths == 0).sum())
        if split == "train" and tokens == 0:
            texts = store.read_table(ingest, catalog.TRAIN, ["text"])["text"].combine_chunks()
            raise UserError(f"the {rows} training sentences {why_no_tokens(texts, config)}")
        stats[split] = {"rows": rows, "tokens": tokens, "empty": empty}
    return stats
