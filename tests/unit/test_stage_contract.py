"""Atomic outputs: a failed or killed stage leaves no partial output; manifests record inputs."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from pipeline.orchestration.runners import shards
from pipeline.orchestration.stage import StageOutputs

pytestmark = pytest.mark.unit


def test_commit_writes_manifest_and_renames(tmp_path):
    (tmp_path / "in.txt").write_text("x")
    with StageOutputs("demo", ["data/demo"], root=tmp_path) as out:
        (out["data/demo"] / "a.txt").write_text("a")
        out.commit({"demo": {"k": 1}}, inputs=["in.txt"], seed=3)
    m = json.loads((tmp_path / "data/demo/manifest.json").read_text())
    assert m["params"] == {"demo": {"k": 1}} and m["seed"] == 3 and "in.txt" in m["inputs"]
    env = json.loads((tmp_path / "data/demo/environment.json").read_text())
    assert "torch" in env["packages"] and "packages" not in m and not (tmp_path / "data/.demo.tmp").exists()


def test_exception_leaves_previous_output_untouched(tmp_path):
    old = tmp_path / "data/demo"
    old.mkdir(parents=True)
    (old / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with StageOutputs("demo", ["data/demo"], root=tmp_path) as out:
            (out["data/demo"] / "partial.txt").write_text("p")
            raise RuntimeError("boom")
    assert sorted(p.name for p in old.iterdir()) == ["old.txt"]
    assert not (tmp_path / "data/.demo.tmp").exists()


def test_killed_stage_leaves_no_output(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from pipeline.orchestration.stage import StageOutputs
        with StageOutputs("demo", ["data/demo"], root=Path({str(tmp_path)!r})) as out:
            (out["data/demo"] / "half.txt").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "data/demo").exists()
    # the next run clears the stale temp dir and succeeds
    with StageOutputs("demo", ["data/demo"], root=tmp_path) as out:
        (out["data/demo"] / "ok.txt").write_text("ok")
        out.commit({})
    assert sorted(p.name for p in (tmp_path / "data/demo").iterdir()) == ["environment.json", "manifest.json", "ok.txt"]


def test_forgetting_commit_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="never committed"):
        with StageOutputs("demo", ["data/demo"], root=tmp_path):
            pass


def test_shards():
    assert shards(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert shards([], 3) == []


@pytest.mark.unit
def test_timings_leave_the_hashed_manifest_for_environment_json(tmp_path):
    """A rerun with equal weights must hash equal: run speed goes to environment.json (dvcignored)."""
    from pipeline.orchestration.stage import ENVIRONMENT, StageOutputs, split_timings

    stable, timings = split_timings({"metrics": {"val_loss": 1.5, "tokens_per_s": 123.4, "train_seconds": 9.0}})
    assert stable == {"metrics": {"val_loss": 1.5}}
    assert timings == {"metrics.tokens_per_s": 123.4, "metrics.train_seconds": 9.0}
    with StageOutputs("t", ["out"], root=tmp_path) as outs:
        (outs["out"] / "w.txt").write_text("w")
        outs.commit({}, extra={"metrics": {"val_loss": 1.5, "tokens_per_s": 123.4}})
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    env = json.loads((tmp_path / "out" / ENVIRONMENT).read_text())
    assert manifest["metrics"] == {"val_loss": 1.5} and env["timings"] == {"metrics.tokens_per_s": 123.4}
