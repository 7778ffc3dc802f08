"""Stage 2b, shard: one file of the unlabeled corpus, read, checked and tokenized on its own.

With ``data.source=files``, every file of ``data.unlabeled_path`` (a file, or a folder of them) is a
shard with its own cached artifact: adding a file to the folder processes only that file, and the
run report lists which shards were reused. Shards are independent tasks, so a task runner maps them
over threads or a Dask cluster. Writes ``unlabeled.parquet`` (text, origin, row, tokens), after
dropping lines identical to a test sentence (pretraining never sees test text).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from fewlabel import readers, store
from fewlabel.config import DataConfig, PreprocessConfig
from fewlabel.errors import UserError
from fewlabel.stage import stage
from tasks.preprocess import TOKENS, split_lines, tokenize

SCHEMA = pa.schema([("text", pa.string()), ("origin", pa.string()), ("row", pa.int64())])


def shard_files(config: DataConfig) -> list[str]:
    """The shard files of the configured unlabeled corpus, in name order (none for built-in sources)."""
    if config.source != "files":
        return []
    if config.unlabeled_path is None:
        raise UserError("data.source=files needs data.unlabeled_path: set it, e.g. --set data.unlabeled_path=my.csv")
    return [str(path.resolve()) for path in readers.input_files(config.unlabeled_path, "data.unlabeled_path")]


def shard_args(path: str, refs: dict, config) -> list:
    """The ``shard`` task's arguments for one file: it depends on the test split only, not on the
    rest of the ingest artifact (changing the labels does not re-process the shards)."""
    return [path, store.narrow(refs["ingest"], "test.parquet"), config.data.text_column, config.data.encoding,
            config.preprocess]


def test_texts(test: store.Ref) -> pa.Array:
    """The stripped test sentences, the set no pretraining line may equal."""
    return pc.unique(pc.utf8_trim_whitespace(store.read_table(test, "test.parquet", ["text"])["text"]))


@stage("shard", fingerprint=store.file_fingerprint)
def shard(out: Path, path: str, test: store.Ref, text_column: str, encoding: str, config: PreprocessConfig) -> dict:
    """Read one unlabeled file, split its lines, drop those equal to a test sentence, tokenize."""
    frame = readers.read_unlabeled(path, text_column, encoding)
    table = pa.table({c: pa.array(frame[c].tolist(), SCHEMA.field(c).type) for c in SCHEMA.names})
    if config.split_lines:
        table = split_lines(table)
    leaked = pc.is_in(pc.utf8_trim_whitespace(table["text"]), value_set=test_texts(test))
    table = table.filter(pc.invert(leaked))
    column = tokenize(table["text"], config)
    store.write_table(out, "unlabeled.parquet", table.append_column(TOKENS, column))
    lengths = pc.list_value_length(column).to_numpy()
    return {
        "file": Path(path).name,
        "rows": len(table),
        "tokens": int(lengths.sum()),
        "empty": int((lengths == 0).sum()),
        "blank_lines_skipped": int(frame.attrs.get("blank_lines", 0)),
        "unlabeled_equal_to_test_removed": int(pc.sum(leaked).as_py() or 0),
    }
