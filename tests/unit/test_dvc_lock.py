"""dvc.lock is committed, as in any DVC project, and must stay true: it records, for every stage of
dvc.yaml, the code and params the default build was made with. A code or params change without
a new default build (``make repro``, then commit dvc.lock) fails here, naming the stage and file.
Data deps and outs are not checked: their content lives in the DVC cache, not in git."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
FIX = "rebuild the default DAG (make repro) and commit dvc.lock"


def lock() -> dict:
    path = ROOT / "dvc.lock"
    assert path.exists(), f"dvc.lock is missing: {FIX}"
    return yaml.safe_load(path.read_text())["stages"]


def dotted(tree: dict, key: str):
    for part in key.split("."):
        tree = tree[part]
    return tree


def plain(value):
    """Numbers as numbers: DVC's YAML writer may quote a float that PyYAML reads as a number."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def test_every_stage_is_locked():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert sorted(lock()) == sorted(stages), FIX


@pytest.mark.parametrize("stage", sorted(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]))
def test_lock_matches_code_and_params(stage):
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    entry = lock().get(stage)
    assert entry, f"dvc.lock has no entry for {stage}: {FIX}"
    locked = {d["path"]: d for d in entry.get("deps", [])}
    assert sorted(locked) == sorted(spec.get("deps", [])), f"{stage}: dvc.lock lists other deps than dvc.yaml: {FIX}"
    for path, d in locked.items():
        f = ROOT / path
        if f.is_file():  # code; data dirs are outputs of other stages, not in git
            md5 = hashlib.md5(f.read_bytes()).hexdigest()
            assert md5 == d.get("md5"), f"{stage}: {path} changed since dvc.lock was written: {FIX}"
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, value in entry.get("params", {}).get("params.yaml", {}).items():
        assert plain(dotted(params, key)) == plain(value), f"{stage}: params.yaml {key} differs from dvc.lock: {FIX}"
