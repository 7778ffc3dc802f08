"""Hostile and mistaken input (issue 14): wrong encodings, YAML bombs, mistyped Parquet columns, labels
that differ by case, bad --output/--run, huge or mistyped config values, Ctrl-C.

Each case goes through the real command (``fewlabel.cli.main`` in-process) where it can, and checks
the promise: one line, ``error: ...`` naming the file, column, row or key and the fix, exit status 2,
no partial artifact, nothing the user gave silently altered.
"""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fewlabel import readers
from fewlabel.config import load_config
from fewlabel.errors import UserError

from .conftest import labeled_csv, unlabeled_txt, write

FEW = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
QUOTED = "the “quoted” film – café crème"  # cp1252: 0x93, 0x94, 0x96 (C1 controls in latin-1)


def sets(*pairs):
    return [arg for pair in pairs for arg in ("--set", pair)]


@pytest.fixture
def cli(cli, tmp_path):
    """``cli(*argv)`` -> (exit status, stdout, stderr) of the real command, in-process, in tmp_path
    (conftest's ``cli``)."""

    def run(*argv):
        done = cli(*argv, cwd=tmp_path)
        return done.returncode, done.stdout, done.stderr

    return run


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and err.strip().splitlines()[-1] == lines[0], err
    return lines[0]


def files_run(tmp_path, labeled, *extra):
    unl = unlabeled_txt(tmp_path / "unl.txt")
    return [
        "run",
        *sets(
            "data.source=files",
            f"data.labeled_path={labeled}",
            f"data.unlabeled_path={unl}",
            "word2vec.vector_size=8",
            "word2vec.epochs=1",
            "classifier.estimator.max_iter=20",
            "evaluate.bootstrap=50",
            *extra,
        ),
    ]


def no_artifacts(tmp_path):
    data = tmp_path / "data"
    assert not list(data.rglob(".tmp-*"))
    assert not [p for p in (data / "raw").iterdir() if p.is_dir()] if (data / "raw").exists() else True


# 2. encodings ------------------------------------------------------------------------------------


def _labeled_bytes(encoding: str, text: str = QUOTED) -> bytes:
    rows = ["text,label"] + [f"{text} {i},{'good' if i % 2 else 'bad'}" for i in range(12)]
    return ("\n".join(rows) + "\n").encode(encoding)


@pytest.mark.parametrize(
    "content, encoding, fragments",
    [
        # a UTF-8 corpus read as UTF-16 was one line of CJK mojibake
        (_labeled_bytes("utf-8"), "utf-16", ["is not utf-16-le text", "data.encoding=utf-8"]),
        (_labeled_bytes("utf-8"), "utf-16-le", ["data.encoding=utf-8"]),
        (_labeled_bytes("utf-8", "plain ascii only"), "utf-16", ["no byte-order mark", "data.encoding=utf-8"]),
        # a UTF-8 corpus read as cp1252 gave the token cafã
        (_labeled_bytes("utf-8"), "cp1252", ["it is UTF-8", "â€œquotedâ€", "data.encoding=utf-8"]),
        (_labeled_bytes("utf-8"), "latin-1", ["it is UTF-8", "data.encoding=utf-8"]),
        # a cp1252 file read as UTF-8 suggested latin-1, which turns “quoted” into C1 controls
        (_labeled_bytes("cp1252"), "utf-8", ["line 2: byte 0x93", "data.encoding=cp1252"]),
        (_labeled_bytes("cp1252"), "latin-1", ["U+0093", "data.encoding=cp1252"]),
        (_labeled_bytes("cp1252"), "iso-8859-15", ["U+0093", "data.encoding=cp1252"]),
        # BOM-less UTF-16 read as UTF-8 or cp1252: NULs between the letters
        (_labeled_bytes("utf-16-le"), "utf-8", ["NUL", "data.encoding=utf-16-le"]),
        (_labeled_bytes("utf-16-be"), "cp1252", ["NUL", "data.encoding=utf-16-be"]),
        # damaged text: U+FFFD everywhere
        (_labeled_bytes("utf-8", "caf\ufffd cr\ufffdme \ufffd"), "utf-8", ["U+FFFD", "original file"]),
        # a mostly UTF-8 file with one latin-1 byte, read as cp1252, would be mojibake
        (_labeled_bytes("utf-8") + "bad é,good\n".encode("latin-1"), "cp1252", ["mixes encodings"]),
    ],
)
def test_wrong_encoding_is_an_error_naming_the_file_and_the_right_encoding(tmp_path, content, encoding, fragments):
    path = write(tmp_path / "lab.csv", content)
    with pytest.raises(UserError) as err:
        readers.read_labeled(path, encoding=encoding)
    message = str(err.value)
    assert "lab.csv" in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert "latin-1" not in message.split(";")[-1]  # never the suggestion


