"""The nightly loop through real runs: train, the promotion gate, predict the inbox with production."""

import json
import os
import random
import threading

import pytest

from fewlabel import promotion, registry, runs
from fewlabel.flows.nightly import nightly_flow
from fewlabel.flows.train import train_flow

from .conftest import write
from .servers import wait_until

pytestmark = [pytest.mark.server, pytest.mark.filterwarnings("ignore:Stochastic Optimizer")]


def polarity_files(folder, classes=("pos", "neg")):
    """A labeled set where each class has 30 words of its own: every label helps, 2 per class do not
    cover the vocabulary (a clearly worse model), and unlabeled text with the same words."""
    rng = random.Random(0)
    words = {c: [f"{c}word{i}" for i in range(30)] for c in classes}
    rows = ["text,label"]
    for i in range(120):
        for label in classes:
            a, b = rng.sample(words[label], 2)
            rows.append(f'"the film was {a} and {b} number {i % 9}",{label}')
    lines = [" ".join(rng.sample(words[classes[i % len(classes)]], 4)) + f" the film {i % 5}" for i in range(600)]
    return write(folder / "labeled.csv", "\n".join(rows) + "\n"), write(folder / "unlabeled.txt", "\n".join(lines))


@pytest.fixture
def files(tmp_path):
    labeled, unlabeled = polarity_files(tmp_path / "in")
    inbox = tmp_path / "inbox"
    write(inbox / "a.txt", "the film was posword3 and posword7\nthe film was negword1 and negword9\n")

    def config(*overrides, labeled_path=labeled):
        from fewlabel.config import load_config

        return load_config(
            None,
            [
                "data.source=files",
                f"data.labeled_path={labeled_path}",
                f"data.unlabeled_path={unlabeled}",
                f"nightly.inbox_path={inbox}",
                "word2vec.vector_size=16",
                "word2vec.epochs=5",
                "classifier.estimator.max_iter=200",
                "evaluate.bootstrap=200",
                *overrides,
            ],
        )

    return config


def flow_run(url_unused, run_id):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


@pytest.mark.slow
def test_a_worse_candidate_is_kept_and_predictions_keep_the_old_model(prefect_api, data_dir, files, tmp_path, cli):
    first = nightly_flow(files())
    good = first["train"]["flow_run_id"]
    assert first["promotion"]["decision"] == "promoted" and "the first model" in first["promotion"]["message"]
    assert first["predict"]["run_id"] == good

    worse = nightly_flow(files("data.labels_per_class=2"))  # a bad night: too few labels
    bad = worse["train"]["flow_run_id"]
    decision = worse["promotion"]
    assert decision["decision"] == "kept" and decision["production"] == good
    assert decision["candidate_accuracy"] < decision["production_accuracy"] - 0.05
    assert decision["message"].startswith(f"kept {good[:8]}: ") and "p = " in decision["message"]
    assert worse["predict"]["run_id"] == good  # predictions keep using the old model
    assert runs.read_run(bad)["promotion"]["decision"] == "kept"  # the line in the run record
    assert registry.read_alias()["run_id"] == good
    # not failed, but tagged: the training run, the gate and the nightly run
    assert "not-promoted" in flow_run(prefect_api, bad).tags
    assert "not-promoted" in flow_run(prefect_api, worse["flow_run_id"]).tags
    assert flow_run(prefect_api, worse["flow_run_id"]).state.is_completed()
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[worse["flow_run_id"]]))
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=of_run)
    notes = [a for a in artifacts if a.key == "fewlabel-promotion"]
    assert notes and "kept" in notes[0].data

    # the CLI: versions, predict by default with production, promote by hand, roll back
    cwd = data_dir.parent
    listed = cli("models", "--json", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    versions = {v["run_id"]: v for v in json.loads(listed.stdout.strip().splitlines()[-1])["versions"]}
    assert versions[good]["aliases"] == ["production"] and versions[bad]["aliases"] == []
    assert versions[bad]["promotion"] == "kept" and versions[good]["accuracy"] > versions[bad]["accuracy"]
    source = write(tmp_path / "new.txt", "the film was posword1 and posword2\n")

    def predicted_by(*extra):
        done = cli("predict", str(source), "--json", *extra, cwd=cwd)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])["run_id"]

    assert predicted_by() == good
    assert predicted_by("--run", "latest") == bad
    moved = cli("promote", bad, "--reason", "try the new labels", cwd=cwd)
    assert moved.returncode == 0 and f"production -> {bad}" in moved.stdout and "try the new labels" in moved.stdout
    assert predicted_by() == bad
    back = cli("rollback", "--reason", "worse on our data", cwd=cwd)
    assert back.returncode == 0, back.stderr
    assert predicted_by() == good
    alias = registry.read_alias()
    assert [h["action"] for h in alias["history"]] == ["gate", "promote", "rollback"]
    assert alias["history"][-1]["reason"] == "worse on our data" and alias["by"]

    # a tampered alias record: refused in one line, by predict and by the next gate
    path = registry.alias_path()
    path.write_text(path.read_text().replace(good, bad))
    refused = cli("predict", str(source), cwd=cwd)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: alias production")
    assert "refused" in refused.stderr and "Traceback" not in refused.stderr
    assert "refused" in cli("models", cwd=cwd).stderr
    assert promotion.gate(bad, by="test")["decision"] == "refused"


