"""Shared fixtures: a project-local Prefect home per session, a data folder per test, tiny configs."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fewlabel.catalog import TRAINING

# Before anything imports prefect: a private Prefect home, no telemetry, patient server start.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="fewlabel-test-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "WARNING"
# the test servers replay a request the locked database answered with 503 for up to 300 s
# (tests/retrying_server.py): clients wait for that answer rather than time out and send it again
os.environ["PREFECT_API_REQUEST_TIMEOUT"] = "360"

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"

TINY_STAGES = tuple(stage for stage in TRAINING if stage != "shard")
"""The training stages a run on ``tiny`` has (no unlabeled folder: no shard stage)."""

TINY = [
    "data.source=tiny",
    "word2vec.vector_size=16",
    "word2vec.epochs=2",
    "classifier.estimator.max_iter=60",
    "evaluate.bootstrap=200",
]


def pytest_configure(config):
    """The session's shared folder (its migrated Prefect database), named once by the controller so
    that every xdist worker inherits it."""
    if not hasattr(config, "workerinput") and "FEWLABEL_TEST_SHARED" not in os.environ:
        shared = Path(tempfile.mkdtemp(prefix="fewlabel-test-shared-"))
        os.environ["FEWLABEL_TEST_SHARED"] = str(shared)

        def cleanup():
            from .servers import stop_shared_server

            stop_shared_server(shared)
            shutil.rmtree(shared, ignore_errors=True)
            os.environ.pop("FEWLABEL_TEST_SHARED", None)

        config.add_cleanup(cleanup)


@pytest.fixture(scope="session")
def prefect_api():
    """The session's Prefect server, one for all xdist workers (:func:`tests.servers.shared_server`);
    this process and its subprocesses reach it by PREFECT_API_URL. Tests that share it find their own
    runs, deployments and artifacts by id or by name, never as "all of them"."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from .servers import shared_server

    url = shared_server()
    with temporary_settings({PREFECT_API_URL: url}):
        os.environ["PREFECT_API_URL"] = url
        refresh_global_settings_context()  # threads a test starts read the process-global settings
        yield url
        os.environ.pop("PREFECT_API_URL", None)
        refresh_global_settings_context()


@pytest.fixture
def cli(capfd):
    """``cli(*args, cwd=folder)``: the `fewlabel` command run in this process, as the console script runs
    it (``fewlabel.cli.main``, the project folder ``folder`` and its ``data/``), without an interpreter's
    start and imports (3-5 s of CPU each); a CompletedProcess with the exit status, stdout and stderr.
    The environment is restored after each command. tests/test_cli.py runs the real processes."""
    import subprocess

    from fewlabel.cli import main

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        saved, here = dict(os.environ), Path.cwd()
        capfd.readouterr()
        try:
            os.chdir(cwd)
            os.environ["FEWLABEL_DATA_DIR"] = str(cwd / "data")
            code = main(list(args))
        finally:
            os.chdir(here)
            os.environ.clear()
            os.environ.update(saved)
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("FEWLABEL_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def tiny_config():
    from fewlabel.config import load_config

    def make(*overrides):
        return load_config(None, [*TINY, *overrides])

    return make


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def labeled_csv(path: Path, n_per_class: int = 6, classes=("good", "bad")) -> Path:
    words = {"good": "great wonderful fine lovely", "bad": "awful terrible poor dull"}
    rows = ["text,label"]
    for label in classes:
        for i in range(n_per_class):
            rows.append(f'"the film was {words.get(label, label)} number {i}",{label}')
    return write(path, "\n".join(rows) + "\n")


def unlabeled_txt(path: Path, lines: int = 40) -> Path:
    base = [
        "the film was great and wonderful",
        "the film was awful and terrible",
        "a fine lovely story",
        "a dull poor plot",
        "number one two three film",
    ]
    return write(path, "\n".join(base[i % len(base)] + f" {i % 7}" for i in range(lines)) + "\n")


LONGEST_FIRST = {
    "make test": [
        "test_cli",
        "test_nightly",
        "test_faults",
        "test_integrity",
        "test_flow",
        "test_operations",
        "test_curve",
        "test_labeling",
    ],
    "make test-slow": [
        "test_lifecycle",
        "test_deployments",
        "test_nightly",
        "test_servers",  # its locked-database test waits about 80 s (little CPU)
        "test_faults",
        "test_interrupts",
        "test_upstream_damage",
        "test_snapshot",
        "test_postgres",
        "test_observability",
        "test_cli",
        "test_dask",
    ],
}
"""Per tier, the modules of 20 s or more (their tests' total, measured with `--durations=0`), longest
first. `make test` and `make test-slow` (``--dist loadfile``) hand whole modules to their xdist workers
in collection order: these go first so that none of them starts last, on one worker, while the others
sit idle."""


def pytest_collection_modifyitems(config, items):
    """The modules of :data:`LONGEST_FIRST` run first, in that order (the others after them, as
    collected). Each module declares its tests' tier itself (``pytestmark = pytest.mark.server``, or the
    mark on a test): ``server`` tests use a Prefect server (the session's, or real ones they start),
    ``make test-fast`` runs the others. A test that uses the session's server without the mark is an error."""
    tier = "make test-slow" if config.getoption("markexpr", "") == "slow" else "make test"
    rank = {name: i for i, name in enumerate(LONGEST_FIRST[tier])}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))
    unmarked = [
        item.nodeid for item in items if "prefect_api" in item.fixturenames and not item.get_closest_marker("server")
    ]
    if unmarked:
        raise pytest.UsageError(
            f"{len(unmarked)} tests use the Prefect server without @pytest.mark.server: {unmarked[:5]}"
        )
