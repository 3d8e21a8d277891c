"""DVC stage ``pretrain``: the Aria LM from scratch on ``data/pack`` (next-token cross-entropy).

Outputs ``models/aria_pretrain/`` (model.safetensors in the Aria key layout, config.json,
tokenizer.json) and ``reports/aria_pretrain/`` (metrics.json, plots/loss.csv). Checkpoints go to
``models/.ckpt/aria_pretrain/`` (outside the DVC output): a killed ``dvc repro`` resumes from the
last one when the training params are unchanged, and the directory is removed after commit.
With ``runtime.launcher: torchrun`` the training runs in ``runtime.nproc_per_node`` processes.
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.guards import require_pieces
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.aria.lm import ENTRY
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import check_same_tokenizer, run_training, train_config

MODEL, REPORT, PACK, TOKENIZER = "models/aria_pretrain", "reports/aria_pretrain", "data/pack/aria", "data/tokens/aria/tokenizer.json"
CKPT = "models/.ckpt/aria_pretrain"


@flow(name="aria_pretrain")
def pretrain() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("aria_pretrain"), load_section("runtime"), repo_root()
    meta = json.loads((root / PACK / "meta.json").read_text())
    require_pieces(f"{PACK} train split", meta["splits"]["train"]["pieces"], "data/tokens/aria/rejected.jsonl")
    tokenizer = json.loads((root / TOKENIZER).read_text())
    check_same_tokenizer(meta["config_hash"], tokenizer["config_hash"], PACK, "rerun pack")
    with StageOutputs("aria_pretrain", [MODEL, REPORT]) as out:
        job = {"stage": "aria_pretrain", "data": {"kind": "pack", "dir": str(root / PACK)}, "tokenizer": tokenizer,
               "model": {"name": p.model, "overrides": dict(p.model_overrides)},
               "train": train_config(p, base.seed, rt.device), "batch_size": p.batch_size, "augment": p.augment,
               "ckpt_dir": str(root / CKPT), "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "pack": hash_path(root / PACK)}}
        log.info("pretrain: model %s %s, seq_len %d, %s train rows, %d steps, launcher %s x%d", p.model,
                 dict(p.model_overrides), meta["seq_len"], meta["splits"]["train"]["rows"], p.steps,
                 rt.launcher, rt.nproc_per_node)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        out.commit(params_dump("base", "aria_pretrain"), inputs=[PACK, TOKENIZER], seed=base.seed,
                   extra={"metrics": metrics, "tokenizer_hash": tokenizer["config_hash"]})
    ckpt.clear(root / CKPT)
    log.info("pretrain: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(pretrain)
