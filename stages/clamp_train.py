"""DVC stage ``clamp_train``: the CLaMP-style scorer the DPO loop and the score table use.

M3 masked-patch pretraining on the interleaved-ABC corpus (``data/tokens/abc``), then CLaMP
alignment with a text tower over each piece's metadata (pipeline/clamp/train_job.py).
Outputs ``models/clamp_train/`` (clamp.pth, m3.pth in upstream's layout, config.json) and
``reports/clamp_train/`` (metrics.json, plots/loss.csv, m3/). A user's released CLaMP 2 weights
can replace ``clamp.pth`` for scoring (``pipeline.clamp.load``).
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from pipeline.clamp.train_job import ENTRY
from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import run_training, train_config

MODEL, REPORT, STORE = "models/clamp_train", "reports/clamp_train", "data/tokens/abc"
CKPT = "models/.ckpt/clamp_train"
MODEL_KEYS = ("patch_size", "patch_length", "hidden", "layers", "decoder_layers", "proj", "text_hidden",
              "text_layers", "text_len", "temperature", "text_dropout", "mask_ratio", "m3_steps", "m3_lr")


@flow(name="clamp_train")
def clamp_train() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    base, p, rt, root = load_section("base"), load_section("clamp_train"), load_section("runtime"), repo_root()
    with StageOutputs("clamp_train", [MODEL, REPORT]) as out:
        job = {"model": {k: getattr(p, k) for k in MODEL_KEYS}, "train": train_config(p, base.seed, rt.device),
               "batch_size": p.batch_size, "store": str(root / STORE), "ckpt_dir": str(root / CKPT),
               "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "store": hash_path(root / STORE)}}
        log.info("clamp_train: M3 %d steps (lr %g), CLaMP %d steps (lr %g), batch %d, H %d x %d layers, "
                 "patch %d x %d", p.m3_steps, p.m3_lr, p.steps, p.lr, p.batch_size, p.hidden, p.layers,
                 p.patch_size, p.patch_length)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        out.commit(params_dump("base", "clamp_train"), inputs=[STORE], seed=base.seed, extra={"metrics": metrics})
    ckpt.clear(root / CKPT)
    log.info("clamp_train: %s (%.1f s)", metrics, time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(clamp_train)
