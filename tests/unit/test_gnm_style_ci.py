"""GnM's style table and objective metrics carry 95% bootstrap intervals (pipeline/gnm/metrics.py)."""

import pytest

from pipeline.gnm.evaluate import objective_metrics, style_metrics
from pipeline.gnm.headline import generality_table, style_table
from pipeline.gnm.metrics import mean_interval, predicted_ratio_intervals, style_accuracy_intervals
from pipeline.report.headline import valid_cell

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

CLASSES = ["Bach", "Mozart"]


def pieces(copies: int) -> tuple[list[str], list[str]]:
    """Bach right 3 of 4, Mozart right 1 of 4, repeated ``copies`` times (same proportions, more pieces)."""
    cond = (["Bach"] * 4 + ["Mozart"] * 4) * copies
    pred = (["Bach", "Bach", "Bach", "Mozart", "Mozart", "Bach", "Bach", "Bach"]) * copies
    return cond, pred


def width(lo_hi) -> float:
    return lo_hi[1] - lo_hi[0]


def test_style_intervals_contain_the_accuracy_and_shrink_with_pieces():
    small, large = (style_accuracy_intervals(*pieces(n), CLASSES, seed=0) for n in (2, 8))
    for ci in (small, large):
        assert ci["per_composer_ci95"]["Bach"][0] <= 0.75 <= ci["per_composer_ci95"]["Bach"][1]
        assert ci["per_composer_ci95"]["Mozart"][0] <= 0.25 <= ci["per_composer_ci95"]["Mozart"][1]
        assert ci["mean_ci95"][0] <= 0.5 <= ci["mean_ci95"][1]
    assert width(large["mean_ci95"]) < width(small["mean_ci95"])
    assert width(large["per_composer_ci95"]["Bach"]) < width(small["per_composer_ci95"]["Bach"])
    assert small == style_accuracy_intervals(*pieces(2), CLASSES, seed=0)  # seeded, deterministic
    assert mean_interval([1.0]) is None and mean_interval([None, 2.0]) is None  # nothing to resample


def test_style_metrics_and_headline_cells(tmp_path):
    cond, pred = pieces(2)
    rows = {
        "mastery": [{"composer": c, "predicted": p} for c, p in zip(cond, pred)],
        "generality": [{"composer": None, "predicted": p} for p in pred],
    }
    style, figures = style_metrics(rows, CLASSES, tmp_path, seed=0)
    assert figures == ["confusion_mastery.png"] and style["mastery"]["mean"] == 0.5
    table = style_table(style, CLASSES)
    assert [r[0] for r in table] == ["Bach", "Mozart", "mean"] and table[0][2] is None  # no scratch model here
    assert table[2][1] == {"value": 0.5, "ci95": style["mastery"]["mean_ci95"]} and all(map(valid_cell, table[2]))
    share = dict(generality_table(style, CLASSES))
    assert share["Bach"]["value"] == 0.75 and share["Bach"]["ci95"] == predicted_ratio_intervals(pred, CLASSES)["Bach"]
    lo, hi = share["Bach"]["ci95"]
    assert lo <= 0.75 <= hi and hi - lo > 0


def test_objective_intervals_shrink_with_pieces():
    def obj(copies: int) -> dict:
        rows = [{"pce": v, "gs": 1 - v / 10, "si": None} for v in (2.0, 3.0, 2.5, 3.5) * copies]
        return objective_metrics({"mastery": rows}, [], [], seed=3)["mastery"]

    small, large = obj(2), obj(8)
    for o in (small, large):
        assert o["pitch_class_entropy_ci95"][0] <= o["pitch_class_entropy"] <= o["pitch_class_entropy_ci95"][1]
        assert o["grooving_similarity_ci95"][0] <= o["grooving_similarity"] <= o["grooving_similarity_ci95"][1]
        assert o["si_short"] is None and o["si_short_ci95"] is None
    assert width(large["pitch_class_entropy_ci95"]) < width(small["pitch_class_entropy_ci95"])
