"""DVC stage ``gnm_classifier``: the style classifier (upstream's encoder, logits from position 0)
trained on real pieces of the mastery composers, validated on their held-out pieces.

Outputs ``models/gnm_classifier/`` (params.pt in upstream's classifier layout, config.json with the
class order, vocab.json, dictionary.pkl) and ``reports/gnm_classifier/`` (metrics.json with the
held-out accuracy, heldout.json with the confusion matrix, plots/loss.csv).
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.gnm.classifier_job import ENTRY
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import run_training, train_config

TOKENS, MODEL, REPORT = "data/tokens/remi", "models/gnm_classifier", "reports/gnm_classifier"
CKPT = "models/.ckpt/gnm_classifier"


@flow(name="gnm_classifier")
def gnm_classifier() -> None:
    base, p, rt, root = load_section("base"), load_section("gnm_classifier"), load_section("runtime"), repo_root()
    meta = json.loads((root / TOKENS / "tokenizer_meta.json").read_text())
    if meta.get("name") != "gnm-events":
        raise ValueError("gnm_classifier needs GnM events: set gnm_tokenize.tokenizer: gnm")
    with StageOutputs("gnm_classifier", [MODEL, REPORT]) as out:
        job = {"stage": "gnm_classifier", "tokens": str(root / TOKENS), "composers": meta["mastery_composers"],
               "model": {k: getattr(p, k) for k in ("d_model", "n_heads", "n_layers", "d_ff", "dropout")},
               "train": train_config(p, base.seed, rt.device), "batch_size": p.batch_size, "seq_len": p.seq_len,
               "augment": p.augment, "eval_windows": p.eval_windows, "ckpt_dir": str(root / CKPT),
               "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "tokens": hash_path(root / TOKENS)}}
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        out.commit(params_dump("base", "gnm_classifier"), inputs=[TOKENS], seed=base.seed,
                   extra={"metrics": metrics, "vocab_hash": meta["vocab_hash"]})
    ckpt.clear(root / CKPT)
    get_run_logger().info("gnm_classifier: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_classifier)
