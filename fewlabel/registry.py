"""Model versions and aliases.

A version is a model: what ``predict`` loads (the pretrained vectors, the common component, the
classifier, and the preprocess and vectorize settings), identified by the content hash of those files
and settings (:func:`model_of`). Each training run's record (``runs/<id>.json``) holds one; runs that
produced or reused the same model (a cached re-run, a retried nightly run) are one version, named by
the first run that made it. An
alias (``production``) names one version; it is a small JSON record, ``<data>/registry/<alias>.json``,
replaced atomically (:func:`fewlabel.store.atomic_write`) under a file lock, so two processes moving
it at once never tear or lose an update. The record holds:

- ``run_id`` and ``model_sha256``: the hash of the target run record's config and artifact refs
  (what its predictions depend on; the artifacts' own hashes are checked when they are read);
- ``previous``: the versions it pointed at before, newest last (what ``rollback`` returns to);
- ``history``: every move, newest last: action (promote, gate, rollback), run, from, when, who, why;
- ``checksum``: the hash of the rest of the record.

A record whose checksum, target or model hash does not verify is refused (:class:`AliasRefused`):
nothing predicts with a model nobody promoted.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fewlabel import catalog, runs, store
from fewlabel.errors import UserError

PRODUCTION = "production"
KEEP_PREVIOUS = 20
KEEP_HISTORY = 100


class AliasRefused(UserError):
    """An alias record that does not verify: edited, truncated, or pointing at an altered run record."""


def registry_dir() -> Path:
    return store.data_dir() / "registry"


def alias_path(alias: str = PRODUCTION) -> Path:
    return registry_dir() / f"{alias}.json"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def who() -> str:
    """The user moving an alias by hand (``user@host``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{os.uname().nodename}"


def short(run_id: str | None) -> str:
    return "none" if run_id is None else run_id[:8]


SERVED = {"pretrain": catalog.VECTORS, "vectorize": catalog.COMPONENTS, "train": catalog.MODELS["pretrained"]}
"""The files of a training run that ``predict`` loads, by stage (see :mod:`fewlabel.predictor`)."""


def model_of(record: dict) -> str:
    """A model version's identity: the content hash of the files ``predict`` loads (:data:`SERVED`,
    their SHA-256 from the run's artifact refs) and of the settings it applies them with (the
    ``preprocess`` and ``vectorize`` config sections). Two runs with the same model share it, whatever
    their run ids or other settings. A record whose refs list no files: its train artifact's hash."""
    refs, config = record.get("refs") or {}, record.get("config") or {}
    files = {stage: ((refs.get(stage) or {}).get("files") or {}).get(name) for stage, name in SERVED.items()}
    if files["train"] is None:
        return str((refs.get("train") or {}).get("sha256"))
    settings = {section: config.get(section) for section in ("preprocess", "vectorize")}
    return store.canonical_hash({"files": files, "settings": settings})


def model_hash(record: dict) -> str:
    """What a run's predictions depend on: its config and its artifact refs (with their hashes)."""
    return store.canonical_hash({"config": record["config"], "refs": record["refs"]})


def training_record(run: str) -> dict:
    """The record of a training run (by id, ``latest`` or record path) that holds a model."""
    record = runs.read_run(run)
    if record.get("kind", "train") != "train" or "train" not in record.get("refs", {}):
        raise UserError(f"run {run} is not a training run with a model: give the id of a `fewlabel run`")
    return record


def _checksum(record: dict) -> str:
    return store.canonical_hash({k: v for k, v in record.items() if k != "checksum"})


def _refuse(alias: str, why: str) -> AliasRefused:
    return AliasRefused(
        f"alias {alias} ({alias_path(alias)}) refused: {why}; point it at a run again with "
        f"`fewlabel promote RUN` (`fewlabel models` lists them)"
    )


def read_alias(alias: str = PRODUCTION) -> dict | None:
    """The verified alias record, or None if the alias was never set; :class:`AliasRefused` if it does
    not verify."""
    path = alias_path(alias)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _refuse(alias, f"cannot read it ({exc.strerror or exc})") from None
    try:
        record = json.loads(text)
        run_id, digest, checksum = record["run_id"], record["model_sha256"], record["checksum"]
        if not (isinstance(run_id, str) and runs_id_ok(run_id) and isinstance(record.get("previous"), list)):
            raise ValueError("bad fields")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _refuse(alias, "it is not a valid alias record") from None
    if checksum != _checksum(record):
        raise _refuse(alias, "its content does not match its checksum (edited by hand?)")
    try:
        target = runs.read_run(run_id)
    except UserError:
        raise _refuse(alias, f"the run record of {run_id} is missing or unreadable") from None
    try:
        target_digest = model_hash(target)
    except (KeyError, TypeError):
        target_digest = None
    if target_digest != digest:
        raise _refuse(alias, f"the run record of {run_id} no longer matches the model that was promoted")
    return record


def runs_id_ok(run_id: str) -> bool:
    return bool(run_id) and all(c.isalnum() or c == "-" for c in run_id)


def _entry(action: str, run_id: str, previous: str | None, by: str, reason: str) -> dict:
    return {"action": action, "run_id": run_id, "from": previous, "at": now(), "by": by, "reason": reason}


def _write(alias: str, record: dict) -> dict:
    record = {**record, "alias": alias}
    record["checksum"] = _checksum(record)
    store.atomic_write(alias_path(alias), json.dumps(record, indent=2, sort_keys=True))
    return record


class Transaction:
    """The alias as it is, read under its lock, and the moves that replace it (see :func:`transaction`)."""

    def __init__(self, alias: str, current: dict | None):
        self.alias, self.current = alias, current

    @property
    def run_id(self) -> str | None:
        return None if self.current is None else self.current["run_id"]

    def serves(self, record: dict) -> bool:
        """Whether the alias already names ``record``'s model (that run, or another with the same model)."""
        if self.run_id is None:
            return False
        if self.run_id == record["flow_run_id"]:
            return True
        try:
            return model_of(runs.read_run(self.run_id)) == model_of(record)
        except UserError:
            return False

    def point(self, record: dict, action: str, reason: str, by: str | None = None) -> dict:
        """Point the alias at ``record`` (a training run record), pushing the current target onto
        ``previous``. If it already names that model (:meth:`serves`), nothing moves: a model is
        promoted once, however many runs reused it."""
        if self.serves(record):
            return self.current
        current = self.current or {"previous": [], "history": []}
        previous = list(current["previous"])
        if self.run_id is not None and self.run_id != record["flow_run_id"]:
            previous.append({"run_id": self.run_id, "model_sha256": current["model_sha256"]})
        entry = _entry(action, record["flow_run_id"], self.run_id, by or who(), reason)
        self.current = _write(
            self.alias,
            {
                "run_id": record["flow_run_id"],
                "model_sha256": model_hash(record),
                **{k: entry[k] for k in ("action", "at", "by", "reason")},
                "previous": previous[-KEEP_PREVIOUS:],
                "history": [*current["history"], entry][-KEEP_HISTORY:],
            },
        )
        return self.current

    def rollback(self, reason: str, by: str | None = None) -> dict:
        """Point the alias back at the version before the current one."""
        if self.current is None:
            raise UserError(f"alias {self.alias} was never set: nothing to roll back")
        previous = list(self.current["previous"])
        while previous:
            target = previous.pop()
            try:
                record = runs.read_run(target["run_id"])
            except UserError:
                continue  # its record was removed (cache gc): an older one
            if model_hash(record) != target["model_sha256"]:
                raise _refuse(self.alias, f"the run record of {target['run_id']} was altered since it was promoted")
            if self.serves(record):
                continue  # the model it serves now (named by another run): an earlier one
            entry = _entry("rollback", target["run_id"], self.run_id, by or who(), reason)
            self.current = _write(
                self.alias,
                {
                    "run_id": target["run_id"],
                    "model_sha256": target["model_sha256"],
                    **{k: entry[k] for k in ("action", "at", "by", "reason")},
                    "previous": previous,
                    "history": [*self.current["history"], entry][-KEEP_HISTORY:],
                },
            )
            return self.current
        raise UserError(f"alias {self.alias} has no earlier version to roll back to (it is {self.run_id})")


@contextmanager
def transaction(alias: str = PRODUCTION, replace_refused: bool = False) -> Iterator[Transaction]:
    """Hold the alias's lock; yield it verified (``AliasRefused`` if it does not verify, unless
    ``replace_refused``: then as if it were unset, so a promotion can repair it)."""
    with store.locked(registry_dir() / f".{alias}.lock"):
        try:
            current = read_alias(alias)
        except AliasRefused:
            if not replace_refused:
                raise
            current = None
        yield Transaction(alias, current)


def promote(run: str, reason: str = "", by: str | None = None, alias: str = PRODUCTION) -> dict:
    """Point ``alias`` at a training run by hand (a record that does not verify is replaced)."""
    record = training_record(run)
    with transaction(alias, replace_refused=True) as tx:
        return tx.point(record, "promote", reason, by)


def rollback(reason: str = "", by: str | None = None, alias: str = PRODUCTION) -> dict:
    """Point ``alias`` back at the version it named before."""
    with transaction(alias) as tx:
        return tx.rollback(reason, by)


def resolve(run: str) -> tuple[dict, str | None]:
    """(run record, note) for ``--run``: latest, production, an id or a record path.

    ``production`` with no alias yet falls back to the latest run, with a note saying so; an alias
    that does not verify is refused, never bypassed.
    """
    if run != PRODUCTION:
        return runs.read_run(run), None
    alias = read_alias(PRODUCTION)
    if alias is None:
        _never_promoted()
        record = runs.read_run("latest")
        return record, (
            f"no production model yet (promote one with `fewlabel promote RUN`): using the latest run "
            f"{record['flow_run_id']}"
        )
    return runs.read_run(alias["run_id"]), None


def _never_promoted() -> None:
    """With no alias file: refuse if anything says a model was promoted (a gate's decision in a run record,
    or the alias's lock left by an earlier move): the alias was lost, and the latest run is not what it named."""
    promoted = [r["flow_run_id"] for r in runs.records() if (r.get("promotion") or {}).get("decision") == "promoted"]
    if not promoted and not (registry_dir() / f".{PRODUCTION}.lock").exists():
        return
    which = f"run {promoted[0]} was promoted" if promoted else "a model was promoted before"
    raise UserError(
        f"{alias_path(PRODUCTION)} is missing, but {which}: re-point the alias with `fewlabel promote "
        f"{promoted[0] if promoted else 'RUN'}`, or predict with --run latest"
    )


def pinned() -> tuple[str, ...]:
    """Run ids an alias points at or can roll back to (``cache gc`` keeps their artifacts)."""
    ids = []
    for path in registry_dir().glob("*.json") if registry_dir().is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            ids += [record["run_id"], *(p["run_id"] for p in record.get("previous", []))]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return tuple(i for i in ids if isinstance(i, str))


def _created(record: dict, path: Path) -> str:
    if record.get("created"):
        return record["created"]
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


def version(record: dict, created: str) -> dict[str, Any]:
    """One model version as a run record shows it: its model hash, the run, date, data and config
    hashes, test accuracy with its interval."""
    methods = (record.get("metrics_detail") or {}).get("methods", {})
    pretrained = methods.get("pretrained", {})
    return {
        "model": model_of(record),
        "run_id": record["flow_run_id"],
        "runs": [record["flow_run_id"]],
        "created": created,
        "accuracy": pretrained.get("accuracy"),
        "accuracy_ci": pretrained.get("accuracy_ci"),
        "n": pretrained.get("n"),
        "data_sha256": record["refs"].get("ingest", {}).get("sha256"),
        "config_sha256": store.canonical_hash(record.get("config")),
        "promotion": (record.get("promotion") or {}).get("decision"),
        "aliases": [],
    }


def versions() -> tuple[list[dict], str | None]:
    """(every model version, oldest first, with the aliases naming it; the error of an alias that does
    not verify, if any: it then names no version). Runs with the same model (:func:`model_of`) are one
    version: the first run that made it names it, ``runs`` lists them all, and its gate decision is
    ``promoted`` if any of them was promoted, else the latest one's."""
    folder = runs.runs_dir()
    found = []
    for path in folder.glob("*.json") if folder.is_dir() else []:
        if path.name == "latest.json":
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("kind") != "train" or "train" not in record.get("refs", {}):
                continue
            found.append(version(record, _created(record, path)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    found.sort(key=lambda v: (v["created"], v["run_id"]))
    models: dict[str, dict] = {}
    for v in found:
        first = models.setdefault(v["model"], v)
        if first is not v:
            first["runs"].append(v["run_id"])
            if v["promotion"] is not None and first["promotion"] != "promoted":
                first["promotion"] = v["promotion"]
    error = None
    try:
        alias = read_alias(PRODUCTION)
    except AliasRefused as exc:
        alias, error = None, str(exc)
    listed = list(models.values())
    for v in listed:
        if alias is not None and alias["run_id"] in v["runs"]:
            v["aliases"].append(PRODUCTION)
    return listed, error
