"""DVC stage ``valle_train``: VALL-E (MIDI front-end, AR codebook 0 + NAR 1..n-1) on codec tokens.

Reads ``data/codec_tokenize`` (codes [n_q, frames] + MIDI compound tokens per segment) and the
codec facts from ``models/codec_train``; trains AR and NAR together (``train_stage: 0``) or one
of them, on the core loop. Outputs ``models/valle_train/`` (model.safetensors, config.json) and
``reports/valle_train/`` (metrics.json, plots/loss.csv, quarantine.json). Checkpoints go to
``models/.ckpt/valle_train/``: a killed run resumes when the params are unchanged.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import run_training, train_config
from pipeline.valle.train_job import ENTRY

MODEL, REPORT = "models/valle_train", "reports/valle_train"
TOKENS, CODEC = "data/codec_tokenize", "models/codec_train"
CKPT = "models/.ckpt/valle_train"


def codec_facts(path) -> dict:
    from pipeline.codec import load

    codec = load(path)
    return {"sample_rate": int(codec.sample_rate), "frame_rate": float(codec.frame_rate),
            "n_q": int(codec.n_q), "bins": int(codec.bins)}


@flow(name="valle_train")
def valle_train() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("valle_train"), load_section("runtime"), repo_root()
    codec = codec_facts(root / CODEC)
    with StageOutputs("valle_train", [MODEL, REPORT]) as out:
        job = {"stage": "valle_train", "tokens": str(root / TOKENS), "codec": codec,
               "model": {"name": p.model, "overrides": dict(p.model_overrides)},
               "init": str(root / p.init) if p.init else None, "train_stage": p.train_stage,
               "max_frames": p.max_frames, "max_tail_s": p.max_tail_s, "batch_size": p.batch_size,
               "train": train_config(p, base.seed, rt.device), "ckpt_dir": str(root / CKPT),
               "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "tokens": hash_path(root / TOKENS),
                               "codec": codec}}
        log.info("valle_train: model %s %s, train_stage %d, codec %s, %d steps, launcher %s x%d", p.model,
                 dict(p.model_overrides), p.train_stage, codec, p.steps, rt.launcher, rt.nproc_per_node)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        out.commit(params_dump("base", "valle_train"), inputs=[TOKENS, CODEC], seed=base.seed,
                   extra={"metrics": metrics})
    ckpt.clear(root / CKPT)
    log.info("valle_train: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(valle_train)
