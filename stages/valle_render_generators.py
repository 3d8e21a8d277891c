"""DVC stage ``valle_render_generators``: every generator row's first sample (its first
``seconds``), rendered by VALL-E and by FluidSynth in the acoustic condition of a held-out
recording's prompt, and FAD of each against the real recordings (log-mel and codec latents).

Rows: the samples contracts named by ``eval_generators.sources``; prompt and sampling as
``valle_synthesize`` (pipeline/valle/generator_renders.py). Outputs
``reports/valle_render_generators/``: ``<row>.valle.flac``, ``<row>.fluidsynth.flac`` and
``audio.json``, which the report's generators table reads (docs/evaluation.md).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.codec import load as load_codec
from pipeline.config import load_section, repo_root
from pipeline.eval.samples_contract import read_contract
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.valle.checkpoint import check_codec, load_valle
from pipeline.valle.generator_renders import SEGMENTS, SYNTH, write_generator_audio

OUT, MODEL, CODEC = "reports/valle_render_generators", "models/valle_train", "models/codec_train"


@flow(name="valle_render_generators")
def valle_render_generators() -> None:
    base, p, root = load_section("base"), load_section("valle_render_generators"), repo_root()
    ev, syn, conditions = (
        load_section("eval_generators"),
        load_section("valle_synthesize"),
        load_section("render_audio"),
    )
    model, codec = load_valle(root / MODEL), load_codec(root / CODEC)
    check_codec(model, codec)
    contracts = [read_contract(root / s) for s in ev.sources]
    with StageOutputs("valle_render_generators", [OUT]) as out:
        audio = write_generator_audio(
            model, codec, contracts, root, syn, conditions.conditions, p.seconds, base.seed, out[OUT]
        )
        sources = [s.rsplit("/", 1)[0] for s in ev.sources]
        params = params_dump("base", "valle_render_generators", "eval_generators", "valle_synthesize", "render_audio")
        out.commit(params, inputs=[MODEL, CODEC, SEGMENTS, SYNTH, *sources], seed=base.seed)
    get_run_logger().info("valle_render_generators: %s", {k: v["fad"] for k, v in audio["rows"].items()})


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(valle_render_generators)
