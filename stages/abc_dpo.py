"""DVC stage ``abc_dpo``: K CLaMP-DPO iterations of the fine-tuned NotaGen model.

Round k (0..K) samples ``samples_per_prompt`` pieces for each of the ``prompts`` most frequent
fine-tune prompts whose median piece fits ``max_chars`` (or ``prompt_list``) from policy k
(k = 0: ``models/abc_finetune``), restores their rests, extracts
CLaMP features with ``models/clamp_train`` and scores them against the fine-tune set
(``data/abc_dpo/samples_k/``). For k < K it builds the preference set (pipeline/clamp/preferences.py;
the plagiarism threshold calibrated on the held-out val pieces, pipeline/clamp/scores.py) and
trains policy k+1 with DPO-Positive against a frozen copy of policy k (``models/abc_dpo/iter_{k+1}/``:
model.safetensors, preferences.json, report/).

Outs ``data/abc_dpo`` and ``models/abc_dpo`` are ``persist: true``: every unit carries the
fingerprint of what it was made from (params, inputs, the previous unit), so raising K from 2 to
3 only builds iteration 3 (and round 3), and a killed run resumes inside the unit it was
building (partial samples, DPO checkpoints under ``models/.ckpt/abc_dpo/``).
"""

from __future__ import annotations

import csv
import json
import shutil
import time

import numpy as np
from prefect import flow, get_run_logger

from pipeline.clamp.corpus import read_split
from pipeline.clamp.dpo_job import ENTRY
from pipeline.clamp.patches import drop_comment_lines
from pipeline.clamp.preferences import EmptyPreferenceSet, piece_check, select
from pipeline.clamp.rounds import prompt_table, prompt_triples, sample_round, score_round
from pipeline.clamp.scores import plagiarism_threshold
from pipeline.clamp.scorer import load as load_scorer
from pipeline.clamp.units import building, fingerprint, is_done, prune
from pipeline.config import load_section, repo_root
from pipeline.notagen.checkpoint import load as load_policy
from pipeline.notagen.checkpoint import save as save_policy
from pipeline.notagen.parity import aligned
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.report.headline import write_headline
from pipeline.train import checkpoint as ckpt
from pipeline.train.distributed import resolve_device
from pipeline.train.job import TRAIN_KEYS, run_training, train_config

DATA, MODELS, REPORT = "data/abc_dpo", "models/abc_dpo", "reports/abc_dpo"
FINETUNE, SCORER, STORE = "models/abc_finetune", "models/clamp_train", "data/tokens/abc"
CKPT = "models/.ckpt/abc_dpo"
SAMPLING_KEYS = ("prompts", "prompt_list", "samples_per_prompt", "top_k", "top_p", "sample_temperature",
                 "max_chars", "max_seconds", "reference_pieces")
DPO_KEYS = TRAIN_KEYS + ("batch_size", "portion", "plagiarism", "beta", "lam", "on_empty")


def sampling_kwargs(p) -> dict:
    return {"top_k": p.top_k, "top_p": p.top_p, "temperature": p.sample_temperature, "max_chars": p.max_chars,
            "max_seconds": p.max_seconds}


def write_round(tmp, samples, feats, scores, prompts) -> None:
    with open(tmp / "samples.jsonl", "w", encoding="utf-8") as fh:
        for i, s in enumerate(samples):
            fh.write(json.dumps({"index": i, **{k: v for k, v in s.items() if k != "fp"}}, sort_keys=True) + "\n")
    np.save(tmp / "features.npy", feats)
    write_json(tmp / "scores.json", {**scores, "prompts": [list(t) for t in prompts]})


def preferences(unit, scores: dict, p, plagiarism: float) -> dict:
    rows = [json.loads(x) for x in (unit / "samples.jsonl").read_text().splitlines() if x.strip()]
    texts = [r["interleaved"] if r["complete"] else None for r in rows]
    check = piece_check(texts, np.asarray(scores["max_similarity"]), plagiarism, aligned)
    prefs = select(scores["piece_scores"], check, p.portion)
    return {"chosen": prefs.chosen, "rejected": prefs.rejected, "pairs": prefs.pairs, "counts": prefs.counts,
            "plagiarism_threshold": plagiarism}


def calibrate_plagiarism(scorer, reference, root, floor: float) -> tuple[float, dict]:
    """The chosen-side plagiarism threshold from the held-out val pieces (scores.plagiarism_threshold);
    ``floor`` (abc_dpo.plagiarism) when the store has no val pieces."""
    held = read_split(root / STORE, "val") if (root / STORE / "val" / "texts.jsonl").is_file() else []
    if not held:
        return floor, {"floor": floor, "heldout_pieces": 0}
    return plagiarism_threshold(scorer.music_features_batch([drop_comment_lines(x.text) for x in held]),
                                reference, floor)


