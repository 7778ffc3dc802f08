"""Publishing a finished run: its record in the data folder and its report, tables, lineage and plot
as Prefect artifacts on the flow run's page."""

from __future__ import annotations

from typing import Any

from fewlabel import report, runs, store


def publish(summary: dict, metrics: dict) -> None:
    """Metrics table and run report as Prefect artifacts (shown on the flow run's page)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_table_artifact(
        table=report.metrics_rows(metrics),
        key="fewlabel-metrics",
        description="Test metrics with and without pretraining",
    )
    create_markdown_artifact(
        markdown=report.run_markdown(summary, metrics), key="fewlabel-report", description="fewlabel run report"
    )


def publish_curve(summary: dict, png: bytes) -> None:
    """Curve table, markdown summary and plot as Prefect artifacts."""
    import base64

    from prefect.artifacts import (
        create_image_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    url = "data:image/png;base64," + base64.b64encode(png).decode()
    create_table_artifact(table=summary["curve"], key="fewlabel-curve", description="Learning curve summary")
    create_markdown_artifact(
        markdown=report.curve_markdown(summary) + f"\n![learning curve]({url})\n",
        key="fewlabel-curve-report",
        description="fewlabel learning curve",
    )
    create_image_artifact(image_url=url, key="fewlabel-curve-plot", description="Accuracy against labels per class")


def publish_lineage(record: dict) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(
        markdown=report.lineage_markdown(record),
        key="fewlabel-lineage",
        description="Inputs, config, code version, artifact hashes and counts of this run",
    )


def finish(
    config, refs: dict[str, Any], states: dict[str, str], flow_run_id: str, items: dict[str, list[dict]] | None = None
) -> dict:
    """Record a finished training run and publish its report; returns the run summary.

    ``items`` lists, per mapped stage, each item's state (which shards were reused).
    """
    items = items or {}
    refs = {stage: ref for stage, ref in refs.items() if ref != []}  # a mapped stage with nothing to map
    metrics = store.read_json(refs["evaluate"], "metrics.json")
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "metrics": {m: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for m, v in metrics["methods"].items()},
        "artifacts": runs.each_ref(refs, lambda r: str(store.data_dir() / r["path"])),
        "report": str(store.artifact_path(refs["evaluate"], "report.md")),
        "stats": runs.each_ref(refs, lambda r: r["stats"]),
        "metrics_detail": metrics,
        "shards": items.get("shard", []),
    }
    record = {
        **summary,
        "kind": "train",
        "config": config.model_dump(mode="json"),
        "refs": refs,
        "code_version": runs.code_version(),
        "lineage": runs.lineage_of(refs),
    }
    summary["run_record"] = str(runs.write_run(record))
    publish(summary, metrics)
    publish_lineage(record)
    return summary


def finish_curve(
    config,
    refs: dict[str, store.Ref],
    states: dict[str, str],
    flow_run_id: str,
    items: dict[str, list[dict]] | None = None,
) -> dict:
    """Record a learning-curve run and publish its table, report and plot; ``items`` has each
    point's state (which were reused)."""
    refs = {stage: ref for stage, ref in refs.items() if ref != []}
    summary_ref = refs["curve-report"]
    curve = store.read_json(summary_ref, "summary.json")
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "curve": curve,
        "artifacts": runs.each_ref(refs, lambda r: str(store.data_dir() / r["path"])),
        "plot": str(store.artifact_path(summary_ref, "curve.png")),
        "table": str(store.artifact_path(summary_ref, "curve.parquet")),
        "skipped": summary_ref["stats"]["skipped"],
        "pseudo_kept_draws": summary_ref["stats"].get("pseudo_kept_draws", {}),
        "confidence": config.curve.confidence,
        "points": (items or {}).get("curve", []),
    }
    runs.write_run({**summary, "kind": "curve", "config": config.model_dump(mode="json"), "refs": refs}, latest=False)
    publish_curve(summary, store.read_bytes(summary_ref, "curve.png"))
    return summary
