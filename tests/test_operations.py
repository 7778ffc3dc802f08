"""Operating the pipeline: plan, --from-stage, a failed stage named and resumed, lineage, cache gc."""

import json

import pytest

from fewlabel import runs, store
from fewlabel.flows.train import PIPELINE, train_flow
from fewlabel.orchestration.pipeline import StageFailed
from fewlabel.orchestration.plan import plan

from .conftest import TINY_STAGES

pytestmark = pytest.mark.server  # every test here uses a Prefect server

STAGES = TINY_STAGES


@pytest.fixture
def trained(prefect_api, data_dir, tiny_config):
    return train_flow(tiny_config())


def actions(rows):
    return [(r["stage"], r["action"]) for r in rows]


def test_plan_after_a_run_is_all_cached(trained, tiny_config):
    rows = plan(PIPELINE, tiny_config(), runs.read_run())
    assert actions(rows) == [(s, "cached") for s in STAGES]
    assert [r["artifact"] for r in rows] == [trained["artifacts"][s] for s in STAGES]


@pytest.mark.parametrize(
    "override, first_run, why",
    [
        ("classifier.estimator.alpha=0.5", "train", "classifier.estimator.alpha: 10.0 -> 0.5"),
        ("preprocess.stopwords=english", "preprocess", "preprocess.stopwords: 'none' -> 'english'"),
        ("word2vec.window=3", "pretrain", "word2vec.window: 5 -> 3"),
    ],
)
def test_plan_names_the_config_key_that_changed(trained, tiny_config, override, first_run, why):
    rows = plan(PIPELINE, tiny_config(override), runs.read_run())
    at = STAGES.index(first_run)
    assert actions(rows) == [(s, "cached") for s in STAGES[:at]] + [(s, "run") for s in STAGES[at:]]
    assert rows[at]["why"] == why
    assert "will be recomputed" in rows[-1]["why"]
    # and the run does what the plan said
    states = train_flow(tiny_config(override))["stages"]
    assert [states[s] for s in STAGES] == ["Cached"] * at + ["Completed"] * (len(STAGES) - at)


def test_plan_sees_a_damaged_artifact(trained, tiny_config):
    (store.data_dir() / trained["artifacts"]["vectorize"] / "test.parquet").unlink()
    rows = plan(PIPELINE, tiny_config(), runs.read_run())
    assert rows[3] == {**rows[3], "stage": "vectorize", "action": "run", "why": "artifact missing or damaged on disk"}


def test_plan_without_any_run(prefect_api, data_dir, tiny_config):
    rows = plan(PIPELINE, tiny_config(), None)
    assert actions(rows) == [("ingest", "run")] + [(s, "run") for s in STAGES[1:]]
    assert rows[0]["why"] == "no earlier run recorded for this stage"


def test_from_stage_recomputes_it_and_after(trained, tiny_config):
    again = train_flow(tiny_config(), from_stage="vectorize")
    assert [again["stages"][s] for s in STAGES] == ["Cached"] * 3 + ["Completed"] * 3
    assert again["metrics"] == trained["metrics"]  # deterministic: same results


def test_failed_stage_is_named_and_the_rerun_reuses_earlier_stages(prefect_api, data_dir, tiny_config, monkeypatch):
    monkeypatch.setenv("FEWLABEL_FAULT", "train:fail")
    with pytest.raises(StageFailed, match="stage train failed: RuntimeError: injected failure in stage train"):
        train_flow(tiny_config())
    assert not list(data_dir.rglob(".tmp-*"))
    monkeypatch.delenv("FEWLABEL_FAULT")
    states = train_flow(tiny_config())["stages"]
    assert [states[s] for s in STAGES] == ["Cached"] * 4 + ["Completed"] * 2


def test_run_record_is_a_lineage_manifest(trained):
    record = json.loads((store.data_dir() / "runs" / f"{trained['flow_run_id']}.json").read_text())
    assert record == json.loads((store.data_dir() / "runs" / "latest.json").read_text())
    assert record["software"]["fewlabel"] and "git_commit" in record["software"]
    lineage = record["lineage"]
    assert set(lineage) == set(STAGES)
    assert lineage["ingest"]["source_files"]  # the input files and their hashes
    assert lineage["preprocess"]["inputs"]["ingest"]["sha256"] == lineage["ingest"]["sha256"]
    assert lineage["train"]["inputs"]["config"]["estimator"] == record["config"]["classifier"]["estimator"]
    assert lineage["ingest"]["stats"]["train_rows"] == 100
    from fewlabel.report import lineage_markdown

    assert "| train | Completed |" in lineage_markdown(record)


def test_cache_gc_keeps_what_recent_runs_use(trained, tiny_config):
    other = train_flow(tiny_config("classifier.estimator.alpha=0.5"))
    old_only = {s: p for s, p in trained["artifacts"].items() if p != other["artifacts"][s]}
    assert set(old_only) == {"train", "evaluate"}
    dry = runs.collect_garbage(keep=1, dry_run=True)
    assert {str(p) for p in old_only.values()} <= set(dry["paths"])
    assert all((store.data_dir() / p).exists() for p in old_only.values())
    done = runs.collect_garbage(keep=1)
    assert done["paths"] == dry["paths"] and done["bytes"] > 0
    assert not any((store.data_dir() / p).exists() for p in old_only.values())
    assert all((store.data_dir() / p).exists() for p in other["artifacts"].values())
    assert set(train_flow(tiny_config("classifier.estimator.alpha=0.5"))["stages"].values()) == {"Cached"}
    states = train_flow(tiny_config())["stages"]
    assert [states[s] for s in STAGES] == ["Cached"] * 4 + ["Completed"] * 2
