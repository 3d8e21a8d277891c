"""The base of every params section: strict models (unknown keys rejected), plus the
``base`` and ``runtime`` sections every stage reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ParamsError(ValueError):
    """A params.yaml problem, with the file and key in the message."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- base / runtime
class BaseParams(Section):
    seed: int = 42


class RuntimeParams(Section):
    """Read by every stage, tracked by none: switching engines must not invalidate outputs."""

    task_runner: Literal["threads", "processes", "dask"] = "processes"
    workers: int = Field(2, ge=1)
    shard_size: int = Field(16, ge=1)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    launcher: Literal["python", "torchrun"] = "python"
    nproc_per_node: int = Field(1, ge=1)
    dask_address: str | None = None