@pytest.mark.parametrize("file_encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32", "utf-32-be"])
@pytest.mark.parametrize("declared", ["utf-8", "cp1252", "utf-16"])
def test_a_byte_order_mark_decides(tmp_path, file_encoding, declared):
    bom = "\ufeff".encode(file_encoding) if file_encoding.endswith("-be") else b""  # the others write one
    path = write(tmp_path / "lab.csv", bom + _labeled_bytes(file_encoding))
    got = readers.read_labeled(path, encoding=declared)
    assert got["text"].tolist() == [f"{QUOTED} {i}" for i in range(12)]


def test_encoding_per_input(tmp_path):
    lab = write(tmp_path / "lab.csv", _labeled_bytes("cp1252"))
    unl = write(tmp_path / "unl.txt", f"{QUOTED}\n".encode())
    config = load_config(None, ["data.encoding={labeled: cp1252}"])
    assert readers.read_labeled(lab, encoding=config.data.encoding)["text"][0] == f"{QUOTED} 0"
    assert readers.read_unlabeled(unl, encoding=config.data.encoding)["text"].tolist() == [QUOTED]
    with pytest.raises(UserError, match=r"test.csv.*data.encoding=cp1252.*\{test: cp1252\}"):
        readers.read_labeled(
            write(tmp_path / "test.csv", _labeled_bytes("cp1252")), encoding=config.data.encoding, what="data.test_path"
        )


@pytest.mark.server
def test_wrong_encoding_through_the_cli(cli, prefect_api, tmp_path):
    lab = write(tmp_path / "lab.csv", _labeled_bytes("utf-8"))
    status, out, err = cli(*files_run(tmp_path, lab, "data.encoding=utf-16"))
    line = one_error_line(err)
    assert status == 2 and out == ""
    assert "lab.csv" in line and "data.encoding=utf-8" in line
    no_artifacts(tmp_path)
    status, _, err = cli(
        *files_run(tmp_path, write(tmp_path / "w.csv", _labeled_bytes("cp1252")), "data.encoding=latin-1")
    )
    assert status == 2 and "U+0093" in one_error_line(err) and "data.encoding=cp1252" in err


@FEW
@given(
    st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00ÂÃï"), max_size=12).filter(
            lambda t: t.strip() != ""
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "cp1252", "latin-1", "iso-8859-15"]),
    st.sampled_from(
        ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1", "iso-8859-15", "mac-roman"]
    ),
    st.sampled_from([".txt", ".parquet"]),
)
def test_readers_never_invent_c1_controls_or_replacement_characters(lines, written, declared, suffix):
    """Whatever encoding a file is in and whatever data.encoding says, a text the readers yield has a
    C1 control character (U+0080-U+009F) or U+FFFD only if the file's own text had one. (Â, Ã and ï are
    left out: a cp1252 'Â…' is also valid UTF-8 for U+0085, the one case read as written.)"""
    lines = ["".join(c for c in line if c.encode(written, errors="ignore")) for line in lines]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"corpus{suffix}"
        if suffix == ".txt":
            path.write_bytes("\n".join(lines).encode(written) + b"\n")
        else:
            pq.write_table(pa.table({"text": pa.array([line.encode(written) for line in lines], pa.binary())}), path)
        try:
            got = readers.read_unlabeled(path, encoding=declared)
        except UserError as err:
            assert path.name in str(err) and "\n" not in str(err)
            return
    original = "".join(lines)
    for text in got["text"]:
        for char in text:
            if "\x80" <= char <= "\x9f" or char == "\ufffd":
                assert char in original, (text, written, declared)


# 3. YAML bombs, long values ----------------------------------------------------------------------

