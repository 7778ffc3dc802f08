"""Ctrl-C and SIGTERM, as a terminal and a supervisor send them, to the real `fewlabel` process.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group, children included: the run must
still be marked (Crashed, never left Running), the command must end with 130 (143 for SIGTERM) and its
line, nothing computed while the signal arrived may be stored, and no child process may outlive it.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import TINY
from .servers import client_call, free_port, healthy, wait_until

pytestmark = [pytest.mark.server, pytest.mark.slow]

SLOW_PRETRAIN = [*TINY, "word2vec.epochs=1000", "word2vec.vector_size=64"]
SLOW_TRAIN = [*TINY, "classifier.alpha_grid=[" + ", ".join(str(0.01 * (i + 1)) for i in range(60)) + "]"]
"""A train stage of hundreds of MLP fits (60 candidate penalties, cross-validated): seconds to minutes."""


def sets(overrides):
    return [arg for pair in overrides for arg in ("--set", pair)]


def start(args, cwd: Path, mark: str, **env) -> subprocess.Popen:
    """`fewlabel ARGS` in a process group of its own, as a terminal's foreground job; its output in files."""
    return subprocess.Popen(
        [sys.executable, "-m", "fewlabel.cli", *args],
        cwd=cwd,
        env={**os.environ, "FEWLABEL_DATA_DIR": str(cwd / "data"), "FEWLABEL_TEST_MARK": mark, **env},
        stdout=open(cwd / "out.txt", "w"),
        stderr=open(cwd / "err.txt", "w"),
        start_new_session=True,
    )


def marked_processes(mark: str) -> list[int]:
    """Live processes whose environment carries this test's mark (the command and every child it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"FEWLABEL_TEST_MARK={mark}".encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for_line(path: Path, text: str, process: subprocess.Popen, timeout: float = 240) -> None:
    wait_until(
        lambda: text in path.read_text() or process.poll() is not None, timeout, f"{text!r} in {path.name}", every=0.2
    )
    assert process.poll() is None, path.read_text()[-3000:]


def unfinished_runs(url: str, data: Path) -> list[str]:
    """The flow runs recorded in ``data/runs`` and their task runs that the server still has in a
    non-final state (Running, Pending...)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    ids = [p.stem for p in (data / "runs").glob("*.json") if p.stem != "latest"]
    assert ids, "the interrupted run was recorded"

    def read(client):
        left = []
        for run_id in ids:
            flow_run = client.read_flow_run(run_id)
            if not flow_run.state.is_final():
                left.append(f"flow run {flow_run.name}: {flow_run.state.name}")
            only = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
            left += [
                f"task run {t.name}: {t.state.name}"
                for t in client.read_task_runs(flow_run_filter=only)
                if t.state and not t.state.is_final()
            ]
        return left

    return client_call(url, read)


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_process_group_during_pretraining_marks_the_run_and_ends_it(
    prefect_api, tmp_path, signum, status
):
    mark = uuid.uuid4().hex
    cli = start(["run", *sets(SLOW_PRETRAIN)], tmp_path, mark, PREFECT_LOGGING_LEVEL="INFO")
    wait_for_line(tmp_path / "err.txt", "Word2Vec pretraining epochs: 1/", cli)
    os.killpg(cli.pid, signum)
    assert cli.wait(60) == status
    err = (tmp_path / "err.txt").read_text()
    assert err.strip().splitlines()[-1] == "interrupted: finished stages are kept" and "Traceback" not in err
    assert unfinished_runs(prefect_api, tmp_path / "data") == []
    assert marked_processes(mark) == []


def test_ctrl_c_with_a_temporary_server_keeps_it_until_the_run_is_marked(tmp_path):
    mark = uuid.uuid4().hex
    cli = start(["run", *sets(SLOW_PRETRAIN)], tmp_path, mark, PREFECT_API_URL="", PREFECT_LOGGING_LEVEL="INFO")
    wait_for_line(tmp_path / "err.txt", "Word2Vec pretraining epochs: 1/", cli)
    os.killpg(cli.pid, signal.SIGINT)  # the terminal's Ctrl-C: the temporary server is not in this group
    assert cli.wait(60) == 130
    err = (tmp_path / "err.txt").read_text()
    assert "Finished in state Crashed" in err and "lost the connection" not in err
    assert err.strip().splitlines()[-1] == "interrupted: finished stages are kept"
    assert marked_processes(mark) == []  # the temporary server was stopped, after the run was marked


def test_ctrl_c_during_training_stores_no_half_fitted_model(prefect_api, tmp_path):
    mark = uuid.uuid4().hex
    cli = start(["run", *sets(SLOW_TRAIN)], tmp_path, mark, PREFECT_LOGGING_LEVEL="INFO")
    wait_for_line(tmp_path / "err.txt", "Task run 'vectorize' - Finished", cli)
    time.sleep(2)  # inside the train stage's fits (scikit-learn's MLP catches KeyboardInterrupt there)
    os.killpg(cli.pid, signal.SIGINT)
    assert cli.wait(60) == 130
    assert unfinished_runs(prefect_api, tmp_path / "data") == []
    assert not list((tmp_path / "data" / "models").glob("train-*/manifest.json"))
    plan = subprocess.run(
        [sys.executable, "-m", "fewlabel.cli", "plan", "--json", *sets(SLOW_TRAIN)],
        cwd=tmp_path,
        env={**os.environ, "FEWLABEL_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"stage": "train", "action": "run"' in plan.stdout.replace("\n", "")


def test_sigterm_stops_a_curve_at_once_and_the_server_command_with_its_server(prefect_api, tmp_path):
    mark = uuid.uuid4().hex
    curve = start(
        ["curve", *sets([*SLOW_TRAIN, "curve.labels_per_class=[2, 4, 8, 16]", "curve.draws=5"])],
        tmp_path,
        mark,
        PREFECT_LOGGING_LEVEL="INFO",
    )
    wait_for_line(tmp_path / "err.txt", "Task run 'vectorize' - Finished", curve)
    time.sleep(2)  # curve points computing in the flow's threads
    curve.send_signal(signal.SIGTERM)  # to the command alone, as a supervisor does
    assert curve.wait(30) == 143
    wait_until(lambda: not marked_processes(mark), 30, "the curve's processes to end")

    server_dir = tmp_path / "server"
    server_dir.mkdir()
    port = free_port()
    server = start(["server", "--port", str(port)], server_dir, mark, PREFECT_API_URL="")
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}/api") or server.poll() is not None, 180, "fewlabel server")
    assert len(marked_processes(mark)) >= 2  # the command and its Prefect server
    server.send_signal(signal.SIGTERM)
    assert server.wait(60) in (0, 143)
    wait_until(lambda: not marked_processes(mark), 30, "the Prefect server the command started to stop")