@pytest.mark.slow
def test_a_better_candidate_is_promoted(prefect_api, data_dir, files):
    first = nightly_flow(files("data.labels_per_class=2"))
    assert first["promotion"]["decision"] == "promoted"  # the first model, however good
    better = nightly_flow(files())
    decision = better["promotion"]
    assert decision["decision"] == "promoted" and decision["accuracy_gain"] > 0.05
    assert registry.read_alias()["run_id"] == better["train"]["flow_run_id"] == better["predict"]["run_id"]
    assert "promoted" in flow_run(prefect_api, better["train"]["flow_run_id"]).tags


@pytest.mark.slow
def test_the_gate_refuses_what_it_cannot_compare(prefect_api, data_dir, files, tmp_path):
    first = nightly_flow(files())
    production = first["train"]["flow_run_id"]
    other_split = nightly_flow(files("data.test_size=0.4"))
    assert other_split["promotion"]["decision"] == "refused"
    assert "evaluation set differs" in other_split["promotion"]["message"]
    three, _ = polarity_files(tmp_path / "three", classes=("pos", "neg", "mid"))
    other_classes = nightly_flow(files(labeled_path=three))
    assert other_classes["promotion"]["decision"] == "refused"
    assert "classes differ" in other_classes["promotion"]["message"]
    assert registry.read_alias()["run_id"] == production
    assert other_classes["predict"]["run_id"] == production


def test_two_gates_racing_keep_the_alias_whole(prefect_api, data_dir, files):
    """Two nightly runs finishing at once: their gates take turns (the second compares with the
    first's promotion), and the alias verifies."""
    candidates = [train_flow(files())["flow_run_id"], train_flow(files("data.labels_per_class=2"))["flow_run_id"]]
    decisions = {}

    def gate(run_id):
        decisions[run_id] = promotion.gate(run_id, by=f"racer {run_id[:8]}")

    racers = [threading.Thread(target=gate, args=(run_id,)) for run_id in candidates]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    alias = registry.read_alias()
    assert len(alias["history"]) in (1, 2)
    firsts = [d for d in decisions.values() if "the first model" in d["message"]]
    assert len(firsts) == 1  # exactly one saw no production model
    good, bad = candidates
    assert alias["run_id"] == good  # whoever went first, the worse model is never production at the end
    assert decisions[bad]["decision"] in ("kept", "promoted") and decisions[good]["decision"] == "promoted"


