"""Where grading runs: a ``dask.distributed`` client on a LocalCluster of this machine (one worker
process per core, one thread each, so each worker grades one sandboxed submission at a time), or on
an existing Dask scheduler given by address (workers started there with ``dask worker ADDRESS
--nthreads 1``, from an environment with pt2jax installed)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["grading_client"]


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
