"""DVC stage ``valle_synthesize``: held-out MIDI segments + a prompt -> audio, stitched into pieces.

For each chosen held-out recording (piece A, condition c) a 3 s prompt is cut from another
recording (another piece, the other condition; ``pipeline.valle.plan``). Each segment's MIDI is
synthesised by VALL-E (AR with a KV cache, temperature / top-k, then NAR greedy, then the codec),
rendered by FluidSynth in the prompt's condition (the baseline), and the ground truth is encoded
and decoded by the codec (codec reconstruction). Outputs ``data/valle_synthesize/``:
``segments/<system>/<segment>.flac`` for system in valle, baseline, truth, codec;
``pieces/<system>/<recording>__prompt-<condition>.flac`` (segments stitched back);
``prompts/<recording>.flac``; ``index.jsonl`` (one row per segment, prompt condition named);
``rejected.jsonl`` (segments that could not be synthesised, with the reason); ``summary.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import read_jsonl, write_json, write_jsonl
from pipeline.data.manifests import load_cuts
from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.valle.checkpoint import check_codec, load_valle
from pipeline.data.segment import load_pm
from pipeline.valle.midi_tokens import MidiTokenError
from pipeline.valle.model import ValleInputError
from pipeline.valle.plan import plan
from pipeline.valle.synthesis import SynthesisOptions, piano_notes, resample, stitch, synthesize

OUT = "data/valle_synthesize"
MODEL, CODEC, SEGMENTS = "models/valle_train", "models/codec_train", "data/segment"
AUDIO = "data/render_audio"  # the recordings the segment cuts point into
SYSTEMS = ("valle", "baseline", "truth", "codec")


def segment_audio(cut, sample_rate: int) -> np.ndarray:
    """A segment's audio (mono float32) at ``sample_rate``, read from its recording file."""
    src = cut.recording.sources[0].source
    info = sf.info(src)
    start = int(round(cut.start * info.samplerate))
    wave, sr = sf.read(src, start=start, frames=int(round(cut.duration * info.samplerate)),
                       dtype="float32", always_2d=True)
    return resample(wave.mean(axis=1), sr, sample_rate)


def write(path: Path, wave: np.ndarray, sr: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(wave, -1, 1), sr, format="FLAC")
    return str(path)


@flow(name="valle_synthesize")
def valle_synthesize() -> None:
    from pipeline.codec import load as load_codec

    log = get_run_logger()
    base, p, render, root = (load_section("base"), load_section("valle_synthesize"),
                             load_section("render_audio"), repo_root())
    torch.manual_seed(base.seed)
    model, codec = load_valle(root / MODEL), load_codec(root / CODEC)
    check_codec(model, codec)  # another codebook count / sample rate: fail here, named
    sr = codec.sample_rate
    rows = read_jsonl(root / SEGMENTS / "index.jsonl")
    cuts = load_cuts(root / SEGMENTS / "cuts.jsonl.gz")
    split, jobs = plan(rows, p.recordings, p.max_segments, base.seed)
    opts = SynthesisOptions(p.prompt_seconds, p.min_prompt_seconds, p.temperature, p.top_k,
                            p.max_length_factor, base.seed, p.min_length_factor)
    with StageOutputs("valle_synthesize", [OUT]) as out:
        d = out[OUT]
        index, rejected, t0 = [], [], time.perf_counter()
        for job in jobs:
            prompt = job["prompt"]
            cond = prompt["condition"]
            prompt_wave = segment_audio(cuts[prompt["id"]], sr)[: int(p.prompt_seconds * sr)]
            write(d / "prompts" / f"{job['recording_id']}.flac", prompt_wave, sr)
            prompt_notes = piano_notes(load_pm(root / prompt["midi"]))
            sf2 = resolve_soundfont(render.conditions[cond].soundfont, root)
            pieces = {s: [] for s in SYSTEMS}
            for seg in job["segments"]:
                try:
                    notes = piano_notes(load_pm(root / seg["midi"]))
                    wave, info = synthesize(model, codec, notes, seg["duration"], prompt_wave, sr,
                                            prompt_notes, opts)
                except (MidiTokenError, ValleInputError, ValueError) as e:
                    rejected.append({"id": seg["id"], "reason": type(e).__name__, "detail": str(e)})
                    continue
                truth = segment_audio(cuts[seg["id"]], sr)
                recon = codec.decode(codec.encode(torch.from_numpy(truth)[None, None]))[0].mean(0).numpy()
                base_wave = render_midi((root / seg["midi"]).read_bytes(), render.conditions[cond], sf2, sr,
                                        seg["duration"])
                n = int(round(seg["duration"] * sr))
                waves = {"valle": wave, "baseline": base_wave[:n], "truth": truth[:n], "codec": recon[:n]}
                for s, w in waves.items():
                    write(d / "segments" / s / f"{seg['id']}.flac", w, sr)
                    pieces[s].append((seg["start"] - job["segments"][0]["start"], seg["duration"], w))
                index.append({"id": seg["id"], "recording_id": job["recording_id"], "piece_id": seg["piece_id"],
                              "condition": seg["condition"], "start": seg["start"], "duration": seg["duration"],
                              "prompt_recording": prompt["recording_id"], "prompt_piece": prompt["piece_id"],
                              "prompt_condition": cond, "prompt_relation": job["relation"],
                              "piece_file": f"{job['recording_id']}__prompt-{cond}.flac", **info})
            for s, segs in pieces.items():
                if segs:
                    write(d / "pieces" / s / f"{job['recording_id']}__prompt-{cond}.flac",
                          stitch(segs, sr, p.crossfade_s), sr)
            log.info("valle_synthesize: %s (%d segments) prompted by %s [%s, %s]", job["recording_id"],
                     len(job["segments"]), prompt["recording_id"], cond, job["relation"])
        write_jsonl(index, d / "index.jsonl")
        write_jsonl(rejected, d / "rejected.jsonl")
        summary = {"split": split, "segments": len(index), "rejected": len(rejected),
                   "recordings": len(jobs), "sample_rate": sr, "seconds": round(time.perf_counter() - t0, 2),
                   "frames": sum(r["frames"] for r in index), "eos_reached": sum(r["eos"] for r in index)}
        write_json(d / "summary.json", summary)
        out.commit(params_dump("base", "valle_synthesize", "render_audio"),
                   inputs=[MODEL, CODEC, SEGMENTS, AUDIO], seed=base.seed,
                   extra=summary)
    log.info("valle_synthesize: %s", summary)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(valle_synthesize)