BOMB = (
    '[&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], '
    "&c [*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]]"
)


def test_yaml_aliases_are_refused_in_set_values(cli):
    status, _, err = cli("config", "--set", f"data.text_column={BOMB}")
    line = one_error_line(err)
    assert status == 2 and "aliases" in line and "data.text_column" in line and len(line) < 400


def test_yaml_aliases_are_refused_in_config_files(cli, tmp_path):
    write(tmp_path / "bomb.yaml", f"data:\n  text_column: {BOMB}\n")
    status, _, err = cli("config", "--config", "bomb.yaml")
    line = one_error_line(err)
    assert status == 2 and "bomb.yaml" in line and "aliases" in line and "line 2 column" in line


def test_error_messages_quote_a_short_prefix_of_a_value(cli):
    status, _, err = cli("config", "--set", "data.test_size=" + "x" * 10_000)
    line = one_error_line(err)
    assert status == 2 and "x" * 60 + "…" in line and "x" * 61 not in line


def test_yaml_syntax_error_is_one_line_with_line_and_column(cli, tmp_path):
    write(tmp_path / "c.yaml", "word2vec:\n  epochs: [1, 2\nclassifier:\n  alpha: 1\n")
    status, _, err = cli("config", "--config", "c.yaml")
    line = one_error_line(err)
    assert status == 2 and "c.yaml is not valid YAML: line" in line and "column" in line


# 4. Parquet column types --------------------------------------------------------------------------


def _parquet(tmp_path, text, label, name="lab.parquet"):
    path = tmp_path / name
    pq.write_table(pa.table({"text": text, "label": label}), path)
    return path


@pytest.mark.server
@pytest.mark.parametrize(
    "text, label, fragments",
    [
        (pa.array(list(range(12)), pa.int64()), pa.array(["a", "b"] * 6), ["column 'text'", "int64", "astype"]),
        (pa.array([["a", "b"]] * 12), pa.array(["a", "b"] * 6), ["column 'text'", "list<element: string>"]),
        (pa.array(["t"] * 12), pa.array([["a"]] * 12), ["column 'label'", "list<element: string>"]),
        (pa.array(["t"] * 12), pa.array([{"x": 1}] * 12), ["column 'label'", "struct<x: int64>"]),
        (pa.array(["t"] * 12), pa.array([1.0, float("nan")] * 6), ["row 2, 4", "label NaN", "double"]),
        (pa.array(["t"] * 12), pa.array([Decimal("1.5")] * 12, pa.decimal128(5, 2)), ["decimal128(5, 2)"]),
    ],
)
def test_parquet_columns_of_the_wrong_type_are_refused(cli, prefect_api, tmp_path, text, label, fragments):
    path = _parquet(tmp_path, text, label)
    status, _, err = cli(*files_run(tmp_path, path))
    line = one_error_line(err)
    assert status == 2 and "lab.parquet" in line
    for fragment in fragments:
        assert fragment in line, line
    no_artifacts(tmp_path)


def test_parquet_labels_may_be_integers_and_text_may_be_dictionary_or_binary(tmp_path):
    text = pa.array(["a b", "c d", "e f", "g h"]).dictionary_encode()
    got = readers.read_labeled(_parquet(tmp_path, text, pa.array([1, -1, 1, -1], pa.int8())))
    assert got["label"].tolist() == ["1", "-1", "1", "-1"] and got["text"].tolist() == ["a b", "c d", "e f", "g h"]
    binary = pa.array([t.encode("cp1252") for t in [QUOTED, "x", "y", "z"]])
    got = readers.read_labeled(_parquet(tmp_path, binary, pa.array(["p", "n", "p", "n"])), encoding="cp1252")
    assert got["text"][0] == QUOTED
    with pytest.raises(UserError, match=r"lab.parquet column 'text'.*U\+0093.*cp1252"):
        readers.read_labeled(_parquet(tmp_path, binary, pa.array(["p", "n", "p", "n"])), encoding="latin-1")


# 5. labels that differ by spaces or case ----------------------------------------------------------

LABELS = pd.Series([" pos", "POS", "pos", "pos ", "neg"])


