"""abc_pretrain's report beside the training metrics: our writer against abctoolkit, and the headline."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.data.jsonl import write_json
from pipeline.notagen.data import training_text
from pipeline.notagen.parity import corpus_parity
from pipeline.report.headline import write_headline
from pipeline.train.loop import run_logger

PARITY_CHECKS = [
    ("rotate(unrotate(ours)) == ours (layout)", "round_trip"),
    ("bars aligned (abctoolkit check_alignment_unrotated)", "aligned"),
    ("transposed with abctoolkit, still aligned", "transposed"),
    ("rests reduced then restored, still aligned", "rests"),
]


def writer_parity(tokens_dir: Path) -> dict:
    """Our writer's texts vs abctoolkit (pipeline/notagen/parity.py), every split."""
    rows = [
        json.loads(line)
        for split in ("train", "val", "test")
        if (tokens_dir / split / "texts.jsonl").is_file()
        for line in (tokens_dir / split / "texts.jsonl").read_text().splitlines()
    ]
    return corpus_parity([(r["id"], training_text(r["text"], keep_prompt=False)) for r in rows])


def headline(metrics: dict, parity: dict) -> dict:
    n = parity["pieces"]
    return {
        "family": "notagen",
        "family_title": "NotaGen",
        "title": "Pretrained patch model",
        "order": 10,
        "text": "Held-out per-character perplexity of the NotaGen patch model pretrained from scratch "
        f"({metrics.get('parameters')} parameters, {metrics.get('train_pieces')} pieces, 15-key "
        "transposition), and our interleaved-ABC writer checked against abctoolkit, NotaGen's "
        "own toolkit, on every piece of the corpus (see docs/notagen.md).",
        "tables": [
            {
                "caption": "Character perplexity (lower is better)",
                "columns": ["split", "perplexity"],
                "rows": [["val", metrics.get("val_perplexity")], ["test", metrics.get("test_perplexity")]],
                "digits": 3,
            },
            {
                "caption": f"Representation parity with abctoolkit ({n} pieces)",
                "columns": ["check", "pieces passing", "share"],
                "rows": [[name, parity[k], round(parity[k] / n, 3) if n else None] for name, k in PARITY_CHECKS],
            },
        ],
    }


def write_pretrain_report(report_dir: Path, tokens_dir: Path, metrics: dict) -> None:
    """``parity.json`` and ``headline.json`` into the report dir (train_stage's ``finish``)."""
    log = run_logger()
    parity = writer_parity(tokens_dir)
    write_json(report_dir / "parity.json", parity)
    log.info(
        "abc_pretrain: abctoolkit parity on %d pieces: round trip %d, aligned %d, transposed %d, rests restored %d",
        parity["pieces"],
        parity["round_trip"],
        parity["aligned"],
        parity["transposed"],
        parity["rests"],
    )
    write_headline(report_dir, headline(metrics, parity))
    log.info(
        "abc_pretrain: val perplexity %s, test perplexity %s, %s pieces",
        metrics.get("val_perplexity"),
        metrics.get("test_perplexity"),
        metrics.get("train_pieces"),
    )
