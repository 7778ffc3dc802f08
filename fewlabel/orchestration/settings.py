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
import subprocess
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


_TEMPORARY: Path | None = None
"""This command's temporary server's database (:func:`temporary_server_database`), if it has one."""


def temporary_server_database(command: str) -> None:
    """Give this command's temporary Prefect server a database of its own, discarded at exit, and say
    so (no ``PREFECT_API_URL``: nothing to do)."""
    if os.environ.get("PREFECT_API_URL"):
        return
    global _TEMPORARY
    folder = tempfile.mkdtemp(prefix="fewlabel-prefect-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    _TEMPORARY = Path(folder) / "prefect.db"
    os.environ["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{_TEMPORARY}"
    sys.stderr.write(
        f"fewlabel {command}: no Prefect server set, so this run uses a temporary one whose history is "
        "discarded; to keep runs and watch them in the UI: `fewlabel server`, then export "
        "PREFECT_API_URL=http://127.0.0.1:4200/api\n"
    )
    sys.stderr.flush()


def seed_temporary_database() -> None:
    """Just before a flow first needs this command's temporary server: its database becomes a copy of
    :func:`migrated_template`, so the server skips its migrations (about 6 s of CPU). Nothing to do
    with a real server, or once the database exists."""
    if _TEMPORARY is None or _TEMPORARY.exists():
        return
    template = migrated_template()
    if template is not None:
        try:
            shutil.copyfile(template, _TEMPORARY)
        except OSError:  # the server migrates a database of its own, as Prefect does
            _TEMPORARY.unlink(missing_ok=True)


def migrated_template() -> Path | None:
    """An empty Prefect database with every migration of the installed Prefect applied, kept in Prefect's
    home (``.prefect/temporary-server-<version>.db``) and built once, by ``prefect server database
    upgrade``; each temporary server starts on a copy of it. None if it cannot be built: the temporary
    server then migrates its own database, as Prefect does."""
    from importlib.metadata import version

    template = Path(os.environ["PREFECT_HOME"]) / f"temporary-server-{version('prefect')}.db"
    if template.exists():
        return template
    building = template.with_name(f"{template.name}.{os.getpid()}.building")
    env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{building}"}
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        if Path(f"{building}-wal").exists():  # not one self-contained file: do not copy it
            return None
        os.replace(building, template)  # whole or absent, also with two commands building at once
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        for leftover in template.parent.glob(f"{building.name}*"):
            leftover.unlink(missing_ok=True)
    return template
