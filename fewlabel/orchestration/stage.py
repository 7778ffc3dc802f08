"""Turn a stage's build function into a cached Prefect task: the ``@stage`` decorator and its cache policy.

The cache key of a stage is the hash of its name, its module's source, the library versions it
runs on, its config section and the content hashes of its input artifacts (and, for ingest, of the
user's files). It never includes the run id and never hashes a DataFrame, so an unchanged stage is
``Cached`` across flow runs. Before Prefect looks the key up, the policy checks that the artifact
behind it is still intact on disk; if not, it drops the stale cache record so the stage runs again.
"""

from __future__ import annotations

import ast
import errno
import functools
import importlib
import importlib.util
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import CachePolicy
from prefect.settings import get_current_settings
from prefect.tasks import exponential_backoff
from pydantic import BaseModel

from fewlabel import inputs, interrupts, store
from fewlabel.catalog import CATALOG, check_outputs
from fewlabel.orchestration.progress import route_core_logs
from fewlabel.orchestration.settings import records_dir

LIBRARIES = ("gensim", "scikit-learn", "pyarrow", "numpy", "scipy", "pandas", "numba")
TRANSIENT_ERRNOS = {errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.EINTR}


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict) and "sha256" in value and "stage" in value:
        return {"artifact": value["stage"], "sha256": value["sha256"]}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


PROJECT = ("fewlabel",)
MECHANICS = ("fewlabel.config", "fewlabel.specs", "fewlabel.errors", "fewlabel.catalog", "fewlabel.orchestration")
"""Modules (and packages) that never change what a stage computes: config values and specs are hashed
as parameters, and the Prefect machinery only runs the stage."""


def _mechanics(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in MECHANICS)


def module_source(name: str) -> str:
    """The source a stage's code version hashes for one module, read from its file (the module is not
    imported: a cached run never loads the libraries of stages it does not run)."""
    return Path(importlib.util.find_spec(name).origin).read_text(encoding="utf-8")


def project_imports(module_name: str) -> set[str]:
    """The project modules ``module_name`` imports, directly or not (outside MECHANICS)."""
    seen, todo = set(), [module_name]
    while todo:
        name = todo.pop()
        if name in seen or _mechanics(name):
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(module_source(name))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT:
                package = _is_package(node.module)  # ``from package import module``, else names of a module
                todo += [
                    f"{node.module}.{a.name}" if package and _is_module(f"{node.module}.{a.name}") else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.split(".")[0] in PROJECT]
    return seen - set(PROJECT)


def _is_package(name: str) -> bool:
    """Whether ``name`` is a package, found without importing it (only its parent packages)."""
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module (of a package: :func:`importlib.util.find_spec` imports the parent)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


_CODE_LOCK = threading.Lock()


def code_version(module_name: str) -> str:
    """Hash of a stage module's source, of the project modules it uses, and of library versions.

    Computed once per process under a lock: concurrent tasks (curve points) ask at the same time,
    and CPython 3.11's ``ast.parse`` is not safe to run from several threads at once.
    """
    with _CODE_LOCK:
        return _code_version(module_name)


@functools.cache
def _code_version(module_name: str) -> str:
    sources = {name: module_source(name) for name in sorted(project_imports(module_name))}
    return store.canonical_hash({"sources": sources, "libs": {lib: version(lib) for lib in LIBRARIES}})


def lineage(stage: str, module: str, params: dict[str, Any], fingerprint: Callable | None) -> dict:
    """Everything a stage's output depends on: code, config section, input artifacts and files."""
    return {
        "stage": stage,
        "code": code_version(module),
        "params": {name: _jsonable(value) for name, value in sorted(params.items())},
        "inputs": fingerprint(**params) if fingerprint else None,
    }


def stage_key(stage: str, module: str, params: dict[str, Any], fingerprint: Callable | None) -> str:
    return key_of(lineage(stage, module, params, fingerprint))


def key_of(lineage: dict) -> str:
    return f"fewlabel-{lineage['stage']}-{store.canonical_hash(lineage)}"


def refreshing() -> bool:
    """True inside a task run asked to ignore its cache (``refresh_cache``, e.g. ``--from-stage``)."""
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    return bool(ctx and ctx.task.refresh_cache)


@dataclass
class StagePolicy(CachePolicy):
    """Key = stage inputs + code + config; a record whose artifact is gone or damaged is dropped."""

    stage: str = ""
    module: str = ""
    fingerprint: Callable | None = field(default=None, repr=False)

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str:
        origin, kept = _fingerprinted(self.stage, self.module, inputs, self.fingerprint)
        key = key_of(origin)
        built = store.load_ref(self.stage, key) is not None
        if not built:
            for folder in record_folders(task_ctx):
                (folder / key).unlink(missing_ok=True)
        run_id = getattr(getattr(task_ctx, "task_run", None), "id", None)
        rebuild = bool(getattr(getattr(task_ctx, "task", None), "refresh_cache", False))  # --from-stage
        if run_id is not None:  # the input files' bytes are kept only for a build that will run
            _remember(str(run_id), origin, kept if rebuild or not built else None)
        return key


def _fingerprinted(
    stage: str, module: str, params: dict[str, Any], fingerprint: Callable | None
) -> tuple[dict, inputs.Kept]:
    """(the lineage, the bytes of the input files its fingerprint read and hashed, for the build to parse)."""
    with inputs.keeping() as kept:
        return lineage(stage, module, params, fingerprint), kept


