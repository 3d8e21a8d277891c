"""DVC stage ``abc_finetune``: NotaGen fine-tuning on period-composer-instrumentation prompts.

Starts from ``models/abc_pretrain``; training texts keep their ``%period`` / ``%composer`` /
``%instrumentation`` lines and are transposed -3..+3 semitones (weights 1,2,3,4,3,2,1). Then
``abc_finetune.samples`` pieces are generated for the most frequent prompts (upstream sampling:
top-k 9 -> top-p 0.9 -> temperature 1.2) and written as ABC, MusicXML, MIDI and FLAC.
Outputs ``models/abc_finetune/`` (model.safetensors, config.json, prompts.json: the valid
triples for ``ostinato generate notagen``) and ``reports/abc_finetune/`` (metrics.json,
plots/loss.csv, samples/, samples.jsonl, headline.json).
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.notagen.checkpoint import load
from pipeline.notagen.generation import generate
from pipeline.notagen.render import ScoreRenderError, write_piece
from pipeline.notagen.rests import complete_lines, restore_rests
from pipeline.notagen.train_job import ENTRY
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.report.headline import write_headline
from pipeline.train import checkpoint as ckpt
from pipeline.train.distributed import resolve_device
from pipeline.train.job import run_training, train_config

MODEL, REPORT, TOKENS, PRETRAIN = "models/abc_finetune", "reports/abc_finetune", "data/tokens/abc", "models/abc_pretrain"
CKPT = "models/.ckpt/abc_finetune"


def samples(model, prompts: list[dict], p, seed: int, out_dir) -> list[dict]:
    rows = []
    for i, pr in enumerate(prompts[: p.samples]):
        triple = [pr["period"], pr["composer"], pr["instrumentation"]]
        g = generate(model, [f"%{x}" for x in triple], top_k=p.top_k, top_p=p.top_p, temperature=p.sample_temperature,
                     seed=seed + i, max_patches=p.max_patches, max_seconds=p.max_seconds)
        row = {"name": f"sample_{i}", "prompt": triple, "stop": g.stop, "complete": g.complete, "patches": g.patches,
               "chars": g.chars, "seconds": round(g.seconds, 2), "restore_error": g.restore_error, "files": {}}
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
    table = [["fine-tuned (val)", metrics.get("val_loss"), metrics.get("val_perplexity")],
             ["fine-tuned (test)", None, metrics.get("test_perplexity")]]
    cards = [{"name": r["name"], "caption": f"%{' / %'.join(r['prompt'])}: {r['patches']} patches, stop {r['stop']}"
                                         + (", complete bars rendered" if r.get("truncated") else "")
                                         + (f" ({r.get('render_error') or r.get('restore_error')})"
                                            if r.get("render_error") or r.get("restore_error") else ""),
              "midi": [f"samples/{r['files']['midi']}"] if "midi" in r["files"] else [],
              "audio": [f"samples/{r['files']['audio']}"] if "audio" in r["files"] else []} for r in rows]
    return {"family": "notagen", "family_title": "NotaGen", "title": "Fine-tuned patch model (K = 0)", "order": 20,
            "text": "Held-out per-character perplexity of the prompt-conditioned NotaGen model "
                    f"({metrics.get('train_pieces')} training pieces, {metrics.get('parameters')} parameters), "
                    "and pieces sampled from the most frequent period/composer/instrumentation prompts.",
            "tables": [{"caption": "Character cross-entropy and perplexity", "columns": ["model", "loss", "perplexity"],
                        "rows": table, "digits": 3},
                       {"caption": "Samples", "columns": ["sample", "prompt", "stop", "patches", "seconds", "complete"],
                        "rows": [[r["name"], " / ".join(r["prompt"]), r["stop"], r["patches"], r["seconds"],
                                  r["complete"]] for r in rows]}],
            "samples": cards}


@flow(name="abc_finetune")
def abc_finetune() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("abc_finetune"), load_section("runtime"), repo_root()
    with StageOutputs("abc_finetune", [MODEL, REPORT]) as out:
        job = {"stage": "abc_finetune", "tokens_dir": str(root / TOKENS), "keep_prompt": True,
               "transposition": p.transposition, "max_pieces": p.max_pieces,
               "model": {"init_from": str(root / PRETRAIN / "model.safetensors")},
               "train": train_config(p, base.seed, rt.device), "batch_size": p.batch_size,
               "ckpt_dir": str(root / CKPT), "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "tokens": hash_path(root / TOKENS),
                               "init": hash_path(root / PRETRAIN / "model.safetensors")}}
        log.info("abc_finetune: from %s, %d steps x %d pieces, transposition %s", PRETRAIN, p.steps, p.batch_size,
                 p.transposition)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        prompts = json.loads((out[MODEL] / "prompts.json").read_text())
        prompts.sort(key=lambda r: (-r["pieces"], r["period"], r["composer"], r["instrumentation"]))
        rows = samples(load(out[MODEL], device=resolve_device(rt.device)), prompts, p, base.seed, out[REPORT])
        (out[REPORT] / "samples.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        write_headline(out[REPORT], headline(metrics, rows))
        out.commit(params_dump("base", "abc_finetune"), inputs=[TOKENS, PRETRAIN], seed=base.seed,
                   extra={"metrics": metrics})
    ckpt.clear(root / CKPT)
    log.info("abc_finetune: val perplexity %s, test perplexity %s; samples %s", metrics.get("val_perplexity"),
             metrics.get("test_perplexity"), [(r["stop"], r["patches"]) for r in rows])


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_finetune)
