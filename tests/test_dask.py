"""The same flows on a Dask cluster: mapped stages run on its workers, with identical results."""

import pyarrow.parquet as pq
import pytest

from fewlabel import runs
from fewlabel.errors import UserError
from fewlabel.flows.predict import predict_flow
from fewlabel.flows.train import train_flow
from fewlabel.orchestration.runner import task_runner, with_runner

from .conftest import labeled_csv, write
from .test_shards import config, shard

pytestmark = pytest.mark.server  # every test here uses a Prefect server


@pytest.mark.slow
def test_local_cluster_of_two_processes_gives_identical_results(prefect_api, tmp_path, monkeypatch, tiny_config):
    from distributed import Client, LocalCluster

    folder = tmp_path / "shards"
    for name in "abcd":
        shard(folder, name)
    labeled = labeled_csv(tmp_path / "labeled.csv")
    new = tmp_path / "new"
    write(new / "1.txt", "a wonderful film\na dull plot\n")
    write(new / "2.txt", "terrible\ngreat fun\nfine\n")
    cfg = config(tiny_config, folder, labeled)
    results = {}
    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        for where, address in (("threads", None), ("dask", cluster.scheduler_address)):
            monkeypatch.setenv("FEWLABEL_DATA_DIR", str(tmp_path / where))  # workers are told at submit time
            summary = with_runner(train_flow, address)(cfg)
            predicted = with_runner(predict_flow, address)(input_path=str(new), output_name="new")
            results[where] = (runs.read_run(), pq.read_table(predicted["output"]))
        ran = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert {"shard", "predict"} <= set(ran)  # the mapped stages ran on the cluster's workers
    assert summary["stages"]["shard"] == "Completed"
    (record, table), (dask_record, dask_table) = results["threads"], results["dask"]
    hashes = runs.each_ref(record["refs"], lambda ref: ref["sha256"])
    assert len(hashes["shard"]) == 4
    assert runs.each_ref(dask_record["refs"], lambda ref: ref["sha256"]) == hashes  # every artifact byte-identical
    assert dask_table.equals(table)


def test_runner_settings(monkeypatch):
    monkeypatch.delenv("FEWLABEL_DASK_ADDRESS", raising=False)
    monkeypatch.delenv("FEWLABEL_DASK_WORKERS", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert task_runner() is None  # Prefect's thread pool
    local = task_runner(workers=2)
    assert local.cluster_kwargs["n_workers"] == 2 and local.cluster_kwargs["processes"] is True
    monkeypatch.setenv("FEWLABEL_DASK_ADDRESS", "tcp://10.0.0.1:8786")
    assert task_runner().address == "tcp://10.0.0.1:8786"
    with pytest.raises(UserError, match="not both"):
        task_runner(workers=2)
    monkeypatch.delenv("FEWLABEL_DASK_ADDRESS")
    monkeypatch.setenv("FEWLABEL_DASK_WORKERS", "two")
    with pytest.raises(UserError, match="FEWLABEL_DASK_WORKERS='two'"):
        task_runner()
    monkeypatch.delenv("FEWLABEL_DASK_WORKERS")
    monkeypatch.delenv("PREFECT_API_URL")
    with pytest.raises(UserError, match="PREFECT_API_URL"):
        task_runner(workers=2)
