"""What a user sees when a stage cannot run: a missing venv, a params typo, a bad input. One
line that says what is wrong (and what to do), never a Prefect traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.orchestration.stage import is_bad_input, one_line

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.unit
def test_python_without_deps_says_activate_the_venv():
    # -S: no site-packages, so prefect & co are missing, as with a system python
    r = subprocess.run(
        [sys.executable, "-S", "-m", "stages.segment"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "cannot import 'prefect'" in r.stderr and "source .venv/bin/activate" in r.stderr
    assert "make repro" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.unit
def test_bad_input_classification():
    from pipeline.config import ParamsError, load_section

    def raised(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return e
        raise AssertionError("did not raise")

    assert is_bad_input(ParamsError("params.yaml: segment.min_s: bad"))
    assert is_bad_input(raised(lambda: load_section("nope")))  # raised in pipeline/config.py
    from pipeline.data.sources import list_midi_dir
    from pipeline.params.data import MidiDirSource

    missing = MidiDirSource(name="x", path="/nonexistent/ostinato")
    assert is_bad_input(raised(lambda: list_midi_dir(missing, Path("/"))))  # FileNotFoundError, ours
    # raised outside pipeline/ and stages/ (here, or deep in a library): a bug, keep the traceback
    assert not is_bad_input(raised(lambda: open("/nonexistent/ostinato")))
    assert not is_bad_input(raised(lambda: json.loads("{")))
    assert not is_bad_input(RuntimeError("x"))
    assert one_line(ParamsError("a: x\nb: y")) == "ParamsError: a: x; b: y"


@pytest.mark.pipeline  # a real stage run (its Prefect temporary server: ~15 s idle, more under load)
@pytest.mark.timeout(240)
def test_params_typo_inside_a_stage_is_one_line(tmp_path):
    """``segment.min_s: fifteen`` read inside the running flow: one line, exit 2, no traceback."""
    text = (REPO / "params.yaml").read_text()
    assert "\n  min_s:" in text
    lines = text.splitlines()
    seg = lines.index("segment:")
    k = next(i for i in range(seg + 1, len(lines)) if lines[i].strip().startswith("min_s:"))
    lines[k] = "  min_s: fifteen"
    (tmp_path / "params.yaml").write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(OSTINATO_ROOT=str(tmp_path), PREFECT_HOME=str(tmp_path / ".prefect"))
    r = subprocess.run(
        [sys.executable, "-m", "stages.segment"], cwd=REPO, env=env, capture_output=True, text=True, timeout=230
    )
    assert r.returncode == 2, r.stderr[-3000:]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR: stage segment:")]
    assert len(errors) == 1 and "segment.min_s" in errors[0] and "fifteen" in errors[0], r.stderr[-3000:]
