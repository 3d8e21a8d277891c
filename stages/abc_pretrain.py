"""DVC stage ``abc_pretrain``: the NotaGen patch model from scratch on ``data/tokens/abc`` texts.

Upstream's pretraining data: interleaved ABC without the prompt lines, rest-reduced, one of 15 key
signatures per item (abctoolkit), cropped at line starts to the patch context (metadata kept).
Outputs ``models/abc_pretrain/`` (model.safetensors in upstream's key layout, config.json,
prompts.json) and ``reports/abc_pretrain/`` (metrics.json with the held-out per-character
perplexity, plots/loss.csv, quarantine.jsonl, parity.json: our writer against abctoolkit). Checkpoints go to ``models/.ckpt/abc_pretrain/``
(a killed run resumes there), removed after commit.
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.notagen.data import training_text
from pipeline.notagen.parity import corpus_parity
from pipeline.notagen.train_job import ENTRY
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.report.headline import write_headline
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import run_training, train_config

MODEL, REPORT, TOKENS = "models/abc_pretrain", "reports/abc_pretrain", "data/tokens/abc"
CKPT = "models/.ckpt/abc_pretrain"


def writer_parity(tokens_dir) -> dict:
    """Our writer's texts vs abctoolkit (pipeline/notagen/parity.py), every split."""
    rows = [json.loads(line) for split in ("train", "val", "test") if (tokens_dir / split / "texts.jsonl").is_file()
            for line in (tokens_dir / split / "texts.jsonl").read_text().splitlines()]
    return corpus_parity([(r["id"], training_text(r["text"], keep_prompt=False)) for r in rows])


def headline(metrics: dict, parity: dict) -> dict:
    n = parity["pieces"]
    checks = [("rotate(unrotate(ours)) == ours (layout)", "round_trip"),
              ("bars aligned (abctoolkit check_alignment_unrotated)", "aligned"),
              ("transposed with abctoolkit, still aligned", "transposed"),
              ("rests reduced then restored, still aligned", "rests")]
    return {"family": "notagen", "family_title": "NotaGen", "title": "Pretrained patch model", "order": 10,
            "text": "Held-out per-character perplexity of the NotaGen patch model pretrained from scratch "
                    f"({metrics.get('parameters')} parameters, {metrics.get('train_pieces')} pieces, 15-key "
                    "transposition), and our interleaved-ABC writer checked against abctoolkit, NotaGen's "
                    "own toolkit, on every piece of the corpus (see docs/notagen.md).",
            "tables": [{"caption": "Character perplexity (lower is better)", "columns": ["split", "perplexity"],
                        "rows": [["val", metrics.get("val_perplexity")], ["test", metrics.get("test_perplexity")]],
                        "digits": 3},
                       {"caption": f"Representation parity with abctoolkit ({n} pieces)",
                        "columns": ["check", "pieces passing", "share"],
                        "rows": [[name, parity[k], round(parity[k] / n, 3) if n else None] for name, k in checks]}]}


@flow(name="abc_pretrain")
def abc_pretrain() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("abc_pretrain"), load_section("runtime"), repo_root()
    with StageOutputs("abc_pretrain", [MODEL, REPORT]) as out:
        job = {"stage": "abc_pretrain", "tokens_dir": str(root / TOKENS), "keep_prompt": False,
               "transposition": p.transposition, "max_pieces": p.max_pieces,
               "model": {"name": p.model, "overrides": dict(p.model_overrides)},
               "train": train_config(p, base.seed, rt.device), "batch_size": p.batch_size,
               "ckpt_dir": str(root / CKPT), "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "tokens": hash_path(root / TOKENS)}}
        log.info("abc_pretrain: model %s %s, %d steps x %d pieces, transposition %s, launcher %s x%d",
                 p.model, dict(p.model_overrides), p.steps, p.batch_size, p.transposition, rt.launcher,
                 rt.nproc_per_node)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        parity = writer_parity(root / TOKENS)
        write_json(out[REPORT] / "parity.json", parity)
        log.info("abc_pretrain: abctoolkit parity on %d pieces: round trip %d, aligned %d, transposed %d, "
                 "rests restored %d", parity["pieces"], parity["round_trip"], parity["aligned"],
                 parity["transposed"], parity["rests"])
        write_headline(out[REPORT], headline(metrics, parity))
        out.commit(params_dump("base", "abc_pretrain"), inputs=[TOKENS], seed=base.seed, extra={"metrics": metrics})
    ckpt.clear(root / CKPT)
    log.info("abc_pretrain: val perplexity %s, test perplexity %s, %s pieces", metrics.get("val_perplexity"),
             metrics.get("test_perplexity"), metrics.get("train_pieces"))


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_pretrain)
