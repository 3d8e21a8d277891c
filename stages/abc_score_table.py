"""DVC stage ``abc_score_table``: NotaGen's table per CLaMP-DPO iteration K (pipeline/clamp/table.py).

Reads every round of ``data/abc_dpo/samples_k`` (pieces sampled from policy k), the policies
(``models/abc_finetune`` for K = 0, ``models/abc_dpo/iter_k``), the scorer and the token store.
Writes ``reports/abc_score_table/``: table.json, metrics.json, plots/score_curve.png (the score
over K with the ground truth and upstream's anchors), samples/ (per K the best-scoring sample that
passes the checks, else the best complete one, as ABC, MusicXML, MIDI and audio) and headline.json.
"""

from __future__ import annotations

import json
import time

import numpy as np
from prefect import flow, get_run_logger

from pipeline.clamp.corpus import read_split
from pipeline.clamp.patches import drop_comment_lines
from pipeline.clamp.preferences import piece_check
from pipeline.clamp.rounds import alignment_text
from pipeline.clamp.scorer import load as load_scorer
from pipeline.clamp.table import COLUMNS, TASKS, fit_probe, perplexity, row
from pipeline.config import load_section, repo_root
from pipeline.notagen.abc_check import validate_interleaved
from pipeline.notagen.checkpoint import load as load_policy
from pipeline.notagen.parity import aligned
from pipeline.notagen.render import ScoreRenderError, write_piece
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.report.headline import write_headline

REPORT, DPO_DATA, DPO_MODELS = "reports/abc_score_table", "data/abc_dpo", "models/abc_dpo"
FINETUNE, SCORER, STORE = "models/abc_finetune", "models/clamp_train", "data/tokens/abc"
# Upstream numbers (issue 12 / seed-systems 4.6): average CLaMP 2 score per K.
ANCHORS = {"NotaGen README, Schubert demo": [0.324, 0.579, 0.778],
           "NotaGen paper (NotaGen rows)": [0.570, 0.674, 0.708, 0.730]}
GROUND_TRUTH_ANCHOR = 0.792


def plagiarism_threshold(root, param: float) -> float:
    """The threshold abc_dpo calibrated on held-out pieces (its manifest), so the table's plagiarism
    rate uses the chosen-side check's number; ``abc_dpo.plagiarism`` for an older manifest."""
    manifest = root / DPO_DATA / "manifest.json"
    if manifest.is_file():
        return float(json.loads(manifest.read_text()).get("plagiarism_threshold", param))
    return param


def rounds(root) -> list[int]:
    ks = sorted(int(d.name.split("_")[1]) for d in (root / DPO_DATA).glob("samples_*") if (d / "done.json").is_file())
    if not ks or ks != list(range(len(ks))):
        raise FileNotFoundError(f"{root / DPO_DATA} holds rounds {ks}; run the abc_dpo stage first")
    return ks


def render(out_dir, name: str, sample: dict, p) -> dict:
    """ABC, MusicXML, MIDI and audio of one sample; a failure is recorded, never fatal."""
    try:
        return write_piece(out_dir, name, sample["text"], sample["interleaved"], sample_rate=p.sample_rate,
                           max_seconds=p.audio_seconds)
    except ScoreRenderError as e:
        found = {f.suffix.lstrip("."): f.name for f in out_dir.glob(f"{name}.*")}
        return {k: v for k, v in found.items() if k in ("abc", "musicxml", "mid")} | {"error": str(e)[:300]}


def sample_check(rows_k: list[dict], max_similarity, plagiarism: float):
    """The checks a rendered sample should pass, cheapest first: abc_dpo's chosen-side checks
    (complete, no near copy, instruments grouped, upstream's bar alignment) and the table's own
    (validate_interleaved). Returns check(i) -> (ok, reason)."""
    texts = [r["interleaved"] if r["complete"] else None for r in rows_k]
    chosen = piece_check(texts, np.asarray(max_similarity), plagiarism, aligned)

    def check(i: int) -> tuple[bool, str]:
        ok, why = chosen(i)
        return validate_interleaved(texts[i]) if ok else (ok, why)
    return check


def pick(rows_k: list[dict], scores: list[float], n: int, check) -> list[tuple[int, str]]:
    """The ``n`` best-scoring complete samples that pass ``check``, topped up with the best
    complete ones that do not (each named: "best valid" or "fallback, <reason>")."""
    best = sorted((i for i, r in enumerate(rows_k) if r["complete"]), key=lambda i: -scores[i])
    valid, failed = [], []
    for i in best:
        if len(valid) == n:
            break
        ok, why = check(i)
        (valid if ok else failed).append((i, "best valid sample" if ok else f"fallback, fails the checks: {why}"))
    return valid + failed[: n - len(valid)]


def cards(rep, k: int, rows_k: list[dict], scores: list[float], check, p, info: dict) -> list[dict]:
    """Render the ``render_per_k`` picked samples of round k (:func:`pick`); one report card each."""
    out = []
    for n, (i, why) in enumerate(pick(rows_k, scores, p.render_per_k, check)):
        files = render(rep / "samples", f"k{k}_{n}", rows_k[i], p)
        info.setdefault("rendered", []).append(files | {"index": i, "picked": why})
        prompt = " / ".join(rows_k[i][f] for f in ("period", "composer", "instrumentation"))
        card = {"name": f"K={k}, sample {i}", "caption": f"{prompt}; CLaMP score {scores[i]:.3f}; {why[:120]}"
                + (f"; not rendered: {files['error']}" if "error" in files else "")}
        midi = files.get("midi") or files.get("mid")
        if midi:
            card["midi"] = [f"samples/{midi}"]
        if "audio" in files:
            card["audio"] = [f"samples/{files['audio']}"]
        out.append(card)
    return out


