"""The CLaMP-DPO rounds of stage ``abc_dpo``.

Round k (0..K) samples ``samples_per_prompt`` pieces for each prompt from policy k (k = 0: the
fine-tuned model), restores their rests, extracts CLaMP features and scores them against the
fine-tune set (``samples_k/``, pipeline/clamp/rounds.py). For k < K it builds the preference set
(pipeline/clamp/preferences.py; the plagiarism threshold calibrated on the held-out val pieces) and
trains policy k+1 with DPO-Positive against a frozen copy of policy k (``iter_{k+1}/``,
pipeline/clamp/dpo_job.py, one :class:`TrainJob` per iteration).

Every unit carries the fingerprint of what it was made from (params, inputs, the previous unit,
pipeline/clamp/units.py), so raising K only builds the new units, and a killed run resumes inside
the unit it was building (partial samples, DPO checkpoints).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.clamp.corpus import read_split
from pipeline.clamp.dpo_job import ENTRY
from pipeline.clamp.dpo_report import write_reports
from pipeline.clamp.patches import drop_comment_lines
from pipeline.clamp.preferences import EmptyPreferenceSet, piece_check, preference_set
from pipeline.clamp.rounds import prompt_table, prompt_triples, sample_round, score_round
from pipeline.clamp.scorer import load as load_scorer
from pipeline.clamp.scores import plagiarism_threshold
from pipeline.clamp.units import building, fingerprint, is_done, prune
from pipeline.data.jsonl import write_json
from pipeline.notagen.checkpoint import load as load_policy
from pipeline.notagen.checkpoint import save as save_policy
from pipeline.notagen.parity import aligned
from pipeline.orchestration.stage import hash_path
from pipeline.params.base import RuntimeParams
from pipeline.params.clamp import AbcDpoParams
from pipeline.train import checkpoint as ckpt
from pipeline.train.distributed import resolve_device
from pipeline.train.job import TrainJob, run_training
from pipeline.train.loop import run_logger


@dataclass(frozen=True)
class DpoPaths:
    root: Path  # the repo: unit records name their policy relative to it
    data: Path  # samples_k/ units (a persistent out)
    models: Path  # iter_k/ units (a persistent out)
    finetune: Path  # policy 0
    scorer: Path  # clamp.pth
    store: Path  # the interleaved-ABC token store (train: reference set, val: plagiarism calibration)
    ckpt: Path  # DPO checkpoints per iteration


def sampling_kwargs(p: AbcDpoParams) -> dict:
    return {
        "top_k": p.top_k,
        "top_p": p.top_p,
        "temperature": p.sample_temperature,
        "max_chars": p.max_chars,
        "max_seconds": p.max_seconds,
    }


def write_round(tmp: Path, samples: list[dict], feats, scores: dict, prompts) -> None:
    """samples.jsonl (without the fingerprint and the wall-clock seconds), features.npy, scores.json."""
    with open(tmp / "samples.jsonl", "w", encoding="utf-8") as fh:
        for i, s in enumerate(samples):
            fh.write(
                json.dumps({"index": i, **{k: v for k, v in s.items() if k not in ("fp", "seconds")}}, sort_keys=True)
                + "\n"
            )
    np.save(tmp / "features.npy", feats)
    write_json(tmp / "scores.json", {**scores, "prompts": [list(t) for t in prompts]})


def preferences(unit: Path, scores: dict, portion: float, plagiarism: float) -> dict:
    rows = [json.loads(x) for x in (unit / "samples.jsonl").read_text().splitlines() if x.strip()]
    texts = [r["interleaved"] if r["complete"] else None for r in rows]
    check = piece_check(texts, np.asarray(scores["max_similarity"]), plagiarism, aligned)
    prefs = preference_set(scores["piece_scores"], check, portion)
    return {
        "chosen": prefs.chosen,
        "rejected": prefs.rejected,
        "pairs": prefs.pairs,
        "counts": prefs.counts,
        "plagiarism_threshold": plagiarism,
    }


def calibrate_plagiarism(scorer, reference, store: Path, floor: float) -> tuple[float, dict]:
    """The chosen-side plagiarism threshold from the held-out val pieces (scores.plagiarism_threshold);
    ``floor`` (abc_dpo.plagiarism) when the store has no val pieces."""
    held = read_split(store, "val") if (store / "val" / "texts.jsonl").is_file() else []
    if not held:
        return floor, {"floor": floor, "heldout_pieces": 0}
    return plagiarism_threshold(
        scorer.music_features_batch([drop_comment_lines(x.text) for x in held]), reference, floor
    )


class DpoRounds:
    """The scorer, reference set, prompts and plagiarism threshold every round shares."""

    def __init__(self, p: AbcDpoParams, seed: int, runtime: RuntimeParams, paths: DpoPaths) -> None:
        self.p, self.seed, self.rt, self.paths = p, seed, runtime, paths
        self.log = log = run_logger()
        self.device = resolve_device(runtime.device)
        self.scorer = load_scorer(paths.scorer / "clamp.pth", self.device)
        ref_pieces = read_split(paths.store, "train", p.reference_pieces)
        self.reference = self.scorer.music_features_batch([drop_comment_lines(x.text) for x in ref_pieces])
        self.prompts = prompt_triples(ref_pieces, p.prompts, p.prompt_list, p.max_chars)
        if not p.prompt_list:
            log.info(
                "abc_dpo: prompts = the %d most frequent triples whose median piece fits max_chars=%d: %s",
                p.prompts,
                p.max_chars,
                [(r["triple"], r["pieces"], r["median_chars"]) for r in prompt_table(ref_pieces)[:6]],
            )
        self.plag, self.plag_stats = calibrate_plagiarism(self.scorer, self.reference, paths.store, p.plagiarism)
        log.info(
            "abc_dpo: plagiarism threshold %.4f (abc_dpo.plagiarism %.2f; held-out real pieces: %s)",
            self.plag,
            p.plagiarism,
            self.plag_stats,
        )
        self.inputs = {
            "finetune": hash_path(paths.finetune),
            "scorer": hash_path(paths.scorer),
            "store": hash_path(paths.store / "train"),
        }
        log.info(
            "abc_dpo: K=%d, prompts %s x %d samples, reference %d pieces",
            p.iterations,
            self.prompts,
            p.samples_per_prompt,
            len(ref_pieces),
        )

    def samples(self, k: int, fp_policy: str, policy_path: Path) -> tuple[Path, str]:
        """Round k's unit (built unless up to date) and its fingerprint."""
        p, log = self.p, self.log
        fp = fingerprint(
            {
                "policy": fp_policy,
                "sampling": p.model_dump(include=AbcDpoParams.SAMPLING),
                "scorer": self.inputs["scorer"],
                "store": self.inputs["store"],
                "seed": self.seed,
                "round": k,
            }
        )
        unit = self.paths.data / f"samples_{k}"
        if is_done(unit, fp):
            log.info("round %d: samples up to date (%s)", k, fp)
            return unit, fp
        partial = self.paths.data / f".samples_{k}.partial.jsonl"
        policy = load_policy(policy_path, device=self.device)
        rows = sample_round(
            policy,
            self.prompts,
            p.samples_per_prompt,
            sampling_kwargs(p),
            self.seed,
            k,
            partial,
            fp,
            progress=lambda n, t: log.info("round %d: sample %d/%d", k, n, t) if n == t or n % 8 == 0 else None,
        )
        log.info("round %d: %d pieces sampled in %.1f s", k, len(rows), sum(r["seconds"] for r in rows))
        feats, scores = score_round(self.scorer, rows, self.reference)
        with building(unit, fp, {"round": k, "policy": str(policy_path.relative_to(self.paths.root))}) as tmp:
            write_round(tmp, rows, feats, scores, self.prompts)
        partial.unlink(missing_ok=True)
        return unit, fp

    def train(self, k: int, unit: Path, scores: dict, fp_samples: str, policy_path: Path) -> tuple[Path, str]:
        """Policy k+1's unit (DPO on round k's preference set, unless up to date) and its fingerprint."""
        p, log, it = self.p, self.log, k + 1
        dpo = p.model_dump(exclude=AbcDpoParams.SAMPLING | {"iterations"})
        dpo["plagiarism_threshold"] = round(self.plag, 6)
        fp = fingerprint({"samples": fp_samples, "dpo": dpo, "seed": self.seed, "iteration": it})
        munit = self.paths.models / f"iter_{it}"
        if is_done(munit, fp):
            return munit, fp
        try:
            prefs = preferences(unit, scores, p.portion, self.plag)
        except EmptyPreferenceSet as e:
            if p.on_empty == "stop":
                raise EmptyPreferenceSet({"iteration": it, **e.counts}) from None
            prefs = {"chosen": [], "rejected": [], "pairs": 0, "counts": e.counts, "skipped": str(e)}
            log.warning("iteration %d: %s; abc_dpo.on_empty=keep_policy carries policy %d forward", it, e, k)
        with building(munit, fp, {"iteration": it}) as tmp:
            write_json(tmp / "preferences.json", prefs)
            if prefs["pairs"]:
                job = TrainJob(
                    stage="abc_dpo",
                    p=p,
                    seed=self.seed,
                    device=self.rt.device,
                    ckpt_dir=self.paths.ckpt / f"iter_{it}",
                    model_dir=tmp,
                    report_dir=tmp / "report",
                    inputs={
                        "policy": str(policy_path),
                        "samples": str(unit / "samples.jsonl"),
                        "iteration": it,
                        "chosen": prefs["chosen"],
                        "rejected": prefs["rejected"],
                    },
                    fingerprint={"unit": fp},
                )
                log.info(
                    "iteration %d: DPO on %d chosen x %d rejected = %d pairs, %d steps",
                    it,
                    len(prefs["chosen"]),
                    len(prefs["rejected"]),
                    prefs["pairs"],
                    p.steps,
                )
                run_training(ENTRY, job, self.rt.launcher, self.rt.nproc_per_node)
            else:
                save_policy(load_policy(policy_path), tmp, extra_meta={"stage": "abc_dpo", "carried": "true"})
        ckpt.clear(self.paths.ckpt / f"iter_{it}")
        return munit, fp

    def run(self) -> list[dict]:
        """Every round and iteration up to K; one summary row per round."""
        p, log = self.p, self.log
        fp_policy, policy_path, summary = fingerprint({"finetune": self.inputs["finetune"]}), self.paths.finetune, []
        for k in range(p.iterations + 1):
            unit, fp_samples = self.samples(k, fp_policy, policy_path)
            scores = json.loads((unit / "scores.json").read_text())
            row = {
                "k": k,
                "mean_cosine": scores["all"]["mean_cosine"],
                "set_mean": scores["all"]["set_mean"],
                "complete": scores["complete"],
                "n": scores["n"],
            }
            log.info(
                "round %d: CLaMP score %.4f (mean cosine) / %.4f (set means), %d/%d complete",
                k,
                row["mean_cosine"],
                row["set_mean"],
                row["complete"],
                row["n"],
            )
            if k == p.iterations:
                summary.append(row)
                break
            policy_path, fp_policy = self.train(k, unit, scores, fp_samples, policy_path)
            prefs = json.loads((policy_path / "preferences.json").read_text())
            summary.append(row | {"pairs": prefs["pairs"], "preference_counts": prefs["counts"]})
        gone = prune(self.paths.data, {f"samples_{k}" for k in range(p.iterations + 1)}) + prune(
            self.paths.models, {f"iter_{k}" for k in range(1, p.iterations + 1)}
        )
        if gone:
            log.info("abc_dpo: removed units beyond K=%d: %s", p.iterations, gone)
        return summary

    def write_manifests(self, params: dict, summary: list[dict]) -> None:
        """manifest.json of the two persistent outs (what their units were made from)."""
        for d in (self.paths.data, self.paths.models):
            write_json(
                d / "manifest.json",
                {
                    "stage": "abc_dpo",
                    "iterations": self.p.iterations,
                    "params": params,
                    "inputs": self.inputs,
                    "prompts": [list(t) for t in self.prompts],
                    "plagiarism_threshold": self.plag,
                    "plagiarism_calibration": self.plag_stats,
                    "summary": summary,
                },
            )


def run_dpo(
    p: AbcDpoParams, seed: int, runtime: RuntimeParams, paths: DpoPaths, report: Path, params: dict
) -> list[dict]:
    """All K rounds, then the report (``report``) and the persistent outs' manifests; the summary rows."""
    t0 = time.perf_counter()
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.models.mkdir(parents=True, exist_ok=True)
    rounds = DpoRounds(p, seed, runtime, paths)
    summary = rounds.run()
    write_reports(report, paths.models, summary, p)
    rounds.write_manifests(params, summary)
    rounds.log.info(
        "abc_dpo: %s (%.1f s)", [(r["k"], round(r["mean_cosine"], 4)) for r in summary], time.perf_counter() - t0
    )
    return summary
