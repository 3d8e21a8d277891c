"""Stage ``abc_score_table``'s work: NotaGen's table per CLaMP-DPO iteration K (pipeline/clamp/table.py)
next to the held-out ground truth, the score curve, one rendered sample per K and the headline.

``table.json`` keeps ``rows`` (point values, in NotaGen Table 2's shape: rows K = 0..K then the
ground truth) and adds ``rows_ci95``, the same rows whose cells are ``{"value", "ci95": [lo, hi]}``
where a 95% bootstrap interval exists (the headline shows these), and ``weights``: per K the policy
and the scorer, with the released file each was imported from (path and hash, from its manifest)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.clamp.corpus import read_split
from pipeline.clamp.patches import drop_comment_lines
from pipeline.clamp.rounds import alignment_text
from pipeline.clamp.sample_cards import cards, sample_check
from pipeline.clamp.score_curve import GROUND_TRUTH_ANCHOR, anchor_rows, plot_curve
from pipeline.clamp.scorer import load as load_scorer
from pipeline.clamp.table import (
    COLUMNS,
    TASKS,
    fit_probe,
    perplexity_interval,
    pooled_perplexity,
    row,
    text_logprobs,
)
from pipeline.data.jsonl import write_json
from pipeline.notagen.checkpoint import load as load_policy
from pipeline.notagen.parity import aligned as upstream_bar_alignment
from pipeline.orchestration.model_origin import model_origin
from pipeline.params.clamp import AbcScoreTableParams
from pipeline.report.headline import ci, write_headline


def calibrated_plagiarism(dpo_data: Path, param: float) -> float:
    """The threshold abc_dpo calibrated on held-out pieces (its manifest), so the table's plagiarism
    rate uses the chosen-side check's number; ``abc_dpo.plagiarism`` for an older manifest."""
    manifest = dpo_data / "manifest.json"
    if manifest.is_file():
        return float(json.loads(manifest.read_text()).get("plagiarism_threshold", param))
    return param


def rounds(dpo_data: Path) -> list[int]:
    """The finished rounds 0..K of abc_dpo."""
    ks = sorted(int(d.name.split("_")[1]) for d in dpo_data.glob("samples_*") if (d / "done.json").is_file())
    if not ks or ks != list(range(len(ks))):
        raise FileNotFoundError(f"{dpo_data} holds rounds {ks}; run the abc_dpo stage first")
    return ks


def dpo_weights(dpo_models: Path, k: int) -> dict:
    """Policy k >= 1: DPO of policy k-1 on its preference pairs, or policy k-1 carried forward
    (``abc_dpo.on_empty: keep_policy``) where no pair passed the checks."""
    prefs = json.loads((dpo_models / f"iter_{k}" / "preferences.json").read_text())
    made = (
        f"the K={k - 1} policy, carried forward ({prefs['skipped']})"
        if prefs.get("skipped")
        else f"CLaMP-DPO of the K={k - 1} policy on {prefs['pairs']} pairs"
    )
    return {"model": f"models/abc_dpo/iter_{k}", "from": made, "init": None}


def weights_rows(weights: dict) -> list[list]:
    """The headline's weights table: role, model dir, weights file (or how they were made), hash."""
    rows = []
    for role, w in weights.items():
        init = w.get("init") or {}
        made = init.get("path") or w.get("from") or f"trained here ({w.get('steps')} steps)"
        rows.append([role, w["model"], made, init.get("hash")])
    return rows


def with_intervals(vals: list, ci95: list) -> list:
    """A table row whose cells carry their interval where one exists."""
    return [v if lo_hi is None else ci(v, *lo_hi) for v, lo_hi in zip(vals, ci95)]


def headline(full: list[list], samples: list[dict], weights: dict) -> dict:
    return {
        "family": "notagen",
        "family_title": "NotaGen",
        "title": "CLaMP-DPO score table",
        "order": 30,
        "text": "Per CLaMP-DPO iteration K: pieces sampled from the policy, scored by the CLaMP scorer against "
        "the fine-tune set (mean cosine to the mean feature, as NotaGen's `statistics.py`; and the cosine "
        "of the set means, as clamp2's `clamp2_score.py`). Label accuracies are probes on scorer "
        "features of real pieces; perplexity is per character on held-out pieces. Brackets: 95% "
        "bootstrap intervals over the row's pieces (perplexity: over the held-out texts). The last table "
        "names the weights: each policy and the scorer, with the released file each was imported from. "
        "Tiny models: compare the trend over K, not the level, with upstream.",
        "tables": [
            {
                "caption": "NotaGen table per K (ours) and the held-out ground truth",
                "columns": COLUMNS,
                "rows": full,
                "digits": 3,
            },
            {
                "caption": f"Upstream anchors (average CLaMP 2 score per K; paper ground truth {GROUND_TRUTH_ANCHOR})",
                "columns": ["source", "K=0", "K=1", "K=2", "K=3"],
                "rows": anchor_rows(),
            },
            {
                "caption": "Weights used: the policy per K and the CLaMP scorer",
                "columns": ["role", "model", "weights", "hash"],
                "rows": weights_rows(weights),
            },
        ],
        "figures": ["plots/score_curve.png"],
        "samples": samples,
    }


