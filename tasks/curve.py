"""Stages curve and curve-report: one cached point of the learning curve per labels-per-class value
(:func:`fewlabel.learning_curve.point_rows`), then the table, summary and plot.

A point receives its input artifacts and its spec (:class:`fewlabel.specs.CurvePoint`: only the
settings it uses, such as draws, seed and the TF-IDF baseline's C), never the list of points or the
report's confidence level: adding a point runs only that point, and changing the confidence
recomputes only the report.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from fewlabel import catalog, classifiers, store
from fewlabel.orchestration.stage import stage
from fewlabel.specs import CurvePoint


def point_args(n: int | str, refs: dict, config) -> dict:
    """The ``curve`` task's keyword arguments for the point of ``n`` labels per class."""
    return {"features": refs["vectorize"], "tokens": refs["preprocess"], "spec": CurvePoint.of(n, config)}


@stage("curve", label=lambda params: f"split={params['spec'].split},n={params['spec'].labels_per_class}")
def curve_point(out: Path, features: store.Ref, tokens: store.Ref, spec: CurvePoint) -> dict:
    """Every draw of every method at one point of the curve (on the test split of data.seed =
    ``spec.split``); writes ``points.parquet``."""
    from fewlabel.learning_curve import point_rows  # scikit-learn loads when the stage runs, not on a cache hit

    table, counts = point_rows(features=features, tokens=tokens, point=spec)
    store.write_table(out, catalog.POINTS, table)
    return counts


def report_args(_, refs: dict, config) -> dict:
    classifier = classifiers.title(config.classifier.estimator.kind)  # how the plot names the methods
    return {"points": refs["curve"], "confidence": config.curve.confidence, "classifier": classifier}


@stage("curve-report")
def curve_report(out: Path, points: list[store.Ref], confidence: float, classifier: str) -> dict:
    """Tidy table, summary (Parquet + JSON), plot (its methods named with the classifier's title)."""
    import pandas as pd

    from fewlabel.learning_curve import plot, summarize, summary_records

    tidy = pd.concat([store.read_table(ref, catalog.POINTS).to_pandas() for ref in points], ignore_index=True)
    summary = summarize(tidy, points[0]["stats"]["classes"], confidence)
    store.write_table(out, catalog.CURVE, pa.Table.from_pandas(tidy, preserve_index=False))
    store.write_table(out, catalog.SUMMARY, pa.Table.from_pandas(summary, preserve_index=False))
    store.write_json(out, catalog.SUMMARY_JSON, summary_records(summary))
    draws = int(tidy["draw"].max()) + 1 if len(tidy) else 0
    plot(
        summary,
        store.output_path(out, catalog.CURVE_PLOT),
        f"fewlabel learning curve ({draws} draws, {confidence:.0%} CI)",
        classifier,
    )
    return {
        "points": sorted(set(tidy["point"])),
        "rows": len(tidy),
        "confidence": confidence,
        "skipped": [ref["stats"]["point"] for ref in points if ref["stats"]["skipped"]],
        "splits": sorted({ref["stats"].get("split", 0) for ref in points}),
        "pseudo_kept_draws": {
            f"{ref['stats'].get('split', 0)}:{ref['stats']['point']}": ref["stats"].get("pseudo_kept_draws", 0)
            for ref in points
        },
    }
