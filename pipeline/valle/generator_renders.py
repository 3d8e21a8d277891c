"""``valle_render_generators``' work: one sample of every generator row, rendered twice in one
held-out recording's acoustic condition, and FAD of each render against the real recordings.

Rows come from the samples contracts (pipeline/eval/samples_contract.py), named as
``eval_generators`` names them (family + label); per row the first sample with MIDI, cut to its
first ``seconds``. The prompt is the first planned held-out recording's prompt
(``pipeline.valle.plan``, as ``valle_synthesize`` picks it): its first ``prompt_seconds`` of audio
and its MIDI. Renders: VALL-E (``synthesis.synthesize``) and FluidSynth in the prompt's condition.
FAD, on log-mel frames and on the codec's latents (as ``valle_eval``), against the held-out truth
segments ``valle_synthesize`` cut (``data/valle_synthesize/segments/truth``); one render per row,
so a row's FAD is a single piece's frames against the real set: no interval.
"""

from __future__ import annotations

import re
from pathlib import Path

import soundfile as sf
import torch

from pipeline.data.jsonl import write_json
from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.data.segment import load_pm
from pipeline.eval.frechet import FrechetError, fad_with_interval
from pipeline.eval.samples_contract import Contract
from pipeline.params.data import AcousticCondition
from pipeline.valle.data import TICKS_PER_SECOND
from pipeline.valle.evaluate import logmel_embedder
from pipeline.valle.held_out import segment_audio, write
from pipeline.valle.midi_tokens import MidiTokenError
from pipeline.valle.model import ValleInputError
from pipeline.valle.synthesis import SynthesisOptions, piano_notes, synthesize

SYSTEMS = ("valle", "fluidsynth")
SEGMENTS, SYNTH = "data/segment", "data/valle_synthesize"  # the held-out plan and its real segments


def first_seconds(notes: list, seconds: float) -> list:
    """Notes starting in the first ``seconds``, cut to end there (ticks at TICKS_PER_SECOND)."""
    end = int(seconds * TICKS_PER_SECOND)
    return [(on, min(dur, end - on), p, v) for on, dur, p, v in notes if on < end]


def row_midis(contracts: list[Contract]) -> dict[str, Path]:
    """{row name: the MIDI of its first sample that has one}, in contract order."""
    out: dict[str, Path] = {}
    for c in contracts:
        for s in c.samples:
            name = f"{c.family} {s.label}"
            if name not in out and s.midi is not None and s.midi.is_file():
                out[name] = s.midi
    return out


def _slug(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "_", name).strip("_").lower()


def render_rows(
    model,
    codec,
    rows: dict[str, Path],
    prompt: dict,
    cuts,
    cond: AcousticCondition,
    opts: SynthesisOptions,
    seconds: float,
    root: Path,
    out: Path,
) -> tuple[dict, list[dict]]:
    """Write ``<row>.<system>.flac`` per row; -> ({row: {system: file}}, rejected rows)."""
    sr = codec.sample_rate
    prompt_wave = segment_audio(cuts[prompt["id"]], sr)[: int(opts.prompt_seconds * sr)]
    prompt_notes = piano_notes(load_pm(root / prompt["midi"]))
    sf2 = resolve_soundfont(cond.soundfont, root)
    renders, rejected = {}, []
    for name, midi in rows.items():
        try:
            notes = first_seconds(piano_notes(load_pm(midi)), seconds)
            wave, _ = synthesize(model, codec, notes, seconds, prompt_wave, sr, prompt_notes, opts)
            if not len(wave):
                raise ValueError("VALL-E generated no frame")
        except (MidiTokenError, ValleInputError, ValueError, OSError) as e:
            rejected.append({"row": name, "midi": str(midi.relative_to(root)), "reason": f"{type(e).__name__}: {e}"})
            continue
        waves = {"valle": wave, "fluidsynth": render_midi(midi.read_bytes(), cond, sf2, sr, seconds)}
        renders[name] = {}
        for system, w in waves.items():
            write(out / f"{_slug(name)}.{system}.flac", w[: int(seconds * sr)], sr)
            renders[name][system] = f"{_slug(name)}.{system}.flac"
    return renders, rejected


def audio_fad(codec, renders: dict, truth_dir: Path, out: Path, n_boot: int, seed: int) -> dict:
    """{row: {system: {embedding: FAD value or None}}} against every truth segment's frames."""
    sr = codec.sample_rate

    def codec_latents(w):
        return codec.latents(torch.from_numpy(w)[None, None]).squeeze(0).double().numpy()

    embedders = {"logmel": logmel_embedder(sr), "codec": codec_latents}
    truth = [sf.read(str(p), dtype="float32")[0] for p in sorted(truth_dir.glob("*.flac"))]
    if not truth:
        raise FileNotFoundError(f"no real recordings to compare with in {truth_dir} (run valle_synthesize)")
    ref = {e: [f(w) for w in truth] for e, f in embedders.items()}
    fads: dict = {}
    for name, files in renders.items():
        fads[name] = {}
        for system, rel in files.items():
            wave = sf.read(str(out / rel), dtype="float32")[0]
            fads[name][system] = {}
            for e, f in embedders.items():
                try:
                    fads[name][system][e] = fad_with_interval(ref[e], [f(wave)], n_boot=n_boot, seed=seed)["value"]
                except (FrechetError, ValueError):
                    fads[name][system][e] = None
    return fads


def write_generator_audio(
    model, codec, contracts: list[Contract], root: Path, syn, conditions: dict, seconds: float, seed: int, out: Path
) -> dict:
    """Renders, FAD and ``audio.json`` (what the report's generators table reads) into ``out``;
    ``syn``: the valle_synthesize params (prompt length, sampling), ``conditions``: render_audio's."""
    from pipeline.data.jsonl import read_jsonl
    from pipeline.data.manifests import load_cuts
    from pipeline.valle.plan import plan

    _, planned = plan(read_jsonl(root / SEGMENTS / "index.jsonl"), syn.recordings, syn.max_segments, seed)
    prompt = planned[0]["prompt"]
    cond_name, synth = prompt["condition"], root / SYNTH
    cuts = load_cuts(root / SEGMENTS / "cuts.jsonl.gz")
    opts = SynthesisOptions(
        syn.prompt_seconds,
        syn.min_prompt_seconds,
        syn.temperature,
        syn.top_k,
        syn.max_length_factor,
        seed,
        syn.min_length_factor,
    )
    rows = row_midis(contracts)
    renders, rejected = render_rows(model, codec, rows, prompt, cuts, conditions[cond_name], opts, seconds, root, out)
    fads = audio_fad(codec, renders, synth / "segments" / "truth", out, n_boot=10, seed=seed)
    audio = {
        "prompt": {"recording": prompt["recording_id"], "condition": cond_name, "seconds": opts.prompt_seconds},
        "seconds": seconds,
        "reference_segments": len(list((synth / "segments" / "truth").glob("*.flac"))),
        "rows": {name: {"files": files, "fad": fads[name]} for name, files in renders.items()},
        "rejected": rejected,
    }
    write_json(out / "audio.json", audio)
    return audio
