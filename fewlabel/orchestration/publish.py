"""Publishing a finished run: its record in the data folder and its report, tables, lineage and plot
as Prefect artifacts on the flow run's page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fewlabel import catalog, classifiers, report, runs, store


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
    """Curve table and the markdown report with its plot, as Prefect artifacts. The plot is embedded in
    the report (a data URL, rendered as the picture) rather than an image artifact, whose page would
    print the whole data URL as text."""
    import base64

    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    url = "data:image/png;base64," + base64.b64encode(png).decode()
    create_table_artifact(table=summary["curve"], key="fewlabel-curve", description="Learning curve summary")
    create_markdown_artifact(
        markdown=report.curve_markdown(summary) + f"\n![learning curve]({url})\n",
        key="fewlabel-curve-report",
        description="fewlabel learning curve",
    )


def publish_lineage(record: dict) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(
        markdown=report.lineage_markdown(record),
        key="fewlabel-lineage",
        description="Inputs, config, code version, artifact hashes and counts of this run",
    )


def _started(flow_run_id: str) -> dict:
    """What the run recorded when it started (its process, tags, start time), if it did."""
    try:
        record = runs.read_record(flow_run_id)
    except Exception:  # noqa: BLE001 - a run started outside tracked(): nothing to keep
        return {}
    return {key: record[key] for key in ("started", "owner", "tags") if key in record}


def finish(
    config, refs: dict[str, Any], states: dict[str, str], flow_run_id: str, items: dict[str, list[dict]] | None = None
) -> dict:
    """Record a finished training run and publish its report; returns the run summary.

    ``items`` lists, per mapped stage, each item's state (which shards were reused).
    """
    items = items or {}
    refs = {stage: ref for stage, ref in refs.items() if ref != []}  # a mapped stage with nothing to map
    metrics = store.read_json(refs["evaluate"], catalog.METRICS)
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "metrics": {m: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for m, v in metrics["methods"].items()},
        "artifacts": runs.each_ref(refs, lambda r: str(store.data_dir() / r["path"])),
        "report": str(store.artifact_path(refs["evaluate"], catalog.REPORT)),
        "stats": runs.each_ref(refs, lambda r: r["stats"]),
        "metrics_detail": metrics,
        "classifier": classifiers.title(config.classifier.estimator.kind),
        "shards": items.get("shard", []),
    }
    record = {
        **_started(flow_run_id),
        **summary,
        "status": "completed",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": "train",
        "config": config.model_dump(mode="json"),
        "refs": refs,
        "software": runs.software_version(),
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
    curve = store.read_json(summary_ref, catalog.SUMMARY_JSON)
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "curve": curve,
        "artifacts": runs.each_ref(refs, lambda r: str(store.data_dir() / r["path"])),
        "plot": str(store.artifact_path(summary_ref, catalog.CURVE_PLOT)),
        "table": str(store.artifact_path(summary_ref, catalog.CURVE)),
        "skipped": summary_ref["stats"]["skipped"],
        "pseudo_kept_draws": summary_ref["stats"].get("pseudo_kept_draws", {}),
        "confidence": config.curve.confidence,
        "points": (items or {}).get("curve", []),
    }
    runs.write_run(
        {
            **_started(flow_run_id),
            **summary,
            "status": "completed",
            "kind": "curve",
            "config": config.model_dump(mode="json"),
            "refs": refs,
        },
        latest=False,
    )
    publish_curve(summary, store.read_bytes(summary_ref, catalog.CURVE_PLOT))
    return summary


def publish_promotion(decision: dict, tag_runs: list[str]) -> None:
    """The gate's decision as a markdown artifact on the current run, and a tag (``promoted``,
    ``not-promoted`` for kept or refused, ``unchanged`` when production already serves the model) on
    the current run and on ``tag_runs`` (the candidate's training run, the nightly run): a refused
    promotion does not fail a run, it marks it."""
    from fewlabel.promotion import PROMOTED, UNCHANGED, markdown

    publish_markdown(markdown(decision), "fewlabel-promotion", decision["message"])
    tag = {PROMOTED: "promoted", UNCHANGED: "unchanged"}.get(decision["decision"], "not-promoted")
    tag_flow_runs([tag], tag_runs)


def tag_flow_runs(tags: list[str], flow_run_ids: list[str]) -> None:
    """Add ``tags`` to the current flow run and to ``flow_run_ids`` (best effort: a tag is a label)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    from fewlabel.orchestration.progress import run_logger

    ids = dict.fromkeys(str(i) for i in [flow_run.id, *flow_run_ids] if i)
    try:
        with get_client(sync_client=True) as client:
            for run_id in ids:
                current = client.read_flow_run(UUID(run_id)).tags or []
                client.update_flow_run(UUID(run_id), tags=sorted(set(current) | set(tags)))
    except Exception as exc:  # noqa: BLE001 - tags are informative; the decision is in the record
        run_logger().warning("could not tag flow runs %s: %s", ", ".join(ids), exc)


def publish_markdown(text: str, key: str, description: str, once: bool = False) -> None:
    """A markdown artifact on the current run; with ``once``, not if the run already has one under
    ``key`` (a retried run, whose first attempt published it)."""
    from prefect.artifacts import create_markdown_artifact

    if once and has_artifact(key):
        return
    create_markdown_artifact(markdown=text, key=key, description=description[:500])


def has_artifact(key: str) -> bool:
    """Whether the current flow run has an artifact under ``key``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
    from prefect.runtime import flow_run

    mine = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]), key=ArtifactFilterKey(any_=[key]))
    with get_client(sync_client=True) as client:
        return bool(client.read_artifacts(artifact_filter=mine, limit=1))


def finish_simulation(config, refs: dict[str, Any], states: dict[str, str], flow_run_id: str) -> dict:
    """Record a simulation run and publish its table, markdown table and plot as artifacts."""
    import base64

    from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_table_artifact

    refs = {stage: ref for stage, ref in refs.items() if ref != []}
    ref = refs["simulate-report"]
    summary = store.read_json(ref, catalog.SUMMARY_JSON)
    table = store.read_bytes(ref, catalog.SIMULATION_TABLE).decode()
    result = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "summary": summary,
        "table_md": table,
        "plot": str(store.artifact_path(ref, catalog.SIMULATION_PLOT)),
        "table": str(store.artifact_path(ref, catalog.SIMULATION)),
    }
    runs.write_run({**result, "kind": "simulate", "config": config.model_dump(mode="json"), "refs": refs}, latest=False)
    url = "data:image/png;base64," + base64.b64encode(store.read_bytes(ref, catalog.SIMULATION_PLOT)).decode()
    create_table_artifact(table=summary, key="fewlabel-simulation", description="Accuracy per strategy and round")
    create_markdown_artifact(
        markdown=table + f"\n![simulation]({url})\n",
        key="fewlabel-simulation-report",
        description="Labeling simulation",
    )
    create_image_artifact(image_url=url, key="fewlabel-simulation-plot", description="Accuracy against labels used")
    return result


def publish_suggestions(result: dict) -> None:
    """The suggested sentences as a table artifact."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        table=[{k: r[k] for k in ("text", "guess", "confidence", "origin", "row")} for r in result["rows"]],
        key="fewlabel-suggestions",
        description=f"{result['n']} sentences to label ({result['strategy']}) for data set "
        f"{result.get('dataset', {}).get('id')}; CSV: {result['suggestions']}",
    )
