"""The training flow against a Prefect server whose database is a real PostgreSQL server."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import TINY
from .servers import postgres, postgres_bin, prefect_server

BIN = postgres_bin()
pytestmark = pytest.mark.server  # every test here uses a Prefect server


@pytest.mark.skipif(
    BIN is None,
    reason="PostgreSQL server programs not installed (Debian package 'postgresql'; .ci/run installs it where apt can)",
)
@pytest.mark.slow
def test_flow_runs_on_a_postgres_backed_server(tmp_path):
    with postgres(BIN) as (db_url, psql):
        with prefect_server(tmp_path, PREFECT_SERVER_DATABASE_CONNECTION_URL=db_url) as api:
            env = {**os.environ, "PREFECT_API_URL": api, "FEWLABEL_DATA_DIR": str(tmp_path / "data")}
            sets = [arg for pair in TINY for arg in ("--set", pair)]
            runs = []
            for _ in range(2):
                done = subprocess.run(
                    [sys.executable, "-m", "fewlabel.cli", "run", "--json", *sets],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert done.returncode == 0, done.stderr[-3000:]
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            assert set(runs[0]["stages"].values()) == {"Completed"}
            assert set(runs[1]["stages"].values()) == {"Cached"}
            ids = ",".join(f"'{r['flow_run_id']}'" for r in runs)
            query = f"SELECT count(*) FROM flow_run WHERE id IN ({ids}) AND state_type = 'COMPLETED'"
            rows = subprocess.run([*psql, "-tAc", query], capture_output=True, text=True, check=True).stdout
            assert rows.strip() == "2"  # both runs are recorded in PostgreSQL
            tasks = subprocess.run(
                [*psql, "-tAc", "SELECT count(*) FROM task_run"], capture_output=True, text=True, check=True
            ).stdout
            assert int(tasks) >= 12
