"""The GnM LM training job: generality (pretrain), mastery (finetune) and scratch, on the core loop.

``job.inputs["mode"]``:
* ``generality``: every train piece with ``Composer_None``, classes = the tokenizer's ``category``
  labels; the shape is ``gnm_pretrain.model``, whose ``adapter_positions`` go into the config meta;
* ``mastery``: the generality weights (non-strict: adapters keep their fresh init) + style
  adapters at those positions, pieces of the mastery composers with their composer token,
  classes = composers; all parameters train; gradients are clipped separately (adapters at
  ``adapter_grad_clip``, the rest at ``grad_clip``) as upstream;
* ``scratch``: the generality shape without adapters, fresh weights, the mastery data.

Optimiser as upstream's Adam (betas/eps from the params, no weight decay) via the core's AdamW.
Rank 0 writes ``<model_dir>/params.pt`` (upstream state-dict layout) + config.json + vocabulary.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from pipeline.config import repo_root
from pipeline.data.guards import check_same_tokenizer
from pipeline.data.jsonl import write_json
from pipeline.gnm.checkpoint import load, save
from pipeline.gnm.data import Pieces, WindowBatches, split_pieces
from pipeline.gnm.model import GnmConfig, GnmDecoder
from pipeline.gnm.released import load_init
from pipeline.gnm.tokens import TOKENS
from pipeline.gnm.vocab import Vocab
from pipeline.params.train import TrainParams
from pipeline.train.job import TrainJob, write_training_outputs

ENTRY = "pipeline.gnm.lm_job:run_job"
# the loop settings training.json has always recorded (betas/eps joined the params later)
RECORDED = tuple(k for k in TrainParams.model_fields if k not in ("batch_size", "betas", "eps"))


def lm_inputs(mode: str, meta: dict, **more) -> dict:
    """What an LM stage hands its job: the mode, the token store and its classes (+ ``more``)."""
    composers = meta["mastery_composers"] if mode != "generality" else []
    return {
        "mode": mode,
        "tokens": str(repo_root() / TOKENS),
        "category": meta["category"],
        "composers": composers,
        **more,
    }


class SplitClip:
    """Clip adapter and other gradients to separate global norms just before the optimizer step
    (a global step pre-hook, since the core loop clips one group; set its grad_clip to 0)."""

    def __init__(self, model: torch.nn.Module, adapter_clip: float, other_clip: float):
        self.adapters = [p for n, p in model.named_parameters() if "adapters" in n]
        self.others = [p for n, p in model.named_parameters() if "adapters" not in n]
        self.clips, self.ids = (adapter_clip, other_clip), {id(p) for p in model.parameters()}
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        self.handle = register_optimizer_step_pre_hook(self)

    def __call__(self, opt, args, kwargs) -> None:
        if not any(id(p) in self.ids for g in opt.param_groups for p in g["params"]):
            return
        for params, clip in zip((self.adapters, self.others), self.clips):
            if params and clip > 0:
                torch.nn.utils.clip_grad_norm_(params, clip)

    def remove(self) -> None:
        self.handle.remove()


def mastery_adapters(generality_dir: str | Path) -> list[int]:
    """The adapter positions the generality stage was configured with (its config meta)."""
    cfg = json.loads((Path(generality_dir) / "config.json").read_text())
    return list(cfg.get("meta", {}).get("mastery_adapters") or [])


def build_model(job: TrainJob, vocab: Vocab) -> tuple[GnmDecoder, list[int] | None]:
    """The model to train and the mastery adapter positions its config meta records."""
    mode, seq_len = job.inputs["mode"], job.p.seq_len
    if mode == "generality" and job.inputs.get("init"):  # gnm_pretrain.init: released generality weights
        base = load_init(job, vocab)
        model = GnmDecoder(replace(base.config, max_seq_len=max(base.config.max_seq_len, seq_len + 1)))
        model.load_state_dict(base.state_dict(), strict=True)
        return model, list(job.p.model.adapter_positions)
    if mode == "mastery":
        init = job.inputs.get("init") or job.inputs["init_from"]  # gnm_finetune.init wins over gnm_pretrain
        base = load_init(job, vocab) if job.inputs.get("init") else load(init)
        check_same_tokenizer(base.vocab.sha256(), vocab.sha256(), init, "rerun gnm_pretrain")
        adapters = list(base.config.adapter_positions) or mastery_adapters(job.inputs["init_from"])
        model = GnmDecoder(
            replace(base.config, adapter_positions=adapters, max_seq_len=max(base.config.max_seq_len, seq_len + 1))
        )
        missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
        if unexpected or any("adapters" not in k for k in missing):
            raise ValueError(f"generality weights do not fit: missing {missing}, unexpected {unexpected}")
        return model, adapters
    # scratch gets the shape of gnm_pretrain.model from its stage
    shape = job.p.model.model_dump() if mode == "generality" else dict(job.inputs["model"])
    adapters = shape.pop("adapter_positions")
    cfg = GnmConfig.from_name("tiny", vocab_size=len(vocab), adapter_positions=(), **shape)
    model = GnmDecoder(replace(cfg, max_seq_len=max(cfg.max_seq_len, seq_len + 1)))
    return model, (list(adapters) if mode == "generality" else None)


def run_job(job: TrainJob) -> dict | None:
    from pipeline.train import distributed as D
    from pipeline.train.loop import train
    from pipeline.train.objectives import LMObjective

    p, mode, tokens = job.p, job.inputs["mode"], job.inputs["tokens"]
    with D.session(job.device) as info:
        vocab = Vocab.load(tokens)
        args = (vocab, mode, job.inputs["category"], job.inputs["composers"])
        train_p, val_p = split_pieces(tokens, "train", *args), split_pieces(tokens, "val", *args)
        torch.manual_seed(job.seed)
        model, adapters = build_model(job, vocab)
        kw = {"seed": job.seed, "rank": info.rank, "world_size": info.world_size}
        batches = WindowBatches(train_p, vocab, p.batch_size, p.seq_len, augment=p.augment, **kw)
        val = WindowBatches(val_p, vocab, p.batch_size, p.seq_len, augment=False, **kw)
        tcfg, clip = job.train_config(), None
        if mode == "mastery":  # adapters and the rest are clipped apart (upstream): the loop clips nothing
            tcfg, clip = job.train_config(grad_clip=0.0), SplitClip(model, p.adapter_grad_clip, p.grad_clip)
        try:
            result = train(
                model,
                LMObjective(vocab.pad_id),
                batches,
                tcfg,
                job.ckpt_dir,
                resume=job.resume,
                val=val,
                fingerprint_extra=job.fingerprint | {"inputs": job.inputs},
                dist_info=info,
            )
        finally:
            if clip is not None:
                clip.remove()
        metrics = write_outputs(job, result, vocab, adapters, train_p, val_p) if info.is_main else None
    return metrics


def write_outputs(
    job: TrainJob, result, vocab: Vocab, adapters: list[int] | None, train_p: Pieces, val_p: Pieces
) -> dict:
    """Rank 0: the model directory (+ training.json), metrics.json and the loss curve."""
    mode = job.inputs["mode"]
    save(
        result.model.to("cpu").eval(),
        job.model_dir,
        vocab,
        stage=job.stage,
        mode=mode,
        composers=job.inputs["composers"],
        mastery_adapters=adapters,
        vocab_hash=vocab.sha256(),
    )
    data = {"train_pieces": len(train_p.ids), "val_pieces": len(val_p.ids), "classes": train_p.cat_names}
    metrics = write_training_outputs(result, job.report_dir, job.p.steps, extra={"data": data, "mode": mode})
    write_json(
        Path(job.model_dir) / "training.json",
        {
            "data": data,
            "val_loss": metrics["val_loss"],
            "train": {k: getattr(job.p, k) for k in RECORDED} | {"seed": job.seed},
        },
    )
    return metrics