def test_colliding_labels_are_an_error_by_default():
    with pytest.raises(UserError) as err:
        readers.normalize_labels(LABELS, "none", "lab.csv")
    message = str(err.value)
    assert "lab.csv" in message and "' pos'" in message and "'POS'" in message and "'pos '" in message
    assert "data.label_normalize=casefold" in message and "\n" not in message
    with pytest.raises(UserError, match="data.label_normalize=strip"):
        readers.normalize_labels(pd.Series(["pos", "pos ", "neg"]), "none", "lab.csv")


def test_strip_then_casefold():
    with pytest.raises(UserError, match=r"'POS' vs 'pos'.*data.label_normalize=casefold"):
        readers.normalize_labels(LABELS, "strip", "lab.csv")
    assert readers.normalize_labels(LABELS, "casefold", "x").tolist() == ["pos"] * 4 + ["neg"]
    assert readers.normalize_labels(pd.Series(["pos", " neg "]), "strip", "x").tolist() == ["pos", "neg"]
    distinct = pd.Series(["Pos", "neg", "Pos"])
    assert readers.normalize_labels(distinct, "none", "x").tolist() == ["Pos", "neg", "Pos"]  # untouched
    assert load_config(None, ["data.label_normalize=strip"]).data.label_normalize == "strip"
    assert load_config(None).data.label_normalize == "none"


# 6. predict --output, memory-sized and mistyped config values, Ctrl-C -----------------------------


@pytest.mark.parametrize(
    "make_output, fragment",
    [
        (lambda tmp: str((tmp / "out").mkdir() or tmp / "out"), "is a folder"),
        (lambda tmp: str(tmp / "nope" / "p.parquet"), "does not exist"),
        (lambda tmp: str(write(tmp / "p.parquet", "keep me")), "pass --force"),
    ],
)
def test_predict_output_is_checked_before_any_work(cli, tmp_path, make_output, fragment):
    write(tmp_path / "new.txt", "some text\n")
    output = make_output(tmp_path)
    status, out, err = cli("predict", "new.txt", "--output", output)
    line = one_error_line(err)
    assert status == 2 and out == "" and fragment in line and "train first" not in line
    assert not list(tmp_path.rglob(".tmp-*")) and not (tmp_path / "data").exists()
    if Path(output).is_file():
        assert Path(output).read_text() == "keep me"


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("word2vec.vector_size=1000000000", "--set word2vec.vector_size: must be > 0 and <= 10000"),
        ("word2vec.vector_size=true", "--set word2vec.vector_size: Input should be a valid integer (got True)"),
        ("word2vec.epochs=100000", "<= 1000"),
        ("word2vec.window=5000", "<= 1000"),
        ("classifier.estimator.hidden_layer_sizes=[200000]", "<= 100000"),
        ("classifier.estimator.hidden_layer_sizes=[8,8,8,8,8,8,8,8,8,8,8]", "at most 10 items"),
        ("classifier.estimator.hidden_layer_sizes=[50000, 50000]", "the MLP would have"),
        ("classifier.estimator.hidden_layer_sizes=[true]", "valid integer"),
        ("evaluate.bootstrap=10000000", "<= 1000000"),
        ("curve.draws=100000", "<= 10000"),
        ("classifier.estimator.max_iter=10000000", "<= 100000"),
        ("classifier.cv_folds=1000", "<= 100"),
        ("classifier.estimator.early_stopping=1", "valid boolean"),
        ("data.seed=5000000000", "<= 4294967295"),
        ("word2vec.sg=true", "valid integer"),
        ("data.encoding=klingon", "not a known text encoding"),
        ("data.encoding={labeled: cp1252, lab: x}", "unknown key 'data.encoding.lab'"),
    ],
)
def test_config_values_that_would_exhaust_memory_or_are_mistyped(cli, override, fragment):
    status, out, err = cli("config", "--set", override)
    assert status == 2 and out == "" and fragment in one_error_line(err)


@pytest.mark.parametrize(
    "override, attribute, value",
    [
        ("word2vec.sample=1e-4", ("word2vec", "sample"), 1e-4),
        ("classifier.estimator.alpha=1", ("classifier", "estimator", "alpha"), 1.0),
        (
            "data.encoding={labeled: cp1252}",
            ("data", "encoding"),
            {"labeled": "cp1252", "unlabeled": None, "test": None},
        ),
    ],
)
def test_yaml_and_json_numbers_still_load(override, attribute, value):
    config = load_config(None, [override])
    got = config
    for name in attribute:
        got = getattr(got, name)
    assert (got.model_dump() if hasattr(got, "model_dump") else got) == value
    again = type(config).model_validate_json(json.dumps(config.model_dump(mode="json")))
    assert again == config


