"""One micro-profile ``dvc repro`` of the whole DAG per test session, shared by every family's
pipeline tests (each module reads its own artifacts from it). Tests that edit params live in
modules that sort last (``test_zz_*``), so every reader sees the first build."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from repo_copy import copy_repo, run, stages_run


class MicroDag:
    def __init__(self, path, ran):
        self.path, self.ran = path, ran


@pytest.fixture(scope="session")
def micro_dag(tmp_path_factory) -> MicroDag:
    if reuse := os.environ.get("OSTINATO_MICRO_DAG"):
        # iterating on one module: a copy of a build a previous session left (its tests edit it)
        return MicroDag(Path(reuse), [])
    dest = copy_repo(tmp_path_factory.mktemp("micro"))
    ran = stages_run(run(["dvc", "repro"], dest, timeout=2400).stdout)
    assert ran and ran[0] == "ingest"
    stages = yaml.safe_load((dest / "dvc.yaml").read_text())["stages"]
    missing = set(stages) - {r.split("@")[0] for r in ran}
    assert not missing, f"not every stage ran: {sorted(missing)}"
    return MicroDag(dest, ran)
