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


def params_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OSTINATO_ROOT": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "params", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_duplicate_key_is_refused(tmp_path):
    text = (REPO / "params.yaml").read_text()
    # a second `seed` under `base`: plain YAML would keep the last one silently
    dup = re.sub(r"(?m)^(base:\n(?:  .*\n)*)", r"\1  seed: 7\n", text, count=1)
    assert dup != text
    (tmp_path / "params.yaml").write_text(dup)
    line = dup.splitlines().index("  seed: 7") + 1
    r = params_cli(tmp_path, "check")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "duplicate key base.seed" in err[0] and f"and {line})" in err[0]
    # the UI's deployment reads params through the same loader
    from pipeline.orchestration.deploy import validate_overrides

    with pytest.raises(ParamsError, match=r"duplicate key base\.seed"):
        validate_overrides([], tmp_path)


def test_deleted_section_is_named(tmp_path):
    text = (REPO / "params.yaml").read_text()
    cut = re.sub(r"(?m)^segment:\n(?:  .*\n|\n)*", "", text, count=1)
    assert "\nsegment:" not in cut
    (tmp_path / "params.yaml").write_text(cut)
    r = params_cli(tmp_path, "check")
    assert r.returncode == 0, r.stderr
    assert "1 section(s) not in the file, built-in defaults used: segment" in r.stdout
    full = params_cli(REPO, "check")
    assert full.returncode == 0 and "defaults used" not in full.stdout
