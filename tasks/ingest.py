"""Stage ingest: the data set read, validated and split (:func:`fewlabel.dataset.assemble`).

Writes ``unlabeled.parquet`` (text, origin, row), ``train.parquet`` and ``test.parquet`` (text,
label, origin, row).
"""

from __future__ import annotations

from pathlib import Path

from fewlabel import catalog, store
from fewlabel.config import DataConfig
from fewlabel.dataset import assemble, fingerprint
from fewlabel.orchestration.stage import stage


@stage("ingest", fingerprint=fingerprint)
def ingest(out: Path, config: DataConfig) -> dict:
    """Read, validate and split the data; write the three tables."""
    tables, counts = assemble(config)
    for name, table in tables.items():
        store.write_table(out, catalog.SPLITS[name], table)
    return counts
