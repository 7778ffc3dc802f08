"""Hostile command lines and configs (issue 29's list): each ends in one line, ``error: ...``, exit 2,
no traceback, and nothing started. Through the real command (``fewlabel.cli.main`` in this process)."""

import pytest

from .conftest import write


def only_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["serve", "--interval", "-5"], "give a number of seconds from 1 to"),
        (["serve", "--interval", "nan"], "is not a number of seconds"),
        (["serve", "--cron", "61 * * * *"], "not a cron schedule"),
        (["server", "--port", "99999"], "give a port number from 1 to 65,535"),
        (["server", "--port", "http"], "is not a port number"),
        (["predict", "x.csv", "--encoding", "rot13"], "'rot13' is not an encoding text files are stored in"),
        (["suggest", "--n", "0"], "give a number of sentences from 1"),
        (["suggest", "--seed", "-1"], "give a seed from 0"),
        (["cache", "gc", "--keep", "-2"], "give a number of runs from 1"),
        (["run", "--dask-workers", "0"], "give a number of worker processes from 1"),
        (["run", "--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["nosuch"], "invalid choice: 'nosuch'"),
        (["config", "--set", "data.encoding=rot13"], "'rot13' is not an encoding text files are stored in"),
        (["config", "--set", "data.encoding=undefined"], "'undefined' is not an encoding"),
        (["config", "--set", "data.encoding=idna"], "'idna' is not an encoding"),
        (["config", "--set", "data.encoding={labeled: idna}"], "'idna' is not an encoding"),
        (["config", "--set", "word2vec.alpha=.inf"], "finite number"),
        (["config", "--set", "classifier.estimator.alpha=.nan"], "finite number"),
        (["config", "--set", "x={a: 1, a: 2}"], "the key 'a' appears twice"),
        (["config", "--set", "selection.strategy=best"], "unknown value 'best'; choose one of random, margin"),
    ],
)
def test_a_hostile_command_line_is_one_line_with_status_2(cli, tmp_path, args, fragment):
    done = cli(*args, cwd=tmp_path)
    status, out, err = done.returncode, done.stdout, done.stderr
    assert status == 2 and out == "" and fragment in only_line(err)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("word2vec:\n  epochs: 3\n  epochs: 4\n", "line 3 column 3: the key 'epochs' appears twice"),
        ("data: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than 20 deep"),
        ("data: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", "nested more than 20 deep"),
    ],
)
def test_a_hostile_config_file_is_one_line_with_status_2(cli, tmp_path, text, fragment):
    write(tmp_path / "c.yaml", text)
    done = cli("config", "--config", str(tmp_path / "c.yaml"), cwd=tmp_path)
    status, out, err = done.returncode, done.stdout, done.stderr
    assert status == 2 and out == "" and fragment in only_line(err)


def test_a_range_error_does_not_list_every_key(cli, tmp_path):
    done = cli("config", "--set", "word2vec.window=0", cwd=tmp_path)
    status, err = done.returncode, done.stderr
    assert status == 2 and "must be > 0 and <= 1000" in only_line(err) and "Valid keys" not in err


def test_a_named_pipe_is_refused_at_once_never_read(cli, tmp_path):
    import os

    os.mkfifo(tmp_path / "labeled.csv")  # reading it would block until something writes to it
    write(tmp_path / "unlabeled.txt", "some text\n")
    files = ["data.source=files", "data.labeled_path=labeled.csv", "data.unlabeled_path=unlabeled.txt"]
    done = cli("run", *[a for f in files for a in ("--set", f)], cwd=tmp_path)
    assert done.returncode == 2 and "labeled.csv is not a regular file" in only_line(done.stderr)
    os.mkfifo(tmp_path / "new.csv")
    done = cli("predict", "new.csv", cwd=tmp_path)
    assert done.returncode == 2 and "new.csv is not a regular file" in only_line(done.stderr)


@pytest.mark.parametrize(
    "csv, fragment",
    [
        ("", "empty; give the suggestions CSV"),
        ("text,origin,row,label\nnice,a.txt,1.5,pos\n", "line 2, column row: '1.5' is not a row number"),
        ("text,origin,row,label\nnice,a.txt,1e30,pos\n", "'1e30' is not a row number"),
        ("text,origin,row,label\nnice,a.txt,-3,pos\n", "'-3' is not a row number"),
    ],
)
def test_a_damaged_suggestions_csv_is_refused_not_stored(cli, tmp_path, csv, fragment):
    write(tmp_path / "s.csv", csv)
    done = cli("labels", "add", "s.csv", cwd=tmp_path)
    assert done.returncode == 2 and fragment in only_line(done.stderr)
    assert not list(tmp_path.rglob("labels-*.parquet"))


def test_labels_export_refuses_a_folder_even_with_force(cli, tmp_path):
    (tmp_path / "out").mkdir()
    done = cli("labels", "export", "--output", "out", "--force", cwd=tmp_path)
    assert done.returncode == 2 and "--output out: is a folder" in only_line(done.stderr)
