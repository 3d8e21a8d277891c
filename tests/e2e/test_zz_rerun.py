"""Edits params of the shared micro build (tests/e2e/conftest.py), so it sorts after every
module that reads it: a second repro is a no-op, and a param only ``segment`` reads reruns
``segment`` and at most the stages downstream of its output (never ingest or another family)."""

import pytest
import yaml

from repo_copy import run, stages_run

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def repo(micro_dag):
    return micro_dag.path


def test_noop_then_only_segment_reruns(repo):
    out = run(["dvc", "repro"], repo)
    assert stages_run(out.stdout) == []
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["segment"]["drop_under_s"] = 2.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status"], repo).stdout
    assert status.startswith("segment:") and "modified:" in status
    assert "ingest:" not in status and "aria_pretrain:" not in status
    ran = stages_run(run(["dvc", "repro"], repo).stdout)
    # segment reruns; only what reads its output may follow (and only if that output changed)
    assert ran[0] == "segment"
    assert all(s.startswith(("codec_", "valle_")) or s == "report" for s in ran[1:]), ran