def test_nightly_label_step_pauses_with_the_form_then_suggests_then_times_out(prefect_api, data_dir, files):
    """nightly.label: form pauses a fewlabel-label subflow scored by the night's model; its labels train the
    next night; suggest writes a CSV without pausing; an unanswered form does not fail the night."""
    import pandas as pd
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    from fewlabel import labels

    from .test_labeling import paused_run

    result = {}
    night = threading.Thread(
        target=lambda: result.update(
            out=nightly_flow(files("nightly.label=form", "selection.n=3", "selection.strategy=margin"))
        )
    )
    night.start()
    paused = paused_run("fewlabel-label")
    suggested = pd.read_csv(labels.labels_dir() / f"suggestions-{paused.id}.csv", keep_default_na=False)
    assert len(suggested) == 3
    resume_flow_run(paused.id, run_input={"sentence_1": "pos", "sentence_2": "neg", "sentence_3": "skip"})
    night.join(600)
    first = result["out"]
    assert first["label"]["mode"] == "form" and first["label"]["labels"]["stored"] == 2
    assert first["label"]["labels"]["skipped"] == 1 and not first["label"]["timed_out"]
    with get_client(sync_client=True) as client:
        label_run = client.read_flow_run(paused.id)
    assert label_run.parameters["run"] == first["train"]["flow_run_id"]  # the night's new model
    assert label_run.parameters["strategy"] == "margin" and label_run.parameters["n"] == 3
    assert label_run.parent_task_run_id is not None  # a subflow of the nightly run
    stored = labels.read_store()
    assert set(stored["how"]) == {f"ui:{paused.id}"}
    assert list(stored["label"]) == ["pos", "neg"] and list(stored["text"]) == list(suggested["text"][:2])

    second = nightly_flow(files("nightly.label=suggest", "selection.n=4"))
    assert second["train"]["stages"]["ingest"] == "Completed"  # the stored labels reach the next night
    assert runs.read_run(second["train"]["flow_run_id"])["stats"]["ingest"]["label_store"]["added"] == 2
    csv = pd.read_csv(second["label"]["suggestions"], keep_default_na=False)
    assert len(csv) == 4 and (csv["label"] == "").all() and second["label"]["labels"] is None
    assert not set(csv["text"]) & set(stored["text"])  # labeled sentences are not suggested again

    third = nightly_flow(files("nightly.label=form", "selection.n=2", "nightly.label_timeout=2"))
    assert third["label"]["timed_out"] and third["label"]["labels"] is None
    assert len(pd.read_csv(third["label"]["suggestions"], keep_default_na=False)) == 2
    assert flow_run(prefect_api, third["flow_run_id"]).state.is_completed()
    assert len(labels.read_store()) == 2  # nothing new stored
    assert third["predict"] is not None and third["promotion"]["decision"] in ("promoted", "kept", "unchanged")


def test_a_cached_rerun_is_the_same_version_and_promotes_nothing(prefect_api, data_dir, files, cli):
    """Every stage Cached: the same model, so no new version in `fewlabel models` and no second promotion."""
    first = nightly_flow(files())
    again = nightly_flow(files())
    assert set(again["train"]["stages"].values()) == {"Cached"}
    made, reused = first["train"]["flow_run_id"], again["train"]["flow_run_id"]
    decision = again["promotion"]
    assert decision["decision"] == "unchanged" and "nothing promoted" in decision["message"]
    alias = registry.read_alias()
    assert alias["run_id"] == made and [h["action"] for h in alias["history"]] == ["gate"]
    assert "unchanged" in flow_run(prefect_api, reused).tags and "promoted" not in flow_run(prefect_api, reused).tags
    listed = cli("models", "--json", cwd=data_dir.parent)
    assert listed.returncode == 0, listed.stderr
    (version,) = json.loads(listed.stdout.strip().splitlines()[-1])["versions"]
    assert version["run_id"] == made and version["runs"] == [made, reused]
    assert version["promotion"] == "promoted" and version["aliases"] == ["production"]
    assert version["model"] == registry.model_of(runs.read_run(reused))
    table = cli("models", cwd=data_dir.parent).stdout
    assert made in table and reused not in table and version["model"][:8] in table
    # promoting the same model by hand moves nothing either
    moved = cli("promote", reused, cwd=data_dir.parent)
    assert moved.returncode == 0 and "already serves" in moved.stdout
    assert len(registry.read_alias()["history"]) == 1


def test_nightly_label_is_off_by_default(prefect_api, data_dir, files):
    from fewlabel import labels

    out = nightly_flow(files())
    assert out["label"] is None and not list(labels.labels_dir().glob("suggestions-*.csv"))


