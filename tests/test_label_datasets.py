"""Labels belong to a data set (issue 29, point 2): labels given on one data set never reach another's
ingest, through the CLI (suggest, labels add, run) and through the label flow (its form resumed as the UI
does); labels stored before data sets were recorded are reported and used by no run until `fewlabel labels
move` assigns them.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fewlabel import labels, store
from fewlabel.config import DataConfig
from fewlabel.errors import UserError

from .conftest import TINY, unlabeled_txt, write

SMALL = ["word2vec.vector_size=8", "word2vec.epochs=1", "classifier.estimator.max_iter=20", "evaluate.bootstrap=50"]


def reviews_csv(path: Path, n: int = 8) -> Path:
    """A labeled set with tiny's classes (positive, negative), none of tiny's sentences."""
    rows = ["text,label"]
    for label, words in (("positive", "great wonderful fine lovely"), ("negative", "awful terrible poor dull")):
        rows += [f'"the film was {words} number {i}",{label}' for i in range(n)]
    return write(path, "\n".join(rows) + "\n")


def files_config(tmp_path: Path) -> list[str]:
    return [
        "data.source=files",
        f"data.labeled_path={reviews_csv(tmp_path / 'reviews.csv')}",
        f"data.unlabeled_path={unlabeled_txt(tmp_path / 'unl.txt')}",
        *SMALL,
    ]


def sets(pairs: list[str]) -> list[str]:
    return [arg for pair in pairs for arg in ("--set", pair)]


def ingest_texts(record: dict) -> set[str]:
    folder = Path(record["artifacts"]["ingest"])
    return {t for name in ("train", "test") for t in pq.read_table(folder / f"{name}.parquet")["text"].to_pylist()}


def old_store_file(rows: list[tuple[str, str]], folder: Path | None = None) -> Path:
    """A label store file as written before labels were kept per data set: no dataset column, in data/labels/."""
    when = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    table = pa.table(
        {
            "text": [t for t, _ in rows],
            "label": [lab for _, lab in rows],
            "origin": ["old.csv"] * len(rows),
            "row": list(range(1, len(rows) + 1)),
            "when": [when] * len(rows),
            "how": ["file:old.csv"] * len(rows),
        },
        schema=pa.schema([f for f in labels.SCHEMA if f.name != "dataset"]),
    )
    path = (folder or labels.labels_dir()) / "labels-20260102T000000000000Z-0ld0ld00.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def test_a_data_set_is_its_source_or_the_resolved_paths_of_its_inputs(tmp_path, monkeypatch):
    assert labels.dataset_info(DataConfig(source="tiny")) == {"id": "tiny", "source": "tiny"}
    monkeypatch.chdir(tmp_path)
    relative = labels.dataset_info(DataConfig(source="files", labeled_path="My Reviews.csv", unlabeled_path="u/"))
    absolute = DataConfig(
        source="files", labeled_path=str(tmp_path / "My Reviews.csv"), unlabeled_path=str(tmp_path / "u")
    )
    assert relative == labels.dataset_info(absolute)
    assert relative["id"].startswith("files-my-reviews-") and labels.DATASET_ID.fullmatch(relative["id"])
    assert relative["labeled_path"] == str(tmp_path / "My Reviews.csv")
    other = DataConfig(source="files", labeled_path="My Reviews.csv", unlabeled_path="other/")
    assert labels.dataset_info(other)["id"] != relative["id"]  # another unlabeled corpus: another data set


@pytest.mark.parametrize("bad", ["../x", "a/b", "Tiny", "", "x" * 100])
def test_data_set_ids_from_the_command_line_are_folder_names_only(bad):
    with pytest.raises(UserError, match="not a data-set id"):
        labels.check_id(bad)


def test_each_data_set_reads_only_its_own_labels_and_unassigned_ones_are_counted_not_used(data_dir, tmp_path):
    from fewlabel.dataset import assemble

    files = DataConfig(
        source="files",
        labeled_path=str(reviews_csv(tmp_path / "reviews.csv")),
        unlabeled_path=str(unlabeled_txt(tmp_path / "u.txt")),
    )
    tiny = DataConfig(source="tiny")
    rows = pd.DataFrame(
        {"text": ["a tiny label", "another one"], "label": ["positive", "negative"], "origin": "x", "row": [1, 2]}
    )
    labels.append(rows, "ui:abc", labels.dataset_info(tiny))
    old_store_file([("an old label", "positive")])
    tables, counts = assemble(files)
    assert not {"a tiny label", "another one", "an old label"} & set(tables["train"]["text"].to_pylist())
    assert counts["label_store"]["added"] == 0 and counts["label_store"]["unassigned_ignored"] == 1
    tables, counts = assemble(tiny)
    assert {"a tiny label", "another one"} <= set(tables["train"]["text"].to_pylist())
    assert "an old label" not in tables["train"]["text"].to_pylist()
    assert counts["label_store"]["added"] == 2 and counts["label_store"]["dataset"] == "tiny"


def test_moving_labels_is_explicit_and_whole_files(data_dir, tmp_path):
    tiny = labels.dataset_info(DataConfig(source="tiny"))
    mr = labels.dataset_info(DataConfig(source="mr"))
    rows = pd.DataFrame({"text": ["x y"], "label": ["positive"], "origin": "x", "row": [1]})
    written = labels.append(rows, "ui:abc", tiny)
    done = labels.move("tiny", mr, copy=True)
    assert done["labels"] == 1 and len(labels.read_store("mr")) == len(labels.read_store("tiny")) == 1
    assert labels.move("tiny", mr, copy=True)["skipped"]  # already there: left alone
    labels.move("tiny", labels.dataset_info(DataConfig(source="nl-bol")))
    assert not written.exists() and labels.read_store("tiny").empty
    moved = labels.read_store("nl-bol")
    assert moved["dataset"].tolist() == ["tiny"] and moved["applies_to"].tolist() == ["nl-bol"]  # given for tiny
    with pytest.raises(UserError, match="has no labels"):
        labels.move("tiny", mr)
    with pytest.raises(UserError, match="same data set"):
        labels.move("mr", mr)


@pytest.mark.server
@pytest.mark.slow
def test_labels_given_on_tiny_through_the_cli_never_reach_another_data_set(prefect_api, tmp_path, cli):
    def fewlabel(*args):
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done

    def last_json(done):
        return json.loads(done.stdout.strip().splitlines()[-1])

    fewlabel("run", *sets(TINY))
    suggested = last_json(fewlabel("suggest", "--n", "4", "--strategy", "random", "--json", *sets(TINY)))
    csv = pd.read_csv(suggested["suggestions"], keep_default_na=False)
    assert set(csv["dataset"]) == {"tiny"}
    filled = write(
        tmp_path / "filled.csv", csv.assign(label=["positive", "negative", "positive", "negative"]).to_csv(index=False)
    )
    added = last_json(fewlabel("labels", "add", str(filled), "--json"))
    assert added == {"file": added["file"], "stored": 4, "dataset": "tiny"} and "/labels/tiny/" in added["file"]
    given = set(csv["text"])

    # a run on another data set: none of tiny's labels in its ingest, none counted
    other = files_config(tmp_path)
    fewlabel("run", *sets(other))
    record = json.loads((tmp_path / "data/runs/latest.json").read_text())
    assert not given & ingest_texts(record)
    store_stats = record["stats"]["ingest"]["label_store"]
    assert store_stats["added"] == 0 and store_stats["store_rows"] == 0 and store_stats["dataset"] != "tiny"
    files_id = store_stats["dataset"]

    # labels stored before data sets were recorded: listed, counted, used by no run
    old_store_file([(t, "positive") for t in ["an old sentence", "another old one"]], tmp_path / "data" / "labels")
    summary = fewlabel("run", *sets(other))
    assert (
        "2 labels without a data set NOT used: assign them with "
        f"`fewlabel labels move --from unassigned --to {files_id}`" in summary.stdout
    )
    record = json.loads((tmp_path / "data/runs/latest.json").read_text())
    assert record["stats"]["ingest"]["label_store"]["unassigned_ignored"] == 2
    assert not {"an old sentence", "another old one"} & ingest_texts(record)
    listed = last_json(fewlabel("labels", "--json", *sets(other)))
    assert listed["current"] == files_id and listed["unassigned"] == 2 and listed["labels"] == 6
    by_id = {d["id"]: d["labels"] for d in listed["datasets"]}
    assert by_id == {"tiny": 4, files_id: 0, "unassigned": 2}
    text = fewlabel("labels").stdout
    assert "data set tiny (source tiny): 4 labels" in text and "fewlabel labels move --from unassigned" in text

    # moved only by the explicit command: then, and only then, the other data set trains on them
    fewlabel("labels", "move", "--from", "unassigned", *sets(other))
    fewlabel("labels", "move", "--from", "tiny", "--to", files_id, "--copy")
    fewlabel("run", *sets(other))
    record = json.loads((tmp_path / "data/runs/latest.json").read_text())
    assert given | {"an old sentence", "another old one"} <= ingest_texts(record)
    assert record["stats"]["ingest"]["label_store"]["unassigned_ignored"] == 0
    listed = last_json(fewlabel("labels", "--json"))
    assert {d["id"]: d["labels"] for d in listed["datasets"]} == {"tiny": 4, files_id: 6}  # a copy leaves tiny's

    refused = cli("labels", "move", "--from", "tiny", "--to", "files-nope-12345678", cwd=tmp_path)
    assert refused.returncode == 2 and "never seen this data set" in refused.stderr


@pytest.mark.server
def test_the_label_flow_stores_the_run_s_data_set_and_another_data_set_never_sees_them(
    prefect_api, data_dir, tiny_config, tmp_path
):
    from prefect.flow_runs import resume_flow_run
    from prefect.input.actions import read_flow_run_input
    from prefect.input.run_input import keyset_from_paused_state

    from fewlabel.config import load_config
    from fewlabel.flows.label import label_flow
    from fewlabel.flows.train import train_flow

    from .test_labeling import paused_run

    train_flow(tiny_config())
    result = {}
    thread = threading.Thread(target=lambda: result.update(out=label_flow(n=3, strategy="random", poll_interval=1)))
    thread.start()
    run = paused_run("fewlabel-label")
    description = read_flow_run_input(keyset_from_paused_state(run.state)["description"], run.id)
    assert "as labels of data set `tiny`" in description
    resume_flow_run(run.id, run_input={"sentence_1": "positive", "sentence_2": "negative", "sentence_3": "positive"})
    thread.join(600)
    assert result["out"]["labels"]["stored"] == 3 and result["out"]["labels"]["dataset"] == "tiny"
    stored = labels.read_store()
    assert set(stored["applies_to"]) == {"tiny"} and set(stored["dataset"]) == {"tiny"}
    other = train_flow(load_config(None, files_config(tmp_path)))
    texts = {
        t
        for name in ("train", "test")
        for t in pq.read_table(store.data_dir() / other["artifacts"]["ingest"] / f"{name}.parquet")["text"].to_pylist()
    }
    assert not set(stored["text"]) & texts and other["stats"]["ingest"]["label_store"]["added"] == 0
    again = train_flow(tiny_config())
    assert again["stats"]["ingest"]["label_store"]["added"] == 3  # its own data set's run does use them
