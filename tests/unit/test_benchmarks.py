"""Benchmarks cannot rot: every ``benchmarks/*.py`` runs at a tiny size (``--quick``) and prints
its ratio, and no script is named like an importable package (``benchmarks/tokenizers.py`` once
shadowed the ``tokenizers`` package that miditok and transformers import, because a script's
own folder comes first on ``sys.path``).

The quick runs report to the test session's shared Prefect server (tests/prefect_server.py) and
carry the ``pipeline`` marker (imports dominate; wall time grows with the machine's load); the name
checks are unit tests.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.prefect_server import shared_prefect_url

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "benchmarks"
SCRIPTS = sorted(BENCH_DIR.glob("*.py"))


def shadowed(name: str) -> str | None:
    """What ``name`` would shadow when a script in benchmarks/ runs: a stdlib or installed
    module/package, looked up on this venv's path without benchmarks/ itself and without the
    repo root or cwd (neither is on sys.path when ``python benchmarks/x.py`` runs)."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return "the standard library"
    skip = {BENCH_DIR.resolve(), REPO.resolve(), Path.cwd().resolve()}
    path = [p for p in sys.path if p and Path(p).resolve() not in skip]
    saved = sys.path[:]
    sys.path[:] = path
    try:
        spec = importlib.util.find_spec(name) if name not in sys.modules else sys.modules[name].__spec__
    finally:
        sys.path[:] = saved
    if spec is None:
        return None
    where = spec.origin if spec.origin not in (None, "namespace") else list(spec.submodule_search_locations or [])
    return f"{where}"


@pytest.mark.unit
def test_benchmarks_exist_and_follow_the_naming_rule():
    assert SCRIPTS, "no benchmarks found"
    bad = {s.name: shadowed(s.stem) for s in SCRIPTS if shadowed(s.stem)}
    assert not bad, f"benchmark scripts shadow importable modules (rename them bench_*.py): {bad}"


@pytest.mark.unit
def test_shadow_check_catches_the_old_names():
    assert shadowed("tokenizers")  # the package miditok/transformers import
    assert shadowed("json") == "the standard library"
    assert shadowed("bench_tokenizers") is None


@pytest.mark.pipeline
@pytest.mark.timeout(240)
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_quick_run(script: Path, tmp_path: Path):
    assert "--quick" in script.read_text(), f"{script.name} must accept --quick (a tiny smoke run)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PREFECT_HOME=str(tmp_path / ".prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PYTHONUNBUFFERED="1",
        PREFECT_API_URL=shared_prefect_url(),
    )
    r = subprocess.run(
        [sys.executable, str(script), "--quick"], cwd=REPO, env=env, capture_output=True, text=True, timeout=230
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"{script.name} --quick failed ({r.returncode}):\n{out[-4000:]}"
    assert re.search(r"ratio", r.stdout, re.I), f"{script.name} printed no ratio:\n{r.stdout[-3000:]}"
