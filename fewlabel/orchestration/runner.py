"""Where a flow's mapped stages run: threads in the flow's process (default) or a Dask cluster.

The flows are the same either way; only the task runner differs. Mapped stages (the unlabeled
corpus's shards, prediction shards, learning-curve points) are submitted to it; the other stages
run in the flow's process. Workers are told the data folder (``FEWLABEL_DATA_DIR``, as an
absolute path) when the flow connects, and Prefect sends its settings (the API URL) with each
task; on a remote cluster the data folder must be on a filesystem every worker mounts at the same
path, and the Prefect API must be a server they can reach (``fewlabel server``), not a temporary one.
"""

from __future__ import annotations

import os

from prefect.task_runners import ThreadPoolTaskRunner

from fewlabel import store
from fewlabel.errors import UserError
from fewlabel.orchestration.server import is_temporary

ADDRESS = "FEWLABEL_DASK_ADDRESS"
WORKERS = "FEWLABEL_DASK_WORKERS"


class Threads(ThreadPoolTaskRunner):
    """Prefect's thread pool, except that a flow ending in an error or an interruption does not wait for
    the items still computing (Prefect's waits for every running thread: minutes of curve points after
    a Ctrl-C or SIGTERM). Their work is whole or raises (:mod:`fewlabel.interrupts`), and the command
    ends the process once the run is marked."""

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if exc_type is None or self._executor is None:
            return super().__exit__(exc_type, exc_value, traceback)
        for event in self._cancel_events.values():
            event.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None
        return super().__exit__(exc_type, exc_value, traceback)


def threads() -> ThreadPoolTaskRunner:
    """The default: one thread per core, so at most that many shards are in memory at once."""
    return Threads(max_workers=os.cpu_count() or 1)


def _dask_runner(**kwargs):
    """prefect-dask's task runner that first tells the cluster's workers where the data folder is
    (distributed is imported only here: it takes 0.6 s to load)."""
    from distributed.diagnostics.plugin import WorkerPlugin
    from prefect_dask import DaskTaskRunner

    class DataFolder(WorkerPlugin):
        """Sets ``FEWLABEL_DATA_DIR`` on every worker, present and future."""

        name = "fewlabel-data-folder"

        def __init__(self, folder: str):
            self.folder = folder

        def setup(self, worker) -> None:
            os.environ["FEWLABEL_DATA_DIR"] = self.folder

    class DataFolderDaskRunner(DaskTaskRunner):
        @property
        def client(self):
            fresh = self._client is None
            client = super().client
            if fresh:
                client.register_plugin(DataFolder(str(store.data_dir())))
            return client

    return DataFolderDaskRunner(**kwargs)


def task_runner(address: str | None = None, workers: int | None = None):
    """A DaskTaskRunner for ``address`` (an existing cluster, ``tcp://host:8786``) or a local cluster
    of ``workers`` processes; the settings ``FEWLABEL_DASK_ADDRESS`` / ``FEWLABEL_DASK_WORKERS`` are
    the defaults. None (Prefect's thread pool) when neither is set."""
    address = address or os.environ.get(ADDRESS) or None
    raw = workers if workers is not None else os.environ.get(WORKERS) or None
    if address and raw is not None:
        raise UserError(f"give a Dask cluster address or a number of local workers, not both ({ADDRESS}, {WORKERS})")
    if (address or raw is not None) and is_temporary():
        raise UserError(
            "a Dask cluster's workers report to the Prefect API: start `fewlabel server` and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api first"
        )
    if not address and raw is None:
        return None
    if address:
        return _dask_runner(address=address)
    try:
        count = int(raw)
        if count < 1:
            raise ValueError
    except ValueError:
        raise UserError(f"{WORKERS}={raw!r}: the number of local Dask worker processes, e.g. 2") from None
    return _dask_runner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": count, "threads_per_worker": 1, "processes": True, "dashboard_address": None},
    )


def with_runner(flow, address: str | None = None, workers: int | None = None):
    """The flow as it is, or with the Dask task runner those settings ask for."""
    runner = task_runner(address, workers)
    return flow if runner is None else flow.with_options(task_runner=runner)
