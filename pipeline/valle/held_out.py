"""``valle_synthesize``'s work: every planned held-out recording through every system.

For each recording of the plan (``pipeline.valle.plan``) its prompt's first ``prompt_seconds``
are cut, and each segment becomes four waves: ``valle`` (``synthesis.synthesize``), ``baseline``
(FluidSynth in the prompt's condition, or for a real recording's prompt the first of
``render_audio.conditions``), ``truth`` (the segment's audio) and ``codec`` (the truth encoded and
decoded). Written under ``out``: ``segments/<system>/<segment>.flac``,
``pieces/<system>/<recording>__prompt-<condition>.flac`` (segments stitched back),
``prompts/<recording>.flac``, ``index.jsonl``, ``rejected.jsonl``, ``summary.json`` (naming the
weights used: ``model_origin`` of both model dirs).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.data.segment import load_pm
from pipeline.params.data import AcousticCondition
from pipeline.params.valle import ValleSynthesizeParams
from pipeline.train.loop import run_logger
from pipeline.valle.midi_tokens import MidiTokenError
from pipeline.valle.model import ValleInputError
from pipeline.valle.synthesis import SynthesisOptions, piano_notes, resample, stitch, synthesize

SYSTEMS = ("valle", "baseline", "truth", "codec")


def segment_audio(cut, sample_rate: int) -> np.ndarray:
    """A segment's audio (mono float32) at ``sample_rate``, read from its recording file."""
    src = cut.recording.sources[0].source
    info = sf.info(src)
    start = int(round(cut.start * info.samplerate))
    wave, sr = sf.read(
        src, start=start, frames=int(round(cut.duration * info.samplerate)), dtype="float32", always_2d=True
    )
    return resample(wave.mean(axis=1), sr, sample_rate)


def write(path: Path, wave: np.ndarray, sr: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(wave, -1, 1), sr, format="FLAC")
    return str(path)


def synthesize_recording(
    model,
    codec,
    rec: dict,
    cuts,
    p: ValleSynthesizeParams,
    cond: AcousticCondition,
    opts: SynthesisOptions,
    root: Path,
    d: Path,
) -> tuple[list[dict], list[dict]]:
    """One planned recording: (index rows, rejected rows); writes its prompt, segments and pieces."""
    sr, prompt = codec.sample_rate, rec["prompt"]
    piece_file = f"{rec['recording_id']}__prompt-{prompt['condition']}.flac"
    prompt_wave = segment_audio(cuts[prompt["id"]], sr)[: int(p.prompt_seconds * sr)]
    write(d / "prompts" / f"{rec['recording_id']}.flac", prompt_wave, sr)
    prompt_notes = piano_notes(load_pm(root / prompt["midi"]))
    sf2 = resolve_soundfont(cond.soundfont, root)
    pieces, index, rejected = {s: [] for s in SYSTEMS}, [], []
    for seg in rec["segments"]:
        try:
            notes = piano_notes(load_pm(root / seg["midi"]))
            wave, info = synthesize(model, codec, notes, seg["duration"], prompt_wave, sr, prompt_notes, opts)
        except (MidiTokenError, ValleInputError, ValueError) as e:
            rejected.append({"id": seg["id"], "reason": type(e).__name__, "detail": str(e)})
            continue
        truth = segment_audio(cuts[seg["id"]], sr)
        recon = codec.decode(codec.encode(torch.from_numpy(truth)[None, None]))[0].mean(0).numpy()
        base_wave = render_midi((root / seg["midi"]).read_bytes(), cond, sf2, sr, seg["duration"])
        n = int(round(seg["duration"] * sr))
        waves = {"valle": wave, "baseline": base_wave[:n], "truth": truth[:n], "codec": recon[:n]}
        for s, w in waves.items():
            write(d / "segments" / s / f"{seg['id']}.flac", w, sr)
            pieces[s].append((seg["start"] - rec["segments"][0]["start"], seg["duration"], w))
        index.append(
            {
                "id": seg["id"],
                "recording_id": rec["recording_id"],
                "piece_id": seg["piece_id"],
                "condition": seg["condition"],
                "start": seg["start"],
                "duration": seg["duration"],
                "prompt_recording": prompt["recording_id"],
                "prompt_piece": prompt["piece_id"],
                "prompt_condition": prompt["condition"],
                "prompt_relation": rec["relation"],
                "piece_file": piece_file,
                **info,
            }
        )
    for s, segs in pieces.items():
        if segs:
            write(d / "pieces" / s / piece_file, stitch(segs, sr, p.crossfade_s), sr)
    return index, rejected


def baseline_condition(prompt_condition: str, conditions: dict[str, AcousticCondition]) -> str:
    """The FluidSynth condition the baseline renders in: the prompt's, or, for a real recording
    (``render_audio.real_recordings``: condition ``real``, no FluidSynth setting), the first of
    ``render_audio.conditions``, named in the index."""
    if prompt_condition in conditions:
        return prompt_condition
    if not conditions:
        raise ValueError(
            f"render_audio.conditions is empty: no FluidSynth setting for the baseline of a '{prompt_condition}' prompt"
        )
    return next(iter(conditions))


def synthesize_held_out(
    model,
    codec,
    split: str,
    planned: list[dict],
    cuts,
    p: ValleSynthesizeParams,
    conditions: dict[str, AcousticCondition],
    seed: int,
    root: Path,
    d: Path,
    weights: dict | None = None,
) -> dict:
    """Every planned recording; writes the index, the rejects and ``summary.json`` (with ``weights``:
    system -> ``model_origin``, which valle_eval's report names); returns the summary plus
    ``wall_s`` (how long it took: for the run log and environment.json, never for a hashed file)."""
    log = run_logger()
    opts = SynthesisOptions(
        p.prompt_seconds, p.min_prompt_seconds, p.temperature, p.top_k, p.max_length_factor, seed, p.min_length_factor
    )
    index, rejected, t0 = [], [], time.perf_counter()
    for rec in planned:
        cond = rec["prompt"]["condition"]
        base = baseline_condition(cond, conditions)
        rows, bad = synthesize_recording(model, codec, rec, cuts, p, conditions[base], opts, root, d)
        index += [r | {"baseline_condition": base} for r in rows]
        rejected += bad
        log.info(
            "valle_synthesize: %s (%d segments) prompted by %s [%s, %s]",
            rec["recording_id"],
            len(rec["segments"]),
            rec["prompt"]["recording_id"],
            cond,
            rec["relation"],
        )
    write_jsonl(index, d / "index.jsonl")
    write_jsonl(rejected, d / "rejected.jsonl")
    summary = {
        "split": split,
        "segments": len(index),
        "rejected": len(rejected),
        "recordings": len(planned),
        "sample_rate": codec.sample_rate,
        "frames": sum(r["frames"] for r in index),
        "eos_reached": sum(r["eos"] for r in index),
        "weights": weights or {},
    }
    write_json(d / "summary.json", summary)
    return summary | {"wall_s": round(time.perf_counter() - t0, 2)}