@pytest.mark.slow
def test_a_bad_inbox_file_fails_only_predict_and_a_retry_promotes_nothing_twice(prefect_api, data_dir, files, tmp_path):
    """A malformed inbox file after the model was promoted: the night trains, decides and says so, then
    ends Failed naming the file; retried (Prefect's own retry, the same flow run) once the file is fixed,
    it reuses the finished train and gate subflows: one version, one promotion, predictions written."""
    import subprocess
    import sys

    from prefect import tags
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter

    from .conftest import ROOT

    config = files()
    inbox = tmp_path / "inbox"
    bad = write(inbox / "b.csv", 'text\n"the film was posword3 and an unclosed quote\n')
    with tags("fewlabel", "command:serve"):
        state = nightly_flow(config, return_state=True)
    assert state.is_failed()
    night = str(state.state_details.flow_run_id)
    assert "predict failed: stage predict" in state.message and "b.csv" in state.message
    assert "the rest of the night is done and kept" in state.message and "retry this run" in state.message
    alias = registry.read_alias()
    trained = alias["run_id"]  # promoted before predict failed, and still so
    assert [h["action"] for h in alias["history"]] == ["gate"]

    def subflows() -> dict[str, list]:
        """The nightly run's subflow runs, by flow name."""
        with get_client(sync_client=True) as client:
            wrappers = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [night]}))
            parent = FlowRunFilter(parent_task_run_id={"any_": [w.id for w in wrappers]})
            found = {}
            for run in client.read_flow_runs(flow_run_filter=parent):
                found.setdefault(client.read_flow(run.flow_id).name, []).append(run)
        return found

    by_name = subflows()
    assert sorted(by_name) == ["fewlabel-gate", "fewlabel-predict", "fewlabel-train"]
    for name, (run,) in by_name.items():  # each subflow carries the nightly run's fewlabel and command tags
        assert {"fewlabel", "command:serve"} <= set(run.tags), (name, run.tags)
    assert by_name["fewlabel-predict"][0].state.is_failed()
    assert by_name["fewlabel-train"][0].state.is_completed() and by_name["fewlabel-gate"][0].state.is_completed()
    summary = wait_until(lambda: summary_lines(night), 120, "the nightly run's summary line in its logs")
    assert len(summary) == 1 and f"promoted {trained[:8]}" in summary[0]
    assert "predict FAILED" in summary[0] and "b.csv" in summary[0]

    bad.write_text("text\nthe film was posword3 and posword9\n")  # the file fixed
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "FEWLABEL_DATA_DIR": str(data_dir)}
    retry = [
        sys.executable,
        "-m",
        "prefect",
        "flow-run",
        "retry",
        night,
        "--entrypoint",
        "flows/nightly.py:nightly_flow",
    ]
    done = subprocess.run(retry, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert flow_run(prefect_api, night).state.is_completed()
    by_name = subflows()
    with get_client(sync_client=True) as client:
        notes = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[night])))
    # train and gate came back as they were (not run again); predict ran again and wrote the predictions
    assert [len(by_name[n]) for n in ("fewlabel-train", "fewlabel-gate", "fewlabel-predict")] == [1, 1, 2]
    assert len([a for a in notes if a.key == "fewlabel-promotion"]) == 1
    alias = registry.read_alias()
    assert alias["run_id"] == trained and len(alias["history"]) == 1  # promoted once
    predictions = data_dir / "predictions" / "inbox.parquet"
    import pyarrow.parquet as pq

    assert pq.read_table(predictions).num_rows == 3  # a.txt's two lines and b.csv's one row
    listed = json.loads(cli_models(data_dir))
    assert [v["run_id"] for v in listed["versions"]] == [trained]


def summary_lines(flow_run_id: str) -> list[str]:
    """The summary lines (``nightly: ...``) in a nightly run's logs on the server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs if log.message.startswith("nightly: ")]


def cli_models(data_dir) -> str:
    import subprocess
    import sys

    env = {**os.environ, "FEWLABEL_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "fewlabel.cli", "models", "--json"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]
