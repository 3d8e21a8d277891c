"""The GnM LM training job: generality (pretrain), mastery (finetune) and scratch, on the core loop.

``job["mode"]``:
* ``generality``: every train piece with ``Composer_None``, classes = ``job["category"]`` labels;
* ``mastery``: the generality weights (non-strict: adapters keep their fresh init) + style
  adapters at ``adapter_positions``, pieces of the mastery composers with their composer token,
  classes = composers; all parameters train; gradients are clipped separately (adapters at
  ``adapter_grad_clip``, the rest at ``grad_clip``) as upstream;
* ``scratch``: the generality shape without adapters, fresh weights, the mastery data.

Optimiser as upstream's Adam (betas 0.9/0.999, eps 1e-8, no weight decay) via the core's AdamW.
Rank 0 writes ``<model_dir>/params.pt`` (upstream state-dict layout) + config.json + vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pipeline.gnm.data import EmptyCategoryError, Pieces, WindowBatches
from pipeline.gnm.load import load, save
from pipeline.gnm.model import GnmConfig, GnmDecoder
from pipeline.gnm.vocab import Vocab
from pipeline.data.jsonl import write_json
from pipeline.train.job import check_same_tokenizer, write_training_outputs

ENTRY = "pipeline.gnm.lm_job:run_job"


def select(tokens_dir: str | Path, split: str, vocab: Vocab, mode: str, category: str,
           composers: list[str]) -> Pieces:
    from pipeline.data.token_store import TokenStore

    store = TokenStore(Path(tokens_dir) / split)
    pieces, cats, comps = [], [], []
    for i, lab in enumerate(store.labels):
        if mode == "generality":
            pieces.append(store.piece(i))
            cats.append(str(lab.get("category", lab.get(category))))
        elif lab.get("gnm_composer") in composers:
            pieces.append(store.piece(i))
            cats.append(lab["gnm_composer"])
            comps.append(vocab.composer_id(lab["gnm_composer"]))
    if mode != "generality":
        empty = [c for c in composers if c not in cats]
        if empty:
            raise EmptyCategoryError(f"{split} split has no piece of mastery composer(s) {empty} "
                                     f"(gnm_tokenize.composers; check the ingest caps)")
    if not pieces:
        raise EmptyCategoryError(f"{split} split of {tokens_dir} has no pieces for {mode}")
    return Pieces(pieces, cats, vocab, comps if mode != "generality" else None)


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


def build_model(job: dict, vocab: Vocab) -> GnmDecoder:
    if job["mode"] == "mastery":
        base = load(job["init_from"])
        check_same_tokenizer(base.vocab.sha256(), vocab.sha256(), job["init_from"], "rerun gnm_pretrain")
        cfg = base.config.to_dict() | {"adapter_positions": job["adapter_positions"],
                                       "max_seq_len": max(base.config.max_seq_len, job["seq_len"] + 1)}
        model = GnmDecoder(GnmConfig(**cfg))
        missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
        if unexpected or any("adapters" not in k for k in missing):
            raise ValueError(f"generality weights do not fit: missing {missing}, unexpected {unexpected}")
        return model
    cfg = dict(job["model"]) | {"vocab_size": len(vocab), "adapter_positions": (),
                                "max_seq_len": max(2400, job["seq_len"] + 1)}
    return GnmDecoder(GnmConfig(**cfg))


def run_job(job: dict) -> dict | None:
    from pipeline.train import distributed as D
    from pipeline.train.loop import TrainConfig, train
    from pipeline.train.objectives import LMObjective

    tcfg = TrainConfig(**(job["train"] | {"betas": (0.9, 0.999), "eps": 1e-8}))
    info = D.setup(tcfg.device)
    vocab = Vocab.load(job["tokens"])
    args = (vocab, job["mode"], job.get("category", "collection"), job.get("composers", []))
    train_p, val_p = select(job["tokens"], "train", *args), select(job["tokens"], "val", *args)
    torch.manual_seed(tcfg.seed)
    model = build_model(job, vocab)
    seq = int(job["seq_len"])
    batches = WindowBatches(train_p, vocab, job["batch_size"], seq, seed=tcfg.seed, augment=job["augment"],
                            rank=info.rank, world_size=info.world_size)
    val = WindowBatches(val_p, vocab, job["batch_size"], seq, seed=tcfg.seed, augment=False,
                        rank=info.rank, world_size=info.world_size)
    clip = None
    if job.get("adapter_grad_clip") is not None:
        clip = SplitClip(model, job["adapter_grad_clip"], tcfg.grad_clip)
        tcfg.grad_clip = 0.0
    try:
        result = train(model, LMObjective(vocab.pad_id), batches, tcfg, job["ckpt_dir"],
                       resume=job.get("resume", True), val=val, fingerprint_extra=job.get("fingerprint"),
                       dist_info=info)
    finally:
        if clip is not None:
            clip.remove()
    metrics = None
    if info.is_main:
        model = result.model.to("cpu").eval()
        meta = {"stage": job.get("stage"), "mode": job["mode"], "composers": job.get("composers", []),
                "mastery_adapters": job.get("adapter_positions"), "vocab_hash": vocab.sha256()}
        save(model, job["model_dir"], vocab, **meta)
        data = {"train_pieces": len(train_p.ids), "val_pieces": len(val_p.ids), "classes": train_p.cat_names}
        metrics = write_training_outputs(result, job["report_dir"], tcfg.steps, extra={"data": data,
                                                                                      "mode": job["mode"]})
        write_json(Path(job["model_dir"]) / "training.json",
                   {"data": data, "val_loss": metrics["val_loss"],
                    "train": {k: v for k, v in job["train"].items() if k != "device"}})
    D.barrier(info)
    D.cleanup()
    return metrics


def mastery_adapters(generality_dir: str | Path) -> list[int]:
    """The adapter positions the generality stage was configured with (its config meta)."""
    cfg = json.loads((Path(generality_dir) / "config.json").read_text())
    return list(cfg.get("meta", {}).get("mastery_adapters") or [])


def run_lm_stage(stage: str, mode: str, init_from: str | None = None) -> dict:
    """The body of gnm_pretrain / gnm_finetune / gnm_scratch (inside their Prefect flows)."""
    from pipeline.config import load_section, repo_root
    from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
    from pipeline.train import checkpoint as ckpt
    from pipeline.train.job import run_training, train_config

    tokens = "data/tokens/remi"
    base, p, rt, root = load_section("base"), load_section(stage), load_section("runtime"), repo_root()
    meta = json.loads((root / tokens / "tokenizer_meta.json").read_text())
    if meta.get("name") != "gnm-events":
        raise ValueError(f"{stage} needs GnM events: set gnm_tokenize.tokenizer: gnm (it is {meta.get('name')})")
    model_dir, report_dir, ckpt_dir = f"models/{stage}", f"reports/{stage}", root / f"models/.ckpt/{stage}"
    inputs = [tokens] + ([init_from] if init_from else [])
    with StageOutputs(stage, [model_dir, report_dir]) as out:
        job = {"stage": stage, "mode": mode, "tokens": str(root / tokens), "category": meta.get("category"),
               "composers": meta["mastery_composers"] if mode != "generality" else [],
               "train": train_config(p, base.seed, rt.device), "batch_size": p.batch_size,
               "seq_len": p.seq_len, "augment": p.augment, "ckpt_dir": str(ckpt_dir),
               "model_dir": str(out[model_dir]), "report_dir": str(out[report_dir]),
               "fingerprint": {"params": p.model_dump(mode="json"),
                               "inputs": {i: hash_path(root / i) for i in inputs}}}
        if mode == "generality":
            job["model"] = p.model.model_dump(mode="json")
            job["adapter_positions"] = job["model"].pop("adapter_positions")
        elif mode == "mastery":
            job["init_from"] = str(root / init_from)
            job["adapter_positions"] = mastery_adapters(root / init_from)
            job["adapter_grad_clip"] = p.adapter_grad_clip
        else:  # the generality shape without adapters (params gnm_pretrain.model)
            job["model"] = load_section("gnm_pretrain").model.model_dump(mode="json")
            job["model"].pop("adapter_positions")
            job["fingerprint"]["model"] = job["model"]
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        out.commit(params_dump("base", stage), inputs=inputs, seed=base.seed,
                   extra={"metrics": metrics, "vocab_hash": meta["vocab_hash"]})
    ckpt.clear(ckpt_dir)
    return metrics
