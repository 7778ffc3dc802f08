"""The `fewlabel` command as a user runs it: JSON output, and bad input giving one clear line."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import TINY, TINY_STAGES, labeled_csv, unlabeled_txt, write


def fewlabel(*args, cwd, **env):
    return subprocess.run(
        [sys.executable, "-m", "fewlabel.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "FEWLABEL_DATA_DIR": str(cwd / "data"), **env},
        timeout=300,
    )


def sets(*pairs):
    return [arg for pair in pairs for arg in ("--set", pair)]


def stage_folders(data):
    return sorted(str(p.relative_to(data)) for p in data.glob("*/*") if p.is_dir())


@pytest.mark.server
@pytest.mark.slow
def test_run_json_then_cached(prefect_api, tmp_path):
    first = fewlabel("run", "--json", *sets(*TINY), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout.strip().splitlines()[-1])
    assert set(result["stages"]) == set(TINY_STAGES)
    assert set(result["metrics"]) == {"pretrained", "no_pretraining", "tfidf_lr", "majority"}
    assert all(set(m) == {"accuracy", "macro_f1"} for m in result["metrics"].values())
    assert all(os.path.isdir(p) for p in result["artifacts"].values())
    second = fewlabel("run", "--json", *sets(*TINY), cwd=tmp_path)
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert set(again["stages"].values()) == {"Cached"}
    assert again["metrics"] == result["metrics"]
    assert again["flow_run_id"] != result["flow_run_id"]
    write(tmp_path / "new.csv", "text\nwhat a wonderful film\nawful and dull\n")
    predicted = fewlabel("predict", "new.csv", "--json", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    out = json.loads(predicted.stdout.strip().splitlines()[-1])
    assert out["rows"] == 2 and sum(out["predicted"].values()) == 2 and out["run"] == again["flow_run_id"]
    assert os.path.exists(out["output"])


@pytest.mark.server
def test_run_prints_a_readable_summary(prefect_api, tmp_path):
    done = fewlabel("run", *sets(*TINY), cwd=tmp_path, PREFECT_LOGGING_LEVEL="INFO")
    assert done.returncode == 0, done.stderr
    for text in [
        "stages:",
        "vocabulary",
        "pretrained Word2Vec + MLP",
        "no pretraining",
        "majority class",
        "Pretraining changed test accuracy",
    ]:
        assert text in done.stdout
    assert "Word2Vec pretraining epochs: 2/2" in done.stderr  # progress per epoch while it runs


def files_case(tmp_path, name):
    """(--set pairs, expected message fragment, data layer that must hold no artifact)."""
    lab, unl = labeled_csv(tmp_path / "lab.csv"), unlabeled_txt(tmp_path / "unl.txt")
    bad = {
        "xlsx": write(tmp_path / "l.xlsx", "x"),
        "parquet": write(tmp_path / "l.parquet", b"nope"),
        "empty": write(tmp_path / "empty.csv", "text,label\n"),
        "empty text": write(tmp_path / "et.csv", "text,label\nok,a\n,b\n"),
        "no label": write(tmp_path / "nl.csv", "text,label\nok,a\nfine,\n"),
        "one class": labeled_csv(tmp_path / "one.csv", classes=("good",)),
        "few": write(tmp_path / "few.csv", "text,label\na b,x\nc d,x\ne f,y\n"),
        "latin": write(tmp_path / "latin.csv", "text,label\ncafé ok,a\n".encode("latin-1")),
    }
    every_word = (
        "[the, film, was, great, wonderful, fine, lovely, awful, terrible, poor, dull, number, "
        "'0', '1', '2', '3', '4', '5']"
    )
    cases = {
        "missing file": ([f"data.labeled_path={tmp_path}/nope.csv"], "nope.csv not found", "raw"),
        "unreadable format": ([f"data.labeled_path={bad['xlsx']}"], "unsupported format '.xlsx'", "raw"),
        "bad parquet": ([f"data.labeled_path={bad['parquet']}"], "not a readable Parquet file", "raw"),
        "missing column": (["data.text_column=sentence"], "has no column 'sentence'", "raw"),
        "empty input": ([f"data.labeled_path={bad['empty']}"], "no labeled rows", "raw"),
        "empty text": ([f"data.labeled_path={bad['empty text']}"], "row 2: empty text in column 'text'", "raw"),
        "missing label": ([f"data.labeled_path={bad['no label']}"], "row 2: missing label", "raw"),
        "one class": ([f"data.labeled_path={bad['one class']}"], "only one class", "raw"),
        "too few per class": ([f"data.labeled_path={bad['few']}"], "fewer than 2 examples: 'y' (1)", "raw"),
        "non utf-8": ([f"data.labeled_path={bad['latin']}"], "latin.csv line 2: byte 0xe9 is not valid utf-8", "raw"),
        "all stopwords": (
            [f"preprocess.stopwords={every_word}"],
            "lost every word to preprocess.stopwords",
            "intermediate",
        ),
        "corpus too small": (["word2vec.min_count=100000"], "lower word2vec.min_count", "embeddings"),
        "too many labels per class": (["data.labels_per_class=50"], "choose 1..3 or null", "raw"),
    }
    extra, fragment, layer = cases[name]
    base = [
        "data.source=files",
        f"data.labeled_path={lab}",
        f"data.unlabeled_path={unl}",
        "word2vec.vector_size=8",
        "word2vec.epochs=1",
        "classifier.estimator.max_iter=20",
    ]
    return base + extra, fragment, layer


CASES = [
    "missing file",
    "unreadable format",
    "bad parquet",
    "missing column",
    "empty input",
    "empty text",
    "missing label",
    "one class",
    "too few per class",
    "non utf-8",
    "all stopwords",
    "corpus too small",
    "too many labels per class",
]


def assert_clean_failure(tmp_path, stdout, stderr, fragment, layer):
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and fragment in last, stderr
    assert stdout == ""
    data = tmp_path / "data"
    assert not [p for p in data.rglob(".tmp-*")]  # no torn folder left behind
    # nothing of the failing stage; completed upstream artifacts (a shard beside preprocess) may stay
    failed = (
        [p for p in (data / layer).iterdir() if p.is_dir() and not p.name.startswith("shard-")]
        if (data / layer).exists()
        else []
    )
    assert not failed


@pytest.mark.server
@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_clear_line_and_no_partial_artifact(prefect_api, tmp_path, monkeypatch, capfd, case):
    """In-process for speed (the subprocess tests below check the real exit status and stderr)."""
    from fewlabel.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEWLABEL_DATA_DIR", str(tmp_path / "data"))
    # what main() would set for good: kept to this test
    monkeypatch.setenv("PREFECT_LOCAL_STORAGE_PATH", str(tmp_path / "data" / ".prefect-records"))
    pairs, fragment, layer = files_case(tmp_path, case)
    assert main(["run", *sets(*pairs)]) == 2
    out, err = capfd.readouterr()
    assert_clean_failure(tmp_path, out, err, fragment, layer)


@pytest.mark.server
@pytest.mark.parametrize("case", ["unreadable format", "non utf-8", "corpus too small"])
def test_bad_input_exit_status_of_the_real_command(prefect_api, tmp_path, case):
    pairs, fragment, layer = files_case(tmp_path, case)
    done = fewlabel("run", *sets(*pairs), cwd=tmp_path, PREFECT_LOGGING_LEVEL="INFO")
    assert done.returncode == 2, done.stderr
    assert_clean_failure(tmp_path, done.stdout, done.stderr, fragment, layer)
    assert "Traceback" not in done.stderr and "Error encountered" not in done.stderr


def test_bad_config_lists_valid_keys(tmp_path):
    done = fewlabel("run", "--set", "word2vec.epoch=3", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown key 'word2vec.epoch'" in done.stderr and "word2vec.epochs" in done.stderr
    assert "Traceback" not in done.stderr


def test_predict_without_a_trained_run(tmp_path):
    write(tmp_path / "new.txt", "some text\n")
    done = fewlabel("predict", str(tmp_path / "new.txt"), cwd=tmp_path)
    assert done.returncode == 2 and "train first with `fewlabel run`" in done.stderr