_LINEAGES: dict[str, tuple[dict, inputs.Kept | None]] = {}
"""Lineage the cache policy computed, by task run id, with the input files' bytes it hashed, for the
task run itself to reuse: user files are read and hashed once per run, and the stage parses exactly
the bytes its key hashed."""
_LINEAGE_LOCK = threading.Lock()
KEPT_TOTAL = 1 << 30
"""At most this many bytes of input files wait in :data:`_LINEAGES` for their task run (the oldest give
theirs up: that build reads its files again and checks them against their hashes)."""


def _remember(run_id: str, origin: dict, kept: inputs.Kept | None) -> None:
    with _LINEAGE_LOCK:
        _LINEAGES.pop(run_id, None)
        _LINEAGES[run_id] = (origin, kept)
        total = sum(k.size for _, k in _LINEAGES.values() if k is not None)
        for other, (lineage_, k) in list(_LINEAGES.items()):
            if total <= KEPT_TOTAL:
                break
            if k is not None and other != run_id:
                total -= k.size
                _LINEAGES[other] = (lineage_, None)


def _policy_lineage(params: dict[str, Any]) -> tuple[dict, inputs.Kept | None] | None:
    """The lineage the cache policy computed for this task run (and the bytes it hashed), if it was for
    these parameters."""
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    if ctx is None:
        return None
    with _LINEAGE_LOCK:
        found = _LINEAGES.pop(str(ctx.task_run.id), None)
    if found is None or found[0]["params"] != {k: _jsonable(v) for k, v in sorted(params.items())}:
        return None
    return found


def record_folders(task_ctx) -> set[Path]:
    """Where Prefect keeps cache records for this task run: its result store's folder (what a task
    on a Dask worker was sent with) and the current settings' default."""
    storage = getattr(getattr(task_ctx, "result_store", None), "result_storage", None)
    folders = {Path(get_current_settings().results.local_storage_path).expanduser()}
    if getattr(storage, "basepath", None):
        folders.add(Path(storage.basepath).expanduser())
    return folders


def is_transient(exc: BaseException) -> bool:
    """I/O errors worth retrying, and an input file that changed while the stage read it (the retry
    hashes it again); everything else repeats identically and fails at once."""
    if isinstance(exc, (TimeoutError, ConnectionError, BlockingIOError, InterruptedError, inputs.InputChanged)):
        return True
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def retry_transient(task, task_run, state) -> bool:
    """Prefect's retry condition of every fewlabel task: retry what :func:`is_transient` calls transient."""
    try:
        state.result(raise_on_failure=True)
    except BaseException as exc:  # noqa: BLE001 - we only classify it
        return is_transient(exc)
    return False


def bind(signature: inspect.Signature, *args, **kwargs) -> dict[str, Any]:
    """Arguments by name, defaults included: the key never depends on how a stage was called."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _run_name(name: str, label: Callable[[dict], str] | None):
    """A task-run namer: the stage's name, and for a mapped stage the item (``shard:reviews-07.txt``)."""

    def make() -> str:
        if label is None:
            return name
        from prefect.runtime import task_run

        return f"{name}:{label(task_run.parameters)}"

    return make


def stage(
    name: str,
    fingerprint: Callable[..., Any] | None = None,
    retries: int = 3,
    label: Callable[[dict], str] | None = None,
):
    """Decorate ``build(out: Path, **inputs) -> stats`` into a cached task returning a Ref.

    ``name`` is a stage of :data:`fewlabel.catalog.CATALOG`. ``fingerprint(**inputs)`` adds content
    hashes of inputs that are not artifacts (user files); ``label(parameters)`` names the item of a
    mapped stage in its task run's name.
    """
    if name not in CATALOG:
        raise ValueError(f"stage {name!r} is not in fewlabel.catalog.CATALOG; declare it there first")

    def decorate(build: Callable[..., dict[str, Any]]):
        signature = inspect.signature(build)
        params = list(signature.parameters.values())[1:]

        @functools.wraps(build)
        def run(*args, **kwargs) -> store.Ref:
            route_core_logs()  # the core's log lines reach this run's logs, also on a Dask worker
            bound = bind(inspect.Signature(params), *args, **kwargs)
            origin, kept = _policy_lineage(bound) or _fingerprinted(name, build.__module__, bound, fingerprint)

            def build_declared(out: Path) -> dict[str, Any]:
                mark = interrupts.received()
                # the input files as the key hashed them: kept bytes, or re-read and checked (InputChanged)
                with inputs.pinned(origin["inputs"] if fingerprint else None, kept):
                    stats = build(out, **bound)
                interrupts.raise_if_interrupted_since(mark)  # e.g. a fit that swallowed Ctrl-C: never stored
                check_outputs(name, {path.name for path in out.iterdir()})
                return stats

            return store.materialize(name, key_of(origin), build_declared, lineage=origin, force=refreshing())

        run.__signature__ = signature.replace(parameters=params, return_annotation=store.Ref)
        return task(
            run,
            name=name,
            task_run_name=_run_name(name, label),
            cache_policy=StagePolicy(stage=name, module=build.__module__, fingerprint=fingerprint),
            result_serializer="json",
            persist_result=True,
            # records live only on disk, where the policy can drop a stale one; an in-memory copy
            # would outlive it in a long-lived process (a worker, a notebook, the test session)
            cache_result_in_memory=False,
            retries=retries,
            retry_delay_seconds=exponential_backoff(backoff_factor=2),
            retry_condition_fn=retry_transient,
        )

    return decorate


def forget_missing_records() -> None:
    """Drop Prefect cache records of fewlabel stages whose artifact folder no longer exists."""
    for record in records_dir().glob("fewlabel-*") if records_dir().exists() else []:
        stage = record.name[len("fewlabel-") :].rsplit("-", 1)[0]
        if stage in CATALOG and not store.stage_dir(stage, record.name).exists():
            record.unlink(missing_ok=True)
