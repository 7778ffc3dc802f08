"""Real servers for tests: a local Prefect server (optionally on PostgreSQL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def client_call(url: str, fn):
    """Run ``fn(client)`` against the Prefect server at ``url``."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}):
        with get_client(sync_client=True) as client:
            return fn(client)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def process(cmd: list[str], cwd: Path, log: Path, **env):
    """A background process in its own session, its output in ``log``; stopped (group and all) at exit."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def migrated_database() -> Path:
    """A SQLite Prefect database with every migration applied, built once per test session and shared by
    its xdist workers (the folder conftest's ``pytest_configure`` names in ``FEWLABEL_TEST_SHARED``).
    A server started on a copy skips the migrations: about 6 s of CPU less per server here."""
    import fcntl

    shared = Path(os.environ["FEWLABEL_TEST_SHARED"])
    template = shared / "prefect-template" / "prefect.db"
    with open(shared / "prefect-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the first one's database
        if not template.exists():
            building = template.parent.with_name("prefect-template.building")
            building.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                env={**os.environ, "PREFECT_HOME": str(building), "PREFECT_API_URL": ""},
                check=True,
                capture_output=True,
                timeout=300,
            )
            building.rename(template.parent)
    return template


def seed_home(home: Path) -> Path:
    """``home`` as a Prefect home whose database is already migrated (a copy of :func:`migrated_database`)."""
    import shutil

    home.mkdir(parents=True, exist_ok=True)
    if not (home / "prefect.db").exists():
        shutil.copyfile(migrated_database(), home / "prefect.db")
    return home


def server_command(port: int) -> list[str]:
    """Prefect's server on ``port`` (loopback), the app `prefect server start` runs, behind
    :mod:`tests.retrying_server`'s layer that replays a request the locked SQLite database answered
    with 503, so a test under load never gets one (PREFECT.md: "database is locked"/503)."""
    script = Path(__file__).with_name("retrying_server.py")
    return [sys.executable, str(script), "--host", "127.0.0.1", "--port", str(port)]


@contextmanager
def prefect_server(home: Path, **env):
    """Prefect's server (:func:`server_command`) on a free loopback port; yields the API URL. Its SQLite
    database starts as a copy of the session's migrated one (unless ``env`` names another database)."""
    if "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in env:
        seed_home(home)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    settings = {**server_settings(home), **env}
    cmd = server_command(port)
    with process(cmd, cwd=home, log=home / "server.log", **settings) as server:
        wait_until(lambda: healthy(url) or server.poll() is not None, 180, "the Prefect server")
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-2000:]}")
        yield url


def shared_server() -> str:
    """The session's one Prefect server, shared by its xdist workers; its API URL.

    The first worker that needs it starts it under a file lock in ``FEWLABEL_TEST_SHARED``, detached
    (its own process group, its pid in ``server.pid``), on a copy of the migrated database; the others
    find its URL there. :func:`stop_shared_server` (the controller's cleanup) stops it. One server
    instead of one per worker: its start (about 8 s of CPU) and its idle services are paid once.
    """
    import fcntl

    shared = Path(os.environ["FEWLABEL_TEST_SHARED"])
    found = shared / "server.url"
    with open(shared / "server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if found.exists() and healthy(found.read_text()):
            return found.read_text()
        home = seed_home(shared / "server-home")
        port = free_port()
        url = f"http://127.0.0.1:{port}/api"
        cmd = server_command(port)
        with open(home / "server.log", "w") as log:
            server = subprocess.Popen(
                cmd,
                cwd=home,
                env={**os.environ, **server_settings(home)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (shared / "server.pid").write_text(str(server.pid))
        wait_until(lambda: healthy(url) or server.poll() is not None, 180, "the Prefect server")
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-2000:]}")
        found.write_text(url)
    return url


def stop_shared_server(shared: Path) -> None:
    """Stop the server :func:`shared_server` started, if any (its process group), and wait for it."""
    try:
        pid = int((shared / "server.pid").read_text())
        os.killpg(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (no xdist): reap it, not wait 30 s on a zombie
                return
        except ChildProcessError:  # a worker's child, reaped by init once it exits
            pass
        try:
            os.killpg(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def server_settings(home: Path) -> dict[str, str]:
    """The environment of a test server whose Prefect home is ``home``."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_API_URL": "",
    }


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian's postgresql package), if installed."""
    import glob
    import shutil

    found = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None)
    return Path(found).parent if found else None


@contextmanager
def postgres(bin_dir: Path):
    """A throwaway PostgreSQL cluster on a free loopback port with a `prefect` database; yields its URL.

    PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
    """
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="fewlabel-pg-", dir="/tmp"))
    port = free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(base, "postgres")
    data = base / "data"

    def run(*cmd):
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
        )
        psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        subprocess.run([*psql, "-c", "CREATE DATABASE prefect"], check=True, capture_output=True, timeout=60)
        subprocess.run(
            [*psql, "-d", "prefect", "-c", "CREATE EXTENSION IF NOT EXISTS pg_trgm"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect", [*psql, "-d", "prefect"]
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=60
        )
        shutil.rmtree(base, ignore_errors=True)
