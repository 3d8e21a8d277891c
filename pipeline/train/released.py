"""Released weights as a training stage's start: the stage's ``init`` param.

``<stage>.init`` names a checkpoint in its upstream format (or one of our model dirs), relative to
the repo root. DVC must see it, so it has to lie under ``weights/<stage>/`` (a dependency of every
training stage in dvc.yaml: replacing the file reruns the stage and what follows; a symlink there
to a file elsewhere works, DVC hashes the target) or inside one of the stage's own inputs. With
``steps: 0`` the stage trains nothing: the family's ``import_init(job)`` converts the checkpoint
into the stage's model dir, which every downstream stage then reads unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from pipeline.data.jsonl import write_json
from pipeline.train.job import TrainJob

WEIGHTS = "weights"  # weights/<stage>/: the user's released checkpoints, one folder per stage

# The family's conversion: read job.inputs["init"], write job.model_dir in our layout (checking
# what the checkpoint fixes against the section), return facts for metrics and manifest.
ImportInit = Callable[[TrainJob], dict]


def resolve_init(stage: str, init: str | None, root: Path, deps: list[str] = (), key: str = "init") -> str | None:
    """The repo-relative path of ``<stage>.<key>`` (None when unset), refused with one line when
    DVC could not see it or it does not exist (``key``: ``init``, or gnm_tokenize's ``vocab``)."""
    if not init:
        return None
    path = Path(os.path.normpath(root / init))  # no resolve(): a symlink under weights/ stays there
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = None
    seen = [f"{WEIGHTS}/{stage}", *deps]
    if rel is None or not any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in seen):
        raise ValueError(
            f"{stage}.{key}: {init} is outside {WEIGHTS}/{stage}/ and the stage's inputs, so DVC cannot "
            f"track it: copy or link it into {WEIGHTS}/{stage}/"
        )
    if not path.exists():
        raise FileNotFoundError(f"{stage}.{key}: {path} does not exist")
    return rel


def import_model(job: TrainJob, import_init: ImportInit | None) -> dict:
    """``steps: 0``: the family converts ``init`` into the model dir; the report gets metrics.json
    (steps 0 and what the conversion reports). Returns those metrics."""
    if import_init is None:
        raise ValueError(f"{job.stage}: steps 0 imports init, which this stage cannot do; set steps >= 1")
    if job.model_dir is not None:
        Path(job.model_dir).mkdir(parents=True, exist_ok=True)
    Path(job.report_dir).mkdir(parents=True, exist_ok=True)
    metrics = {"steps": 0, "imported": True, **import_init(job)}
    write_json(Path(job.report_dir) / "metrics.json", metrics)
    return metrics
