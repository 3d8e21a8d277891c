"""Preprocessing on a real Dask cluster: a ``distributed.LocalCluster`` (2 worker processes on
loopback) reruns the sharded data and tokenize stages of the shared micro build (built with the
process-pool runner, tests/e2e/conftest.py) through ``dvc repro --force``, and their outputs are
byte-identical to the process-pool runner's. ``runtime`` is tracked by no stage, so the build
stays up to date for the modules that follow."""

import pytest
import yaml
from repo_copy import run, stages_run

from pipeline.orchestration.stage import hash_path

pytestmark = pytest.mark.pipeline

STAGES = ["ingest", "aria_tokenize", "abc_tokenize"]
OUTS = ["data/ingest", "reports/data", "data/tokens/aria", "data/tokens/abc"]


def test_dask_cluster_gives_the_process_runner_outputs(micro_dag):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("prefect_dask")
    repo = micro_dag.path
    path = repo / "params.yaml"
    saved = path.read_text()
    params = yaml.safe_load(saved)
    assert params["runtime"]["task_runner"] == "processes"
    local = {o: hash_path(repo / o) for o in OUTS}

    try:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            params["runtime"].update(task_runner="dask", dask_address=cluster.scheduler_address)
            path.write_text(yaml.safe_dump(params, sort_keys=False))
            assert "up to date" in run(["dvc", "status", *STAGES], repo).stdout  # runtime: no stage's dep
            out = run(["dvc", "repro", "--force", *STAGES], repo)
            assert sorted(stages_run(out.stdout)) == sorted(STAGES)
            ran = sum(tp.state_counts["memory"] for tp in cluster.scheduler.task_prefixes.values())  # cumulative
    finally:
        path.write_text(saved)
    assert ran > 0, "no task reached the Dask cluster"
    assert {o: hash_path(repo / o) for o in OUTS} == local
