"""Stage shard: one file of the unlabeled corpus, read, checked and tokenized on its own
(:func:`fewlabel.dataset.shard_table`).

With ``data.source=files``, every file of ``data.unlabeled_path`` (a file, or a folder of them) is a
shard with its own cached artifact: adding a file to the folder processes only that file, and the
run report lists which shards were reused. Writes ``unlabeled.parquet`` (text, origin, row, tokens),
without the lines identical to a test sentence (pretraining never sees test text).
"""

from __future__ import annotations

from pathlib import Path

from fewlabel import catalog, inputs, store
from fewlabel.config import PreprocessConfig
from fewlabel.dataset import shard_table, stripped_texts
from fewlabel.orchestration.stage import stage


def shard_args(path: str, refs: dict, config) -> dict:
    """The ``shard`` task's keyword arguments for one file: it depends on the test split only, not on
    the rest of the ingest artifact (changing the labels does not re-process the shards)."""
    data = config.data
    return {
        "path": path,
        "test": store.narrow(refs["ingest"], catalog.TEST),
        "text_column": data.text_column,
        "encoding": data.encoding,
        "config": config.preprocess,
        "damaged_text": data.damaged_text,
    }


@stage("shard", fingerprint=inputs.file_fingerprint, label=lambda params: Path(params["path"]).name)
def shard(
    out: Path,
    path: str,
    test: store.Ref,
    text_column: str,
    encoding: str,
    config: PreprocessConfig,
    damaged_text: str = "refuse",
) -> dict:
    """Read one unlabeled file, split its lines, drop those equal to a test sentence, tokenize."""
    test_texts = stripped_texts(store.read_table(test, catalog.TEST, ["text"]))
    table, counts = shard_table(path, test_texts, text_column, encoding, config, damaged_text)
    store.write_table(out, catalog.UNLABELED, table)
    return counts
