"""Each family's paper profile end to end: tiny checkpoints in the upstream formats and a few pieces
in the upstream data layouts stand in for the downloads (tests/e2e/paper_<family>.py); ``dvc
repro`` of the family's paper table, in its own micro copy of the repo, imports them (``steps:
0``), scores with them and writes the table in the paper's shape, naming the weights it used. The
builds run in the background while the rest of the suite runs (tests/e2e/paper_builds.py); the
session runs these tests last."""

import importlib
from pathlib import Path

import paper_builds
import pytest

pytestmark = pytest.mark.pipeline


@pytest.mark.parametrize("family", paper_builds.FAMILIES)
def test_paper_profile_builds_the_table_from_released_weights(family):
    built = paper_builds.result(family)
    assert "error" not in built, f"{built['error']}\n{built['traceback']}"
    paper = importlib.import_module(f"paper_{family}")
    paper.check(Path(built["repo"]), built["filled"], built["ran"])