@flow(name="abc_dpo")
def abc_dpo() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    base, p, rt, root = load_section("base"), load_section("abc_dpo"), load_section("runtime"), repo_root()
    data, models = root / DATA, root / MODELS
    data.mkdir(parents=True, exist_ok=True)
    models.mkdir(parents=True, exist_ok=True)
    device = resolve_device(rt.device)
    scorer = load_scorer(root / SCORER / "clamp.pth", device)
    ref_pieces = read_split(root / STORE, "train", p.reference_pieces)
    reference = scorer.music_features_batch([drop_comment_lines(x.text) for x in ref_pieces])
    prompts = prompt_triples(ref_pieces, p.prompts, p.prompt_list, p.max_chars)
    if not p.prompt_list:
        log.info("abc_dpo: prompts = the %d most frequent triples whose median piece fits max_chars=%d: %s",
                 p.prompts, p.max_chars, [(r["triple"], r["pieces"], r["median_chars"])
                                          for r in prompt_table(ref_pieces)[:6]])
    plag, plag_stats = calibrate_plagiarism(scorer, reference, root, p.plagiarism)
    log.info("abc_dpo: plagiarism threshold %.4f (abc_dpo.plagiarism %.2f; held-out real pieces: %s)", plag,
             p.plagiarism, plag_stats)
    inputs = {"finetune": hash_path(root / FINETUNE), "scorer": hash_path(root / SCORER),
              "store": hash_path(root / STORE / "train")}
    sampling = {k: getattr(p, k) for k in SAMPLING_KEYS}
    dpo = {k: getattr(p, k) for k in DPO_KEYS} | {"plagiarism_threshold": round(plag, 6)}
    log.info("abc_dpo: K=%d, prompts %s x %d samples, reference %d pieces", p.iterations, prompts,
             p.samples_per_prompt, len(ref_pieces))
    fp_policy, policy_path, summary = fingerprint({"finetune": inputs["finetune"]}), root / FINETUNE, []
    for k in range(p.iterations + 1):
        fp_s = fingerprint({"policy": fp_policy, "sampling": sampling, "scorer": inputs["scorer"],
                            "store": inputs["store"], "seed": base.seed, "round": k})
        unit = data / f"samples_{k}"
        if is_done(unit, fp_s):
            log.info("round %d: samples up to date (%s)", k, fp_s)
        else:
            partial = data / f".samples_{k}.partial.jsonl"
            policy = load_policy(policy_path, device=device)
            samples = sample_round(policy, prompts, p.samples_per_prompt, sampling_kwargs(p), base.seed, k, partial,
                                   fp_s, progress=lambda n, t: log.info("round %d: sample %d/%d", k, n, t)
                                   if n == t or n % 8 == 0 else None)
            feats, scores = score_round(scorer, samples, reference)
            with building(unit, fp_s, {"round": k, "policy": str(policy_path.relative_to(root))}) as tmp:
                write_round(tmp, samples, feats, scores, prompts)
            partial.unlink(missing_ok=True)
        scores = json.loads((unit / "scores.json").read_text())
        row = {"k": k, "mean_cosine": scores["all"]["mean_cosine"], "set_mean": scores["all"]["set_mean"],
               "complete": scores["complete"], "n": scores["n"]}
        log.info("round %d: CLaMP score %.4f (mean cosine) / %.4f (set means), %d/%d complete", k,
                 row["mean_cosine"], row["set_mean"], row["complete"], row["n"])
        if k == p.iterations:
            summary.append(row)
            break
        fp_next = fingerprint({"samples": fp_s, "dpo": dpo, "seed": base.seed, "iteration": k + 1})
        munit = models / f"iter_{k + 1}"
        if not is_done(munit, fp_next):
            try:
                prefs = preferences(unit, scores, p, plag)
            except EmptyPreferenceSet as e:
                if p.on_empty == "stop":
                    raise EmptyPreferenceSet({"iteration": k + 1, **e.counts}) from None
                prefs = {"chosen": [], "rejected": [], "pairs": 0, "counts": e.counts, "skipped": str(e)}
                log.warning("iteration %d: %s; abc_dpo.on_empty=keep_policy carries policy %d forward", k + 1, e, k)
            with building(munit, fp_next, {"iteration": k + 1}) as tmp:
                write_json(tmp / "preferences.json", prefs)
                if prefs["pairs"]:
                    job = {"policy": str(policy_path), "samples": str(unit / "samples.jsonl"), "iteration": k + 1,
                           "chosen": prefs["chosen"], "rejected": prefs["rejected"], "beta": p.beta, "lam": p.lam,
                           "batch_size": p.batch_size, "train": train_config(p, base.seed, rt.device),
                           "ckpt_dir": str(root / CKPT / f"iter_{k + 1}"), "model_dir": str(tmp),
                           "report_dir": str(tmp / "report"), "fingerprint": fp_next}
                    log.info("iteration %d: DPO on %d chosen x %d rejected = %d pairs, %d steps", k + 1,
                             len(prefs["chosen"]), len(prefs["rejected"]), prefs["pairs"], p.steps)
                    run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
                else:
                    save_policy(load_policy(policy_path), tmp, extra_meta={"stage": "abc_dpo", "carried": "true"})
            ckpt.clear(root / CKPT / f"iter_{k + 1}")
        prefs = json.loads((munit / "preferences.json").read_text())
        summary.append(row | {"pairs": prefs["pairs"], "preference_counts": prefs["counts"]})
        fp_policy, policy_path = fp_next, munit
    gone = prune(data, {f"samples_{k}" for k in range(p.iterations + 1)}) + \
        prune(models, {f"iter_{k}" for k in range(1, p.iterations + 1)})
    if gone:
        log.info("abc_dpo: removed units beyond K=%d: %s", p.iterations, gone)
    with StageOutputs("abc_dpo", [REPORT]) as out:
        write_reports(out[REPORT], models, summary, p.iterations)
        out.commit(params_dump("base", "abc_dpo"), inputs=[FINETUNE, SCORER, STORE], seed=base.seed,
                   extra={"summary": summary})
    for d in (data, models):
        write_json(d / "manifest.json", {"stage": "abc_dpo", "iterations": p.iterations, "params": params_dump("base", "abc_dpo"),
                   "inputs": inputs, "prompts": [list(t) for t in prompts], "plagiarism_threshold": plag,
                   "plagiarism_calibration": plag_stats, "summary": summary})
    log.info("abc_dpo: %s (%.1f s)", [(r["k"], round(r["mean_cosine"], 4)) for r in summary], time.perf_counter() - t0)


