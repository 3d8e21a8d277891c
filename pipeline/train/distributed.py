"""DDP under torchrun, device choice, and relaunching a training function with torchrun.

Under ``torchrun`` the environment carries RANK / LOCAL_RANK / WORLD_SIZE: ``setup()`` then
initialises a process group (gloo on CPU, nccl on CUDA) and pins ``cuda:LOCAL_RANK``. Without
it, everything is a single process and no process group is made. Only rank 0 writes files
(``DistInfo.is_main``); data is sharded per rank by :class:`pipeline.train.batches.RowBatches`.

``launch(target, kwargs, nproc)`` is how a stage (a Prefect flow, which stays the parent)
runs ``target`` -- ``"package.module:function"`` taking JSON-able keyword arguments -- in
``nproc`` processes via ``python -m torch.distributed.run --standalone``; each worker runs
``python -m pipeline.train.distributed SPEC.json``.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(pref: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA if available, else MPS, else CPU; ``cuda`` -> cuda:LOCAL_RANK."""
    pref = (pref or "auto").strip().lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps") if mps is not None and mps.is_available() else torch.device("cpu")
    if pref == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("runtime.device=cuda but no CUDA device is available")
        return torch.device("cuda", local_rank)
    dev = torch.device(pref)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"runtime.device={pref} but no CUDA device is available")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("runtime.device=mps but MPS is not available")
    return dev


def env_world() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from the torchrun environment, (0, 0, 1) otherwise."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))


def setup(device: str = "auto") -> DistInfo:
    """Initialise the process group when launched by torchrun with WORLD_SIZE > 1."""
    rank, local_rank, world = env_world()
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return DistInfo(rank, local_rank, world, dev)


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device: str = "auto"):
    """``with session(device) as info:`` one training process's distributed session. On success
    every rank meets at a barrier (no rank tears the group down while another still finishes a
    collective); the process group is destroyed on success and on error alike. No barrier after an
    error: the other ranks may never reach it, and torchrun stops them when this one fails."""
    info = setup(device)
    try:
        yield info
        barrier(info)
    finally:
        cleanup()


def barrier(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.distributed and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's value of ``obj`` on every rank."""
    if not (info.distributed and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def union_keys(keys, info: DistInfo) -> list:
    """The sorted union of every rank's ``keys``: the names of a collective's entries must agree
    on all ranks, also when one rank saw no batch (a validation shard smaller than the world)."""
    if not (info.distributed and dist.is_initialized()):
        return sorted(keys)
    boxes: list = [None] * info.world_size
    dist.all_gather_object(boxes, sorted(keys))
    return sorted({k for box in boxes for k in box})


def wrap(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """DDP-wrap when distributed; the plain model otherwise."""
    if not info.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [info.device.index] if info.device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DDP and/or torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


# ----------------------------------------------------------------------------- relaunch
def launch(
    target: str,
    kwargs: dict[str, Any],
    nproc: int,
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
) -> None:
    """Run ``target(**kwargs)`` in ``nproc`` processes under torchrun; raise if any fails."""
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    _resolve(target)  # fail fast in the parent on a typo
    with tempfile.TemporaryDirectory(prefix="ostinato-torchrun-") as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"target": target, "kwargs": kwargs}))
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "pipeline.train.distributed",
            str(spec),
        ]
        full_env = {
            **os.environ,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc))),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
            **(env or {}),
        }
        proc = subprocess.run(cmd, env=full_env, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(
            f"torchrun with {nproc} processes running {target} failed "
            f"(exit code {proc.returncode}); see the worker output above"
        )


def _resolve(target: str):
    mod, _, fn = target.partition(":")
    if not mod or not fn:
        raise ValueError(f"target must be 'package.module:function', got {target!r}")
    return getattr(importlib.import_module(mod), fn)


def _worker_main(spec_path: str) -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s rank {os.environ.get('RANK', 0)} %(message)s")
    spec = json.loads(Path(spec_path).read_text())
    _resolve(spec["target"])(**spec["kwargs"])


if __name__ == "__main__":
    _worker_main(sys.argv[1])
