"""DVC stage ``valle_synthesize``: held-out MIDI segments + a prompt -> audio, stitched into pieces.

For each chosen held-out recording (piece A, condition c) a 3 s prompt is cut from another
recording (another piece, the other condition; ``pipeline.valle.plan``). Each segment's MIDI is
synthesised by VALL-E (AR with a KV cache, temperature / top-k, then NAR greedy, then the codec),
rendered by FluidSynth in the prompt's condition (the baseline), and the ground truth is encoded
and decoded by the codec (codec reconstruction); ``pipeline.valle.held_out`` does the work.
Outputs ``data/valle_synthesize/``: ``segments/<system>/<segment>.flac`` for system in valle,
baseline, truth, codec; ``pieces/<system>/<recording>__prompt-<condition>.flac`` (segments
stitched back); ``prompts/<recording>.flac``; ``index.jsonl`` (one row per segment, prompt
condition named); ``rejected.jsonl`` (segments that could not be synthesised, with the reason);
``summary.json``.
"""

from __future__ import annotations

import torch
from prefect import flow, get_run_logger

from pipeline.codec import load as load_codec
from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import read_jsonl
from pipeline.data.manifests import load_cuts
from pipeline.orchestration.model_origin import model_origin
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.valle.checkpoint import check_codec, load_valle
from pipeline.valle.held_out import synthesize_held_out
from pipeline.valle.plan import plan

OUT = "data/valle_synthesize"
MODEL, CODEC, SEGMENTS = "models/valle_train", "models/codec_train", "data/segment"
AUDIO = "data/render_audio"  # the recordings the segment cuts point into


@flow(name="valle_synthesize")
def valle_synthesize() -> None:
    log = get_run_logger()
    base, p, render, root = (
        load_section("base"),
        load_section("valle_synthesize"),
        load_section("render_audio"),
        repo_root(),
    )
    torch.manual_seed(base.seed)
    model, codec = load_valle(root / MODEL), load_codec(root / CODEC)
    check_codec(model, codec)  # another codebook count / sample rate: fail here, named
    split, planned = plan(read_jsonl(root / SEGMENTS / "index.jsonl"), p.recordings, p.max_segments, base.seed)
    cuts = load_cuts(root / SEGMENTS / "cuts.jsonl.gz")
    weights = {"valle": model_origin(root / MODEL), "codec": model_origin(root / CODEC)}  # for the report
    with StageOutputs("valle_synthesize", [OUT]) as out:
        summary = synthesize_held_out(
            model, codec, split, planned, cuts, p, render.conditions, base.seed, root, out[OUT], weights
        )
        out.commit(
            params_dump("base", "valle_synthesize", "render_audio"),
            inputs=[MODEL, CODEC, SEGMENTS, AUDIO],
            seed=base.seed,
            extra=summary,
        )  # wall_s: environment.json
    log.info("valle_synthesize: %s", summary)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(valle_synthesize)
