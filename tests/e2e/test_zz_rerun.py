"""Edits params of the shared micro build (tests/e2e/conftest.py), so it sorts after every
module that reads it: a second repro is a no-op, and a param only ``aria_embed`` reads reruns
``aria_embed`` and the stages downstream of its output (``aria_probe``, ``report``), never ingest,
the models it reads or another family. (A mid-DAG stage with a short downstream cone: editing
``segment`` re-trained the codec and VALL-E, minutes of CI for the same check.)"""

import pytest
import yaml
from repo_copy import run, stages_run

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def repo(micro_dag):
    return micro_dag.path


def test_noop_then_only_the_edited_stage_and_its_downstream_rerun(repo):
    out = run(["dvc", "repro"], repo)
    assert stages_run(out.stdout) == []
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["aria_embed"]["chunk_notes"] = 100  # other chunks: other embeddings, so the probe follows
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status"], repo).stdout
    assert status.startswith("aria_embed:") and "modified:" in status
    assert "ingest:" not in status and "aria_contrastive:" not in status
    ran = stages_run(run(["dvc", "repro"], repo).stdout)
    assert ran == ["aria_embed", "aria_probe", "report"], ran
