"""abc_finetune's report beside the training metrics: pieces sampled from the most frequent prompts
(ABC, MusicXML, MIDI, FLAC), samples.jsonl and the headline."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.notagen.checkpoint import load
from pipeline.notagen.generation import generate
from pipeline.notagen.render import ScoreRenderError, write_piece
from pipeline.notagen.rests import complete_lines, restore_rests
from pipeline.params.notagen import AbcFinetuneParams
from pipeline.report.headline import write_headline
from pipeline.train.distributed import resolve_device
from pipeline.train.loop import run_logger


def frequent_prompts(model_dir: Path) -> list[dict]:
    """The training prompts (prompts.json), most frequent first."""
    prompts = json.loads((model_dir / "prompts.json").read_text())
    return sorted(prompts, key=lambda r: (-r["pieces"], r["period"], r["composer"], r["instrumentation"]))


def samples(model, prompts: list[dict], p: AbcFinetuneParams, seed: int, out_dir: Path) -> list[dict]:
    log = run_logger()
    rows = []
    for i, pr in enumerate(prompts[: p.samples]):
        triple = [pr["period"], pr["composer"], pr["instrumentation"]]
        g = generate(
            model,
            [f"%{x}" for x in triple],
            top_k=p.top_k,
            top_p=p.top_p,
            temperature=p.sample_temperature,
            seed=seed + i,
            max_patches=p.max_patches,
            max_seconds=p.max_seconds,
        )
        log.info("abc_finetune: sample_%d %s: %d patches, stop %s (%.2f s)", i, triple, g.patches, g.stop, g.seconds)
        row = {
            "name": f"sample_{i}",
            "prompt": triple,
            "stop": g.stop,
            "complete": g.complete,
            "patches": g.patches,
            "chars": g.chars,
            "restore_error": g.restore_error,
            "files": {},
        }  # no wall-clock: hashed output
        interleaved = g.interleaved
        if interleaved is None and g.stop != "eos":  # cut by a cap: render its complete bars
            interleaved, _ = restore_rests(complete_lines(g.text))
            row["truncated"] = interleaved is not None
        try:
            row["files"] = write_piece(out_dir / "samples", row["name"], g.text, interleaved)
        except ScoreRenderError as e:
            row["render_error"] = str(e)
            row["files"] = {"abc": f"{row['name']}.abc"}
        rows.append(row)
    return rows


def headline(metrics: dict, rows: list[dict]) -> dict:
    table = [
        ["fine-tuned (val)", metrics.get("val_loss"), metrics.get("val_perplexity")],
        ["fine-tuned (test)", None, metrics.get("test_perplexity")],
    ]
    cards = [
        {
            "name": r["name"],
            "caption": f"%{' / %'.join(r['prompt'])}: {r['patches']} patches, stop {r['stop']}"
            + (", complete bars rendered" if r.get("truncated") else "")
            + (
                f" ({r.get('render_error') or r.get('restore_error')})"
                if r.get("render_error") or r.get("restore_error")
                else ""
            ),
            "midi": [f"samples/{r['files']['midi']}"] if "midi" in r["files"] else [],
            "audio": [f"samples/{r['files']['audio']}"] if "audio" in r["files"] else [],
        }
        for r in rows
    ]
    return {
        "family": "notagen",
        "family_title": "NotaGen",
        "title": "Fine-tuned patch model (K = 0)",
        "order": 20,
        "text": "Held-out per-character perplexity of the prompt-conditioned NotaGen model "
        f"({metrics.get('train_pieces')} training pieces, {metrics.get('parameters')} parameters), "
        "and pieces sampled from the most frequent period/composer/instrumentation prompts.",
        "tables": [
            {
                "caption": "Character cross-entropy and perplexity",
                "columns": ["model", "loss", "perplexity"],
                "rows": table,
                "digits": 3,
            },
            {
                "caption": "Samples",
                "columns": ["sample", "prompt", "stop", "patches", "complete"],
                "rows": [[r["name"], " / ".join(r["prompt"]), r["stop"], r["patches"], r["complete"]] for r in rows],
            },
        ],
        "samples": cards,
    }


def write_finetune_report(
    model_dir: Path, report_dir: Path, p: AbcFinetuneParams, seed: int, device: str, metrics: dict
) -> None:
    """Sample the fine-tuned model, write samples/, samples.jsonl and headline.json (train_stage's ``finish``)."""
    rows = samples(load(model_dir, device=resolve_device(device)), frequent_prompts(model_dir), p, seed, report_dir)
    (report_dir / "samples.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    write_headline(report_dir, headline(metrics, rows))
    run_logger().info(
        "abc_finetune: val perplexity %s, test perplexity %s; samples %s",
        metrics.get("val_perplexity"),
        metrics.get("test_perplexity"),
        [(r["stop"], r["patches"]) for r in rows],
    )
