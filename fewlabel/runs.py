"""Run records: what each run used and produced, for lineage, `fewlabel predict` and `fewlabel retry`.

A run writes ``runs/<flow_run_id>.json`` when it starts (status ``running``, its config, and the
process that owns it), replaces it when it ends (``completed`` with its artifacts and lineage, or
``failed`` with the error), and a later command marks it ``crashed`` if its process died first.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from fewlabel import store
from fewlabel.errors import UserError


def runs_dir() -> Path:
    return store.data_dir() / "runs"


def write_run(record: dict, latest: bool = True) -> Path:
    """Save ``runs/<flow_run_id>.json`` and (for training runs) point ``runs/latest.json`` at it."""
    folder = runs_dir()  # atomic_write makes it, and turns a full or read-only data folder into one line
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    path = folder / f"{record['flow_run_id']}.json"
    store.atomic_write(path, text)
    if latest:
        store.atomic_write(folder / "latest.json", text)
    return path


def update_run(run_id: str, **fields: Any) -> Path:
    """Add ``fields`` to the record of run ``run_id`` (and to ``latest.json`` if it is that run)."""
    record = {**read_record(run_id), **fields}
    path = runs_dir() / f"{run_id}.json"
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    store.atomic_write(path, text)
    latest = runs_dir() / "latest.json"
    try:
        is_latest = json.loads(latest.read_text(encoding="utf-8")).get("flow_run_id") == run_id
    except (OSError, ValueError):
        is_latest = False
    if is_latest:
        store.atomic_write(latest, text)
    return path


def read_record(run: str) -> dict:
    """A run record, finished or not, by flow-run id or path to a record file."""
    path = Path(run) if run.endswith(".json") else runs_dir() / f"{run}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"run record {path} not found: give --run latest, production, a flow run id or a record file "
            f"(see {runs_dir()}), or train first with `fewlabel run`"
        ) from None
    except ValueError as exc:
        raise UserError(f"run record {path} is not valid JSON ({exc}); pass another --run") from None


def read_run(run: str = "latest") -> dict:
    """A finished training run's record by flow-run id, 'latest', or path to a record file."""
    record = read_record(run)
    if record.get("status", "completed") != "completed" or "refs" not in record:
        raise UserError(
            f"run {record.get('flow_run_id', run)} did not finish ({record.get('status', 'no artifacts')}): "
            f"retry it with `fewlabel retry {record.get('flow_run_id', run)}`, or pass another --run"
        )
    return record


def owner() -> dict:
    """The process running this code: enough to tell later whether it is still alive."""
    return {"host": store.HOST, "pid": os.getpid(), "since": _start_ticks(os.getpid())}


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), to tell it from a later
    process that reuses its number; None where /proc is not there."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def owner_alive(who: dict) -> bool:
    """False only when ``who`` ran on this machine and that process is gone (or its number reused)."""
    if who.get("host") != store.HOST:
        return True  # another machine's process: not ours to judge
    pid = int(who.get("pid", 0))
    return store.process_alive(pid) and _start_ticks(pid) == who.get("since")


def start(flow_run_id: str, kind: str, config: dict, tags: list[str]) -> Path:
    """Record a run that is starting: its config (what `fewlabel retry` re-runs) and its process."""
    return write_run(
        {
            "flow_run_id": flow_run_id,
            "kind": kind,
            "status": "running",
            "config": config,
            "tags": tags,
            "started": time.time(),
            "owner": owner(),
        },
        latest=False,
    )


def end(flow_run_id: str, status: str, error: str) -> Path:
    """Mark a started run ``failed`` or ``crashed``, with what went wrong."""
    record = read_record(flow_run_id)
    return write_run({**record, "status": status, "error": error, "ended": time.time()}, latest=False)


def records() -> list[dict]:
    """Every run record, the most recently started first."""
    found = []
    for path in runs_dir().glob("*.json") if runs_dir().exists() else []:
        if path.name == "latest.json":
            continue
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda r: r.get("started", 0), reverse=True)


def records_running() -> list[dict]:
    """Records of runs still running: ``running`` and their process alive (or not ours to judge)."""
    return [r for r in records() if r.get("status") == "running" and owner_alive(r.get("owner", {}))]


def orphans() -> list[dict]:
    """Records still ``running`` whose process is gone: runs that were killed."""
    return [r for r in records() if r.get("status") == "running" and not owner_alive(r.get("owner", {}))]


def software_version() -> dict:
    """fewlabel's version and, in a git checkout, the commit (with a flag if files were modified)."""
    import subprocess

    from fewlabel import __version__

    here = Path(__file__).resolve().parent.parent
    try:
        commit = (
            subprocess.run(
                ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or None
        )
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"fewlabel": __version__, "git_commit": commit, "git_modified": dirty}


def each_ref(refs: dict[str, Any], fn) -> dict[str, Any]:
    """``fn(ref)`` for every Ref of a run's refs, keeping the shape (a mapped stage holds a list)."""
    return {stage: [fn(r) for r in ref] if isinstance(ref, list) else fn(ref) for stage, ref in refs.items()}


def _lineage(ref: store.Ref) -> dict:
    origin = ref.get("lineage") or {}
    return {
        "path": ref["path"],
        "sha256": ref["sha256"],
        "files": ref["files"],
        "code": origin.get("code"),
        "inputs": origin.get("params"),
        "source_files": origin.get("inputs"),
        "stats": ref["stats"],
    }


def lineage_of(refs: dict[str, Any]) -> dict:
    """Per stage (per shard of a mapped stage): artifact path and hash, what it was computed from,
    and its row counts."""
    return each_ref(refs, _lineage)


def collect_garbage(
    keep: int, dry_run: bool = False, stale_after: float = 3600.0, pinned: tuple[str, ...] = ()
) -> dict:
    """Remove artifacts that none of the ``keep`` most recent runs (nor ``latest``, nor the ``pinned``
    run ids: the models an alias points at or can roll back to) references.

    Also removes older run records and leftovers of interrupted writes (``.tmp-``/``.trash-``
    folders older than ``stale_after`` seconds); the caller then drops the cache records whose
    artifact is gone.

    A run still running (its record says so and its process is alive, or on another machine) is
    never touched: its record is neither listed nor removed, and since the artifacts it has made or
    will reuse are known only when it ends, no artifact and no leftover is removed while it runs
    (``running`` lists those runs; run gc again when they end).
    """
    import shutil
    import time

    if keep < 1:
        raise UserError(f"--keep {keep}: keep at least 1 run")
    folder = runs_dir()
    records = (
        sorted(
            (p for p in folder.glob("*.json") if p.name != "latest.json"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        if folder.exists()
        else []
    )
    running = [r["flow_run_id"] for r in records_running()]
    records = [p for p in records if p.stem not in running]
    kept, dropped = records[:keep], records[keep:]
    recent = len(kept)
    kept += [p for p in dropped if p.stem in pinned]
    dropped = [p for p in dropped if p.stem not in pinned]
    referenced = set()
    for path in [*kept, folder / "latest.json"]:
        if path.exists():
            refs = json.loads(path.read_text(encoding="utf-8")).get("refs", {})
            for paths in each_ref(refs, lambda r: r["path"]).values():
                referenced |= set(paths) if isinstance(paths, list) else {paths}
    root, now, doomed = store.data_dir(), time.time(), list(dropped)
    for layer in sorted(set(store.LAYERS.values())) if not running else []:
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
    return {"paths": [str(p) for p in doomed], "bytes": size, "kept_runs": recent, "running": running}
