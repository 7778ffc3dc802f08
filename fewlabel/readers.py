"""Reading the user's text files (CSV, TSV, Parquet, .txt, or a folder of them), validated once, at the
boundary.

Every problem is a :class:`UserError` naming the file, the column or the row and the fix. Text is
never altered here: rows keep their original number (``row``, 1-based, header excluded) so every
output can be traced back to its input. Decoding is :mod:`fewlabel.encodings`'.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fewlabel import inputs
from fewlabel.encodings import LINE_BREAK, damage_summary, decode, decode_cells, encoding_for, without_damage
from fewlabel.errors import UserError

FORMATS = (".csv", ".tsv", ".parquet", ".txt")


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
    if not path.is_file():  # a named pipe would block the run until something writes to it
        raise UserError(f"{what}: {path} is not a regular file (a named pipe, socket or device); give a file")
    if path.suffix.lower() not in FORMATS:
        raise UserError(
            f"{what}: {path} has an unsupported format {path.suffix or '(no extension)'!r}; "
            f"use one of {', '.join(FORMATS)}"
        )
    return [path]


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _read_frame(path: Path, encoding: str, what: str = "data", damaged: str = "refuse") -> pd.DataFrame | pa.Table:
    """A file as a frame of strings ('' for missing); .txt gives one 'text' column, one row per line.

    Every row of the file is a row of the frame, blank lines included; a header that does not match
    the rows is an error, not a guessed index column. A Parquet file stays an Arrow table: only the
    columns used are converted, each checked for its type (:func:`_column`).
    """
    suffix = path.suffix.lower()
    try:
        data = inputs.read_bytes(path)  # exactly the bytes the stage's cache key hashed
    except PermissionError:
        raise UserError(f"{path} cannot be read (permission denied): check its permissions") from None
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:  # transient errors stay OSError
        raise UserError(f"{path} cannot be read ({exc.strerror}): check that it is a readable file") from None
    if suffix == ".parquet":
        return _read_parquet(path, data)
    text = decode(path, data, encoding, what, damaged)
    if suffix == ".txt":
        lines = re.split(LINE_BREAK, text)
        if lines[-1] == "":  # the end of the last line, not a line
            lines.pop()
        return pd.DataFrame({"text": pd.Series(lines, dtype=str)})
    return _read_delimited(path, text, "\t" if suffix == ".tsv" else ",")


def _read_parquet(path: Path, data: bytes) -> pa.Table:
    try:
        return pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path} is not a readable Parquet file ({_one_line(exc)[:200]}); re-export it") from None


def _is_text_type(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_text_type(kind.value_type)
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _is_binary_type(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_binary_type(kind.value_type)
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)


def _is_label_type(kind: pa.DataType) -> bool:
    """Labels may be text, integers (1/-1), booleans or floats (without NaN: checked per value)."""
    if pa.types.is_dictionary(kind):
        return _is_label_type(kind.value_type)
    return (
        _is_text_type(kind)
        or _is_binary_type(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_null(kind)
    )


def _parquet_column(
    path: Path, table: pa.Table, name: str, key: str, role: str, encoding: str, what: str, damaged: str = "refuse"
) -> pd.Series:
    """One column of a Parquet table as text, refusing types that are not text ('' for null).

    Text columns must be strings (or binary, decoded with the encoding); label columns may also be
    integers, booleans or floats, written in decimal (1, -1, 1.5; NaN is refused).
    """
    column = table.column(name)
    kind = column.type
    ok = (
        _is_label_type(kind)
        if role == "label"
        else (_is_text_type(kind) or _is_binary_type(kind) or pa.types.is_null(kind))
    )
    if not ok:
        allowed = "text, integers or booleans" if role == "label" else "text (string)"
        raise UserError(
            f"{path}: column {name!r} has Arrow type {kind}, not {allowed}; convert it before writing the file "
            f"(pandas: df[{name!r}] = df[{name!r}].astype('string'); pyarrow: pyarrow.compute.cast(column, "
            f"pa.string())) or set {key} to another column"
        )
    values = column.to_pylist()
    if _is_binary_type(kind):
        return decode_cells(path, name, values, encoding, what, damaged)
    if pa.types.is_floating(kind):
        nan = [i for i, v in enumerate(values) if v is not None and v != v]
        if nan:
            rows = ", ".join(str(i + 1) for i in nan[:MAX_LISTED]) + (
                f" and {len(nan) - MAX_LISTED} more" if len(nan) > MAX_LISTED else ""
            )
            raise UserError(
                f"{path} row {rows}: label NaN in column {name!r} ({kind}); label those rows, or store the "
                "labels as strings or integers"
            )
    return pd.Series(["" if v is None else v if isinstance(v, str) else str(v) for v in values], dtype=str)


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


def _column(
    frame: pd.DataFrame | pa.Table,
    path: Path,
    column: str,
    key: str,
    role: str = "text",
    encoding: str = "utf-8",
    what: str = "data",
    damaged: str = "refuse",
) -> pd.Series:
    names = list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)
    if column not in names:
        listed = ", ".join(str(n)[:60] for n in names[:20]) or "none"
        more = f" and {len(names) - 20} more" if len(names) > 20 else ""
        raise UserError(f"{path} has no column {column!r} (columns: {listed}{more}); set {key} to the right one")
    if names.count(column) > 1:
        raise UserError(f"{path} has column {column!r} twice; rename one of them or set {key} to another column")
    if isinstance(frame, pa.Table):
        return _parquet_column(path, frame, column, key, role, encoding, what, damaged)
    return frame[column].astype(str)


def _check_text(text: pd.Series, path: Path, column: str) -> None:
    empty = text.str.strip() == ""
    if empty.any():
        raise UserError(f"{path} row {_rows(empty)}: empty text in column {column!r}; fill in or delete those rows")


MAX_FILE_ERRORS = 20


def _each_file(path: str | Path, what: str, read) -> list:
    """``read(file)`` for every input file; every file's problem is reported, in one line, not the first."""
    results, problems = [], []
    for file in input_files(path, what):
        try:
            results.append(read(file))
        except inputs.InputChanged:
            raise  # not a problem of the file: the stage reads it again (a retry)
        except UserError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise UserError(problems[0])
    if problems:
        more = f"; and {len(problems) - MAX_FILE_ERRORS} more files" if len(problems) > MAX_FILE_ERRORS else ""
        raise UserError(
            f"{what} {path}: {len(problems)} files have problems: " + "; ".join(problems[:MAX_FILE_ERRORS]) + more
        )
    return results


