"""A flow run's life, the same whoever launched it (the CLI, `fewlabel serve`, a worker, `prefect
flow-run retry`): on start it clears what killed runs left behind and records itself; on failure it
records the error; a later run marks killed runs Crashed, in the run records and on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel

from fewlabel import runs, store
from fewlabel.orchestration.settings import ZOMBIE_AFTER_SECONDS

log = logging.getLogger(__name__)


def config_tags(config: BaseModel) -> list[str]:
    """Tags that let the UI's runs list filter by data source and by exact config."""
    dumped = config.model_dump(mode="json")
    return ["fewlabel", f"source:{dumped['data']['source']}", f"config:{store.canonical_hash(dumped)[:10]}"]


def _add_tags(flow_run_id: str, tags: list[str]) -> list[str]:
    """Add ``tags`` to the flow run (keeping the launcher's, e.g. ``command:run``); all its tags."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        current = client.read_flow_run(flow_run_id).tags or []
        merged = sorted(set(current) | set(tags))
        client.update_flow_run(flow_run_id, tags=merged)
    return merged


def crash_orphans() -> list[str]:
    """Mark runs whose process died Crashed: in their record and, where the server knows them, in
    Prefect (the flow run and its unfinished task runs). A flow run someone else already ended (the
    zombie automation marks it Crashed, a user cancels it) still gets its task runs closed, and so do
    the other ended fewlabel runs the server holds (:func:`close_ended_runs`). Returns their ids."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    crashed = []
    for record in runs.orphans():
        run_id = record["flow_run_id"]
        why = f"its process (pid {record['owner'].get('pid')}) ended before the run finished"
        runs.end(run_id, "crashed", why)
        crashed.append(run_id)
        try:
            with get_client(sync_client=True) as client:
                if not client.read_flow_run(run_id).state.is_final():
                    client.set_flow_run_state(run_id, Crashed(message=f"fewlabel: {why}"), force=True)
                close_task_runs(client, run_id, f"fewlabel: {why}")
        except Exception as exc:  # noqa: BLE001 - a run of another (temporary) server: its record says it all
            log.debug("run %s is not on this Prefect server (%s)", run_id, exc)
    if crashed:
        log.warning("marked %d killed run(s) Crashed: %s", len(crashed), ", ".join(crashed))
    try:
        close_ended_runs()
    except Exception as exc:  # noqa: BLE001 - a tidy-up: a run never fails for it
        log.warning("could not close the task runs of ended runs on the Prefect server: %s", exc)
    return crashed


UNFINISHED_TASK_STATES = ("RUNNING", "PENDING", "SCHEDULED", "PAUSED")
ENDED_ABRUPTLY = ("CRASHED", "CANCELLED")
"""Flow-run states that end a run without its process closing its task runs: a dead process
(marked Crashed by fewlabel or by the zombie automation) or a cancelled one."""


def close_task_runs(client, flow_run_id, message: str) -> int:
    """Mark every unfinished task run of flow run ``flow_run_id`` Crashed; how many there were."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.states import Crashed

    closed = 0
    for task_run in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))):
        if task_run.state and not task_run.state.is_final():
            client.set_task_run_state(task_run.id, Crashed(message=message), force=True)
            closed += 1
    return closed


def close_ended_runs(batch: int = 200) -> int:
    """On a configured server (``PREFECT_API_URL``), mark Crashed the unfinished task runs of fewlabel
    flow runs that ended Crashed or Cancelled, whoever ended them (the zombie automation marks a
    silent run Crashed but leaves its task runs Running: Prefect's actions cannot reach task runs).
    How many were closed. A temporary server holds only this command's runs: nothing to do."""
    import os

    if not os.environ.get("PREFECT_API_URL"):
        return 0
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
        TaskRunFilter,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.states import Crashed

    ended = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(ENDED_ABRUPTLY))),
        tags=FlowRunFilterTags(all_=["fewlabel"]),
    )
    unfinished = TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=list(UNFINISHED_TASK_STATES))))
    closed, seen = 0, set()
    with get_client(sync_client=True) as client:
        while True:
            found = [
                t
                for t in client.read_task_runs(flow_run_filter=ended, task_run_filter=unfinished, limit=batch)
                if t.id not in seen
            ]
            if not found:
                break
            for task_run in found:
                seen.add(task_run.id)
                message = f"fewlabel: its flow run {task_run.flow_run_id} ended without finishing it"
                client.set_task_run_state(task_run.id, Crashed(message=message), force=True)
                closed += 1
    if closed:
        log.warning("closed %d task run(s) left unfinished by crashed or cancelled runs", closed)
    return closed


ZOMBIES = "fewlabel: crash runs that stopped beating"


def ensure_zombie_automation() -> bool:
    """Create, once per server, Prefect's own zombie detector: an automation that marks a flow run
    Crashed when its heartbeats (every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds) stop for
    :data:`~fewlabel.orchestration.settings.ZOMBIE_AFTER_SECONDS` without a final state. True if it
    exists now. Only a real server runs automations: nothing to do on a temporary one."""
    from datetime import timedelta

    from fewlabel.orchestration.server import is_temporary

    if is_temporary():
        return False
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    try:
        Automation.read(name=ZOMBIES)
        return True
    except ValueError:  # not there yet
        pass
    Automation(
        name=ZOMBIES,
        description="Marks a flow run Crashed when its process stops sending heartbeats (killed, machine lost)",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{s}" for s in FINAL)},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=ZOMBIE_AFTER_SECONDS),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message="fewlabel: no heartbeat from the run's process")],
    ).create()
    return True


FINAL = ("Completed", "Failed", "Cancelled", "Crashed")


@contextmanager
def tracked(kind: str, config: BaseModel) -> Iterator[str]:
    """Around a flow's body: clean up after killed runs, record this one (config, process, tags),
    and record its failure. Yields the flow run id."""
    from prefect.runtime import flow_run

    from fewlabel.orchestration.progress import route_core_logs

    route_core_logs()  # the core's log lines (and this module's) reach the run's logs in the UI
    run_id = str(flow_run.id)
    removed = store.sweep_leftovers()
    if removed:
        log.info("removed %d leftovers of killed runs", len(removed))
    crash_orphans()
    try:
        ensure_zombie_automation()
    except Exception as exc:  # noqa: BLE001 - detection is a safety net: a run never fails for it
        log.warning(
            "could not create the zombie-run automation (%s): killed runs are still marked by the next run", exc
        )
    tags = _add_tags(run_id, config_tags(config))
    runs.start(run_id, kind, config.model_dump(mode="json"), tags)
    try:
        yield run_id
    except BaseException as exc:
        try:
            runs.end(run_id, "failed", f"{type(exc).__name__}: {exc}")
        except Exception as unrecorded:  # noqa: BLE001 - e.g. a full data folder: the run's own error matters
            log.warning("could not record the failure of run %s: %s", run_id, unrecorded)
        raise
