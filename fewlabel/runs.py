"""Run records: what each training run used and produced, for lineage and for `fewlabel predict`."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

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


def code_version() -> dict:
    """fewlabel's version and, in a git checkout, the commit (with a flag if files were modified)."""
    import subprocess

    from fewlabel import __version__

    here = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"fewlabel": __version__, "git_commit": commit, "git_modified": dirty}


def each_ref(refs: dict[str, Any], fn) -> dict[str, Any]:
    """``fn(ref)`` for every Ref of a run's refs, keeping the shape (a mapped stage holds a list)."""
    return {stage: [fn(r) for r in ref] if isinstance(ref, list) else fn(ref) for stage, ref in refs.items()}


def _lineage(ref: store.Ref) -> dict:
    origin = ref.get("lineage") or {}
    return {"path": ref["path"], "sha256": ref["sha256"], "files": ref["files"], "code": origin.get("code"),
            "inputs": origin.get("params"), "source_files": origin.get("inputs"), "stats": ref["stats"]}


def lineage_of(refs: dict[str, Any]) -> dict:
    """Per stage (per shard of a mapped stage): artifact path and hash, what it was computed from,
    and its row counts."""
    return each_ref(refs, _lineage)


def finish(config, refs: dict[str, Any], states: dict[str, str], flow_run_id: str,
           items: dict[str, list[dict]] | None = None) -> dict:
    """Record a finished training run and publish its report; returns the run summary.

    ``items`` lists, per mapped stage, each item's state (which shards were reused).
    """
    items = items or {}
    refs = {stage: ref for stage, ref in refs.items() if ref != []}  # a mapped stage with nothing to map
    from fewlabel import report

    metrics = store.read_json(refs["evaluate"], "metrics.json")
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "metrics": {m: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for m, v in metrics["methods"].items()},
        "artifacts": each_ref(refs, lambda r: str(store.data_dir() / r["path"])),
        "report": str(store.artifact_path(refs["evaluate"], "report.md")),
        "stats": each_ref(refs, lambda r: r["stats"]),
        "metrics_detail": metrics,
        "shards": items.get("shard", []),
    }
    record = {**summary, "kind": "train", "config": config.model_dump(mode="json"), "refs": refs,
              "code_version": code_version(), "lineage": lineage_of(refs)}
    summary["run_record"] = str(write_run(record))
    report.publish(summary, metrics)
    report.publish_lineage(record)
    return summary


def finish_curve(config, refs: dict[str, store.Ref], states: dict[str, str], flow_run_id: str) -> dict:
    """Record a learning-curve run and publish its table, report and plot."""
    from fewlabel import report

    refs = {stage: ref for stage, ref in refs.items() if ref != []}
    summary_ref = refs["curve-report"]
    curve = store.read_json(summary_ref, "summary.json")
    summary = {
        "flow_run_id": flow_run_id,
        "stages": states,
        "curve": curve,
        "artifacts": each_ref(refs, lambda r: str(store.data_dir() / r["path"])),
        "plot": str(store.artifact_path(summary_ref, "curve.png")),
        "table": str(store.artifact_path(summary_ref, "curve.parquet")),
        "skipped": summary_ref["stats"]["skipped"],
    }
    write_run({**summary, "kind": "curve", "config": config.model_dump(mode="json"), "refs": refs},
              latest=False)
    report.publish_curve(summary, store.read_bytes(summary_ref, "curve.png"))
    return summary


def collect_garbage(keep: int, dry_run: bool = False, stale_after: float = 3600.0) -> dict:
    """Remove artifacts that none of the ``keep`` most recent runs (nor ``latest``) references.

    Also removes older run records, leftovers of interrupted writes (``.tmp-``/``.trash-`` folders
    older than ``stale_after`` seconds) and Prefect cache records whose artifact is gone.
    """
    import shutil
    import time

    if keep < 1:
        raise UserError(f"--keep {keep}: keep at least 1 run")
    folder = runs_dir()
    records = sorted((p for p in folder.glob("*.json") if p.name != "latest.json"),
                     key=lambda p: p.stat().st_mtime, reverse=True) if folder.exists() else []
    kept, dropped = records[:keep], records[keep:]
    referenced = set()
    for path in [*kept, folder / "latest.json"]:
        if path.exists():
            refs = json.loads(path.read_text(encoding="utf-8"))["refs"]
            for paths in each_ref(refs, lambda r: r["path"]).values():
                referenced |= set(paths) if isinstance(paths, list) else {paths}
    root, now, doomed = store.data_dir(), time.time(), list(dropped)
    for layer in sorted(set(store.LAYERS.values())):
        for item in sorted((root / layer).glob("*")) if (root / layer).is_dir() else []:
            if not item.is_dir():
                continue
            if item.name.startswith((".tmp-", ".trash-")):
                if now - item.stat().st_mtime > stale_after:
                    doomed.append(item)
            elif str(item.relative_to(root)) not in referenced:
                doomed.append(item)
    size = sum(f.stat().st_size for d in doomed for f in ([d] if d.is_file() else d.rglob("*")) if f.is_file())
    if not dry_run:
        for item in doomed:
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)
        _forget_missing_records()
    return {"paths": [str(p) for p in doomed], "bytes": size, "kept_runs": len(kept)}


def _forget_missing_records() -> None:
    """Drop Prefect cache records of fewlabel stages whose artifact folder no longer exists."""
    from prefect.settings import get_current_settings

    storage = Path(get_current_settings().results.local_storage_path)
    for record in storage.glob("fewlabel-*") if storage.exists() else []:
        stage = record.name[len("fewlabel-"):].rsplit("-", 1)[0]
        if stage in store.LAYERS and not store.stage_dir(stage, record.name).exists():
            record.unlink(missing_ok=True)