def test_ctrl_c_is_one_line_and_status_130(cli, monkeypatch):
    from fewlabel.cli import training as module

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "cmd_config", interrupted)
    status, out, err = cli("config")
    assert status == 130 and out == "" and err == "interrupted: finished stages are kept\n"


# 7. each bad key says where it came from ----------------------------------------------------------


def test_bad_keys_name_their_source(cli, tmp_path):
    write(tmp_path / "config.yaml", "word2vec:\n  window: 0\n")
    status, _, err = cli("config", "--config", "config.yaml", "--set", "word2vec.epochs=0")
    line = one_error_line(err)
    assert status == 2
    assert "--set word2vec.epochs: must be > 0" in line
    assert "config.yaml: word2vec.window: must be > 0" in line
    assert "config.yaml: word2vec.epochs" not in line


# 8. --run, every bad file of a folder -------------------------------------------------------------


@pytest.mark.parametrize("run", ["../../x", "a/b", "x;rm", "nope.json"])
def test_run_is_validated(cli, tmp_path, run):
    write(tmp_path / "new.txt", "some text\n")
    status, _, err = cli("predict", "new.txt", "--run", run)
    line = one_error_line(err)
    assert status == 2 and "--run" in line and "train first" not in line


def test_a_folder_reports_every_bad_file(tmp_path):
    folder = tmp_path / "corpus"
    unlabeled_txt(folder / "a.txt")
    write(folder / "b.csv", "words\nx\n")
    write(folder / "c.txt", _labeled_bytes("cp1252"))
    write(folder / "d.csv", 'text\n"never closed\n')
    with pytest.raises(UserError) as err:
        readers.read_unlabeled(folder)
    message = str(err.value)
    assert "3 files have problems" in message and "\n" not in message
    for fragment in ["b.csv has no column 'text'", "c.txt line 2: byte 0x93", "d.csv line"]:
        assert fragment in message, message
    assert "a.txt" not in message
    labeled = tmp_path / "labeled"
    labeled_csv(labeled / "a.csv")
    write(labeled / "b.csv", "text,label\nok,\n")
    write(labeled / "c.csv", "text,label\n,x\n")
    with pytest.raises(UserError, match=r"2 files have problems: .*b.csv row 1: missing label.*; .*c.csv row 1"):
        readers.read_labeled(labeled)


# a whole run on a cp1252 labeled file, then predict with --output ---------------------------------


@pytest.mark.server
def test_cp1252_labels_run_and_predict_output(cli, prefect_api, tmp_path):
    lab = write(tmp_path / "lab.csv", _labeled_bytes("cp1252"))
    status, out, err = cli(*files_run(tmp_path, lab, "data.encoding={labeled: cp1252}"), "--json")
    assert status == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    train = pq.read_table(Path(result["artifacts"]["ingest"]) / "train.parquet").to_pydict()
    assert all(text.startswith(QUOTED) for text in train["text"])
    write(tmp_path / "new.txt", f"{QUOTED}\n\nawful\n".encode("cp1252"))
    status, _, err = cli("predict", "new.txt", "--output", "p.parquet")
    assert status == 2 and "data" not in one_error_line(err).split(";")[-1] and "--encoding cp1252" in err
    status, out, err = cli("predict", "new.txt", "--encoding", "cp1252", "--output", "p.parquet", "--json")
    assert status == 0, err
    assert pq.read_table(tmp_path / "p.parquet")["text"].to_pylist() == [QUOTED, "awful"]
    status, _, err = cli("predict", "new.txt", "--encoding", "cp1252", "--output", "p.parquet")
    assert status == 2 and "pass --force" in one_error_line(err)
    status, _, err = cli("predict", "new.txt", "--encoding", "cp1252", "--output", "p.parquet", "--force")
    assert status == 0, err
    assert not list(tmp_path.rglob(".tmp-*"))
