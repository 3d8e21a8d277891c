"""A params typo is caught before DVC starts (it deletes a stage's outputs before running it):
by ``make repro`` through ``ostinato params check``, and by the UI's ``repro`` deployment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ParamsError

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def typo_repo(tmp_path: Path) -> Path:
    text = (REPO / "params.yaml").read_text()
    fixed = re.sub(r"(?m)^(segment:\n(?:  .*\n)*?  min_s:) [^\n]+", r"\1 fifteen", text)
    assert fixed != text
    (tmp_path / "params.yaml").write_text(fixed)
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    return tmp_path


def test_deployment_validates_the_whole_file_first(tmp_path):
    from pipeline.orchestration.deploy import validate_overrides

    root = typo_repo(tmp_path)
    # the override touches another section: the typo in `segment` is still caught before DVC runs
    with pytest.raises(ParamsError, match=r"segment\.min_s.*fifteen"):
        validate_overrides(["base.seed=3"], root)
    with pytest.raises(ParamsError, match=r"segment\.min_s"):
        validate_overrides([], root)


def test_params_check_fails_with_one_line(tmp_path):
    root = typo_repo(tmp_path)
    env = {**os.environ, "OSTINATO_ROOT": str(root)}
    r = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "params", "check"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "segment.min_s" in r.stderr and "fifteen" in r.stderr


def test_make_repro_checks_params_before_dvc(tmp_path):
    text = (REPO / "Makefile").read_text()
    recipe = re.search(r"(?m)^repro:.*\n((?:\t.*\n)+)", text).group(1).split("\n")
    assert [line.strip() for line in recipe if line.strip()] == ["ostinato repro"]
    # `ostinato repro` refuses the typo before it starts a server or DVC (no dvc.lock, no outputs)
    root = typo_repo(tmp_path)
    env = {**os.environ, "OSTINATO_ROOT": str(root)}
    r = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "repro"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 2 and "segment.min_s" in r.stderr and "Traceback" not in r.stderr
    assert "Prefect API" not in r.stdout and not (root / "dvc.lock").exists()
