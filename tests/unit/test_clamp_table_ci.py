"""NotaGen Table 2 (pipeline/clamp/table.py, score_table.py) carries 95% bootstrap intervals per column."""

import json
import math

import numpy as np
import pytest

from pipeline.clamp.score_table import dpo_weights, headline, with_intervals
from pipeline.clamp.table import COLUMNS, fit_probe, perplexity_interval, pooled_perplexity, row, text_logprobs
from pipeline.orchestration.model_origin import model_origin
from pipeline.report.headline import valid_cell

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]


def reference() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(12, 4)) + np.array([3, 0, 0, 0])
    ref[6:, 1] += 4
    return ref, ["A"] * 6 + ["B"] * 6


def table_row(copies: int) -> tuple[list, list]:
    """A row over ``copies`` repeats of 4 pieces: same proportions, more pieces."""
    ref, labels = reference()
    probe = fit_probe(ref, labels, 1.0)
    rng = np.random.default_rng(1)
    gen = np.concatenate([ref[[0, 1, 6, 7]] + rng.normal(scale=1.0, size=(4, 4)) for _ in range(copies)])
    vals, info = row(
        "K=0",
        gen,
        ref,
        labels={"period": ["A", "A", "B", "B"] * copies, "instrumentation": ["A", "B", "A", "B"] * copies},
        probes={"period": probe, "instrumentation": probe},
        valid=[True, True, False, True] * copies,
        aligned_texts=["ok", "bad: bar 2", "ok", "ok"] * copies,
        check=lambda t: (t == "ok", t),
        plagiarism=0.95,
        ppl=None,
        ppl_ci=None,
    )
    return vals, info["ci95"]


def test_every_interval_contains_its_value_and_shrinks_with_pieces():
    small_vals, small = table_row(2)
    large_vals, large = table_row(8)
    assert len(small) == len(COLUMNS) and small[0] is None and small[-1] is None  # name, pieces
    assert small_vals[3] == large_vals[3] == 0.25  # bar-alignment error: one of four
    widths = []
    for vals, cis in ((small_vals, small), (large_vals, large)):
        for j in (1, 2, 3, 4, 5, 7):  # CLaMP scores, alignment, both accuracies, valid
            lo, hi = cis[j]
            assert lo <= vals[j] + 1e-6 and vals[j] - 1e-6 <= hi, COLUMNS[j]
        widths.append([cis[j][1] - cis[j][0] for j in (1, 2, 3, 7)])
    assert all(w_large < w_small for w_small, w_large in zip(*widths))
    assert table_row(2)[1] == small  # seeded, deterministic


def test_perplexity_interval_is_over_texts():
    parts = [(-2.0 * c, c) for c in (50, 80, 120)] + [(-1.0 * c, c) for c in (60, 90)] + [(0.0, 0)]
    value = pooled_perplexity(parts)
    lo, hi = perplexity_interval(parts)
    assert math.exp(1.0) <= lo <= value <= hi <= math.exp(2.0)
    more = perplexity_interval(parts * 6)
    assert more[1] - more[0] < hi - lo
    assert perplexity_interval([(-5.0, 10), (0.0, 0)]) is None  # one scored text: nothing to resample


def test_text_logprobs_pool_to_the_perplexity():
    torch = pytest.importorskip("torch")
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel

    torch.manual_seed(0)
    model = NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32))
    texts = ["X:1\nL:1/8\nM:4/4\nK:C\n[V:1]CDEF GABc|\n", "X:2\nL:1/8\nM:3/4\nK:G\n[V:1]GAB cde|\n"]
    parts = text_logprobs(model, texts)
    assert all(lp < 0 and c > 0 for lp, c in parts)
    assert pooled_perplexity(parts) == pytest.approx(math.exp(-sum(p[0] for p in parts) / sum(p[1] for p in parts)))


def test_headline_cells_carry_the_intervals():
    vals, cis = table_row(2)
    cells = with_intervals(vals, cis)
    assert cells[0] == "K=0" and cells[-1] == 8 and cells[6] is None  # no perplexity given
    assert cells[1] == {"value": vals[1], "ci95": cis[1]} and all(map(valid_cell, cells))


def test_the_headline_names_the_weights_of_each_policy_and_the_scorer(tmp_path):
    """The policy K=0 and the scorer as their manifests record them (an import: steps 0, the released
    file's path and hash), a DPO policy by how it was made (trained, or carried forward)."""
    for stage, init in (("abc_finetune", "weights/abc_finetune/notagen.pth"), ("clamp_train", None)):
        (tmp_path / stage).mkdir()
        origin = {"init": {"path": init, "hash": "c0211d544ccc9378"}} if init else {}
        manifest = {"stage": stage, "metrics": {"steps": 0 if init else 4}, **origin}
        (tmp_path / stage / "manifest.json").write_text(json.dumps(manifest))
    for k, prefs in ((1, {"pairs": 3}), (2, {"pairs": 0, "skipped": "empty preference set: chosen=0"})):
        (tmp_path / f"iter_{k}").mkdir()
        (tmp_path / f"iter_{k}" / "preferences.json").write_text(json.dumps(prefs))
    weights = {
        "K=0": model_origin(tmp_path / "abc_finetune"),
        "K=1": dpo_weights(tmp_path, 1),
        "K=2": dpo_weights(tmp_path, 2),
        "scorer": model_origin(tmp_path / "clamp_train"),
    }
    assert weights["K=0"] == {
        "model": "models/abc_finetune",
        "init": {"path": "weights/abc_finetune/notagen.pth", "hash": "c0211d544ccc9378"},
        "steps": 0,
    }
    vals, cis = table_row(1)
    table = headline([with_intervals(vals, cis)], [], weights)["tables"][-1]
    assert table["columns"] == ["role", "model", "weights", "hash"]
    assert table["rows"] == [
        ["K=0", "models/abc_finetune", "weights/abc_finetune/notagen.pth", "c0211d544ccc9378"],
        ["K=1", "models/abc_dpo/iter_1", "CLaMP-DPO of the K=0 policy on 3 pairs", None],
        ["K=2", "models/abc_dpo/iter_2", "the K=1 policy, carried forward (empty preference set: chosen=0)", None],
        ["scorer", "models/clamp_train", "trained here (4 steps)", None],
    ]
    assert all(valid_cell(c) for r in table["rows"] for c in r)
