"""One CLaMP-DPO iteration's training job: DPO-Positive of the NotaGen policy on a preference set.

The policy and a frozen reference both start from the previous iteration's model. Items are the
ORIGINAL generated texts (``[r:]``-tagged, rest-reduced, as upstream trains on), patchified and
cropped to the model's context once per item (seeded), so policy and reference score the same
patches. Batches draw pairs uniformly from chosen x rejected (upstream: 1 pair per step).
Runs in-process or under torchrun: NotaGen's ``logprob`` calls the model's ``char_logits`` rather
than its ``forward``, so the loop trains a :class:`pipeline.train.dpo.PolicyScores` (the policy
behind a scoring ``forward``), which DDP does synchronise; rank 0 writes the outputs.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import torch

from pipeline.data.jsonl import write_json
from pipeline.notagen.checkpoint import load, save
from pipeline.notagen.model import logprob
from pipeline.notagen.patchilizer import PatchifyError, patchify
from pipeline.orchestration.stage import split_timings
from pipeline.train import distributed as D
from pipeline.train.dpo import DPOObjective, PolicyScores, PreferenceBatches, disable_dropout
from pipeline.train.job import TrainJob, write_training_outputs
from pipeline.train.loop import train

ENTRY = "pipeline.clamp.dpo_job:run_job"


def notagen_logprob(model, items: list[torch.Tensor]) -> torch.Tensor:
    """Summed char log-probs [B] of a list of [P, 16] patch tensors (one padded forward)."""
    return logprob(getattr(model, "module", model), list(items))


def patch_tokens(item: torch.Tensor) -> int:
    return int((item != 0).sum())


def items_of(texts: dict[int, str], patch_length: int, seed: int) -> tuple[dict[int, torch.Tensor], dict[int, str]]:
    """Patches per sample index (cropped like upstream training), and the ones that failed."""
    good, bad = {}, {}
    for i, text in texts.items():
        try:
            good[i] = patchify(text, patch_length=patch_length, rng=random.Random(seed + i), on_bad_line="drop")
        except (PatchifyError, ValueError) as e:
            bad[i] = f"{type(e).__name__}: {e}"
    return good, bad


def run_job(job: TrainJob) -> dict | None:
    """``job.inputs``: ``policy`` (the previous iteration's model dir), ``samples`` (its round's
    samples.jsonl), ``chosen`` / ``rejected`` (indices into it), ``iteration``."""
    p, tcfg, inp = job.p, job.train_config(), job.inputs
    with D.session(job.device) as info:
        policy = disable_dropout(load(inp["policy"]).train())
        reference = load(inp["policy"])
        rows = [json.loads(line) for line in Path(inp["samples"]).read_text().splitlines() if line.strip()]
        chosen, rejected = list(inp["chosen"]), list(inp["rejected"])
        items, bad = items_of({i: rows[i]["text"] for i in chosen + rejected}, policy.config.patch_length, tcfg.seed)
        chosen = [i for i in chosen if i in items]
        rejected = [i for i in rejected if i in items]
        index = sorted(items)
        pos = {i: n for n, i in enumerate(index)}
        batches = PreferenceBatches(
            [items[i] for i in index],
            [pos[i] for i in chosen],
            [pos[i] for i in rejected],
            p.batch_size,
            seed=tcfg.seed,
            rank=info.rank,
            world_size=info.world_size,
        )
        objective = DPOObjective(reference, notagen_logprob, beta=p.beta, lam=p.lam, tokens=patch_tokens)
        result = train(
            PolicyScores(policy, notagen_logprob),
            objective,
            batches,
            tcfg,
            job.ckpt_dir,
            resume=job.resume,
            val=batches,
            fingerprint_extra=job.fingerprint,
            dist_info=info,
        )
        if not info.is_main:
            return None
        model_dir = Path(job.model_dir)
        save(
            result.model.policy.to("cpu").eval(),
            model_dir,
            extra_meta={"stage": job.stage, "iteration": inp["iteration"]},
        )
        extra = {
            "iteration": inp["iteration"],
            "pairs": batches.n_pairs,
            "chosen": len(chosen),
            "rejected": len(rejected),
            "unpatchifiable": bad,
            "beta": p.beta,
            "lambda": p.lam,
        }
        metrics = write_training_outputs(result, job.report_dir, tcfg.steps, extra)
        write_json(
            model_dir / "dpo.json",
            {"train": dataclasses.asdict(tcfg), "metrics": split_timings(metrics)[0], "policy_from": inp["policy"]},
        )  # no wall-clock: a hashed output
        return metrics
