"""Run records: what each training run used and produced, for lineage and for `fewlabel predict`."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from fewlabel import store
from fewlabel.errors import UserError


def runs_dir() -> Path:
    return store.data_dir() / "runs"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_run(record: dict, latest: bool = True) -> Path:
    """Save ``runs/<flow_run_id>.json`` and (for training runs) point ``runs/latest.json`` at it."""
    folder = runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    path = folder / f"{record['flow_run_id']}.json"
    _atomic_write(path, text)
    if latest:
        _atomic_write(folder / "latest.json", text)
    return path


def read_run(run: str = "latest") -> dict:
    """A run record by flow-run id, 'latest', or path to a record file."""
    path = Path(run) if run.endswith(".json") else runs_dir() / f"{run}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"run record {path} not found: train first with `fewlabel run`, or pass --run") from None
    except ValueError as exc:
        raise UserError(f"run record {path} is not valid JSON ({exc}); pass another --run") from None


def finish(config, refs: dict[str, store.Ref], states: dict[str, str], flow_run_id: str) -> dict:
    """Record a finished training run and publish its report; returns the run summary."""
    from fewlabel import report

    metrics = store.read_json(refs["evaluate"], "metrics.json")
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "metrics": {m: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for m, v in metrics["methods"].items()},
        "artifacts": {s: str(store.data_dir() / r["path"]) for s, r in refs.items()},
        "report": str(store.artifact_path(refs["evaluate"], "report.md")),
        "stats": {s: r["stats"] for s, r in refs.items()},
        "metrics_detail": metrics,
    }
    record = {**summary, "config": config.model_dump(mode="json"), "refs": refs}
    summary["run_record"] = str(write_run(record))
    report.publish(summary, metrics)
    return summary


def finish_curve(config, refs: dict[str, store.Ref], states: dict[str, str], flow_run_id: str) -> dict:
    """Record a learning-curve run and publish its table, report and plot."""
    from fewlabel import report

    summary_ref = refs["curve-report"]
    curve = store.read_json(summary_ref, "summary.json")
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "curve": curve,
        "artifacts": {s: str(store.data_dir() / r["path"]) for s, r in refs.items()},
        "plot": str(store.artifact_path(summary_ref, "curve.png")),
        "table": str(store.artifact_path(summary_ref, "curve.parquet")),
        "skipped": summary_ref["stats"]["skipped"],
    }
    write_run({**summary, "kind": "curve", "config": config.model_dump(mode="json"), "refs": refs},
              latest=False)
    report.publish_curve(summary, store.read_bytes(summary_ref, "curve.png"))
    return summary
