"""DVC stage ``gnm_generate``: N pieces per mastery composer from the mastery and scratch models,
and N pieces from the generality model (``Composer_None``), as upstream's ``inference_score``.

Temperature then nucleus sampling, the beat grammar guard (a logits processor with a give-up
bound), bar and event caps, KV-cache decoding (pipeline/gnm/generation.py, pipeline/gnm/samples.py).
Per piece: ``reports/gnm_generate/<model>/<Composer>/<k>.{txt,mid,png,flac}`` (events, MIDI, piano
roll, FluidSynth audio); ``index.json`` lists them, ``metrics.json`` has the event and guard counts.
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.render import resolve_soundfont
from pipeline.gnm.samples import write_samples
from pipeline.gnm.samples_contract import write_gnm_contract
from pipeline.gnm.tokens import TOKENS
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.train.distributed import resolve_device

OUT = "reports/gnm_generate"
MODELS = {"generality": "models/gnm_pretrain", "mastery": "models/gnm_finetune", "scratch": "models/gnm_scratch"}


@flow(name="gnm_generate")
def gnm_generate() -> None:
    base, p, rt, root = load_section("base"), load_section("gnm_generate"), load_section("runtime"), repo_root()
    meta = json.loads((root / TOKENS / "tokenizer_meta.json").read_text())
    with StageOutputs("gnm_generate", [OUT]) as out:
        metrics = write_samples(
            {m: root / MODELS[m] for m in p.models},
            meta["mastery_composers"],
            p,
            base.seed,
            resolve_device(rt.device),
            resolve_soundfont(p.audio.soundfont, root),
            out[OUT],
        )
        write_gnm_contract(out[OUT])  # the samples contract eval_generators reads
        out.commit(
            params_dump("base", "gnm_generate"),
            inputs=[MODELS[m] for m in p.models] + [TOKENS],
            seed=base.seed,
            extra={"metrics": metrics},
        )
    get_run_logger().info("gnm_generate: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_generate)
