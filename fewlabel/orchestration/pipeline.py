"""The pipeline runtime: a flow composes stages as :class:`Wiring` s and runs them with :class:`Steps`
(in order, mapped stages item by item on the flow's task runner), keeping each stage's Ref and state."""

from __future__ import annotations

import inspect
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from fewlabel import store
from fewlabel.errors import UserError
from fewlabel.orchestration.settings import records_dir

log = logging.getLogger(__name__)


class StageFailed(RuntimeError):
    """A stage failed for a reason that is not the user's input: the flow run fails naming it."""


@dataclass(frozen=True)
class Wiring:
    """One stage of a pipeline: its task, the upstream stages it reads and its config section.

    A mapped stage runs one task per item of ``each(config)`` (e.g. one per file of a sharded
    corpus), with the keyword arguments ``call(item, refs, config)`` (a curve point: its input Refs
    and its spec); downstream stages get its list of Refs. A stage that is not mapped gets its
    inputs' Refs and its config section, or ``call(None, refs, config)`` when it needs only some keys
    of a section. Every task is called by keyword.
    """

    task: Any
    inputs: tuple[str, ...] = ()
    section: str = ""
    each: Callable[[BaseModel], list[str]] | None = field(default=None, repr=False)
    call: Callable[[str, dict, BaseModel], dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.task.name

    def kwargs(self, refs: dict[str, store.Ref], config: BaseModel) -> dict[str, Any]:
        """The inputs' Refs and the config section, named as the task's parameters."""
        values = [refs[name] for name in self.inputs] + [getattr(config, self.section)]
        return dict(zip(inspect.signature(self.task.fn).parameters, values))

    def calls(self, refs: dict[str, store.Ref], config: BaseModel) -> dict[str, dict[str, Any]]:
        """The keyword arguments of the stage's tasks by item: one per item of a mapped stage, else one
        under the stage's name."""
        if self.each is None:
            return {self.name: self.call(None, refs, config) if self.call else self.kwargs(refs, config)}
        return {str(item): self.call(item, refs, config) for item in self.each(config)}


def _item(ref: store.Ref) -> str:
    """What one task of a mapped stage was about: its file (a shard) or its point (a curve point)."""
    return str(ref["stats"].get("file") or ref["stats"].get("point") or ref["path"])


class Steps:
    """What a flow composes with: runs stage tasks in order, keeping each one's Ref and state name.

    Mapped stages are submitted to the flow's task runner (threads by default, a Dask cluster with
    ``--dask-address``), so their items run in parallel; ``items`` keeps each item's state, for
    the report's list of reused shards. From ``from_stage`` on, stages ignore their cache and
    recompute (Prefect's ``refresh_cache``, which the store honours by rebuilding the artifact).
    A failed stage fails the flow, named.
    """

    def __init__(self, from_stage: str | None = None):
        self.refs: dict[str, Any] = {}
        self.states: dict[str, str] = {}
        self.items: dict[str, list[dict]] = {}
        self.from_stage = from_stage
        self.refreshing = False

    def _options(self, task, name: str):
        """The task as this run needs it: its cache record beside the artifacts (whoever launched the
        flow), and from ``from_stage`` on, ignoring its cache."""
        self.refreshing = self.refreshing or name == self.from_stage
        options = {"result_storage": records_dir()}  # a Path: Prefect makes it a local file system
        return task.with_options(**options, refresh_cache=True) if self.refreshing else task.with_options(**options)

    def __call__(self, task, *args, name: str | None = None, **kwargs) -> store.Ref:
        name = name or task.name
        return self.collect(self._options(task, name)(*args, **kwargs, return_state=True), name)

    def map(self, task, calls: dict[str, dict[str, Any]], name: str | None = None) -> list[store.Ref]:
        """One task per item, called with its keyword arguments (``calls``: by item), run in parallel by
        the task runner; their Refs in order."""
        name = name or task.name
        futures = [self._options(task, name).submit(**kwargs) for kwargs in calls.values()]
        from prefect.futures import as_completed

        for done, future in enumerate(as_completed(futures), 1):  # each item in the run's log as it ends
            future.wait()  # as_completed can hand over a future before its final state is recorded
            what = _item(future.state.result()) if future.state.is_completed() else "an item"
            log.info("%s %s: %s (%d of %d)", name, what, future.state.name, done, len(futures))
        refs = [self.result(future.state, f"{name} {item}") for future, item in zip(futures, calls)]
        self.items[name] = [
            {"item": _item(ref), "state": future.state.name, "path": ref["path"]} for ref, future in zip(refs, futures)
        ]
        if refs:
            counts = Counter(item["state"] for item in self.items[name])
            self.states[name] = (
                next(iter(counts))
                if len(counts) == 1
                else ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            )
        self.refs[name] = refs
        return refs

    def run(self, pipeline: tuple[Wiring, ...], config: BaseModel) -> dict[str, Any]:
        """Every stage of ``pipeline`` in order (mapped ones item by item, in parallel); their Refs."""
        names = [w.name for w in pipeline]
        if self.from_stage is not None and self.from_stage not in names:
            raise UserError(f"unknown stage {self.from_stage!r} for --from-stage; stages: {', '.join(names)}")
        for wiring in pipeline:
            calls = wiring.calls(self.refs, config)
            if wiring.each:
                self.map(wiring.task, calls)
            else:
                self(wiring.task, **calls[wiring.name])
        return self.refs

    def collect(self, state, name: str) -> store.Ref:
        self.states[name] = state.name
        self.refs[name] = self.result(state, name)
        return self.refs[name]

    @staticmethod
    def result(state, name: str) -> store.Ref:
        """The Ref of a finished task; a failed one raises, naming its stage (``name``)."""
        if not state.is_completed():
            exc = state.result(raise_on_failure=False)
            if isinstance(exc, UserError):
                raise type(exc)(f"stage {name}: {exc}") from None
            raise StageFailed(f"stage {name} failed: {type(exc).__name__}: {exc}") from exc
        return state.result()
