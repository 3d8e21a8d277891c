"""``ostinato params check --profile gpu``: the upstream shapes, counted on the meta device, land
on upstream's published parameter counts; the command prints one row per model."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.commands.params import check_profile

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows():
    sections, rows = check_profile("gpu", REPO)
    assert "aria_pretrain" in sections
    return {r.model: r for r in rows}


def test_aria_medium_matches_upstream(rows):
    r = rows["aria medium"]
    assert r.upstream == 650_000_000
    assert abs(r.ours / r.upstream - 1) < 0.03, r  # ~658.5M: 604M blocks + 2 x 27M embedding/head


def test_families_with_published_counts_match(rows):
    published = [r for r in rows.values() if r.upstream]
    assert {r.family for r in published} >= {"aria", "gnm", "notagen"}
    for r in published:
        assert abs(r.ours / r.upstream - 1) < 0.03, r


def test_every_row_is_a_real_count(rows):
    assert all(r.ours > 1_000_000 for r in rows.values()), rows


def test_unknown_profile_is_named():
    with pytest.raises(FileNotFoundError, match="profile 'nope' not found"):
        check_profile("nope", REPO)


def test_cli_prints_the_table(capsys, monkeypatch):
    from types import SimpleNamespace

    from pipeline.commands.params import run

    monkeypatch.setenv("OSTINATO_ROOT", str(REPO))
    assert run(SimpleNamespace(action="check", profile="gpu")) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("aria medium"))
    assert "658.5M" in line and "650.0M" in line
