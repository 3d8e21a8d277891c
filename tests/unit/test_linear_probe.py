"""Linear probe: separable data is learnt, CIs bracket the estimate, rare classes are dropped
and reported, a missing label column is a named error; retrieval and extra metadata."""

import json

import numpy as np
import pytest

from pipeline.eval.linear_probe import ProbeConfig, bootstrap_ci, keep_classes, run_probe, scores
from pipeline.eval.probe_report import merge_extra_metadata, metrics_json, table_md
from pipeline.eval.retrieval import disjoint_slices, retrieval_scores

pytestmark = pytest.mark.unit


def blobs(per_class=(20, 20, 20), dim=16, seed=0, test_every=4, sep=6.0):
    """Gaussian blobs, one per class, far apart; every ``test_every``-th piece is in the test split."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(per_class), dim)) * sep
    x, rows = [], []
    for c, n in enumerate(per_class):
        for i in range(n):
            x.append(centers[c] + rng.normal(size=dim))
            split = "test" if i % test_every == 0 else ("val" if i % test_every == 1 else "train")
            rows.append({"id": f"c{c}-{i}", "split": split, "labels": {"composer": f"class{c}"}})
    return np.asarray(x), rows


FAST = ProbeConfig(epochs=30, bootstrap=200, min_test=10)


@pytest.mark.parametrize("method", ["linear", "logreg"])
def test_separable_data_is_learnt_and_the_ci_contains_the_estimate(method):
    x, rows = blobs()
    res = run_probe(x, rows, "composer", ProbeConfig(**{**FAST.__dict__, "method": method}))
    assert res["protocol"] == "given" and res["n_test"] == 15 and res["n_train"] == 45
    assert res["accuracy"] >= 0.99 and res["macro_f1"] >= 0.99
    for metric in ("accuracy", "macro_f1"):
        lo, hi = res["ci95"][metric]
        assert lo <= res[metric] <= hi
    assert set(res["per_class_f1"]) == {"class0", "class1", "class2"}
    assert np.asarray(res["confusion"]).sum() == res["n_test"]


def test_bootstrap_ci_brackets_an_imperfect_estimate():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 3, 200))
    s = scores(y, pred, 3)
    ci = bootstrap_ci(y, pred, 3, 500, seed=0)
    assert ci["accuracy"][0] < s["accuracy"] < ci["accuracy"][1]
    assert ci["macro_f1"][0] < s["macro_f1"] < ci["macro_f1"][1]
    assert ci["accuracy"][1] - ci["accuracy"][0] < 0.2
    assert bootstrap_ci(y, y, 3, 100, seed=0) == {"accuracy": [1.0, 1.0], "macro_f1": [1.0, 1.0]}


def test_classes_below_k_are_dropped_and_reported():
    x, rows = blobs(per_class=(20, 20, 3))
    res = run_probe(x, rows, "composer", FAST)
    assert res["dropped_classes"] == {"class2": 3} and res["classes"] == ["class0", "class1"]
    assert "class2" not in res["per_class_f1"]
    results = {"composer": {"handcrafted": res}}
    md = table_md(results, {}, "header")
    assert "dropped classes with fewer than k=5 pieces: class2 (3)" in md
    assert metrics_json(results, {})["composer"]["handcrafted"]["accuracy"] == round(res["accuracy"], 4)
    idx, kept, dropped = keep_classes(["a"] * 6 + ["b"] * 2 + [None], k=5)
    assert kept == ["a"] and dropped == {"b": 2} and idx.tolist() == list(range(6))
    idx, kept, _ = keep_classes(["a"] * 9 + ["b"] * 5, k=5, max_per_class=5, seed=0)
    assert len(idx) == 10 and kept == ["a", "b"]  # class-balanced cap


def test_a_task_no_piece_has_is_an_error_naming_the_task_and_column():
    x, rows = blobs()
    with pytest.raises(ValueError, match=r"task 'form'.*label column 'form'"):
        run_probe(x, rows, "form", FAST)


def test_small_test_split_falls_back_to_a_seeded_stratified_split():
    x, rows = blobs(per_class=(12, 12), test_every=6)  # 4 test pieces < min_test
    res = run_probe(x, rows, "composer", FAST)
    assert res["protocol"] == "stratified" and "min_test" in res["protocol_note"]
    assert res["n_test"] == 8  # round(0.3 * 12) per class
    again = run_probe(x, rows, "composer", FAST)
    assert again["test_ids"] == res["test_ids"]  # seeded
    one_class = run_probe(x, [dict(r, labels={"composer": "x"}) for r in rows], "composer", FAST)
    assert "skipped" in one_class


def test_retrieval_scores_and_disjoint_slices():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(10, 8))
    perfect = retrieval_scores(a, a + 0.01 * rng.normal(size=a.shape))
    assert perfect["top1"] == 1.0 and perfect["top5"] == 1.0 and perfect["chance_top1"] == 0.1
    shuffled = retrieval_scores(a, a[::-1])
    assert shuffled["top1"] < 0.5
    for seed in range(20):
        (s1, n1), (s2, n2) = disjoint_slices(250, 100, np.random.default_rng(seed))
        assert n1 == n2 == 100 and (s1 + n1 <= s2 or s2 + n2 <= s1) and max(s1 + n1, s2 + n2) <= 250
    assert disjoint_slices(60, 100, rng)[0][1] == 30  # at most half the piece
    assert disjoint_slices(10, 100, rng) is None


def test_extra_metadata_adds_label_columns(tmp_path):
    rows = [
        {"id": "mine-a", "source_id": "jazz/a.mid", "split": "train", "labels": {"composer": "x"}},
        {"id": "mine-b", "source_id": "classical/b.mid", "split": "test", "labels": {}},
    ]
    meta = tmp_path / "metadata.json"
    meta.write_text(
        json.dumps(
            {
                "genre": {"train": {"jazz/a.mid": "jazz"}, "test": {"classical/b.mid": "classical"}},
                "form": {"train": {"nowhere.mid": "fugue"}},
            }
        )
    )
    merged, info = merge_extra_metadata(rows, meta)
    assert [r["labels"].get("genre") for r in merged] == ["jazz", "classical"]
    assert info["matched_pieces"] == 2 and info["unmatched_entries"] == 1 and rows[1]["labels"] == {}
    csv = tmp_path / "labels.csv"
    csv.write_text("path,form\nb.mid,sonata\n")
    assert merge_extra_metadata(rows, csv)[0][1]["labels"]["form"] == "sonata"
    csv.write_text("path,form\nzzz.mid,sonata\n")
    with pytest.raises(ValueError, match="none of its 1 paths matches"):
        merge_extra_metadata(rows, csv)
