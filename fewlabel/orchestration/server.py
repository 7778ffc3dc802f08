"""Prefect server processes fewlabel starts: ``fewlabel server``'s, and a command's temporary one.

Without ``PREFECT_API_URL`` a command that runs a flow gets a temporary server of its own (the one
Prefect would start, the same uvicorn app without the UI), with three differences: it starts on a copy
of an empty database migrated once (:func:`migrated_template`, about 6 s of CPU less per command),
it runs in its **own session**, so a terminal's Ctrl-C (SIGINT to the whole foreground process group)
does not kill it before the interrupted run has been marked, and the command stops it itself when
it ends (:func:`stop_temporary`), after that marking. Its database is deleted with it.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TEMPORARY = "FEWLABEL_TEMPORARY_SERVER"
"""Set (to its API URL) while this process's runs report to a temporary server: not one the user
started, so no automation is created on it and Dask workers are not sent to it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    try:
        with socket.create_server((host, port)):
            return True
    except OSError:
        return False


def healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class ServerProcess:
    """A Prefect server child process and its API URL."""

    process: subprocess.Popen
    api: str

    def wait_healthy(self, timeout: float) -> bool:
        """Wait until the API answers (False if the process exited or never did within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if healthy(self.api):
                return True
            time.sleep(0.1)
        return False

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (its process group when it has its own session), then SIGKILL after ``timeout``; reaped."""
        if self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()

    def _signal(self, signum: int) -> None:
        try:
            if os.getpgid(self.process.pid) == self.process.pid:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)
        except ProcessLookupError:
            pass


def start_server(host: str, port: int) -> ServerProcess:
    """``prefect server start`` (UI and API) as a child process of this one (``fewlabel server``)."""
    url = f"http://{host}:{port}"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    return ServerProcess(subprocess.Popen(cmd), f"{url}/api")


_temporary: ServerProcess | None = None
_temporary_folder: Path | None = None


def start_temporary(command: str) -> str:
    """Start this command's temporary server (once per process) and point Prefect at it; its API URL.

    Must run before the first flow of the command. Prefect's settings are refreshed, so it may already
    be imported. Stopped by :func:`stop_temporary` (also at exit)."""
    global _temporary, _temporary_folder
    if _temporary is not None and _temporary.process.poll() is None:
        return _temporary.api
    sys.stderr.write(
        f"fewlabel {command}: no Prefect server set, so this run uses a temporary one whose history is "
        "discarded; to keep runs and watch them in the UI: `fewlabel server`, then export "
        "PREFECT_API_URL=http://127.0.0.1:4200/api\n"
    )
    sys.stderr.flush()
    folder = Path(tempfile.mkdtemp(prefix="fewlabel-prefect-"))
    _temporary_folder = folder
    atexit.register(stop_temporary)
    database = folder / "prefect.db"
    template = migrated_template()
    if template is not None:
        try:
            shutil.copyfile(template, database)
        except OSError:  # the server migrates a database of its own, as Prefect does
            database.unlink(missing_ok=True)
    timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
    env = {
        **os.environ,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",  # Prefect's temporary-server mode: no UI, fewer services
        "PREFECT__SERVER_FINAL": "1",
        "PREFECT_API_URL": "",
    }
    for _ in range(3):  # another process may take the free port before the server binds it
        port = free_port()
        cmd = [
            *(sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory"),
            *("prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port)),
            *("--log-level", "error", "--lifespan", "on"),
        ]
        with open(folder / "server.log", "ab") as log:
            process = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
        server = _temporary = ServerProcess(process, f"http://127.0.0.1:{port}/api")  # stopped even if interrupted
        if server.wait_healthy(timeout):
            break
        server.stop()
    else:
        log_tail = (folder / "server.log").read_text(errors="replace")[-500:]
        stop_temporary()
        raise RuntimeError(f"the temporary Prefect server did not start: {log_tail}")
    _point_prefect_at(server.api)
    os.environ[TEMPORARY] = server.api
    return server.api


def stop_temporary() -> None:
    """Stop this process's temporary server, if any, after Prefect has sent what it queued for it;
    delete its database."""
    global _temporary, _temporary_folder
    server, folder = _temporary, _temporary_folder
    _temporary = _temporary_folder = None
    if server is not None:
        drain_prefect_services()
        server.stop()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    if server is not None and os.environ.get(TEMPORARY) == server.api:
        os.environ.pop(TEMPORARY, None)
        os.environ.pop("PREFECT_API_URL", None)
        if "prefect.context" in sys.modules:
            from prefect.context import refresh_global_settings_context

            refresh_global_settings_context()


def _point_prefect_at(api: str) -> None:
    os.environ["PREFECT_API_URL"] = api
    if "prefect.context" in sys.modules:  # already imported: its settings were read at import
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


def is_temporary() -> bool:
    """Whether this process's runs report to a temporary server (or to none yet)."""
    return bool(os.environ.get(TEMPORARY)) or not os.environ.get("PREFECT_API_URL")


def drain_prefect_services(timeout: float = 5) -> None:
    """Let Prefect send the log lines and events it has queued (before the server they go to stops)."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        try:
            service.drain_all(timeout=timeout, at_exit=False)
        except Exception:  # noqa: BLE001 - best effort: the history of a temporary server is discarded anyway
            pass


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
            start_new_session=True,
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
