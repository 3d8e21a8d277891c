"""DVC stage ``finetune``: generative fine-tune of the pretrained Aria LM on a metadata subset.

The pieces of ``data/tokens/aria/{train,val}`` whose labels match ``finetune.filters`` (e.g.
``{period: [baroque, classical]}``) are packed in memory at the pretrained model's context
length, then trained on with the same loop and schedule as pretraining (as upstream).
Outputs ``models/aria_finetune/`` and ``reports/aria_finetune/`` like ``pretrain``; checkpoints go to
``models/.ckpt/aria_finetune/`` and survive a killed run.
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.aria.lm import ENTRY
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import check_same_tokenizer, run_training, train_config

MODEL, REPORT, PRETRAIN, TOKENS = "models/aria_finetune", "reports/aria_finetune", "models/aria_pretrain", "data/tokens/aria"
CKPT = "models/.ckpt/aria_finetune"


@flow(name="aria_finetune")
def finetune() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("aria_finetune"), load_section("runtime"), repo_root()
    pre = json.loads((root / PRETRAIN / "config.json").read_text())
    tokenizer = json.loads((root / TOKENS / "tokenizer.json").read_text())
    check_same_tokenizer(pre["tokenizer_hash"], tokenizer["config_hash"], PRETRAIN, "rerun aria_pretrain")
    seq_len = int(pre["model"]["max_seq_len"])
    with StageOutputs("aria_finetune", [MODEL, REPORT]) as out:
        job = {"stage": "aria_finetune", "tokenizer": tokenizer,
               "data": {"kind": "filter", "tokens": str(root / TOKENS), "filters": dict(p.filters),
                        "seq_len": seq_len, "mode": p.pack_mode},
               "model": {"init_from": str(root / PRETRAIN / "model.safetensors")},
               "train": train_config(p, base.seed, rt.device), "batch_size": p.batch_size, "augment": p.augment,
               "ckpt_dir": str(root / CKPT), "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "pretrain": hash_path(root / PRETRAIN),
                               "tokens": hash_path(root / TOKENS)}}
        log.info("finetune: filters %s, seq_len %d, %d steps, launcher %s x%d", dict(p.filters), seq_len,
                 p.steps, rt.launcher, rt.nproc_per_node)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        out.commit(params_dump("base", "aria_finetune"), inputs=[PRETRAIN, TOKENS], seed=base.seed,
                   extra={"metrics": metrics, "tokenizer_hash": tokenizer["config_hash"]})
    ckpt.clear(root / CKPT)
    log.info("finetune: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(finetune)
