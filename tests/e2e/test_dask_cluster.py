"""Preprocessing on a real Dask cluster: a ``distributed.LocalCluster`` (2 worker processes on
loopback) runs the sharded data and tokenize stages through ``dvc repro``, and their outputs are
byte-identical to the process-pool runner's."""

import pytest
import yaml

from pipeline.orchestration.stage import hash_path
from repo_copy import copy_repo, run, stages_run

pytestmark = pytest.mark.pipeline

STAGES = ["ingest", "aria_tokenize", "abc_tokenize"]
OUTS = ["data/ingest", "reports/data", "data/tokens/aria", "data/tokens/abc"]


def set_runtime(repo, **kw):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["runtime"].update(kw)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_dask_cluster_gives_the_process_runner_outputs(tmp_path):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("prefect_dask")
    repo = copy_repo(tmp_path / "repo")
    set_runtime(repo, task_runner="processes")
    assert sorted(stages_run(run(["dvc", "repro", *STAGES], repo).stdout)) == sorted(STAGES)
    local = {o: hash_path(repo / o) for o in OUTS}

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        set_runtime(repo, task_runner="dask", dask_address=cluster.scheduler_address)
        assert "up to date" in run(["dvc", "status", *STAGES], repo).stdout  # runtime is tracked by no stage
        out = run(["dvc", "repro", "--force", *STAGES], repo)
        assert sorted(stages_run(out.stdout)) == sorted(STAGES)
        ran = sum(tp.state_counts["memory"] for tp in cluster.scheduler.task_prefixes.values())  # cumulative
    assert ran > 0, "no task reached the Dask cluster"
    assert {o: hash_path(repo / o) for o in OUTS} == local
