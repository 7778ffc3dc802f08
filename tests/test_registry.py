"""Model versions, the production alias and the gate's rule, without a Prefect server."""

import itertools
import json
import multiprocessing
import threading

import numpy as np
import pytest

from fewlabel import promotion, registry, runs
from fewlabel.config import EvaluateConfig, PromotionConfig
from fewlabel.errors import UserError

CLOCK = itertools.count()


def fake_run(run_id: str, accuracy: float = 0.8, model: str | None = None) -> dict:
    """A training run's record; its model is ``model`` (default: one of its own)."""
    record = {
        "flow_run_id": run_id,
        "kind": "train",
        "created": f"2025-01-01T00:{next(CLOCK):05d}",
        "config": {"data": {"source": "tiny"}},
        "refs": {"ingest": {"sha256": "d" * 64}, "train": {"sha256": model or run_id}},
        "metrics_detail": {"methods": {"pretrained": {"accuracy": accuracy, "accuracy_ci": [0.7, 0.9], "n": 100}}},
    }
    runs.write_run(record)
    return record


def test_promote_rollback_and_who_when_why(data_dir):
    assert registry.read_alias() is None
    for run_id in ("run-a", "run-b", "run-c"):
        fake_run(run_id)
    registry.promote("run-a", reason="first")
    registry.promote("run-b", reason="better", by="ann")
    alias = registry.promote("run-c", reason="best")
    assert alias["run_id"] == "run-c" and [p["run_id"] for p in alias["previous"]] == ["run-a", "run-b"]
    back = registry.rollback(reason="c is broken", by="bob")
    assert back["run_id"] == "run-b" and back["action"] == "rollback" and back["by"] == "bob"
    assert back["history"][-1] | {"at": None} == {
        "action": "rollback",
        "run_id": "run-b",
        "from": "run-c",
        "at": None,
        "by": "bob",
        "reason": "c is broken",
    }
    assert [h["by"] for h in back["history"]][1] == "ann"
    assert registry.rollback()["run_id"] == "run-a"
    with pytest.raises(UserError, match="no earlier version"):
        registry.rollback()
    versions, error = registry.versions()
    assert error is None and [v["run_id"] for v in versions] == ["run-a", "run-b", "run-c"]
    assert [v["aliases"] for v in versions] == [["production"], [], []]
    assert set(registry.pinned()) == {"run-a"}


def test_promote_refuses_what_is_not_a_training_run(data_dir):
    with pytest.raises(UserError, match="not found"):
        registry.promote("nope")
    runs.write_run({"flow_run_id": "curve-1", "kind": "curve", "config": {}, "refs": {}}, latest=False)
    with pytest.raises(UserError, match="not a training run"):
        registry.promote("curve-1")


