"""The house: packaging, the one list of stages, the deployments' entrypoints, the stage machinery,
run records and reports, all without a Prefect server."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from fewlabel import report, runs, store
from fewlabel.catalog import CATALOG, TRAINING, check_outputs
from fewlabel.errors import UserError
from fewlabel.orchestration import stage as machinery
from fewlabel.orchestration.runner import task_runner

from .conftest import ROOT


def test_tasks_flows_and_deployments_install_under_fewlabel(tmp_path):
    code = (
        "import importlib.util as u, fewlabel.tasks.train, fewlabel.flows.train, fewlabel.deployments.serve;"
        "print([u.find_spec(n) is None for n in ('tasks', 'flows', 'deployments')])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[True, True, True]"  # no generic top-level packages in site-packages


def test_prefect_yaml_entrypoints_load_from_the_project_folder(monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)
    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    names = set()
    for deployment in spec["deployments"]:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        names.add(flow.name)
    assert names == {
        "fewlabel-train",
        "fewlabel-curve",
        "fewlabel-predict",
        "fewlabel-nightly",
        "fewlabel-suggest",
        "fewlabel-label",
    }


def test_the_catalog_is_the_one_list_of_stages():
    from fewlabel.flows.curve import CURVE
    from fewlabel.flows.train import STAGES

    assert STAGES == TRAINING
    assert {w.name for w in CURVE} <= set(CATALOG)
    assert set(store.LAYERS) == set(CATALOG)
    with pytest.raises(ValueError, match="catalog"):
        machinery.stage("not-a-stage")


def test_a_stage_must_write_exactly_its_declared_files():
    check_outputs("vectorize", {"train.parquet", "test.parquet", "unlabeled.parquet"})  # components optional
    with pytest.raises(RuntimeError, match=r"missing \['test.parquet'\]"):
        check_outputs("vectorize", {"train.parquet", "unlabeled.parquet"})
    with pytest.raises(RuntimeError, match=r"undeclared \['extra.json'\]"):
        check_outputs("curve", {"points.parquet", "extra.json"})


def test_a_key_does_not_depend_on_how_a_stage_was_called():
    import inspect

    def build(out, a, b=2):
        return {}

    signature = inspect.Signature(list(inspect.signature(build).parameters.values())[1:])
    assert machinery.bind(signature, 1) == machinery.bind(signature, a=1, b=2) == {"a": 1, "b": 2}
    keys = {machinery.stage_key("curve", "fewlabel.tasks.curve", params, None) for params in ({"a": 1, "b": 2},)}
    assert len(keys) == 1 and keys.pop().startswith("fewlabel-curve-")
    assert machinery.stage_key("curve", "fewlabel.tasks.curve", {"a": 1, "b": 3}, None) not in keys


def test_the_policy_drops_a_record_whose_artifact_is_gone(data_dir, tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    ctx = SimpleNamespace(task_run=None, result_store=SimpleNamespace(result_storage=SimpleNamespace(basepath=records)))
    policy = machinery.StagePolicy(stage="curve", module="fewlabel.tasks.curve")
    key = policy.compute_key(ctx, {"n": 2}, {})
    (records / key).write_text("{}")  # a record Prefect would trust, with no artifact behind it
    assert policy.compute_key(ctx, {"n": 2}, {}) == key
    assert not (records / key).exists()
    store.materialize("curve", key, lambda out: (out / "points.parquet").write_text("x") and {})
    (records / key).write_text("{}")
    policy.compute_key(ctx, {"n": 2}, {})
    assert (records / key).exists()  # an intact artifact: the record stays


def test_runner_settings_are_checked(monkeypatch):
    monkeypatch.delenv("FEWLABEL_DASK_ADDRESS", raising=False)
    monkeypatch.delenv("FEWLABEL_DASK_WORKERS", raising=False)
    assert task_runner() is None
    with pytest.raises(UserError, match="not both"):
        task_runner("tcp://x:1", 2)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(UserError, match="fewlabel server"):
        task_runner(None, 2)


def test_run_records_round_trip_and_refuse_what_is_not_there(data_dir):
    record = {"flow_run_id": "abc-1", "refs": {}, "kind": "train"}
    path = runs.write_run(record)
    assert json.loads(path.read_text()) == record
    assert runs.read_run("latest") == record == runs.read_run("abc-1")
    runs.write_run({**record, "flow_run_id": "curve-2", "kind": "curve"}, latest=False)
    assert runs.read_run("latest")["flow_run_id"] == "abc-1"  # a curve run is not a model
    with pytest.raises(UserError, match="not found"):
        runs.read_run("missing")
    (data_dir / "runs" / "bad.json").write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        runs.read_run("bad")
    assert not list((data_dir / "runs").glob(".tmp-*"))


def test_gc_removes_only_what_no_kept_run_uses(data_dir):
    kept = store.materialize("curve", "fewlabel-curve-aaa", lambda out: (out / "points.parquet").write_text("1") and {})
    old = store.materialize("curve", "fewlabel-curve-bbb", lambda out: (out / "points.parquet").write_text("2") and {})
    runs.write_run({"flow_run_id": "old", "refs": {"curve": old}})
    runs.write_run({"flow_run_id": "new", "refs": {"curve": kept}})
    (data_dir / "runs" / "old.json").touch()
    import os
    import time

    os.utime(data_dir / "runs" / "old.json", (time.time() - 100, time.time() - 100))
    removed = runs.collect_garbage(keep=1)
    assert str(data_dir / old["path"]) in removed["paths"] and not (data_dir / old["path"]).exists()
    assert (data_dir / kept["path"]).exists() and removed["kept_runs"] == 1


def test_reports_state_the_configured_confidence():
    metrics = {
        "methods": {
            m: {"accuracy": a, "macro_f1": a, "accuracy_ci": [a - 0.1, a + 0.1], "n": 10}
            for m, a in (("pretrained", 0.8), ("no_pretraining", 0.6), ("majority", 0.5))
        },
        "pretraining_vs_none": {"accuracy_gain": 0.2, "ci": [0.05, 0.35], "mcnemar_p": 0.04},
        "confidence": 0.9,
    }
    text = report.metrics_markdown(metrics)
    assert "90.0% interval" in text and "+20.0 points" in text and "80.0%" in text
    curve = {
        "curve": [{"method": "pretrained", "n_per_class": 2, "mean": 0.6, "ci_low": 0.5, "ci_high": 0.7, "draws": 3}],
        "skipped": [],
        "confidence": 0.8,
    }
    assert "80% t-intervals" in report.curve_markdown(curve) and "60.0 [50.0, 70.0]" in report.curve_markdown(curve)


def test_every_module_is_in_a_layer_of_the_contracts():
    contracts = (ROOT / ".importlinter").read_text()
    core = sorted(p.stem for p in (ROOT / "fewlabel").glob("*.py") if p.stem != "__init__")
    assert all(f"fewlabel.{m}" in contracts for m in core if m not in ("cli", "labelcli")), (
        "list new core modules there"
    )
    assert "exhaustive = true" in contracts
    assert Path(ROOT / "data" / "README.md").exists()


def test_wiring_and_cache_keys_load_no_model_library():
    """A cached run, a worker and a deployment only wire flows and compute cache keys: they import no
    scikit-learn, skops, gensim or numba (seconds of start-up per process); a stage loads them when it runs."""
    script = """
import sys
import fewlabel.cli, fewlabel.flows.nightly, fewlabel.flows.curve, fewlabel.flows.simulate
from fewlabel.catalog import CATALOG
from fewlabel.orchestration.stage import code_version, project_imports
from fewlabel.readers import source_files
for module in ("train", "evaluate", "pretrain", "predict", "curve", "simulate", "ingest", "vectorize"):
    code_version(f"fewlabel.tasks.{module}")
assert all(p.exists() for p in source_files("tiny"))
assert "fewlabel.modelio" in project_imports("fewlabel.tasks.train")  # imports in a task's body still count
assert "fewlabel.kernels" in project_imports("fewlabel.tasks.vectorize")  # and in a function of the core
heavy = {m for m in sys.modules if m.split(".")[0] in ("sklearn", "skops", "gensim", "numba") or m == "scipy.stats"}
print(sorted(heavy))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "[]"
