"""The NotaGen LM training job shared by ``abc_pretrain`` and ``abc_finetune``.

``run_job(job)`` runs in-process or under torchrun (``pipeline.train.job.run_training``); every
rank builds the same pieces and model, rank 0 writes:
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

from pipeline.notagen.checkpoint import load, save
from pipeline.notagen.data import PatchBatches, PieceItems, load_pieces
from pipeline.notagen.model import NAMED_CONFIGS, NotaGenConfig, NotaGenModel
from pipeline.notagen.objective import PatchLMObjective
from pipeline.data.jsonl import write_json
from pipeline.train.job import write_training_outputs

ENTRY = "pipeline.notagen.train_job:run_job"


def build_model(spec: dict) -> NotaGenModel:
    if spec.get("init_from"):
        path = Path(spec["init_from"])
        if not path.exists():
            raise FileNotFoundError(f"no NotaGen checkpoint to fine-tune from at {path}")
        return load(path).train()
    if spec["name"] not in NAMED_CONFIGS:
        raise ValueError(f"unknown NotaGen model {spec['name']!r}; one of {sorted(NAMED_CONFIGS)}")
    base = NAMED_CONFIGS[spec["name"]].to_dict()
    cfg = NotaGenConfig(**(base | dict(spec.get("overrides") or {})))
    return NotaGenModel(cfg).train()


def split_items(job: dict, split: str, patch_length: int, transposition: str) -> tuple[PieceItems, list[dict]]:
    pieces = load_pieces(job["tokens_dir"], split, job["keep_prompt"])
    if job.get("max_pieces"):
        pieces = pieces[: job["max_pieces"]]
    ok, bad = PieceItems(pieces, patch_length, "none").check()
    if job["keep_prompt"]:
        missing = [p for p in ok if p.prompt is None]
        bad += [{"id": p.id, "reason": "no %period/%composer/%instrumentation prompt lines"} for p in missing]
        ok = [p for p in ok if p.prompt is not None]
    return PieceItems(ok, patch_length, transposition), [b | {"split": split} for b in bad]


@torch.no_grad()
def held_out_perplexity(model, objective, batches) -> float | None:
    model.eval()
    total, n = 0.0, 0.0
    for batch in batches.once():
        out = objective(model, objective.to(batch, next(model.parameters()).device))
        total += float(out.loss) * float(out.weight)
        n += float(out.weight)
    return math.exp(min(total / n, 50.0)) if n else None


def run_job(job: dict) -> dict | None:
    from pipeline.train import distributed as D
    from pipeline.train.loop import TrainConfig, train

    tcfg = TrainConfig(**job["train"])
    info = D.setup(tcfg.device)
    torch.manual_seed(tcfg.seed)  # identical initial weights on every rank
    model = build_model(job["model"])
    L = model.config.patch_length
    train_items, bad = split_items(job, "train", L, job["transposition"])
    val_items, bad_val = split_items(job, "val", L, "none")
    if not train_items.pieces or not val_items.pieces:
        raise ValueError(f"no usable pieces (train {len(train_items.pieces)}, val {len(val_items.pieces)}); "
                         f"quarantined: {(bad + bad_val)[:3]}")
    kw = dict(seed=tcfg.seed, rank=info.rank, world_size=info.world_size)
    batches = PatchBatches(train_items, job["batch_size"], **kw)
    val = PatchBatches(val_items, job["batch_size"], train=False, **kw)
    objective = PatchLMObjective()
    result = train(model, objective, batches, tcfg, job["ckpt_dir"], resume=job.get("resume", True), val=val,
                   fingerprint_extra=job.get("fingerprint"), dist_info=info)
    metrics = None
    if info.is_main:
        test_ppl = None
        try:
            test_items, bad_test = split_items(job, "test", L, "none")
            bad += bad_test
            if test_items.pieces:
                test_ppl = held_out_perplexity(result.model, objective, PatchBatches(test_items, job["batch_size"], train=False))
        except FileNotFoundError:
            pass
        prompts = Counter(p.prompt for p in train_items.pieces if p.prompt)
        summary = {"train_pieces": len(train_items.pieces), "val_pieces": len(val_items.pieces),
                   "quarantined": len(bad + bad_val), "transposition": job["transposition"]}
        save(result.model, Path(job["model_dir"]) / "model.safetensors", {"stage": job.get("stage", "")})
        write_json(Path(job["model_dir"]) / "config.json", {"model": result.model.config.to_dict(), "data": summary,
                                                           "steps": tcfg.steps})
        write_json(Path(job["model_dir"]) / "prompts.json", [
            {"period": a, "composer": b, "instrumentation": c, "pieces": n} for (a, b, c), n in sorted(prompts.items())])
        rows = bad + bad_val
        Path(job["report_dir"]).mkdir(parents=True, exist_ok=True)
        Path(job["report_dir"], "quarantine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        metrics = write_training_outputs(result, job["report_dir"], tcfg.steps, extra={
            **summary, "test_perplexity": None if test_ppl is None else round(test_ppl, 4),
            "patch_length": L, "model": result.model.config.to_dict()})
    D.barrier(info)
    D.cleanup()
    return metrics
