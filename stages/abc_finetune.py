"""DVC stage ``abc_finetune``: NotaGen fine-tuning on period-composer-instrumentation prompts.

Starts from ``models/abc_pretrain``, or ``abc_finetune.init`` (a released NotaGen .pth under
``weights/abc_finetune/``; with ``steps: 0`` imported as the fine-tuned model, no samples); training
texts keep their ``%period`` / ``%composer`` / ``%instrumentation`` lines and are transposed
-3..+3 semitones (weights 1,2,3,4,3,2,1). Then ``abc_finetune.samples`` pieces are generated for
the most frequent prompts (upstream sampling: top-k 9 -> top-p 0.9 -> temperature 1.2) and
written as ABC, MusicXML, MIDI and FLAC.
Outputs ``models/abc_finetune/`` (model.safetensors, config.json, prompts.json: the valid
triples for ``ostinato generate notagen``) and ``reports/abc_finetune/`` (metrics.json,
plots/loss.csv, samples/, samples.jsonl, headline.json).
"""

from __future__ import annotations

from prefect import flow

from pipeline.config import load_section, repo_root
from pipeline.notagen.finetune_report import write_finetune_report
from pipeline.notagen.released import import_init
from pipeline.notagen.train_job import ENTRY
from pipeline.orchestration.training import train_stage

MODEL, REPORT = "models/abc_finetune", "reports/abc_finetune"
TOKENS, PRETRAIN = "data/tokens/abc", "models/abc_pretrain"


@flow(name="abc_finetune")
def abc_finetune() -> None:
    base, p, rt, root = load_section("base"), load_section("abc_finetune"), load_section("runtime"), repo_root()
    init = root / PRETRAIN / "model.safetensors"
    if not init.is_file():
        raise FileNotFoundError(f"no NotaGen checkpoint to fine-tune from at {init}: run the abc_pretrain stage first")
    train_stage(
        "abc_finetune",
        ENTRY,
        model=MODEL,
        report=REPORT,
        deps=[TOKENS, PRETRAIN],
        inputs={"tokens": str(root / TOKENS), "keep_prompt": True, "init": str(init)},
        import_init=import_init,
        finish=lambda out, metrics: write_finetune_report(out[MODEL], out[REPORT], p, base.seed, rt.device, metrics),
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_finetune)
