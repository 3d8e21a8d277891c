"""Faults through the real ``dvc repro`` on a tiny copy of the repo (2 pieces):

- a corpus where every file is rejected: the first downstream stage stops at once with one line
  naming the empty split and data/ingest/rejected.jsonl (no traceback);
- two ``dvc repro`` in one workspace at once: the second is refused by DVC's lock (DVC 3: the
  outputs' read/write lock, naming the first's PID), the first finishes, and the workspace is
  consistent (``dvc status`` clean, a third repro is a no-op).
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml
from repo_copy import copy_repo, env, stages_run

pytestmark = pytest.mark.pipeline


def tiny_copy(dest, min_notes: int | None = None):
    copy_repo(dest)
    path = dest / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    src = raw["ingest"]["sources"][0]
    src["collections"] = {"folk_german": {**src["collections"]["folk_german"], "cap": 2}}
    raw["runtime"]["task_runner"] = "threads"  # 2 pieces: no process pool to start
    if min_notes is not None:
        raw["ingest"]["limits"]["min_notes"] = min_notes
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return dest


def dvc(repo, *args, timeout=300):
    return subprocess.run(["dvc", *args], cwd=repo, env=env(), capture_output=True, text=True, timeout=timeout)


def test_all_rejected_corpus_stops_downstream_with_one_line(tmp_path):
    repo = tiny_copy(tmp_path, min_notes=10**9)
    t0 = time.time()
    r = dvc(repo, "repro", "aria_tokenize")
    secs = time.time() - t0
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert stages_run(r.stdout) == ["ingest", "aria_tokenize"]
    line = next(ln for ln in out.splitlines() if ln.startswith("ERROR: stage aria_tokenize:"))
    assert "EmptySplitError: data/ingest/index.jsonl train split is empty (0 pieces)" in line
    assert "data/ingest/rejected.jsonl" in line
    assert "Traceback" not in out
    rejected = [json.loads(x) for x in (repo / "data/ingest/rejected.jsonl").read_text().splitlines()]
    assert len(rejected) == 2 and not (repo / "data/tokens/aria").exists()
    print(f"\n[faults] all-rejected corpus: ingest + aria_tokenize failed fast in {secs:.0f} s")


def held_stage(repo, name: str):
    """Make stage ``name`` wait at its start until ``.release`` exists (after writing ``.held``),
    so the test knows the first repro holds DVC's lock; a fast stage otherwise could finish
    before the second repro starts (CI saw that race)."""
    path = repo / "dvc.yaml"
    raw = yaml.safe_load(path.read_text())
    cmd = raw["stages"][name]["cmd"]
    raw["stages"][name]["cmd"] = f"touch .held && while [ ! -e .release ]; do sleep 0.1; done && {cmd}"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_second_repro_is_refused_by_the_lock(tmp_path):
    repo = tiny_copy(tmp_path)
    held_stage(repo, "ingest")
    first = subprocess.Popen(
        ["dvc", "repro", "ingest"],
        cwd=repo,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        t0 = time.time()
        while not (repo / ".held").exists():  # the stage's command runs: the lock is held
            assert first.poll() is None, first.communicate()[0][-3000:]
            assert time.time() - t0 < 240, "ingest never started"
            time.sleep(0.1)
        second = dvc(repo, "repro", "ingest", timeout=120)
        assert second.returncode != 0
        refusal = second.stdout + second.stderr
        # DVC 3 locks per output (.dvc/tmp/rwlock), older DVC the whole repo (.dvc/tmp/lock)
        assert (
            "is busy, it is being blocked by" in refusal
            and f"(PID {first.pid})" in refusal
            or "Unable to acquire lock" in refusal
        ), refusal
        assert first.poll() is None  # the refusal did not disturb the running repro
        (repo / ".release").touch()
        out, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out[-3000:]
    status = dvc(repo, "status", "ingest")
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    again = dvc(repo, "repro", "ingest")
    assert again.returncode == 0 and stages_run(again.stdout) == [], again.stdout
    index = (repo / "data/ingest/index.jsonl").read_text().splitlines()
    assert len(index) == 2 and all(json.loads(x)["midi"] for x in index)
