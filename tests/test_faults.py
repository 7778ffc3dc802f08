"""Faults, really produced: nothing lost, nothing let in.

- SIGKILL in the middle of each stage (a real `fewlabel run` process, killed while its files sit
  in a ``.tmp-`` folder), then a normal run: finished stages come back ``Cached``, nothing torn is
  read.
- An artifact truncated or altered on disk: detected by its hash, rebuilt, with a warning naming it.
- Two runs of one config at once on one data folder: both finish, equal, each artifact built once.
- A full disk (a 1 MiB tmpfs) or a read-only data folder (a read-only bind mount), each in a private
  mount namespace: one ``error:`` line naming the folder and the fix, exit 2, nothing partial left.
- The Prefect server killed mid-run: finished artifacts intact, one clear line, a rerun reuses them.
- Two processes with different PYTHONHASHSEED in two data folders: byte-identical artifacts.

Subprocesses are slow to start here (~5 s of imports each) and the machine has 2 cores, so the
module starts every independent process at once (``jobs``), and each test inspects its own.
Each process gets its own "project": a data folder and its own Prefect result storage, as
``fewlabel`` has in a checkout (``data/`` and ``.prefect/``). Reruns after a fault run in-process
(the same ``fewlabel.cli.main``), which is much cheaper than another interpreter.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from fewlabel import store
from fewlabel.errors import UserError

from .conftest import TINY, TINY_STAGES
from .servers import seed_home, server_command

pytestmark = pytest.mark.server  # every test here uses a Prefect server

STAGES = TINY_STAGES
SETS = [arg for pair in [*TINY, "word2vec.workers=1"] for arg in ("--set", pair)]
RUN = ["run", "--json", *SETS]
CLI = [sys.executable, "-m", "fewlabel.cli", *RUN]
ROOT = Path(__file__).resolve().parent.parent

# Run by `unshare -m` (a private mount namespace: the mount is invisible to everyone else and goes
# away with the process): mount the fault on the data folder, run fewlabel, then copy what it left
# there out to $AFTER, since a tmpfs vanishes with its namespace.
MOUNT_SCRIPT = r"""
D="$FEWLABEL_DATA_DIR"
case "$FAULT_FS" in
  full) mount -t tmpfs -o size=1m fewlabel-full "$D" || exit 97 ;;
  readonly) { mount --bind "$D" "$D" && mount -o remount,bind,ro "$D"; } || exit 97 ;;
