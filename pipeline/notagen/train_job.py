"""The NotaGen LM training job shared by ``abc_pretrain`` and ``abc_finetune``.

``run_job(job)`` runs in-process or under torchrun (``pipeline.train.job.run_training``) on
``job.inputs``: ``tokens`` (abc_tokenize's store), ``keep_prompt`` (fine-tuning keeps the prompt
lines) and, to fine-tune, ``init`` (a checkpoint: abc_pretrain's output, or a user's released
NotaGen ``.pth`` from ``<stage>.init``; its shapes win, pipeline/notagen/released.py). Every rank
builds the same pieces and model; rank 0 writes:
  <model_dir>/model.safetensors   upstream key layout, NotaGen config in the metadata
  <model_dir>/config.json         model config, data summary, training summary
  <model_dir>/prompts.json        period/composer/instrumentation triples of the training data
  <report_dir>/metrics.json       val loss / per-char perplexity, test perplexity, tokens/s, ...
  <report_dir>/plots/loss.csv     the loss curves
  <report_dir>/quarantine.jsonl   pieces that do not reduce or patchify, with the reason
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import torch

from pipeline.data.jsonl import write_json
from pipeline.notagen.checkpoint import load, save
from pipeline.notagen.data import PatchBatches, PieceItems, load_pieces
from pipeline.notagen.model import NotaGenConfig, NotaGenModel
from pipeline.notagen.objective import PatchLMObjective
from pipeline.train import distributed as D
from pipeline.train.job import TrainJob, write_training_outputs
from pipeline.train.loop import train

ENTRY = "pipeline.notagen.train_job:run_job"


def build_model(job: TrainJob) -> NotaGenModel:
    """abc_finetune: the checkpoint in ``inputs["init"]``; abc_pretrain: ``p.model`` + ``p.model_overrides``."""
    if "init" in job.inputs:
        path = Path(job.inputs["init"])
        if not path.exists():
            raise FileNotFoundError(f"no NotaGen checkpoint to fine-tune from at {path}")
        return load(path).train()
    return NotaGenModel(NotaGenConfig.from_name(job.p.model, **job.p.model_overrides)).train()


def split_items(job: TrainJob, split: str, patch_length: int, transposition: str) -> tuple[PieceItems, list[dict]]:
    keep_prompt = job.inputs["keep_prompt"]
    pieces = load_pieces(job.inputs["tokens"], split, keep_prompt)
    if job.p.max_pieces:
        pieces = pieces[: job.p.max_pieces]
    ok, bad = PieceItems(pieces, patch_length, "none").check()
    if keep_prompt:
        missing = [p for p in ok if p.prompt is None]
        bad += [{"id": p.id, "reason": "no %period/%composer/%instrumentation prompt lines"} for p in missing]
        ok = [p for p in ok if p.prompt is not None]
    return PieceItems(ok, patch_length, transposition), [b | {"split": split} for b in bad]


def prompt_counts(items: PieceItems) -> Counter:
    return Counter(x.prompt for x in items.pieces if x.prompt)


def write_prompts(model_dir: Path, prompts: Counter) -> None:
    """prompts.json: the (period, composer, instrumentation) triples of the training data, with counts."""
    rows = [{"period": a, "composer": b, "instrumentation": c, "pieces": n} for (a, b, c), n in sorted(prompts.items())]
    write_json(model_dir / "prompts.json", rows)


@torch.no_grad()
def held_out_perplexity(model, objective, batches) -> float | None:
    model.eval()
    total, n = 0.0, 0.0
    for batch in batches.once():
        out = objective(model, objective.to(batch, next(model.parameters()).device))
        total += float(out.loss) * float(out.weight)
        n += float(out.weight)
    return math.exp(min(total / n, 50.0)) if n else None


def run_job(job: TrainJob) -> dict | None:
    p, tcfg = job.p, job.train_config()
    with D.session(job.device) as info:
        torch.manual_seed(tcfg.seed)  # identical initial weights on every rank
        model = build_model(job)
        L = model.config.patch_length
        train_items, bad = split_items(job, "train", L, p.transposition)
        val_items, bad_val = split_items(job, "val", L, "none")
        if not train_items.pieces or not val_items.pieces:
            raise ValueError(
                f"no usable pieces (train {len(train_items.pieces)}, val {len(val_items.pieces)}); "
                f"quarantined: {(bad + bad_val)[:3]}"
            )
        kw = dict(seed=tcfg.seed, rank=info.rank, world_size=info.world_size)
        batches = PatchBatches(train_items, p.batch_size, **kw)
        val = PatchBatches(val_items, p.batch_size, train=False, **kw)
        objective = PatchLMObjective()
        result = train(
            model,
            objective,
            batches,
            tcfg,
            job.ckpt_dir,
            resume=job.resume,
            val=val,
            fingerprint_extra=job.fingerprint,
            dist_info=info,
        )
        if not info.is_main:
            return None
        test_ppl = None
        try:
            test_items, bad_test = split_items(job, "test", L, "none")
            bad += bad_test
            if test_items.pieces:
                test_ppl = held_out_perplexity(
                    result.model, objective, PatchBatches(test_items, p.batch_size, train=False)
                )
        except FileNotFoundError:
            pass
        prompts = prompt_counts(train_items)
        summary = {
            "train_pieces": len(train_items.pieces),
            "val_pieces": len(val_items.pieces),
            "quarantined": len(bad + bad_val),
            "transposition": p.transposition,
        }
        model_dir, report_dir = Path(job.model_dir), Path(job.report_dir)
        save(result.model, model_dir / "model.safetensors", {"stage": job.stage})
        write_json(
            model_dir / "config.json", {"model": result.model.config.to_dict(), "data": summary, "steps": tcfg.steps}
        )
        write_prompts(model_dir, prompts)
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "quarantine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad + bad_val))
        return write_training_outputs(
            result,
            report_dir,
            tcfg.steps,
            extra={
                **summary,
                "test_perplexity": None if test_ppl is None else round(test_ppl, 4),
                "patch_length": L,
                "model": result.model.config.to_dict(),
            },
        )
