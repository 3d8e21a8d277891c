"""Edits params of the shared micro build (tests/e2e/conftest.py), so it sorts after the modules
that read it (and before test_zz_rerun.py, which needs the build up to date): raising
``abc_dpo.iterations`` from 2 to 3 reuses rounds 0-2 and iterations 1-2 and builds only round and
iteration 3; a second ``dvc repro abc_dpo`` is a no-op."""

import pytest
import yaml
from repo_copy import run, stages_run

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def repo(micro_dag):
    return micro_dag.path


def test_raising_k_builds_only_the_new_iteration_then_noop(repo):
    before = {d.name: (d / "done.json").read_text() for d in (repo / "data/abc_dpo").glob("samples_*")}
    params = yaml.safe_load((repo / "params.yaml").read_text())
    text = (repo / "params.yaml").read_text()
    start = text.index("\nabc_dpo:")
    end = text.index("\n  iterations: 2", start)
    (repo / "params.yaml").write_text(text[:end] + "\n  iterations: 3" + text[end + len("\n  iterations: 2") :])
    assert params["abc_dpo"]["iterations"] == 2
    out = run(["dvc", "repro", "abc_dpo"], repo, timeout=900)
    assert stages_run(out.stdout) == ["abc_dpo"]
    logs = out.stdout + out.stderr
    assert all(f"round {k}: samples up to date" in logs for k in range(3))
    assert "round 3: samples up to date" not in logs
    after = {d.name: (d / "done.json").read_text() for d in (repo / "data/abc_dpo").glob("samples_*")}
    assert {k: after[k] for k in before} == before and "samples_3" in after
    assert (repo / "models/abc_dpo/iter_3/model.safetensors").is_file()
    assert (repo / "models/abc_dpo/iter_3/done.json").is_file()
    again = run(["dvc", "repro", "abc_dpo"], repo, timeout=600)
    assert stages_run(again.stdout) == []
    rest = run(["dvc", "repro"], repo, timeout=900)  # leave the shared build up to date (K = 3)
    assert "abc_dpo" not in stages_run(rest.stdout) and "abc_score_table" in stages_run(rest.stdout)
