"""Run records, garbage collection and the reports' wording."""

import json
import os
import time

import pytest

from fewlabel import report, runs, store
from fewlabel.errors import UserError


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
    text = report.metrics_markdown(metrics, "logistic regression")
    assert "90.0% interval" in text and "+20.0 points" in text and "80.0%" in text
    assert "| pretrained Word2Vec + logistic regression | 80.0%" in text  # the configured classifier's title
    curve = {
        "curve": [{"method": "pretrained", "n_per_class": 2, "mean": 0.6, "ci_low": 0.5, "ci_high": 0.7, "draws": 3}],
        "skipped": [],
        "confidence": 0.8,
    }
    assert "80% t-intervals" in report.curve_markdown(curve) and "60.0 [50.0, 70.0]" in report.curve_markdown(curve)


def test_the_curve_report_says_where_tfidf_lr_is_ahead_of_the_pretrained_pipeline():
    def row(method, n, mean):
        return {"method": method, "n_per_class": n, "mean": mean, "ci_low": mean, "ci_high": mean, "draws": 10}

    means = {"pretrained": (0.55, 0.70, 0.80), "tfidf_lr": (0.60, 0.65, 0.81)}
    curve = {
        "curve": [row(m, n, v) for m, values in means.items() for n, v in zip((4, 16, 64), values)],
        "skipped": [],
    }
    text = report.curve_markdown(curve)
    assert "above the pretrained pipeline's** at 4 (+5.0 points), 64 (+1.0 points) labels per class" in text
    behind = {**curve, "curve": [r for r in curve["curve"] if r["n_per_class"] == 16]}
    assert "above the pretrained pipeline" not in report.curve_markdown(behind)