def read_unlabeled(
    path: str | Path,
    text_column: str = "text",
    encoding: Any = "utf-8",
    what: str = "data.unlabeled_path",
    damaged: str = "refuse",
) -> pd.DataFrame:
    """Unlabeled texts from a file or folder: columns text, origin, row.

    Blank lines of a .txt file separate texts and are skipped (their count is in
    ``attrs["blank_lines"]``); in a table, an empty text cell is an error. ``what`` names the setting
    the path came from, in errors, and picks the encoding when ``encoding`` is a per-input mapping.
    A folder's files are all read: every file's problem is reported at once. ``damaged``
    (``data.damaged_text``) drops replacement characters or the lines holding them
    (:func:`without_damage`), counted in ``attrs["damaged_text"]``.
    """
    encoding = encoding_for(encoding, what)

    def read(file: Path) -> tuple[pd.DataFrame, int, dict]:
        frame = _read_frame(file, encoding, what, damaged)
        col = "text" if file.suffix.lower() == ".txt" else text_column
        text = _column(frame, file, col, "data.text_column", "text", encoding, what, damaged)
        part = pd.DataFrame({"text": text, "origin": file.name, "row": range(1, len(text) + 1)})
        blank = 0
        if file.suffix.lower() == ".txt":
            keep = part["text"].str.strip() != ""
            part, blank = part[keep], int((~keep).sum())
        else:
            _check_text(part["text"], file, col)
        part, damage = without_damage(part, ["text"], damaged)
        return part, blank, damage

    parts = _each_file(path, what, read)
    frame = pd.concat([part for part, _, _ in parts], ignore_index=True)
    if frame.empty:
        raise UserError(f"{what} {path}: no text found; it needs at least one non-empty line")
    frame.attrs["blank_lines"] = sum(blank for _, blank, _ in parts)
    frame.attrs["damaged_text"] = damage_summary(damaged, *(damage for _, _, damage in parts))
    return frame