@pytest.mark.parametrize(
    "tamper, why",
    [
        (lambda r: {**r, "run_id": "run-b"}, "checksum"),  # pointed at another run by hand
        (lambda r: {**r, "reason": "edited"}, "checksum"),
        (lambda r: "{not json", "not a valid alias record"),
        (lambda r: {k: v for k, v in r.items() if k != "model_sha256"}, "not a valid alias record"),
    ],
)
def test_a_tampered_alias_record_is_refused(data_dir, tamper, why):
    fake_run("run-a"), fake_run("run-b")
    registry.promote("run-a")
    path = registry.alias_path()
    changed = tamper(json.loads(path.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    with pytest.raises(registry.AliasRefused, match=why) as refused:
        registry.resolve("production")
    assert "\n" not in str(refused.value) and "fewlabel promote RUN" in str(refused.value)
    with pytest.raises(registry.AliasRefused):
        registry.rollback()
    assert registry.versions()[1] is not None  # listed without an alias, with the reason
    assert registry.promote("run-b", reason="repair")["run_id"] == "run-b"  # promote repairs it
    assert registry.resolve("production")[0]["flow_run_id"] == "run-b"


def test_an_altered_target_run_record_is_refused(data_dir):
    record = fake_run("run-a")
    registry.promote("run-a")
    record["refs"]["train"]["sha256"] = "someone-elses-model"
    runs.write_run(record)
    with pytest.raises(registry.AliasRefused, match="no longer matches the model that was promoted"):
        registry.resolve("production")


def test_production_falls_back_to_latest_with_a_note_until_a_promotion(data_dir):
    fake_run("run-a"), fake_run("run-b")
    record, note = registry.resolve("production")
    assert record["flow_run_id"] == "run-b" and "no production model yet" in note
    registry.promote("run-a")
    record, note = registry.resolve("production")
    assert record["flow_run_id"] == "run-a" and note is None
    assert registry.resolve("latest")[0]["flow_run_id"] == "run-b"


def _promote_many(folder: str, run_ids: list[str], rounds: int) -> None:
    import os

    os.environ["FEWLABEL_DATA_DIR"] = folder
    for i in range(rounds):
        registry.promote(run_ids[i % len(run_ids)], reason=f"round {i}")


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_racing_promotions_never_corrupt_the_alias(data_dir, kind):
    rounds, workers = 15, 4
    ids = [f"run-{i}" for i in range(rounds * workers)]  # each promotion a model of its own: each one moves
    for run_id in ids:
        fake_run(run_id)
    args = [(str(data_dir), ids[i * rounds : (i + 1) * rounds], rounds) for i in range(workers)]
    if kind == "threads":
        pool = [threading.Thread(target=_promote_many, args=a) for a in args]
    else:
        pool = [multiprocessing.get_context("spawn").Process(target=_promote_many, args=a) for a in args]
    for worker in pool:
        worker.start()
    for worker in pool:
        worker.join(120)
    alias = registry.read_alias()  # verifies: whole, consistent, pointing at an intact record
    assert alias["run_id"] in ids
    assert len(alias["history"]) == min(rounds * workers, registry.KEEP_HISTORY)  # no update lost
    assert not list(registry.registry_dir().glob(".tmp-*"))


EVAL = EvaluateConfig(bootstrap=200)


@pytest.mark.parametrize(
    "candidate_right, production_right, promote, why",
    [
        (70, 70, True, "not worse"),
        (80, 70, True, "not worse"),
        (69, 70, True, "within the margin"),  # one sentence worse in 100: within 0.01
        (65, 70, False, "worse by more than the margin"),
    ],
)
def test_judge_rule(candidate_right, production_right, promote, why):
    labels = np.array(["a"] * 100, dtype=object)
    candidate = np.array(["a"] * candidate_right + ["b"] * (100 - candidate_right), dtype=object)
    production = np.array(["a"] * production_right + ["b"] * (100 - production_right), dtype=object)
    result = promotion.judge(labels, candidate, production, PromotionConfig(), EVAL)
    assert result["promote"] is promote and why in result["why"]
    assert result["accuracy_gain"] == pytest.approx((candidate_right - production_right) / 100)


def test_judge_refuses_a_significantly_worse_candidate_within_the_margin():
    labels = np.array(["a"] * 400, dtype=object)
    production = labels.copy()
    candidate = np.array(["a"] * 392 + ["b"] * 8, dtype=object)  # 2 points worse, p = 0.008
    loose = PromotionConfig(margin=0.05, alpha=0.05)
    result = promotion.judge(labels, candidate, production, loose, EVAL)
    assert not result["promote"] and "significantly worse" in result["why"] and result["mcnemar_p"] < 0.05
    assert promotion.judge(labels, candidate, production, PromotionConfig(margin=0.05, alpha=0.001), EVAL)["promote"]


def served_run(run_id: str, model_bytes: str, config: dict | None = None, **files) -> dict:
    """A run record whose refs list the files predict loads, with these hashes."""
    served = {"pretrain": "vectors.parquet", "vectorize": "components.parquet", "train": "pretrained.skops"}
    refs = {
        stage: {"sha256": f"{stage}-{run_id}", "files": {name: files.get(stage, model_bytes), "other": run_id}}
        for stage, name in served.items()
    }
    record = {"flow_run_id": run_id, "kind": "train", "config": config or {"preprocess": {}, "vectorize": {}}}
    return {**record, "refs": {"ingest": {"sha256": "d" * 64}, **refs}}


def test_a_model_is_the_files_predict_loads_and_their_settings():
    same = registry.model_of(served_run("a", "x")), registry.model_of(served_run("b", "x"))
    assert same[0] == same[1]  # other files and run ids do not count
    assert registry.model_of(served_run("c", "x", train="y")) != same[0]
    assert registry.model_of(served_run("d", "x", pretrain="y")) != same[0]
    other = served_run("e", "x", {"preprocess": {"lowercase": False}, "vectorize": {}})
    assert registry.model_of(other) != same[0]


def test_runs_that_reuse_a_model_are_one_version_promoted_once(data_dir):
    fake_run("run-a", model="m1")
    fake_run("run-b", model="m2")
    fake_run("run-c", model="m1")  # a cached re-run of run-a's model
    first = registry.promote("run-a")
    assert registry.promote("run-c", reason="the same model") == first  # nothing moved, no history
    assert len(registry.read_alias()["history"]) == 1
    runs.update_run("run-c", promotion={"decision": "unchanged"})
    versions, _ = registry.versions()
    assert [(v["run_id"], v["runs"]) for v in versions] == [("run-a", ["run-a", "run-c"]), ("run-b", ["run-b"])]
    assert versions[0]["aliases"] == ["production"] and versions[0]["model"] == "m1"
    registry.promote("run-b")
    fake_run("run-d", model="m2")
    alias = registry.promote("run-d")  # run-b's model: still run-b
    assert alias["run_id"] == "run-b" and [p["run_id"] for p in alias["previous"]] == ["run-a"]
    assert registry.rollback()["run_id"] == "run-a"


def test_the_gate_leaves_production_alone_when_it_already_serves_the_candidate(data_dir):
    fake_run("run-a", model="m1")
    assert promotion.gate("run-a", by="night 1")["decision"] == "promoted"
    fake_run("run-b", model="m1")  # the next night, every stage cached
    decision = promotion.gate("run-b", by="night 2")
    assert decision["decision"] == "unchanged" and "(run run-a made the same model)" in decision["message"]
    assert "nothing promoted" in decision["message"]
    alias = registry.read_alias()
    assert alias["run_id"] == "run-a" and len(alias["history"]) == 1
    assert runs.read_run("run-b")["promotion"]["decision"] == "unchanged"


def test_a_lost_alias_is_refused_not_replaced_by_the_latest_run(data_dir):
    fake_run("run-a")
    record, note = registry.resolve("production")  # nothing ever promoted: the latest run, said so
    assert record["flow_run_id"] == "run-a" and "no production model yet" in note
    registry.promote("run-a")
    fake_run("run-b")
    registry.alias_path().unlink()  # deleted by hand after a promotion
    with pytest.raises(UserError, match=r"production.json is missing, but a model was promoted before.*promote"):
        registry.resolve("production")
    gated = fake_run("run-c")
    runs.write_run({**gated, "promotion": {"decision": "promoted"}})
    with pytest.raises(UserError, match="run run-c was promoted: re-point the alias with `fewlabel promote run-c`"):
        registry.resolve("production")
    assert registry.resolve("latest")[0]["flow_run_id"] == "run-c"
