"""Text damaged before it reached the user (U+FFFD from someone's wrong decode), and predicting on a file
whose name starts with a dot (issue 29, points 7 and 8).

The refusal stays the default and names the setting that accepts the file knowingly
(``data.damaged_text``, ``predict --damaged-text``); what that setting drops is counted in the run
summary, the report and the predict output. Predict derives its output name from any input name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fewlabel import readers
from fewlabel.errors import UserError
from fewlabel.predictor import output_file, output_name
from fewlabel.report import run_markdown

from .conftest import unlabeled_txt, write
from .test_cli import fewlabel, sets

DAMAGE = "_\ufffd\ufffd_\ufffd\ufffd_\ufffd\ufffd"  # as in the tweets: 6 U+FFFD on the line


def damaged_csv(path: Path, n: int = 16, every: int = 4) -> Path:
    """``n`` rows per class; every ``every``-th row of each class holds a damaged hashtag."""
    rows = ["text,label"]
    for label, words in (("good", "great wonderful fine lovely"), ("bad", "awful terrible poor dull")):
        for i in range(n):
            damage = f" {DAMAGE} #Coachella2015" if i % every == 0 else ""
            rows.append(f'"the film was {words} number {i}{damage}",{label}')
    return write(path, "\n".join(rows) + "\n")


def test_damaged_text_is_refused_by_default_naming_the_setting(tmp_path):
    path = damaged_csv(tmp_path / "tweets.csv")
    with pytest.raises(UserError) as refused:
        readers.read_labeled(path)
    message = str(refused.value)
    assert "tweets.csv line 2" in message and "48 replacement characters U+FFFD" in message
    assert "on 8 lines" in message and "get the original file" in message
    assert "--set data.damaged_text=drop_characters" in message and "drop_lines" in message


def test_drop_characters_removes_them_and_counts(tmp_path):
    frame = readers.read_labeled(damaged_csv(tmp_path / "tweets.csv"), damaged="drop_characters")
    assert len(frame) == 32 and not frame["text"].str.contains("\ufffd").any()
    assert (
        frame.loc[frame["row"] == 1, "text"].item()
        == "the film was great wonderful fine lovely number 0 ___ #Coachella2015"
    )
    assert frame.attrs["damaged_text"] == {
        "setting": "drop_characters",
        "replacement_characters": 48,
        "lines_with_them": 8,
        "characters_dropped": 48,
        "lines_dropped": 0,
    }


def test_drop_lines_leaves_out_the_damaged_rows_keeping_row_numbers(tmp_path):
    frame = readers.read_labeled(damaged_csv(tmp_path / "tweets.csv"), damaged="drop_lines")
    assert len(frame) == 24 and not frame["text"].str.contains("\ufffd").any()
    assert 1 not in set(frame["row"]) and {2, 3, 4, 6} <= set(frame["row"])  # rows keep their numbers
    assert frame.attrs["damaged_text"]["lines_dropped"] == 8


def test_a_line_of_damage_only_is_left_out_and_counted_when_its_characters_go(tmp_path):
    path = write(tmp_path / "u.txt", "a good line\n\ufffd\ufffd\ufffd\nanother \ufffd line\n")
    frame = readers.read_unlabeled(path, damaged="drop_characters")
    assert frame["text"].tolist() == ["a good line", "another  line"] and frame["row"].tolist() == [1, 3]
    assert frame.attrs["damaged_text"]["lines_dropped"] == 1
    assert frame.attrs["damaged_text"]["characters_dropped"] == 4


def test_below_the_threshold_nothing_changes_by_default(tmp_path):
    """The default changes nothing it did not refuse: a stray U+FFFD in a long file stays (as before)."""
    path = write(tmp_path / "u.txt", "x" * 5000 + "\nstray \ufffd here\n")
    frame = readers.read_unlabeled(path)
    assert frame["text"].str.contains("\ufffd").sum() == 1
    assert frame.attrs["damaged_text"]["lines_dropped"] == 0


@pytest.mark.parametrize(
    ("input_path", "name"),
    [
        (".new.csv", "new"),
        ("folder/.new.csv", "new"),
        (".new", "new"),
        ("..hidden.tsv", "hidden"),
        ("reviews.2024.csv", "reviews.2024"),
        ("...csv", "predictions"),
        ("inbox/", "inbox"),
    ],
)
def test_predict_derives_a_valid_output_name_from_any_input_name(data_dir, input_path, name):
    assert output_name(input_path) == name
    assert output_file(None, input_path) == data_dir / "predictions" / f"{name}.parquet"


def test_predict_derives_the_name_of_the_current_folder(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert output_name(".") == tmp_path.name


def test_an_output_name_given_must_still_be_a_plain_name(data_dir):
    for bad in (".new", "a/b", "../x"):
        with pytest.raises(UserError, match="plain file name"):
            output_file(bad, "in.csv")


@pytest.mark.server
@pytest.mark.slow
def test_damaged_tweets_refused_then_accepted_knowingly_and_predict_on_a_dot_file(prefect_api, tmp_path):
    labeled = damaged_csv(tmp_path / "tweets.csv")
    config = [
        "data.source=files",
        f"data.labeled_path={labeled}",
        f"data.unlabeled_path={unlabeled_txt(tmp_path / 'unl.txt')}",
        "word2vec.vector_size=8",
        "word2vec.epochs=1",
        "classifier.estimator.max_iter=20",
        "classifier.pseudo_documents=0",
        "evaluate.bootstrap=50",
    ]
    refused = fewlabel("run", *sets(*config), cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == "", refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "tweets.csv line 2" in line and "data.damaged_text=drop_lines" in line
    assert "Traceback" not in refused.stderr
    assert not list((tmp_path / "data").glob("raw/ingest-*"))  # no artifact

    done = fewlabel("run", *sets(*config, "data.damaged_text=drop_lines"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = "damaged text (data.damaged_text=drop_lines): labeled: 8 lines holding U+FFFD left out"
    assert said in done.stdout  # the run summary
    record = json.loads((tmp_path / "data/runs/latest.json").read_text())
    assert record["stats"]["ingest"]["damaged_text"]["lines_dropped"] == 8
    assert said in run_markdown(record, record["metrics_detail"])  # the report (the run's markdown artifact)
    ingest = Path(record["artifacts"]["ingest"])
    rows = [r for name in ("train", "test") for r in pq.read_table(ingest / f"{name}.parquet").to_pylist()]
    assert len(rows) == 24 and not any("\ufffd" in r["text"] for r in rows)

    new = f"text\nwhat a wonderful film\nawful {DAMAGE} and dull\n\ufffd\ufffd\ufffd\n{DAMAGE} x\n"
    write(tmp_path / ".new.csv", new)
    refused = fewlabel("predict", ".new.csv", "--run", "latest", cwd=tmp_path)
    assert refused.returncode == 2 and "--damaged-text drop_characters" in refused.stderr.strip().splitlines()[-1]
    predicted = fewlabel("predict", ".new.csv", "--run", "latest", "--damaged-text", "drop_characters", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert (
        "predictions written to" in predicted.stdout
        and str(tmp_path / "data/predictions/new.parquet") in predicted.stdout
    )
    assert "damaged text: 15 U+FFFD removed from 3 lines, 1 lines left empty and left out" in predicted.stdout
    out = pq.read_table(tmp_path / "data/predictions/new.parquet").to_pylist()
    assert [r["row"] for r in out] == [1, 2, 4]  # row 3 was damage only
