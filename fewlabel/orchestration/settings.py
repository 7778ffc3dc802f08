"""The environment every launcher needs: where the data folder and the stages' cache records are,
Prefect's home, heartbeats, and a temporary server's own database.

Two places decide it. :func:`project_environment` runs before Prefect is imported, in the CLI. The
flows themselves do the rest for every launcher (the CLI, ``fewlabel serve``, a work pool's worker,
``prefect flow-run retry``/``execute``): :func:`records_dir` is where each stage's cache record
goes, given to the stage's task by the pipeline runner at run time, so records always land beside
the artifacts they point to, in ``<data>/.prefect-records``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
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

    Without ``PREFECT_API_URL`` Prefect starts a temporary server in this process: it gets a
    database of its own, deleted at exit, so it never shares (or locks) the one of ``fewlabel
    server``; the first line on stderr says so.
    """
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(records_dir()))
    os.environ["FEWLABEL_DATA_DIR"] = str(data_dir())  # absolute: task runner workers may start elsewhere
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS))


def temporary_server_database(command: str) -> None:
    """Give this command's temporary Prefect server a database of its own, discarded at exit, and say
    so (no ``PREFECT_API_URL``: nothing to do)."""
    if os.environ.get("PREFECT_API_URL"):
        return
    folder = tempfile.mkdtemp(prefix="fewlabel-prefect-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{folder}/prefect.db"
    sys.stderr.write(
        f"fewlabel {command}: no Prefect server set, so this run uses a temporary one whose history is "
        "discarded; to keep runs and watch them in the UI: `fewlabel server`, then export "
        "PREFECT_API_URL=http://127.0.0.1:4200/api\n"
    )
    sys.stderr.flush()