def write_score_table(
    rep: Path,
    p: AbcScoreTableParams,
    plagiarism: float,
    *,
    dpo_data: Path,
    dpo_models: Path,
    finetune: Path,
    scorer: Path,
    store: Path,
) -> list[list]:
    """table.json, metrics.json, plots/score_curve.png, samples/ and headline.json into ``rep``; the rows per K."""
    clamp = load_scorer(scorer / "clamp.pth")
    train = read_split(store, "train")
    held = read_split(store, p.perplexity_split) or read_split(store, "val")
    reference = clamp.music_features_batch([drop_comment_lines(x.text) for x in train])
    probes = {t: fit_probe(reference, [x.prompt[0 if t == "period" else 2] for x in train], p.probe_c) for t in TASKS}
    held_feats = clamp.music_features_batch([drop_comment_lines(x.text) for x in held])
    held_texts = [x.text for x in held[: p.perplexity_pieces]]
    gt_vals, gt_info = row(
        "ground truth (held-out)",
        held_feats,
        reference,
        labels={"period": [x.prompt[0] for x in held], "instrumentation": [x.prompt[2] for x in held]},
        probes=probes,
        valid=[True] * len(held),
        aligned_texts=[x.text for x in held],
        check=upstream_bar_alignment,
        plagiarism=plagiarism,
        ppl=None,
    )
    gt_ci = with_intervals(gt_vals, gt_info.pop("ci95"))
    table, table_ci, details, samples = [], [], {"ground_truth": gt_info}, []
    weights = {}
    for k in rounds(dpo_data):
        unit = dpo_data / f"samples_{k}"
        weights[f"K={k}"] = model_origin(finetune) if k == 0 else dpo_weights(dpo_models, k)
        rows_k = [json.loads(x) for x in (unit / "samples.jsonl").read_text().splitlines() if x.strip()]
        policy = load_policy(finetune if k == 0 else dpo_models / f"iter_{k}")
        ppl_parts = text_logprobs(policy, held_texts)
        vals, info = row(
            f"NotaGen (ours), K={k}",
            np.load(unit / "features.npy"),
            reference,
            labels={"period": [r["period"] for r in rows_k], "instrumentation": [r["instrumentation"] for r in rows_k]},
            probes=probes,
            valid=[bool(r["complete"]) for r in rows_k],
            aligned_texts=[alignment_text(r) or "" for r in rows_k],
            check=upstream_bar_alignment,
            plagiarism=plagiarism,
            ppl=pooled_perplexity(ppl_parts),
            ppl_ci=perplexity_interval(ppl_parts),
        )
        table.append(vals)
        table_ci.append(with_intervals(vals, info.pop("ci95")))
        details[f"k{k}"] = info
        scored = json.loads((unit / "scores.json").read_text())
        check = sample_check(rows_k, scored["max_similarity"], plagiarism)
        samples += cards(rep, k, rows_k, scored["piece_scores"], check, p, info)
    (rep / "plots").mkdir(parents=True, exist_ok=True)
    plot_curve(rep / "plots" / "score_curve.png", table, gt_vals[1])
    full = table + [gt_vals]
    weights["scorer"] = model_origin(scorer)
    write_json(
        rep / "table.json",
        {
            "columns": COLUMNS,
            "rows": full,
            "rows_ci95": table_ci + [gt_ci],
            "details": details,
            "anchors": anchor_rows(),
            "ground_truth_anchor": GROUND_TRUTH_ANCHOR,
            "weights": weights,
        },
    )
    metrics = {f"clamp_score_k{k}": r[1] for k, r in enumerate(table)}
    write_json(rep / "metrics.json", metrics | {"clamp_score_ground_truth": gt_vals[1]})
    write_headline(rep, headline(table_ci + [gt_ci], samples, weights))
    return table
