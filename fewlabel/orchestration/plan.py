"""`fewlabel plan`: for each stage, would it be cached or run, and why, without running anything.

The plan computes each stage's cache key exactly as the run would (same code, config sections and
input hashes); when a stage would run, it says why by comparing its lineage with the last run's.
A stage downstream of one that will run cannot know its new input hash in advance: it is shown as
running because of that input (if the rebuilt input comes out byte-identical it will in fact be
Cached).
"""

from __future__ import annotations

import inspect

from pydantic import BaseModel

from fewlabel import store
from fewlabel.orchestration.pipeline import Wiring
from fewlabel.orchestration.stage import bind, key_of, lineage


def _changes(section: str, before: dict, now: dict) -> list[str]:
    """Each changed key of a config section, nested sections key by key (``classifier.estimator.alpha``)."""
    changes = []
    for k in sorted(set(before) | set(now)):
        old, new = before.get(k), now.get(k)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changes += _changes(f"{section}.{k}", old, new)
        else:
            changes.append(f"{section}.{k}: {old!r} -> {new!r}")
    return changes


def explain(wiring: Wiring, now: dict, before: dict | None) -> str:
    """Why a stage whose artifact is not on disk would run."""
    if before is None:
        return "no earlier run recorded for this stage"
    reasons = []
    if before.get("code") != now["code"]:
        reasons.append(f"code changed ({wiring.task.fn.__module__.replace('.', '/')}.py or library versions)")
    for name, value in now["params"].items():
        old = before.get("params", {}).get(name)
        if old == value:
            continue
        if isinstance(value, dict) and "artifact" in value:
            reasons.append(f"input {value['artifact']} changed")
        elif isinstance(value, dict):
            reasons += _changes(wiring.section, old or {}, value)
        else:
            reasons.append(f"{name}: {old!r} -> {value!r}")
    if before.get("inputs") != now["inputs"]:
        changed = sorted(
            set(now["inputs"] or {}) ^ set(before.get("inputs") or {})
            | {
                path
                for path, digest in (now["inputs"] or {}).items()
                if (before.get("inputs") or {}).get(path) != digest
            }
        )
        reasons.append("input files changed: " + ", ".join(changed))
    return "; ".join(reasons) or "artifact missing or damaged on disk"


def plan(pipeline: tuple[Wiring, ...], config: BaseModel, last_run: dict | None) -> list[dict]:
    """One row per stage (per shard of a mapped stage): {"stage", "action": "cached" | "run", "why", "artifact"}."""
    refs, rows, rerun = {}, [], []
    previous = (last_run or {}).get("refs", {})
    for wiring in pipeline:
        name = wiring.name
        waiting = [i for i in wiring.inputs if i in rerun]
        if waiting:
            rerun.append(name)
            labels = [f"{name} {item}" for item in wiring.each(config)] if wiring.each else [name]
            rows += [
                {
                    "stage": label,
                    "action": "run",
                    "artifact": None,
                    "why": f"its input {', '.join(waiting)} will be recomputed",
                }
                for label in labels
            ]
            continue
        policy = wiring.task.cache_policy
        found = []
        for item, kwargs in wiring.calls(refs, config).items():
            params = bind(inspect.signature(wiring.task.fn), **kwargs)
            now = lineage(name, policy.module, params, policy.fingerprint)
            key = key_of(now)
            ref = store.load_ref(name, key)
            label = f"{name} {item}" if wiring.each else name
            found.append(ref)
            if ref is not None:
                rows.append(
                    {
                        "stage": label,
                        "action": "cached",
                        "artifact": str(store.stage_dir(name, key)),
                        "why": "an intact artifact for these inputs, config and code is on disk",
                    }
                )
            else:
                rows.append(
                    {
                        "stage": label,
                        "action": "run",
                        "artifact": None,
                        "why": explain(wiring, now, _previous(previous.get(name), item if wiring.each else None)),
                    }
                )
        if any(ref is None for ref in found):
            rerun.append(name)
        else:
            refs[name] = found if wiring.each else found[0]
    return rows


def _previous(recorded, item: str | None) -> dict | None:
    """The last run's lineage of a stage, or of the item of a mapped stage (a shard: its file)."""
    if isinstance(recorded, list):
        recorded = next((r for r in recorded if (r.get("lineage") or {}).get("params", {}).get("path") == item), None)
    return (recorded or {}).get("lineage")
