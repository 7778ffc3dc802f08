"""The environment every launcher needs: where the data folder and the stages' cache records are,
Prefect's home, heartbeats, and how messages name the Prefect API.

Two places decide it. :func:`project_environment` runs before Prefect is imported, in the CLI. The
flows themselves do the rest for every launcher (the CLI, ``fewlabel serve``, a work pool's worker,
``prefect flow-run retry``/``execute``): :func:`records_dir` is where each stage's cache record
goes, given to the stage's task by the pipeline runner at run time, so records always land beside
the artifacts they point to, in ``<data>/.prefect-records``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fewlabel.store import data_dir

HEARTBEAT_SECONDS = 30
"""How often a flow run tells the server it is alive (Prefect's minimum); the server's automation
marks a run Crashed after :data:`ZOMBIE_AFTER_SECONDS` of silence."""
ZOMBIE_AFTER_SECONDS = 4 * HEARTBEAT_SECONDS


def records_dir() -> Path:
    """Where the stages' Prefect cache records live: beside the artifacts they point to."""
    return data_dir() / ".prefect-records"


def project_environment() -> None:
    """Keep Prefect's state inside the project folder and quiet offline (before importing prefect).

    Without ``PREFECT_API_URL`` a command that runs a flow starts a temporary server of its own
    (:mod:`fewlabel.orchestration.server`): it never shares (or locks) the database of ``fewlabel server``.
    """
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(records_dir()))
    os.environ["FEWLABEL_DATA_DIR"] = str(data_dir())  # absolute: task runner workers may start elsewhere
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS))


def api_description() -> str:
    """The Prefect API runs report to, for messages: its URL, or "(temporary server)"."""
    from fewlabel.orchestration.server import TEMPORARY

    if os.environ.get(TEMPORARY) or not os.environ.get("PREFECT_API_URL"):
        return "(temporary server)"
    return os.environ["PREFECT_API_URL"]


def drop_undeliverable_telemetry() -> None:
    """Forget queued Prefect events and log lines: at exit Prefect would retry each one for seconds
    against a server that is gone. Best effort, through Prefect internals that may change."""
    import queue

    try:
        from prefect._internal.concurrency.services import _active_services
    except ImportError:
        return
    for service in list(_active_services):
        pending = getattr(service, "_queue", None)
        while isinstance(pending, queue.Queue):
            try:
                pending.get_nowait()
            except queue.Empty:
                break
            pending.task_done()
