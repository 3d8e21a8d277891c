"""Choose the Prefect task runner from the untracked ``runtime`` section."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from pipeline.config import RuntimeParams


def make_task_runner(rt: RuntimeParams):
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    if rt.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=rt.workers)
    if rt.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=rt.workers)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as e:
        raise RuntimeError("runtime.task_runner=dask needs prefect-dask: pip install 'ostinato[dask]'") from e
    if rt.dask_address:
        return DaskTaskRunner(address=rt.dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": rt.workers, "threads_per_worker": 1})


def shards(items: Sequence[Any], size: int) -> list[list[Any]]:
    """Contiguous shards; per-file work is mapped over these, never one task per file."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def map_shards(task: Callable, items: Sequence[Any], size: int, **unmapped_kwargs) -> list[Any]:
    """Run ``task(shard, **kwargs)`` over shards on the flow's task runner; flatten results
    in input order so outputs do not depend on worker scheduling."""
    from prefect import unmapped

    parts = shards(items, size)
    if not parts:
        return []
    kwargs = {k: unmapped(v) for k, v in unmapped_kwargs.items()}
    futures = task.map(parts, **kwargs)
    out: list[Any] = []
    for fut in futures:
        out.extend(fut.result())
    return out


def flatten(xs: Iterable[Iterable[Any]]) -> list[Any]:
    return [x for part in xs for x in part]