def write_reports(report, models, summary: list[dict], K: int) -> None:
    """summary.json, metrics.json (last round), plots/loss.csv (every DPO step, all iterations)
    and plots/scores.csv (the CLaMP score per round)."""
    (report / "plots").mkdir(parents=True, exist_ok=True)
    write_json(report / "summary.json", {"iterations": K, "rounds": summary})
    write_json(report / "metrics.json", {f"clamp_score_k{r['k']}": round(r["mean_cosine"], 5) for r in summary})
    rows, offset = [], 0
    for k in range(1, K + 1):
        src = models / f"iter_{k}" / "report"
        if (src / "plots" / "loss.csv").is_file():
            shutil.copytree(src, report / f"iter_{k}", dirs_exist_ok=True)
            with open(src / "plots" / "loss.csv") as fh:
                part = list(csv.DictReader(fh))
            for r in part:
                rows.append({**r, "iteration": k, "step": offset + int(float(r["step"]))})
            offset = rows[-1]["step"] if rows else offset
    if rows:
        cols = ["step", "iteration"] + [c for c in rows[0] if c not in ("step", "iteration")]
        with open(report / "plots" / "loss.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    with open(report / "plots" / "scores.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["k", "mean_cosine", "set_mean", "complete"])
        for r in summary:
            w.writerow([r["k"], round(r["mean_cosine"], 5), round(r["set_mean"], 5), r["complete"]])
    table = []
    for r in summary[:-1]:
        k, c = r["k"] + 1, r["preference_counts"]
        m = json.loads((models / f"iter_{k}" / "report" / "metrics.json").read_text()) \
            if (models / f"iter_{k}" / "report" / "metrics.json").is_file() else {}
        fails = ", ".join(f"{n[7:]} {v}" for n, v in c.items() if n.startswith("failed_")) or "none"
        table.append([k, r["n"], r["complete"], c.get("chosen"), c.get("rejected"), r["pairs"], fails,
                      m.get("val_loss"), m.get("val_accuracy"), m.get("val_margin")])
    write_headline(report, {
        "family": "notagen", "family_title": "NotaGen", "title": "CLaMP-DPO iterations", "order": 25,
        "text": "Each iteration: the previous policy's samples ranked by CLaMP score; chosen = the best that pass "
                "the checks (complete, bars aligned, instruments grouped, no near copy), rejected = the worst; "
                "then DPO-Positive (beta 0.1, lambda 10) against a frozen copy of that policy.",
        "tables": [{"caption": "Preference sets and DPO per iteration (val_* on fixed preference pairs)",
                    "columns": ["iteration", "samples", "complete", "chosen", "rejected", "pairs", "filtered out",
                                "DPO loss", "pair accuracy", "reward margin"], "rows": table}]})


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_dpo)
