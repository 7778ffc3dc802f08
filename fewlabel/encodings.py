"""Text encodings of the user's files: byte-order marks, the configured encoding, a wrong choice caught
(and the right one suggested), and text damaged before it reached us (U+FFFD), refused unless
``data.damaged_text`` says how to use it.

Every problem is a :class:`UserError` naming the file and the fix; text is never altered silently.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from fewlabel.errors import UserError

LINE_BREAK = r"\r\n|\r|\n"  # what ends a line; form feeds, U+2028, U+0085... are text
MAX_LISTED = 5

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
            check_replacements(path, text, name, what, damaged)
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
    check_replacements(path, text, encoding, what, damaged)
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


def check_replacements(path: Path, text: str, encoding: str, what: str = "data", damaged: str = "refuse") -> None:
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


def decode_cells(path: Path, name: str, values: list, encoding: str, what: str, damaged: str = "refuse") -> pd.Series:
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
    check_replacements(path, "\n".join(out), encoding, what, damaged)
    return pd.Series(out, dtype=str)
