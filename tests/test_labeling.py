"""Suggest, the label store and the label flow: the form driven through the API as the UI does."""

import json
import threading
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from fewlabel import labels, runs, store
from fewlabel.errors import UserError
from fewlabel.flows.label import label_flow
from fewlabel.flows.train import train_flow
from fewlabel.orchestration.form import TITLE_MAX, title

from .conftest import TINY, write

pytestmark = pytest.mark.server  # every test here uses a Prefect server


@pytest.fixture
def trained(prefect_api, data_dir, tiny_config):
    return train_flow(tiny_config())


def paused_run(name: str, timeout: float = 240):
    """This test's paused ``name`` run: the session's server is shared, so among the paused runs of
    that flow, the one whose suggestions file is in this test's data folder."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )

    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["PAUSED"])))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            found = client.read_flow_runs(
                flow_run_filter=paused, flow_filter=FlowFilter(name=FlowFilterName(any_=[name]))
            )
            found = [r for r in found if (labels.labels_dir() / f"suggestions-{r.id}.csv").exists()]
            if found:
                return found[0]
            time.sleep(0.5)
    raise AssertionError(f"no paused {name} run")


def test_label_flow_form_stores_the_labels_and_retrains(trained, tiny_config):
    from prefect.flow_runs import resume_flow_run
    from prefect.input.actions import read_flow_run_input
    from prefect.input.run_input import keyset_from_paused_state

    result = {}
    thread = threading.Thread(
        target=lambda: result.update(out=label_flow(n=4, strategy="margin", train_after=True, poll_interval=1))
    )
    thread.start()
    run = paused_run("fewlabel-label")
    keys = keyset_from_paused_state(run.state)
    schema = read_flow_run_input(keys["schema"], run.id)
    description = read_flow_run_input(keys["description"], run.id)
    suggested = pd.read_csv(store.data_dir() / "labels" / f"suggestions-{run.id}.csv", keep_default_na=False)
    fields = schema["properties"]
    assert list(fields) == [f"sentence_{i}" for i in range(1, 5)]
    assert [fields[f]["title"] for f in fields] == [title(t) for t in suggested["text"]]
    # each sentence once: in its title (whole up to TITLE_MAX characters: tiny's news lines reach 3,300),
    # never again in a description
    for f, text in zip(fields, suggested["text"]):
        whole = " ".join(text.split())
        assert fields[f]["title"] == (whole if len(whole) <= TITLE_MAX else whole[: TITLE_MAX - 1] + "…")
        assert len(whole) <= TITLE_MAX or "cut after" in fields[f]["description"]
        assert all(whole[:200] not in fields[g]["description"] for g in fields)
        assert fields[f]["description"].endswith(
            f"The model's guess: {suggested['guess'][int(f[9:]) - 1]} "
            f"({suggested['confidence'][int(f[9:]) - 1]:.0%} sure)."
        )
    choices = schema["definitions"] if "definitions" in schema else schema.get("$defs", {})
    enum = fields["sentence_1"].get("enum") or next(iter(choices.values()))["enum"]
    assert set(enum) == {"negative", "positive", "skip"}
    # the instructions and the classes where the UI draws them: the first field's description
    first = fields["sentence_1"]["description"]
    assert first.startswith("**Label these 4 sentences**, then press **Submit**")
    assert "**negative**, **positive**" in first and "leave **skip** (already chosen)" in first
    assert "not stored" in first and all("Label these" not in fields[f]["description"] for f in list(fields)[1:])
    assert "Label these 4 sentences" in description
    # no "(Optional)" after each title: every field required, and "skip" already chosen
    assert schema["required"] == list(fields) and {fields[f]["default"] for f in fields} == {"skip"}
    # what the UI sends on Submit: one value per field
    answer = {"sentence_1": "positive", "sentence_2": "negative", "sentence_3": "skip", "sentence_4": "positive"}
    resume_flow_run(run.id, run_input=answer)
    thread.join(600)
    out = result["out"]
    stored = labels.read_store()
    assert len(stored) == 3 and set(stored["how"]) == {f"ui:{run.id}"}
    expected = {t.strip(): answer[f"sentence_{i + 1}"] for i, t in enumerate(suggested["text"])}
    for text, label in zip(stored["text"], stored["label"]):
        assert expected[text.strip()] == label
    assert out["labels"]["stored"] == 3 and out["labels"]["skipped"] == 1
    # the label flow's task runs are named as the stages are, without Prefect's random suffixes
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter

    with get_client(sync_client=True) as client:
        names = {t.name for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run.id]}))}
    assert {n for n in names if not n.startswith("fewlabel-train")} == {"suggest", "store-labels"}  # + the subflow
    # the retrained model saw the 3 new labels; only ingest onward was recomputed
    retrained = runs.read_run(out["trained"]["flow_run_id"])
    assert retrained["stats"]["train"]["train_rows"] == trained["stats"]["train"]["train_rows"] + 3
    assert retrained["stats"]["ingest"]["label_store"]["added"] == 3
    assert out["trained"]["stages"]["ingest"] == "Completed"
    train_rows = pq.read_table(store.data_dir() / retrained["artifacts"]["ingest"] / "train.parquet").to_pandas()
    assert set(stored["text"]) <= set(train_rows["text"])


def test_new_labels_invalidate_ingest_onward_only(trained, tiny_config):
    first = train_flow(tiny_config())
    assert set(first["stages"].values()) == {"Cached"}
    pool = pq.read_table(store.data_dir() / trained["artifacts"]["preprocess"] / "unlabeled.parquet").to_pandas()
    tiny = labels.dataset_info(tiny_config().data)
    labels.append(pool.iloc[:2].assign(label="positive")[["text", "origin", "row", "label"]], "file:test", tiny)
    again = train_flow(tiny_config())
    assert again["stages"]["ingest"] == "Completed"
    assert again["stats"]["train"]["train_rows"] == first["stats"]["train"]["train_rows"] + 2
    # the same config asked again, with no new labels: nothing recomputes
    assert set(train_flow(tiny_config())["stages"].values()) == {"Cached"}


def test_conflicting_labels_are_an_error_listing_both_unless_newest(trained, tiny_config):
    train = pq.read_table(store.data_dir() / trained["artifacts"]["ingest"] / "train.parquet").to_pandas()
    row = train.iloc[0]
    other = "negative" if row["label"] == "positive" else "positive"
    labels.append(pd.DataFrame([{**row.to_dict(), "label": other}]), "ui:abc", labels.dataset_info(tiny_config().data))
    with pytest.raises(UserError, match=f"is '{row['label']}' in .* and '{other}' in .*labels-.*ui:abc"):
        train_flow(tiny_config())
    chosen = train_flow(tiny_config("data.label_conflicts=newest"))
    counts = chosen["stats"]["ingest"]["label_store"]
    assert counts["replaced_file_rows"] == 1 and counts["added"] == 1
    rows = pq.read_table(store.data_dir() / chosen["artifacts"]["ingest"] / "train.parquet").to_pandas()
    assert rows[rows["text"] == row["text"]]["label"].tolist() == [other]


@pytest.mark.slow
def test_suggest_cli_then_labels_add_list_export(trained, tmp_path, data_dir, cli):
    out = cli(
        "suggest",
        "--n",
        "6",
        "--strategy",
        "margin_diverse",
        "--json",
        *[f"--set={s}" for s in TINY],
        cwd=data_dir.parent,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n"] == 6 and result["strategy"] == "margin_diverse"
    csv = pd.read_csv(result["suggestions"], keep_default_na=False)
    assert list(csv.columns) == labels.SUGGESTION_COLUMNS and (csv["label"] == "").all()
    test_texts = pq.read_table(store.data_dir() / trained["artifacts"]["ingest"] / "test.parquet")["text"].to_pylist()
    train_texts = pq.read_table(store.data_dir() / trained["artifacts"]["ingest"] / "train.parquet")["text"]
    assert not {t.strip() for t in csv["text"]} & {t.strip() for t in test_texts + train_texts.to_pylist()}
    assert csv["text"].nunique() == 6 and csv["confidence"].between(0, 1).all()
    filled = csv.assign(label=["positive", "negative", "skip", "", "positive", "positive"])
    path = write(tmp_path / "filled.csv", filled.to_csv(index=False))
    before = path.read_bytes()
    bad = write(tmp_path / "typo.csv", filled.assign(label=["positve"] + [""] * 5).to_csv(index=False))
    refused = cli("labels", "add", str(bad), cwd=data_dir.parent)
    assert refused.returncode == 2 and "line 2, column label: 'positve' is not a class" in refused.stderr
    assert labels.store_files() == []  # nothing stored from the refused file
    added = cli("labels", "add", str(path), "--json", cwd=data_dir.parent)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout.strip().splitlines()[-1])["stored"] == 4
    assert path.read_bytes() == before  # the user's file is only read
    listed = json.loads(cli("labels", "--json", cwd=data_dir.parent).stdout.strip().splitlines()[-1])
    assert listed["labels"] == 4 and listed["files"][0]["per_class"] == {"negative": 1, "positive": 3}
    again = cli(
        "suggest", "--n", "50", "--strategy", "random", "--json", *[f"--set={s}" for s in TINY], cwd=data_dir.parent
    )
    offered = pd.read_csv(json.loads(again.stdout.strip().splitlines()[-1])["suggestions"], keep_default_na=False)
    assert not set(offered["text"]) & set(filled["text"][filled["label"].isin(["positive", "negative"])])
    exported = cli("labels", "export", "--output", str(tmp_path / "all.csv"), cwd=data_dir.parent)
    assert exported.returncode == 0, exported.stderr
    table = pd.read_csv(tmp_path / "all.csv")
    assert len(table) == 4 and {"text", "label", "origin", "row", "when", "how"} <= set(table.columns)


def test_the_form_schema_shows_each_text_once_and_the_instructions_first():
    """What the Prefect UI draws from the form's JSON schema: titles (the texts), descriptions (the first
    with the instructions), no "(Optional)" (every field required), ``skip`` already chosen."""
    from prefect._internal.pydantic.v2_schema import create_v2_schema

    from fewlabel.orchestration.form import description, label_form

    rows = [
        {"text": "a  fine\nfilm", "guess": "pos", "confidence": 0.55, "origin": "u.txt", "row": 3},
        {"text": "word " * 1500, "guess": "neg", "confidence": 0.51, "origin": "u.txt", "row": 9},
    ]
    guide = description(rows, ["neg", "pos"], "margin", "run-1")
    form = label_form(rows, ["neg", "pos"], guide=guide)
    schema = create_v2_schema(form.__name__, model_base=form)
    first, second = schema["properties"]["sentence_1"], schema["properties"]["sentence_2"]
    assert first["title"] == "a fine film"
    assert first["description"] == f"{guide} The model's guess: pos (55% sure)."
    assert "**neg**, **pos**" in guide and "**skip**" in guide and "Label these 2 sentences" in guide
    assert len(second["title"]) == TITLE_MAX and second["title"].endswith("…")  # 7,500 characters, cut
    assert second["description"] == (
        "The model's guess: neg (51% sure). The sentence is cut after 5,000 of its 7,499 characters (row 9 of u.txt)."
    )
    assert schema["required"] == ["sentence_1", "sentence_2"] and first["default"] == second["default"] == "skip"
    assert form(sentence_1="pos").sentence_2 == "skip"  # the API may still leave a field out
