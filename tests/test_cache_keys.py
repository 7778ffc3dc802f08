"""Cache keys follow what a stage computes: its own code and the core modules it runs, and only the
config keys it uses."""

import pytest

from fewlabel.config import load_config
from fewlabel.flows.curve import curve_flow
from fewlabel.flows.train import train_flow
from fewlabel.orchestration import stage
from fewlabel.report import curve_markdown

from .conftest import TINY, TINY_STAGES

pytestmark = pytest.mark.server  # every test here uses a Prefect server

TRAINING = list(TINY_STAGES)


@pytest.fixture
def edited(monkeypatch):
    """``edit(module)``: every later code version sees ``module``'s source with a change appended, as
    if someone edited a function in it."""

    def edit(module: str) -> None:
        real = stage.module_source

        def source(name: str) -> str:
            return real(name) + ("\n\ndef _edited():\n    return 1\n" if name == module else "")

        monkeypatch.setattr(stage, "module_source", source)
        stage._code_version.cache_clear()

    yield edit
    stage._code_version.cache_clear()


def test_editing_predict_only_code_keeps_every_training_stage_cached(prefect_api, data_dir, tiny_config, edited):
    first = train_flow(tiny_config())
    assert [first["stages"][s] for s in TRAINING] == ["Completed"] * 6
    edited("fewlabel.predictor")  # Classifier and pretrained_featurizer: used by predict only
    again = train_flow(tiny_config())
    assert [again["stages"][s] for s in TRAINING] == ["Cached"] * 6
    edited("fewlabel.metrics")  # the control: code that evaluate runs
    control = train_flow(tiny_config())
    assert [control["stages"][s] for s in TRAINING] == ["Cached"] * 5 + ["Completed"]


@pytest.mark.slow
def test_curve_points_depend_only_on_the_keys_they_use(prefect_api, data_dir):
    base = [*TINY, "curve.draws=2", "classifier.pseudo_min_lines=1"]
    first = curve_flow(load_config(None, [*base, "curve.labels_per_class=[2, 4]"]))
    assert first["stages"]["curve"] == "Completed"
    confidence = curve_flow(load_config(None, [*base, "curve.labels_per_class=[2, 4]", "curve.confidence=0.8"]))
    assert confidence["stages"]["curve"] == "Cached"  # no point recomputes
    assert confidence["stages"]["curve-report"] == "Completed"  # the report does
    assert "80% t-intervals" in curve_markdown(confidence)
    more = curve_flow(load_config(None, [*base, "curve.labels_per_class=[2, 4, 8]"]))
    assert more["stages"]["curve"] == "2 Cached, 1 Completed"
    record = {r["item"]: r["state"] for r in more["points"]}
    assert record == {"2": "Cached", "4": "Cached", "8": "Completed"}