def curve(path, table_rows, gt) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ks = list(range(len(table_rows)))
    ax.plot(ks, [r[1] for r in table_rows], "o-", label="ours: mean cosine (statistics.py)")
    ax.plot(ks, [r[2] for r in table_rows], "s--", label="ours: cosine of set means")
    if gt is not None:
        ax.axhline(gt, color="k", lw=1, label="ours: held-out real pieces")
    for name, ys in ANCHORS.items():
        ax.plot(range(len(ys)), ys, ":", marker=".", label=f"upstream: {name}")
    ax.axhline(GROUND_TRUTH_ANCHOR, color="gray", ls=":", lw=1, label="upstream: ground truth (paper)")
    ax.set_xlabel("CLaMP-DPO iteration K")
    ax.set_xticks(range(max(len(table_rows), 4)))
    ax.set_ylabel("CLaMP score")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@flow(name="abc_score_table")
def abc_score_table() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, root = load_section("abc_score_table"), repo_root()
    plag = plagiarism_threshold(root, load_section("abc_dpo").plagiarism)
    scorer = load_scorer(root / SCORER / "clamp.pth")
    train = read_split(root / STORE, "train")
    held = read_split(root / STORE, p.perplexity_split) or read_split(root / STORE, "val")
    reference = scorer.music_features_batch([drop_comment_lines(x.text) for x in train])
    probes = {t: fit_probe(reference, [x.prompt[0 if t == "period" else 2] for x in train], p.probe_c)
              for t in TASKS}
    held_feats = scorer.music_features_batch([drop_comment_lines(x.text) for x in held])
    held_texts = [x.text for x in held[: p.perplexity_pieces]]
    gt_vals, gt_info = row("ground truth (held-out)", held_feats, reference,
                           labels={"period": [x.prompt[0] for x in held],
                                   "instrumentation": [x.prompt[2] for x in held]},
                           probes=probes, valid=[True] * len(held), aligned_texts=[x.text for x in held],
                           check=validate_interleaved, plagiarism=plag, ppl=None)
    table, details, samples = [], {"ground_truth": gt_info}, []
    with StageOutputs("abc_score_table", [REPORT]) as out:
        rep = out[REPORT]
        for k in rounds(root):
            unit = root / DPO_DATA / f"samples_{k}"
            rows_k = [json.loads(x) for x in (unit / "samples.jsonl").read_text().splitlines() if x.strip()]
            policy = load_policy(root / FINETUNE if k == 0 else root / DPO_MODELS / f"iter_{k}")
            vals, info = row(f"NotaGen (ours), K={k}", np.load(unit / "features.npy"), reference,
                             labels={"period": [r["period"] for r in rows_k],
                                     "instrumentation": [r["instrumentation"] for r in rows_k]},
                             probes=probes, valid=[bool(r["complete"]) for r in rows_k],
                             aligned_texts=[alignment_text(r) or "" for r in rows_k],
                             check=validate_interleaved, plagiarism=plag, ppl=perplexity(policy, held_texts))
            table.append(vals)
            details[f"k{k}"] = info
            scored = json.loads((unit / "scores.json").read_text())
            check = sample_check(rows_k, scored["max_similarity"], plag)
            samples += cards(rep, k, rows_k, scored["piece_scores"], check, p, info)
            log.info("K=%d: %s", k, dict(zip(COLUMNS, vals)))
        (rep / "plots").mkdir(parents=True, exist_ok=True)
        curve(rep / "plots" / "score_curve.png", table, gt_vals[1])
        anchors = [[name] + [ys[k] if k < len(ys) else None for k in range(4)] for name, ys in ANCHORS.items()]
        anchors.append(["ground truth (paper)", GROUND_TRUTH_ANCHOR, None, None, None])
        full = table + [gt_vals]
        write_json(rep / "table.json", {"columns": COLUMNS, "rows": full, "details": details, "anchors": anchors,
                   "ground_truth_anchor": GROUND_TRUTH_ANCHOR})
        metrics = {f"clamp_score_k{k}": r[1] for k, r in enumerate(table)}
        write_json(rep / "metrics.json", metrics | {"clamp_score_ground_truth": gt_vals[1]})
        write_headline(rep, {
            "family": "notagen", "family_title": "NotaGen", "title": "CLaMP-DPO score table", "order": 30,
            "text": "Per CLaMP-DPO iteration K: pieces sampled from the policy, scored by our CLaMP scorer against "
                    "the fine-tune set (mean cosine to the mean feature, as NotaGen's `statistics.py`; and the cosine "
                    "of the set means, as clamp2's `clamp2_score.py`). Label accuracies are probes on scorer "
                    "features of real pieces; perplexity is per character on held-out pieces. Tiny models: "
                    "compare the trend over K, not the level, with upstream.",
            "tables": [{"caption": "NotaGen table per K (ours) and the held-out ground truth", "columns": COLUMNS,
                        "rows": full, "digits": 3},
                       {"caption": "Upstream anchors (average CLaMP 2 score per K; paper ground truth "
                                   f"{GROUND_TRUTH_ANCHOR})",
                        "columns": ["source", "K=0", "K=1", "K=2", "K=3"],
                        "rows": anchors}],
            "figures": ["plots/score_curve.png"], "samples": samples})
        out.commit(params_dump("abc_score_table"), inputs=[DPO_DATA, DPO_MODELS, SCORER, STORE],
                   extra={"plagiarism": plag})
    log.info("abc_score_table: %d rows (%.1f s)", len(table), time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_score_table)