esac
"$@"; rc=$?
cp -a "$D/." "$AFTER/"
exit $rc
"""


@dataclass
class Job:
    """One background process and the project folder it works in."""

    name: str
    project: Path
    proc: subprocess.Popen

    @property
    def data(self) -> Path:
        return self.project / "data"

    @property
    def stdout(self) -> str:
        return (self.project / f"{self.name}.out").read_text()

    @property
    def stderr(self) -> str:
        return (self.project / f"{self.name}.err").read_text()

    def wait(self, timeout: float = 240) -> Job:
        self.proc.wait(timeout=timeout)
        return self

    def result(self) -> dict:
        assert self.wait().proc.returncode == 0, self.stderr[-3000:]
        return json.loads(self.stdout.strip().splitlines()[-1])


def project_env(project: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FEWLABEL_FAULT"}
    env.update(FEWLABEL_DATA_DIR=str(project / "data"), PREFECT_LOCAL_STORAGE_PATH=str(project / "storage"), **extra)
    return env


def launch(name: str, project: Path, cmd: list[str], **env: str) -> Job:
    (project / "data").mkdir(parents=True, exist_ok=True)
    with open(project / f"{name}.out", "w") as out, open(project / f"{name}.err", "w") as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=err, env=project_env(project, **env), start_new_session=True
        )
    return Job(name, project, proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerLoss:
    """Test 5, run in a thread from the start: a real `prefect server start`, a run against it
    paused in pretrain, and the server SIGKILLed (with its process group) during the pause."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        home = seed_home(root / "server-home")  # a migrated database: the server starts sooner
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        with open(root / "server.log", "w") as log:
            self.server = subprocess.Popen(
                server_command(self.port),  # Prefect's server app, as `prefect server start` runs it
                cwd=root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={
                    **env,
                    "PREFECT_HOME": str(home),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_SERVER_UI_ENABLED": "false",
                },
            )
        self.job: Job | None = None
        self.error: BaseException | None = None
        self.stderr_at_kill = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def healthy(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/health", timeout=2).read()
            return True
        except OSError:
            return False

    def _run(self) -> None:
        try:
            deadline = time.monotonic() + 150
            while not self.healthy():
                assert self.server.poll() is None, (self.root / "server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the Prefect server did not start"
                time.sleep(0.3)
            # one client retry instead of Prefect's 5 (2+4+8+16+32 s of back-off per request)
            self.job = launch(
                "run",
                self.root / "lost",
                CLI,
                PREFECT_API_URL=self.url,
                PREFECT_LOGGING_LEVEL="INFO",
                PREFECT_CLIENT_MAX_RETRIES="1",
                FEWLABEL_FAULT="pretrain:pause=2",
            )
            wait_for(self.job.data / ".paused-pretrain", self.job)
            os.killpg(self.server.pid, signal.SIGKILL)  # the server, by its own process group
            self.server.wait(30)
            self.stderr_at_kill = self.job.stderr
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def stop(self) -> None:
        if self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()


@pytest.fixture(scope="module")
def jobs(prefect_api, tmp_path_factory, request):
    """Every independent process this module's selected tests need, started at once (they mostly wait on
    imports): `make test` leaves out the SIGKILL scenarios (marked slow), and their runs with them."""
    selected = {item.originalname for item in request.session.items if item.module is request.module}
    root = tmp_path_factory.mktemp("faults")
    started: dict = {"lost": ServerLoss(root)}  # test 5's own server is the slowest to start
    started["ref-a"] = launch("run", root / "ref-a", CLI, PYTHONHASHSEED="1")
    started["ref-b"] = launch("run", root / "ref-b", CLI, PYTHONHASHSEED="2")
    killed = STAGES if test_sigkill_mid_stage_then_rerun_resumes_and_reads_nothing_torn.__name__ in selected else ()
    for stage in killed:
        started[f"kill-{stage}"] = launch("run", root / f"kill-{stage}", CLI, FEWLABEL_FAULT=f"{stage}:pause")
    # the twins: whichever builds pretrain holds its lock 2 s, so the other one really waits on it
    for twin in ("twin-1", "twin-2"):
        started[twin] = launch(
            twin, root / "twins", CLI, PREFECT_LOGGING_LEVEL="INFO", FEWLABEL_FAULT="pretrain:pause=2"
        )
    unshare = ["unshare", "-m", "--propagation", "private", "sh", "-c", MOUNT_SCRIPT, "sh", *CLI]
    for fault in ("full", "readonly") if shutil.which("unshare") else ():
        after = root / fault / "after"
        after.mkdir(parents=True)
        started[fault] = launch("run", root / fault, unshare, FAULT_FS=fault, AFTER=str(after))
    yield started
    lost = started.pop("lost")
    lost.stop()
    lost.thread.join(30)
    for job in [*started.values(), lost.job]:  # only processes started here, by their process group
        if job is not None and job.proc.poll() is None:
            os.killpg(job.proc.pid, signal.SIGKILL)
            job.proc.wait()


@pytest.fixture(scope="module")
def reference(jobs) -> dict:
    """An uninterrupted run of the same config, in its own data folder."""
    return jobs["ref-a"].result()


def rerun_in_process(project: Path, monkeypatch, capsys) -> dict:
    """`fewlabel run --json` again on ``project``, in this process (no interpreter start-up)."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from fewlabel.cli import main

    monkeypatch.setenv("FEWLABEL_DATA_DIR", str(project / "data"))
    monkeypatch.delenv("FEWLABEL_FAULT", raising=False)
    capsys.readouterr()
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: project / "storage"}):
        code = main(RUN)
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def intact(folder: Path) -> bool:
    """A committed artifact folder: a manifest listing exactly its files, every hash matching."""
    try:
        manifest = json.loads((folder / store.MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    names = {p.name for p in folder.iterdir()} - {store.MANIFEST}
    return names == set(manifest["files"]) and all(
        store.sha256_file(folder / name) == digest for name, digest in manifest["files"].items()
    )


def stage_folders(data: Path) -> dict[str, Path]:
    """Committed artifact folders by stage (never a hidden ``.tmp-``/``.trash-`` folder)."""
    found = {}
    for layer in data.iterdir() if data.exists() else []:
        if layer.is_dir() and layer.name != "runs":
            for folder in layer.iterdir():
                if folder.is_dir() and not folder.name.startswith("."):
                    stage = folder.name.rsplit("-", 1)[0]
                    assert stage not in found, f"two {stage} artifacts in one run's folder"
                    found[stage] = folder
    return found


def leftovers(data: Path) -> list[Path]:
    return sorted(data.rglob(".tmp-*")) + sorted(data.rglob(".trash-*"))


def wait_for(path: Path, job: Job, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        ended = job.proc.poll() is not None
        assert not ended, f"{job.name} ended before {path.name}:\n{job.stderr[-3000:]}"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.05)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


# 1. SIGKILL in the middle of each stage ---------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.slow
def test_sigkill_mid_stage_then_rerun_resumes_and_reads_nothing_torn(jobs, reference, stage, monkeypatch, capsys):
    job = jobs[f"kill-{stage}"]
    wait_for(job.data / f".paused-{stage}", job)
    # the stage's files are written, in its temporary folder, not yet committed: kill it now
    layer = job.data / store.LAYERS[stage]
    torn = list(layer.glob(f".tmp-{stage}-*"))
    assert len(torn) == 1 and any(torn[0].iterdir()), "the stage had not written its files"
    os.kill(job.proc.pid, signal.SIGKILL)
    assert job.wait(30).proc.returncode == -signal.SIGKILL
    done = STAGES[: STAGES.index(stage)]
    assert set(stage_folders(job.data)) == set(done)  # nothing of the killed stage was committed

    again = rerun_in_process(job.project, monkeypatch, capsys)

    assert again["stages"] == {s: "Cached" if s in done else "Completed" for s in STAGES}
    assert again["metrics"] == reference["metrics"]
    for s, path in again["artifacts"].items():
        assert ".tmp-" not in path and intact(Path(path)), s
    record = json.loads(Path(again["run_record"]).read_text())
    assert all(".tmp-" not in ref["path"] for ref in record["refs"].values())
    # the torn folder was never read nor renamed into place, and the next run removed it (its
    # process was gone): nothing waits an hour for `cache gc`
    assert not torn[0].exists()


# 2. A damaged artifact: detected by its hash, rebuilt, with a warning naming the file -----------


def test_damaged_artifact_is_rebuilt_with_a_warning_naming_the_file(
    jobs, reference, tmp_path, monkeypatch, capsys, caplog
):
    project = tmp_path / "copy"
    shutil.copytree(jobs["ref-a"].project / "data", project / "data")
    art = stage_folders(project / "data")
    vectors, model = art["pretrain"] / "vectors.parquet", art["train"] / "pretrained.skops"
    vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])  # truncated
    model.write_bytes(model.read_bytes()[:-3] + b"zzz")  # altered, same size

    with caplog.at_level("WARNING", logger="fewlabel.store"):
        again = rerun_in_process(project, monkeypatch, capsys)

    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for folder, name in [(art["pretrain"], "vectors.parquet"), (art["train"], "pretrained.skops")]:
        assert any(f"artifact {folder}: {name} missing or altered" in m for m in warned), warned
    rebuilt = ("pretrain", "train")  # bytes identical again, so what reads them stays Cached
    assert again["stages"] == {s: "Completed" if s in rebuilt else "Cached" for s in STAGES}
    assert again["metrics"] == reference["metrics"]
    assert intact(art["pretrain"]) and intact(art["train"])


# 3. Two runs of one config at once on one data folder -------------------------------------------


def test_two_runs_at_once_both_finish_equal_and_build_each_artifact_once(jobs, reference):
    twins = [jobs["twin-1"], jobs["twin-2"]]
    results = [twin.result() for twin in twins]
    data = twins[0].data
    assert results[0]["metrics"] == results[1]["metrics"] == reference["metrics"]
    assert results[0]["artifacts"] == results[1]["artifacts"]
    folders = stage_folders(data)
    assert set(folders) == set(STAGES) and all(intact(f) for f in folders.values())
    assert leftovers(data) == []
    for twin in twins:  # run records are whole JSON (written atomically), latest.json too
        json.loads(Path(json.loads(twin.stdout.strip().splitlines()[-1])["run_record"]).read_text())
    json.loads((data / "runs" / "latest.json").read_text())

    # every build logs "built artifact <folder>", a run that found it built under the lock logs
    # "artifact <folder> already built": per stage, one build, and the other run reused or Cached
    built = [re.findall(r"built artifact (\S+)", twin.stderr) for twin in twins]
    reused = [re.findall(r"artifact (\S+) already built", twin.stderr) for twin in twins]
    for stage in STAGES:
        folder = str(folders[stage])
        builders = [i for i in (0, 1) if folder in built[i]]
        assert [b.count(folder) for b in built] in ([1, 0], [0, 1]), (stage, built)
        other = 1 - builders[0]
        state = results[other]["stages"][stage]
        assert state == "Cached" or folder in reused[other], (stage, state, reused)


# 4. A full disk, a read-only data folder; write errors that are not the folder's ----------------


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("full", "No space left on device"),
        ("readonly", "Read-only file system"),
    ],
)
def test_no_room_to_write_gives_one_clear_line_and_nothing_partial(jobs, fault, reason):
    if fault not in jobs:
        pytest.skip("no unshare here")
    job = jobs[fault].wait()
    if job.proc.returncode == 97 or "unshare:" in job.stderr:
        pytest.skip(f"cannot mount in a private namespace here: {job.stderr[-300:]}")
    assert job.proc.returncode == 2, job.stderr[-3000:]
    last = job.stderr.strip().splitlines()[-1]
    if job.stdout:  # the flow ran and failed: --json says so on stdout, with the same error
        assert json.loads(job.stdout)["error"] in last
    assert error_lines(job.stderr) == [last]
    assert f"cannot write to the data folder {job.data}: {reason}" in last, last
    assert "set FEWLABEL_DATA_DIR to a writable folder" in last
    assert "Traceback" not in job.stderr
    # what the run left in its data folder, copied out of the mount namespace
    left = job.project / "after"
    assert leftovers(left) == []
    folders = stage_folders(left)
    assert all(intact(f) for f in folders.values())
    if fault == "readonly":
        assert folders == {} and not any(left.iterdir())
    else:  # ingest and preprocess fit; pretrain's files do not, and nothing of it was kept
        assert set(folders) == {"ingest", "preprocess"}, folders
        assert "stage pretrain" in last


@pytest.mark.parametrize("code", sorted(store.NO_ROOM))
def test_write_refused_by_the_folder_is_a_user_error(data_dir, code):
    def refused(out):
        (out / "half.parquet").write_bytes(b"PAR1")
        raise OSError(code, os.strerror(code))

    expected = f"cannot write to the data folder {re.escape(str(data_dir))}: {os.strerror(code)}; "
    with pytest.raises(UserError, match=expected):
        store.materialize("ingest", "fewlabel-ingest-k", refused)
    assert leftovers(data_dir) == [] and stage_folders(data_dir) == {}


def test_transient_errors_stay_oserrors_and_prefect_retries_them(prefect_api, data_dir):
    from fewlabel.orchestration.stage import is_transient, stage

    attempts = []

    def flaky(out: Path, config: str) -> dict:
        attempts.append(config)
        if len(attempts) == 1:
            raise OSError(errno.EIO, "Input/output error")
        (out / "points.parquet").write_text("{}")  # the curve stage's declared file
        return {}

    with pytest.raises(OSError) as raised:  # in the store: not turned into a user error
        store.materialize("ingest", "fewlabel-ingest-eio", lambda out: flaky(out, "direct"))
    assert not isinstance(raised.value, UserError) and is_transient(raised.value)

    def unreadable_input(out):  # a file outside the data folder is not the data folder's fault
        raise OSError(errno.EACCES, "Permission denied", "/etc/some-input.csv")

    with pytest.raises(OSError) as raised:
        store.materialize("ingest", "fewlabel-ingest-eacces", unreadable_input)
    assert not isinstance(raised.value, UserError)

    attempts.clear()
    task = stage("curve")(flaky).with_options(retry_delay_seconds=0)
    state = task("through prefect", return_state=True)
    assert state.is_completed() and len(attempts) == 2  # failed once with EIO, retried, done

    def full(out: Path, config: str) -> dict:
        attempts.append(config)
        raise OSError(errno.ENOSPC, "No space left on device")

    attempts.clear()
    task = stage("ingest")(full).with_options(retry_delay_seconds=0)
    state = task("disk full", return_state=True)
    assert state.is_failed() and len(attempts) == 1  # not retried: it would fail the same way
    assert isinstance(state.result(raise_on_failure=False), UserError)


# 5. The Prefect server goes away mid-run --------------------------------------------------------


def test_prefect_server_killed_mid_run(jobs, reference, monkeypatch, capsys):
    lost = jobs["lost"]
    lost.thread.join(240)
    assert lost.error is None, lost.error
    assert not lost.healthy()  # the server really is gone
    job = lost.job
    assert "embeddings/pretrain-" not in lost.stderr_at_kill  # it died while pretrain was paused
    job.wait(180)
    assert job.proc.returncode == 3, job.stderr[-3000:]
    assert job.stdout == ""
    [line] = error_lines(job.stderr)
    assert f"lost the connection to the Prefect server at {lost.url}" in line
    assert f"the stages that finished are kept in {job.data} and the next run reuses them" in line
    # tasks are orchestrated client-side in Prefect 3: the stages carried on without the server;
    # the run failed at its first API call (publishing the report), after its artifacts were made
    built = {Path(p).name.rsplit("-", 1)[0] for p in re.findall(r"built artifact (\S+)", job.stderr)}
    folders = stage_folders(job.data)
    assert {"ingest", "preprocess", "pretrain"} <= built == set(folders)
    assert all(intact(f) for f in folders.values()) and leftovers(job.data) == []

    again = rerun_in_process(job.project, monkeypatch, capsys)  # against another, live server
    assert again["stages"] == {s: "Cached" if s in built else "Completed" for s in STAGES}
    assert again["metrics"] == reference["metrics"]


# 6. Reproducibility across processes ------------------------------------------------------------


def test_same_config_and_seed_give_byte_identical_artifacts_across_processes(jobs, reference):
    a, b = reference, jobs["ref-b"].result()
    assert set(a["stages"].values()) == set(b["stages"].values()) == {"Completed"}  # both computed
    assert a["artifacts"]["evaluate"] != b["artifacts"]["evaluate"]  # two data folders
    art_a = {s: Path(p) for s, p in a["artifacts"].items()}
    art_b = {s: Path(p) for s, p in b["artifacts"].items()}
    for stage, name in [("evaluate", "metrics.json"), ("pretrain", "vectors.parquet")]:
        assert (art_a[stage] / name).read_bytes() == (art_b[stage] / name).read_bytes(), name
    for stage in STAGES:  # and every file of every stage (README: "every artifact byte-identical")
        files_a = json.loads((art_a[stage] / store.MANIFEST).read_text())["files"]
        files_b = json.loads((art_b[stage] / store.MANIFEST).read_text())["files"]
        assert files_a == files_b, stage
