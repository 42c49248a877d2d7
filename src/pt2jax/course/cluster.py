"""Where grading runs: a ``dask.distributed`` client on a LocalCluster of this machine (one worker
process per core, one thread each, so each worker grades one sandboxed submission at a time), or on
an existing Dask scheduler given by address (workers started there with ``dask worker ADDRESS
--nthreads 1``, from an environment with pt2jax installed)."""

from __future__ import annotations

import logging
import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["grading_client", "shared"]


@contextmanager
def grading_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client: on ``scheduler`` when given, else on a LocalCluster of ``workers`` processes
    (default: the machine's cores), closed on the way out."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout=60) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    # memory_limit=0: the worker process itself is small; each grade's memory is bounded by its own
    # cgroup (memory_mb), which dask's memory manager would not see anyway
    # no dashboard; the scheduler's HTTP routes (/health, /metrics) on a free port, not 8787, so two
    # batches on one machine do not collide
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, memory_limit=0,
                      silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
        yield client


def _held(value: Any) -> Any:
    return value


def shared(client: Any, value: Any, name: str) -> Any:
    """``value`` on the cluster, for every task that takes the returned future: the result of a
    task that holds it, so that the death of the worker with its only copy costs one re-run of that
    task (dask keeps how to make it), not the batch.

    Not ``client.scatter(..., broadcast=True)``: scattered data has no lineage, and dask's active
    memory manager drops the extra copies while no task waits on them yet, so a worker killed before
    the others fetched the one copy left cancelled every grade ("already forgotten")."""
    with warnings.catch_warnings():  # the bundle is sent once, to the scheduler, on purpose
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        return client.submit(_held, value, key=f"pt2jax-{name}-{uuid.uuid4().hex[:12]}", pure=False)