def read_labeled(
    path: str | Path,
    text_column: str = "text",
    label_column: str = "label",
    encoding: Any = "utf-8",
    what: str = "data.labeled_path",
    damaged: str = "refuse",
) -> pd.DataFrame:
    """Labeled texts: columns text, label (as text), origin, row. A .txt file has 'label<TAB>text' lines.

    Parquet labels may be text, integers or booleans (written as 1, -1, True), or floats without NaN.
    ``damaged`` (``data.damaged_text``): as for :func:`read_unlabeled`, in the text and label columns.
    """
    encoding = encoding_for(encoding, what)

    def read(file: Path) -> tuple[pd.DataFrame, int, dict]:
        frame = _read_frame(file, encoding, what, damaged)
        text_col, label_col, blank = text_column, label_column, 0
        if file.suffix.lower() == ".txt":
            lines = frame["text"]
            empty = lines.str.strip() == ""
            bad = ~lines.str.contains("\t", regex=False) & ~empty
            if bad.any():
                raise UserError(f"{file} line {_rows(bad)}: expected 'label<TAB>text'; add the tab or use CSV")
            blank = int(empty.sum())
            lines = lines[~empty]
            frame = lines.str.extract(r"^([^\t]*)\t(.*)$", flags=re.DOTALL).set_axis(["label", "text"], axis=1)
            text_col, label_col = "text", "label"
        text = _column(frame, file, text_col, "data.text_column", "text", encoding, what, damaged)
        label = _column(frame, file, label_col, "data.label_column", "label", encoding, what, damaged)
        index = frame.index if isinstance(frame, pd.DataFrame) else pd.RangeIndex(len(text))
        text.index = label.index = index
        _check_text(text, file, text_col)
        missing = label.str.strip() == ""
        if missing.any():
            raise UserError(
                f"{file} row {_rows(missing)}: missing label in column {label_col!r}; "
                "label those rows or move them to the unlabeled corpus"
            )
        part = pd.DataFrame({"text": text, "label": label, "origin": file.name, "row": index + 1})
        part, damage = without_damage(part, ["text", "label"], damaged)
        return part, blank, damage

    parts = _each_file(path, what, read)
    frame = pd.concat([part for part, _, _ in parts], ignore_index=True)
    if frame.empty:
        raise UserError(f"{what} {path}: no labeled rows; it needs at least 2 examples of each class")
    frame.attrs["blank_lines"] = sum(blank for _, blank, _ in parts)
    frame.attrs["damaged_text"] = damage_summary(damaged, *(damage for _, _, damage in parts))
    return frame


@dataclass(frozen=True)
class LabelMode:
    """A way to merge labels that differ only by surrounding spaces or case (``data.label_normalize``)."""

    apply: Callable[[pd.Series], pd.Series]
    description: str


LABEL_MODES: dict[str, LabelMode] = {
    "none": LabelMode(lambda labels: labels, "labels that differ only by surrounding spaces or case are an error"),
    "strip": LabelMode(lambda labels: labels.str.strip(), "spaces around labels are removed"),
    "casefold": LabelMode(lambda labels: labels.str.strip().str.casefold(), "labels are stripped and casefolded"),
}
"""``data.label_normalize``'s choices, the one list the config validates against."""


def normalize_labels(labels: pd.Series, mode: str = "none", where: str = "data.labeled_path") -> pd.Series:
    """Labels under ``data.label_normalize``: 'none' keeps them, 'strip' strips surrounding whitespace,
    'casefold' strips and casefolds. Labels that would still be one class under strip + casefold
    (' pos', 'POS', 'pos') but stay apart are an error listing them, with the setting that merges them.
    """
    if mode not in LABEL_MODES:
        raise UserError(f"data.label_normalize={str(mode)[:60]!r}: choose one of {', '.join(LABEL_MODES)}")
    labels = LABEL_MODES[mode].apply(labels)
    distinct = pd.Series(labels.unique(), dtype=str)
    groups = distinct.groupby(distinct.str.strip().str.casefold()).agg(list)
    clashes = [sorted(g) for g in groups if len(g) > 1]
    if clashes:
        fix = "casefold" if mode == "strip" or all(len({v.strip() for v in g}) > 1 for g in clashes) else "strip"
        shown = "; ".join(" vs ".join(repr(v[:40]) for v in g[:MAX_LISTED]) for g in clashes[:MAX_LISTED])
        more = f" and {len(clashes) - MAX_LISTED} more" if len(clashes) > MAX_LISTED else ""
        what = "differ only by case" if mode == "strip" else "differ only by surrounding spaces or case"
        raise UserError(
            f"{where}: labels that {what} would be separate classes: {shown}{more}; fix the labels or set "
            f"--set data.label_normalize={fix}"
        )
    return labels
