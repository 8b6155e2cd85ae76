"""Run an audit's per-source work on a Dask cluster (`lrdoctor audit --scheduler`).

The client keeps discovery; the workers read the sources themselves (from a filesystem or
store they share with the client, at the same paths) and send back what the audit keeps of
each run. Work goes out in batches with a bounded number in flight and comes back in the
order it went out, so the client holds a window of results, never the whole audit, and a
report streams as it does locally. A worker that dies loses nothing: the scheduler runs its
tasks again elsewhere. Dask is an optional dependency (`pip install "lrdoctor[dask]"`),
imported only here and only when a scheduler is given.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

import lrdoctor

LOCAL = "local"
"""The scheduler address that starts a LocalCluster on this machine for one audit."""
RETRIES = 2
"""How many times a task that raised is run again; a task on a worker that died is run again
by the scheduler (up to its `distributed.scheduler.allowed-failures`) whatever this says."""
MAX_BATCH = 32
"""Sources per task at most: enough to keep the scheduler's per-task cost small at 10^6
runs, few enough that a retried batch costs little."""
TASKS_PER_THREAD = 4
"""Tasks in flight per worker thread: the window of results the client may hold."""


class ClusterError(Exception):
    """The cluster cannot be used: dask is not installed, the scheduler cannot be reached, the
    workers cannot run lrdoctor, or the connection was lost during the audit."""


@dataclass(frozen=True)
class Failed:
    """An item whose task raised on the cluster, even alone and after its retries."""

    error: BaseException

    def __str__(self) -> str:
        name = type(self.error).__name__
        reason = f"{name}: {self.error}" if str(self.error) else name
        return f"failed on the cluster ({reason})"


def _distributed():
    try:
        import distributed
    except ImportError as error:
        raise ClusterError(
            'auditing on a Dask cluster needs dask.distributed: pip install "lrdoctor[dask]"'
        ) from error
    return distributed


def worker_version() -> str:
    """The lrdoctor version a worker runs (a module-level function, run on each worker)."""
    return lrdoctor.__version__


@contextmanager
def connect(scheduler, workers: int = 2, timeout: float = 10.0) -> Iterator:
    """A `distributed.Client` for `scheduler`: an address (`tcp://host:port`), "local" for a
    LocalCluster of `workers` single-threaded processes closed afterwards, or a Client the
    caller made (used as it is, left open)."""
    if not isinstance(scheduler, str):
        yield scheduler
        return
    distributed = _distributed()
    if scheduler == LOCAL:
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # its health page, on a free port
            silence_logs=logging.ERROR,
        )
        with cluster, distributed.Client(cluster, set_as_default=False) as client:
            _check_workers(client, scheduler)
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({error})"
        ) from error
    with client:
        _check_workers(client, scheduler)
        yield client


def _check_workers(client, scheduler: str) -> None:
    """Every worker connected now must run this lrdoctor, or the results would differ."""
    try:
        versions = client.run(worker_version)
    except Exception as error:
        raise ClusterError(
            f"the workers of {scheduler} cannot run lrdoctor ({type(error).__name__}: "
            f'{error}); install the same lrdoctor on them, with "lrdoctor[dask]"'
        ) from error
    other = {worker: v for worker, v in versions.items() if v != lrdoctor.__version__}
    if other:
        listed = ", ".join(f"{worker} runs {v}" for worker, v in sorted(other.items()))
        raise ClusterError(
            f"the workers of {scheduler} must run lrdoctor {lrdoctor.__version__}: {listed}"
        )


def _threads(client) -> int:
    return sum(client.nthreads().values()) or 1


def batch_size(items: int, threads: int) -> int:
    """Sources per task: about eight tasks per thread, between 1 and MAX_BATCH sources."""
    return max(1, min(MAX_BATCH, items // (8 * threads)))


def map_in_order(client, function: Callable[..., list], items: Sequence, *args) -> Iterator[object]:
    """`function(batch, *args)` (module-level, returning one result per item) over batches of
    `items` on the cluster; yields each item's result, or `Failed`, in the order of `items`.

    A batch whose task raised after its retries is run again item by item, so one bad item
    costs only itself.
    """
    threads = _threads(client)
    size = batch_size(len(items), threads)
    batches = (list(items[start : start + size]) for start in range(0, len(items), size))
    window = deque()

    def submit(index: int, batch: list) -> None:
        future = client.submit(function, batch, *args, retries=RETRIES, pure=False, priority=-index)
        window.append((batch, future))

    numbered = enumerate(batches)
    for index, batch in islice(numbered, TASKS_PER_THREAD * threads):
        submit(index, batch)
    while window:
        batch, future = window.popleft()
        results = _result(future)
        for index, following in islice(numbered, 1):
            submit(index, following)
        if isinstance(results, Failed):
            results = [_alone(client, function, item, args) for item in batch]
        yield from results


def _alone(client, function, item, args) -> object:
    results = _result(client.submit(function, [item], *args, retries=RETRIES, pure=False))
    return results if isinstance(results, Failed) else results[0]


def _result(future) -> list | Failed:
    """The task's result, `Failed` when the task raised; a lost connection is a ClusterError."""
    try:
        return future.result()
    except Exception as error:
        if future.status == "error":
            return Failed(error)
        raise ClusterError(f"lost the Dask cluster during the audit ({error})") from error
    finally:
        future.release()
