"""The stage machinery without a server: the one list of stages, declared files, cache keys and
records, and the task runner's settings."""

import inspect
from types import SimpleNamespace

import pytest

from fewlabel import store
from fewlabel.catalog import CATALOG, TRAINING, check_outputs
from fewlabel.errors import UserError
from fewlabel.orchestration import stage as machinery
from fewlabel.orchestration.runner import task_runner


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
    """Positional, keyword, defaults given or left out: one call, one key; other values, another key."""

    def build(out, a, b=2):
        return {}

    signature = inspect.Signature(list(inspect.signature(build).parameters.values())[1:])
    calls = [((1,), {}), ((), {"a": 1}), ((1, 2), {}), ((), {"b": 2, "a": 1})]
    keys = {
        machinery.stage_key("curve", "fewlabel.tasks.curve", machinery.bind(signature, *args, **kwargs), None)
        for args, kwargs in calls
    }
    assert len(keys) == 1 and next(iter(keys)).startswith("fewlabel-curve-")
    other = machinery.stage_key("curve", "fewlabel.tasks.curve", machinery.bind(signature, 1, 3), None)
    assert other not in keys
    assert machinery.stage_key("train", "fewlabel.tasks.curve", machinery.bind(signature, 1), None) not in keys


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
