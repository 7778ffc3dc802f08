"""Deployments on a real local server: register, trigger, schedule, fail in a stage, retry the run."""

import json
import subprocess
import sys

import pytest
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterId,
)

from .conftest import TINY, TINY_STAGES
from .servers import client_call, process, wait_until

pytestmark = pytest.mark.server  # every test here uses a Prefect server

STAGES = list(TINY_STAGES)


@pytest.fixture
def server(prefect_api):
    """The session's server: this test finds its deployments, runs and artifacts by name or id."""
    return prefect_api


def serve(tmp_path, url, name, *extra, **env):
    sets = [arg for pair in TINY for arg in ("--set", pair)]
    return process(
        [sys.executable, "-m", "fewlabel.cli", "serve", *sets, *extra],
        cwd=tmp_path,
        log=tmp_path / f"{name}.log",
        PREFECT_API_URL=url,
        FEWLABEL_DATA_DIR=str(tmp_path / "data"),
        PREFECT_LOGGING_LEVEL="INFO",
        **env,
    )


def deployment_id(url, name="fewlabel-train/on-demand"):
    def read(client):
        try:
            return client.read_deployment_by_name(name).id
        except Exception:  # not registered yet
            return None

    return wait_until(lambda: client_call(url, read), 90, f"deployment {name}")


def trigger(url, dep_id):
    return client_call(url, lambda c: c.create_flow_run_from_deployment(dep_id).id)


def final_state(url, run_id, timeout=180):
    def done(client):
        state = client.read_flow_run(run_id).state
        return state if state and state.is_final() else None

    return wait_until(lambda: client_call(url, done), timeout, f"flow run {run_id} to finish")


def record(tmp_path, run_id):
    return json.loads((tmp_path / "data" / "runs" / f"{run_id}.json").read_text())


@pytest.mark.slow
def test_deployments_fail_retry_trigger_and_schedule(server, tmp_path):
    # 1. the runner's environment makes `train` fail: the flow run fails, naming the stage
    with serve(tmp_path, server, "serve-faulty", "--cron", "0 0 1 1 *", FEWLABEL_FAULT="train:fail"):
        dep = deployment_id(server)
        failed_run = trigger(server, dep)
        state = final_state(server, failed_run)
    assert state.is_failed()
    assert "stage train failed" in state.message
    served = [d for d in client_call(server, lambda c: c.read_deployments()) if d.work_pool_name is None]
    assert {d.name for d in served} == {"nightly", "on-demand"}  # the nightly loop; training, curve, predict
    flows = {client_call(server, lambda c, d=d: c.read_flow(d.flow_id).name): d for d in served}
    # the six the README lists, each parameter with its help text (what the UI shows under it)
    assert set(flows) == {f"fewlabel-{n}" for n in ("nightly", "train", "curve", "predict", "suggest", "label")}
    for name, deployment in flows.items():
        properties = deployment.parameter_openapi_schema["properties"]
        assert properties and all(p.get("description") for p in properties.values()), name
    nightly = flows["fewlabel-nightly"]
    assert nightly.description.startswith('On cron "0 0 1 1 *", time zone UTC: train')
    assert nightly.schedules[0].schedule.timezone == "UTC"
    # 2. fixed (no fault): retry the same flow run; earlier stages come back Cached (no schedule fires
    # meanwhile: a scheduled run would build train first and leave the retry nothing to compute)
    with serve(tmp_path, server, "serve", "--cron", "0 0 1 1 *"):
        retry = subprocess.run(
            [sys.executable, "-m", "prefect", "flow-run", "retry", str(failed_run)],
            env={**__import__("os").environ, "PREFECT_API_URL": server},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert retry.returncode == 0, retry.stdout + retry.stderr
        assert final_state(server, failed_run).is_completed()
        stages = record(tmp_path, failed_run)["stages"]
        assert [stages[s] for s in STAGES] == ["Cached"] * 4 + ["Completed"] * 2
        # 3. a manual trigger of the deployment completes, everything cached
        again = trigger(server, dep)
        assert final_state(server, again).is_completed()
        assert set(record(tmp_path, again)["stages"].values()) == {"Cached"}
        of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[again]))
        keys = {a.key for a in client_call(server, lambda c: c.read_artifacts(artifact_filter=of_run))}
        assert {"fewlabel-metrics", "fewlabel-report", "fewlabel-lineage"} <= keys

    # 4. every 15 s: the interval schedule (the nightly loop: train, gate, predict) produces runs that
    # complete on their own
    with serve(tmp_path, server, "serve-interval", "--interval", "15"):
        nightly = deployment_id(server, "fewlabel-nightly/nightly")

        def scheduled_completed(client):
            runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[nightly])))
            return [r for r in runs if r.auto_scheduled and r.state.is_completed()]

        assert wait_until(lambda: client_call(server, scheduled_completed), 150, "a scheduled run")
