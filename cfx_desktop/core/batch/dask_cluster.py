"""Run a batch on Dask distributed: one task per chunk, results gathered back into the output folder here.

Dask is optional (``pip install 'cfx-desktop[cluster]'``). A local cluster's scheduler, workers and status page all
listen on 127.0.0.1 (random ports; checked with psutil), so nothing is reachable from outside the machine; ``--scheduler ADDRESS`` connects to a cluster the user runs, whose
workers need cfx-desktop installed (the same version and weights; for a dataset of your own, the same user data
folder, e.g. on a shared drive). Each worker loads its models once and keeps them for every chunk it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cfx_desktop.core.batch.runner import BatchError, BatchJob, Executor, Item, _payloads, run_chunk


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise BatchError("Dask distributed is not installed; install it with: pip install 'cfx-desktop[cluster]' "
                         "(or run without --scheduler / --dask-local, in this process)") from exc
    return distributed


class DaskExecutor(Executor):
    """Chunks as Dask tasks; at most ``2 x workers`` in flight so a large folder is read as it is explained."""

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None, threads_per_worker: int = 1) -> None:
        if not scheduler and not local_workers:
            raise BatchError("give a scheduler address or a number of local workers")
        self.scheduler = scheduler
        self.local_workers = local_workers
        self.threads = threads_per_worker
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> "DaskExecutor":
        distributed = _distributed()
        try:
            if self.scheduler:
                self._client = distributed.Client(self.scheduler, timeout="10s")
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.local_workers, threads_per_worker=self.threads, processes=True,
                    host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=40)
                self._client = distributed.Client(self._cluster)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise BatchError(f"cannot reach the Dask scheduler {self.scheduler or 'on this machine'}: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def workers(self) -> int:
        if self._client is None:
            return 0
        return max(1, len(self._client.scheduler_info().get("workers", {})))

    def describe(self) -> str:
        where = f"scheduler {self.scheduler}" if self.scheduler else "a local cluster"
        return f"Dask distributed, {where}, {self.workers} worker(s)"

    def map(self, job: BatchJob, work_chunks: list[list[Item]]) -> Iterator[list[dict[str, Any]]]:
        if self._client is None:
            raise BatchError("the Dask executor is used inside a with-block")
        distributed = _distributed()
        pending = iter(work_chunks)
        limit = 2 * self.workers

        from cfx_desktop.core import device

        preference = device.preference()

        def submit(chunk: list[Item]) -> Any:
            return self._client.submit(run_chunk, job.work, _payloads(job, chunk), job.settings, self.threads, preference,
                                       pure=False)

        running = distributed.as_completed([submit(c) for _, c in zip(range(limit), pending)])
        for future in running:
            try:
                records = future.result()
            except Exception as exc:  # noqa: BLE001 - a task's failure ends the run; finished chunks are kept
                raise BatchError(f"a Dask task failed ({type(exc).__name__}: {exc}); the items written so far are kept, "
                                 "run the same command again to resume") from exc
            following = next(pending, None)
            if following is not None:
                running.add(submit(following))
            yield records
