"""Planning chunks on Dask: a LocalCluster or a scheduler address, its lifecycle in one place."""

from __future__ import annotations

from collections.abc import Callable

import xarray as xr

from bayeslaw.core.errors import SetupError
from bayeslaw.core.params import Laws


def map_chunks(scheduler: str, work: Callable[..., xr.Dataset], chunks: list[Laws], *args,
               progress: Callable[[int, int], None] | None, total: int, **kwargs) -> list[xr.Dataset]:
    """``[work(chunk, *args, **kwargs) for chunk in chunks]`` on Dask workers, in chunk order.

    Parameters
    ----------
    scheduler
        ``"local"`` (a LocalCluster of two worker processes, started and closed here) or a
        scheduler address (``tcp://host:8786``).
    work
        The function applied to each chunk (a picklable top-level function).
    chunks
        Coefficient draws, one chunk each.
    args, kwargs
        Passed on to ``work``.
    progress
        ``progress(done, total)`` as chunks finish, counting draws.
    total
        The number of draws in all chunks.

    Returns
    -------
    list of xarray.Dataset
        ``work``'s results in chunk order, each with a ``draw`` dim of its chunk's length.
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed  # the optional dask extra
    except ImportError as err:
        raise SetupError("the Dask path needs the dask extra: pip install -e '.[dask]'") from err
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True) if scheduler == "local" else None
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout="10s")
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise SetupError(f"cannot reach the Dask scheduler at {scheduler} ({err}); start one (`dask scheduler`) "
                         "or use --scheduler local") from err
    try:
        futures = [client.submit(work, sub, *args, **kwargs, pure=False) for sub in chunks]
        done = 0
        for fut in as_completed(futures):
            done += fut.result()["draw"].size
            if progress:
                progress(done, total)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
