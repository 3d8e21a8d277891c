"""DVC stage ``aria_generate``: continue held-out test prompts with the fine-tuned Aria LM
(and, with ``pretrain_row``, the same prompts with the pretrained one, under ``pretrain/``).

The work is ``pipeline/aria/generate.py``: ``pieces`` test pieces of ``data/tokens/aria/test``
(matching ``filters``, drawn with ``base.seed``), ``variations`` continuations of each piece's first
``prompt_duration`` seconds, written as MIDI, piano-roll PNG and FluidSynth audio to
``reports/aria_generate/<piece>/``, with index.json, metrics.json and headline.json.
"""

from __future__ import annotations

from prefect import flow

from pipeline.aria.generate import generate_samples
from pipeline.aria.samples_contract import write_aria_contract
from pipeline.config import load_section, repo_root
from pipeline.data.render import resolve_soundfont
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.train.distributed import resolve_device

OUT, MODEL, TOKENS, INGEST = "reports/aria_generate", "models/aria_finetune", "data/tokens/aria", "data/ingest"
PRETRAIN = "models/aria_pretrain"  # the same prompts, continued by the model before fine-tuning


@flow(name="aria_generate")
def generate() -> None:
    base, p, rt, root = load_section("base"), load_section("aria_generate"), load_section("runtime"), repo_root()
    device = resolve_device(rt.device) if p.backend == "torch" else "cpu"
    soundfont = resolve_soundfont(p.audio.soundfont, root)
    with StageOutputs("aria_generate", [OUT]) as out:
        speed = generate_samples(
            root / MODEL, root / TOKENS, root / INGEST, p, base.seed, device, soundfont, out[OUT], MODEL
        )
        if p.pretrain_row:
            pre = out[OUT] / "pretrain"
            pre.mkdir()
            generate_samples(
                root / PRETRAIN, root / TOKENS, root / INGEST, p, base.seed, device, soundfont, pre, PRETRAIN
            )
        write_aria_contract(out[OUT])  # the samples contract eval_generators reads
        inputs = [MODEL, PRETRAIN, f"{TOKENS}/test", INGEST] if p.pretrain_row else [MODEL, f"{TOKENS}/test", INGEST]
        out.commit(params_dump("base", "aria_generate"), inputs=inputs, seed=base.seed, extra=speed)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(generate)
