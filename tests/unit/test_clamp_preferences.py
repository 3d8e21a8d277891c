"""CLaMP-DPO preference sets, fingerprinted units, and the score-table row (pipeline/clamp)."""

import json

import numpy as np
import pytest

from pipeline.clamp.preferences import EmptyPreferenceSet, instruments_grouped, piece_check, preference_set
from pipeline.clamp.table import fit_probe, row
from pipeline.clamp.units import building, fingerprint, is_done, prune

pytestmark = pytest.mark.unit

HEAD = 'X:1\nL:1/8\nM:4/4\nK:C\nV:1 nm="Violin"\nV:2 nm="Violin"\nV:3 nm="Cello" clef=bass\n'


def test_instrument_staves_must_be_contiguous():
    assert instruments_grouped(HEAD)[0]
    split = HEAD.replace('V:2 nm="Violin"', 'V:2 nm="Cello"').replace('V:3 nm="Cello"', 'V:3 nm="Violin"')
    ok, why = instruments_grouped(split)
    assert not ok and "Violin" in why


def test_select_walks_down_past_failures_and_rejects_the_bottom():
    scores = [
        0.9,
        0.8,
        0.7,
        0.6,
        0.5,
        0.4,
        0.3,
        0.2,
        0.1,
        0.05,
        0.0,
        -0.1,
        -0.2,
        -0.3,
        -0.4,
        -0.5,
        -0.6,
        -0.7,
        -0.8,
        -0.9,
    ]
    bad = {0: "plagiarism", 1: "misaligned"}
    prefs = preference_set(scores, lambda i: (i not in bad, bad.get(i, "ok")), portion=0.1)
    assert prefs.chosen == [2, 3] and prefs.rejected == [19, 18] and prefs.pairs == 4
    assert prefs.counts == {
        "samples": 20,
        "per_side": 2,
        "chosen": 2,
        "rejected": 2,
        "failed_misaligned": 1,
        "failed_plagiarism": 1,
    }


def test_empty_preference_set_is_a_named_stop_with_counts():
    with pytest.raises(EmptyPreferenceSet, match="chosen=0, rejected=1, failed_incomplete=5") as e:
        preference_set([0.1, 0.2, 0.3, 0.4, 0.5], lambda i: (False, "incomplete"), portion=0.1)
    assert e.value.counts["samples"] == 5
    with pytest.raises(ValueError, match="portion"):
        preference_set([0.1], lambda i: (True, "ok"), portion=0.9)


def test_piece_check_reasons_cheapest_first():
    calls = []

    def aligned(text):
        calls.append(text)
        return ("bad" not in text), "bar 1"

    texts = [
        None,
        HEAD + "x",
        HEAD.replace('V:3 nm="Cello"', 'V:3 nm="Violin"').replace('V:2 nm="Violin"', 'V:2 nm="Cello"'),
        HEAD + "bad",
        HEAD + "good",
    ]
    check = piece_check(texts, np.array([0.1, 0.99, 0.1, 0.1, 0.1]), 0.95, aligned)
    assert [check(i) for i in range(5)] == [
        (False, "incomplete"),
        (False, "plagiarism"),
        (False, "instruments_split"),
        (False, "misaligned"),
        (True, "ok"),
    ]
    assert calls == [HEAD + "bad", HEAD + "good"]  # music21 runs only for pieces that got that far


def test_units_commit_atomically_and_prune(tmp_path):
    fp = fingerprint({"a": 1})
    assert fp == fingerprint({"a": 1}) and fp != fingerprint({"a": 2})
    unit = tmp_path / "samples_0"
    with pytest.raises(RuntimeError):
        with building(unit, fp) as tmp:
            (tmp / "x.txt").write_text("half")
            raise RuntimeError("killed")
    assert not unit.exists() and not (tmp_path / ".samples_0.tmp").exists()
    with building(unit, fp, {"round": 0}) as tmp:
        (tmp / "x.txt").write_text("whole")
    assert is_done(unit, fp) and not is_done(unit, fingerprint({"a": 2}))
    assert json.loads((unit / "done.json").read_text())["round"] == 0
    (tmp_path / "samples_3").mkdir()
    assert prune(tmp_path, {"samples_0"}) == ["samples_3"] and unit.exists()


def test_score_table_row():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(12, 4)) + np.array([3, 0, 0, 0])
    labels = ["A"] * 6 + ["B"] * 6
    ref[6:, 1] += 4
    probe = fit_probe(ref, labels, 1.0)
    assert fit_probe(ref, ["A"] * 12, 1.0) is None
    gen = np.concatenate([ref[:2], ref[6:8] * 1.0001])
    vals, info = row(
        "K=0",
        gen,
        ref,
        labels={"period": ["A", "A", "B", "B"], "instrumentation": ["A", "B", "A", "B"]},
        probes={"period": probe, "instrumentation": probe},
        valid=[True, True, False, True],
        aligned_texts=["ok", "bad: bar 2"],
        check=lambda t: (t == "ok", t),
        plagiarism=0.95,
        ppl=3.5,
    )
    name, score, set_score, align, period, instr, ppl, valid, plag, n = vals
    assert name == "K=0" and n == 4 and ppl == 3.5
    assert period == 1.0 and instr == 0.5
    assert align == 0.5 and info["alignment_failures"] == {"bad": 1}
    assert valid == 0.75 and plag == 1.0  # every sample is a copy of a reference piece
    assert -1 <= score <= 1 and -1 <= set_score <= 1
