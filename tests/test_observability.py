"""What a user sees of a run: task-run names, per-item progress in the run's logs, and what a
temporary server says about itself (issue 13)."""

import os
import sqlite3
import subprocess
import sys
import time
from importlib.metadata import version

import pytest

from fewlabel.config import load_config
from fewlabel.flows.curve import curve_flow

from .conftest import TINY

pytestmark = pytest.mark.server  # every test here uses a Prefect server


def read(fn):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return fn(client)


def all_messages(log_filter) -> list[str]:
    """Every log line of the filter, page by page (the API returns at most 200 at a time)."""
    messages, offset = [], 0
    while True:
        page = read(lambda c, start=offset: c.read_logs(log_filter=log_filter, limit=200, offset=start))
        messages += [log.message for log in page]
        if len(page) < 200:
            return messages
        offset += 200


def test_task_runs_are_named_after_their_stage_and_item_and_points_are_logged(prefect_api, data_dir):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    config = load_config(None, [*TINY, "curve.labels_per_class=[2, 4]", "curve.draws=1"])
    summary = curve_flow(config)
    run_id = summary["flow_run_id"]
    flt = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    names = {t.name for t in read(lambda c: c.read_task_runs(flow_run_filter=flt))}
    assert {"ingest", "preprocess", "pretrain", "vectorize", "curve-report"} <= names
    assert {n for n in names if n.startswith("curve:")} == {"curve:split=0,n=2", "curve:split=0,n=4"}
    flt_logs = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
    progress = []
    for _ in range(120):  # logs reach the API in the background
        messages = all_messages(flt_logs)
        progress = [m for m in messages if m.startswith("curve ") and " of 2)" in m]
        if len(progress) == 2:
            break
        time.sleep(0.5)
    assert sorted(p.split(":")[0] for p in progress) == ["curve 2", "curve 4"], progress  # each point as it ended
    tags = set(read(lambda c: c.read_flow_run(run_id).tags))
    assert {"fewlabel", "source:tiny"} <= tags and any(t.startswith("config:") for t in tags)


@pytest.mark.slow
def test_a_temporary_server_says_so_and_keeps_away_from_the_real_servers_database(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), FEWLABEL_DATA_DIR=str(tmp_path / "data"))
    sets = [arg for pair in TINY for arg in ("--set", pair)]
    done = subprocess.run(
        [sys.executable, "-m", "fewlabel.cli", "run", *sets], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stderr.splitlines()[0]
    assert first.startswith("fewlabel run: no Prefect server set") and "fewlabel server" in first
    assert not (home / "prefect.db").exists()  # `fewlabel server`'s database was never touched
    # the temporary server started on a copy of an empty, migrated database kept in Prefect's home
    template = home / f"temporary-server-{version('prefect')}.db"
    with sqlite3.connect(template) as db:
        assert db.execute("select version_num from alembic_version").fetchone()
        assert db.execute("select count(*) from flow_run").fetchone() == (0,)
    assert [p.name for p in home.iterdir() if ".building" in p.name] == []
