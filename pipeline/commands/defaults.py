"""Default checkpoints of ``ostinato generate``: resolved against the project folder, not the shell's.

``models/gnm_finetune`` typed from ``/tmp`` used to be looked up as ``/tmp/models/gnm_finetune``
and the error then spoke of a Python argument; now the default is looked up under the project
root (``pipeline.config.repo_root``: $OSTINATO_ROOT or the nearest folder with params.yaml) and
a missing one is named with the way out (build it, or pass --checkpoint).
"""

from __future__ import annotations

from pathlib import Path


def default_checkpoint(given: Path | None, default: Path, family: str) -> Path:
    """``given`` as typed, else ``default`` under the project root, which must exist."""
    if given is not None:
        return given
    from pipeline.config import repo_root

    root = repo_root()
    path = root / default
    if not path.exists():
        raise FileNotFoundError(
            f"no --checkpoint given and the default {family} model {path} does not exist "
            f"(build it with make repro in the project folder, or pass --checkpoint)"
        )
    return path
