"""Shared test setup: Prefect stays offline and quiet; helpers for the repo copies."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
sys.path.insert(0, str(ROOT / "tests" / "unit"))  # midi_fixtures


PAPER_TESTS = "tests/e2e/test_zzz_paper_profiles.py"


def pytest_collection_modifyitems(config, items):
    # the paper builds run in a background process (tests/e2e/paper_builds.py): check them last
    items.sort(key=lambda item: item.nodeid.startswith(PAPER_TESTS))


def pytest_collection_finish(session):
    families = [item.callspec.params["family"] for item in session.items if item.nodeid.startswith(PAPER_TESTS)]
    if families:
        import paper_builds  # tests/e2e, on sys.path once its modules are collected

        # under pytest's base temp dir, which keeps the last three sessions' copies
        paper_builds.start(families, session.config._tmp_path_factory.mktemp("paper"))
