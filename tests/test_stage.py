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


def test_a_spec_is_in_its_stage_key_field_by_field():
    """A curve point's and a simulation run's key hash their spec whole: the same spec, the same key;
    any one field changed, another key. Settings the item does not use are not in the spec."""
    from fewlabel.config import Config, load_config
    from fewlabel.specs import CurvePoint, SimulationRun

    ref = {"stage": "vectorize", "sha256": "ab" * 32, "key": "k", "path": "p", "files": {}, "stats": {}}
    config = Config()
    specs = {
        "curve": (
            CurvePoint.of(2, config),
            {
                "labels_per_class": "all",
                "classifier": config.classifier.model_copy(update={"cv_folds": 3}),
                "word2vec": config.word2vec.model_copy(update={"vector_size": 50}),
                "draws": 3,
                "seed": 1,
                "tfidf_C": 0.5,
                "split": 1,
                "spreading": True,
            },
        ),
        "simulate": (
            SimulationRun.of("random", 0, config),
            {
                "strategy": "margin",
                "seed": 1,
                "start": 3,
                "step": 5,
                "stop": 32,
                "classifier": config.classifier.model_copy(update={"pseudo_documents": 0.0}),
            },
        ),
    }
    for stage, (spec, changes) in specs.items():
        assert set(changes) == set(type(spec).model_fields)  # every field is tried

        def key(spec, stage=stage):
            return machinery.stage_key(stage, f"fewlabel.tasks.{stage}", {"features": ref, "spec": spec}, None)

        assert key(spec) == key(type(spec).model_validate(spec.model_dump()))  # an identical spec
        others = {key(spec.model_copy(update={name: value})) for name, value in changes.items()}
        assert len(others) == len(changes) and key(spec) not in others
    unused = load_config(
        None, ["curve.confidence=0.8", "curve.labels_per_class=[2, 4, 8]", "curve.splits=3", "selection.seeds=3"]
    )
    unused = unused.model_copy(update={"selection": unused.selection.model_copy(update={"confidence": 0.8})})
    assert CurvePoint.of(2, unused) == CurvePoint.of(2, config)
    assert SimulationRun.of("random", 0, unused) == SimulationRun.of("random", 0, config)


def test_mapped_stages_name_their_task_runs_by_item(monkeypatch):
    """The Prefect UI's task-run names of curve points and simulation runs: ``curve:split=0,n=2``,
    ``simulate:margin/3``."""
    from prefect.runtime import task_run

    from fewlabel.config import Config
    from fewlabel.specs import CurvePoint, SimulationRun
    from fewlabel.tasks.curve import curve_point
    from fewlabel.tasks.simulate import simulate

    monkeypatch.setattr(task_run, "parameters", {"spec": CurvePoint.of(2, Config())}, raising=False)
    assert curve_point.task_run_name() == "curve:split=0,n=2"
    monkeypatch.setattr(task_run, "parameters", {"spec": SimulationRun.of("margin", 3, Config())}, raising=False)
    assert simulate.task_run_name() == "simulate:margin/3"
