"""The ``aria_generate`` stage's work: continue held-out test prompts and render every continuation.

For ``pieces`` test pieces (those matching ``filters``, drawn with the seed), the first
``prompt_duration`` seconds are the prompt (as ``ostinato generate`` builds it, with the piece's
own prefix tokens) and ``variations`` continuations are sampled. Each prompt + continuation is
written as MIDI, a piano-roll PNG and FluidSynth audio to ``<out>/<piece>/``, listed in
``<out>/index.json``; summary numbers go to ``<out>/metrics.json``; ``headline.json`` puts the
samples in the report's Aria section.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import soundfile as sf
from prefect import get_run_logger

from pipeline.aria.checkpoints import load_model
from pipeline.aria.continue_ import Sampling, continue_prompt
from pipeline.aria.decoded import to_piece, write_midi
from pipeline.aria.labels import matches
from pipeline.aria.load import tokenizer_for
from pipeline.aria.piano_roll import piano_roll
from pipeline.aria.prompt import prompt_tokens, read_prompt
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.ingest import midi_rows
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.data.render import render_midi
from pipeline.data.token_store import TokenStore
from pipeline.params.aria import AriaGenerateParams
from pipeline.report.headline import write_headline


def choose(labels: list[dict], filters: dict, n: int, seed: int) -> list[dict]:
    """``n`` of the pieces whose labels match ``filters`` (seeded, in id order)."""
    cands = sorted((lab for lab in labels if matches(lab, filters)), key=lambda lab: lab["id"])
    if not cands:
        raise ValueError(f"no test piece matches aria_generate.filters {filters}")
    pick = np.random.default_rng(seed).choice(len(cands), size=min(n, len(cands)), replace=False)
    return [cands[i] for i in sorted(pick)]


def prefix_metadata(label: dict) -> dict:
    """The prefix fields (e.g. composer) the piece was tokenized with in aria_tokenize."""
    return {
        kind: value for kind, _, value in (s.partition(":") for s in label.get("prefix", [])) if kind != "instrument"
    }


def generation_headline(entries: list[dict], prompt_s: float, sampling: dict) -> dict:
    """The report's Aria samples (pipeline/report/headline.py): one row and one player per continuation."""
    cols = ["piece", "composer", "variation", "prompt tokens", "new tokens", "notes", "seconds", "ended"]
    rows = [
        [
            e["piece"],
            e["composer"],
            e["variation"],
            e["prompt_tokens"],
            e["new_tokens"],
            e["notes"],
            e["seconds"],
            e["ended"],
        ]
        for e in entries
    ]
    samples = [
        {
            "name": f"{e['piece']} · variation {e['variation']}",
            "caption": ", ".join(str(v) for v in (e["composer"], e["period"]) if v)
            + f"; {e['new_tokens']} new tokens, {e['seconds']:g} s",
            "audio": [e["audio"]],
            "midi": [e["midi"], e["prompt_midi"]],
            "image": [e["png"]],
        }
        for e in entries
    ]
    settings = ", ".join(
        f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in sampling.items() if v is not None
    )
    return {
        "family": "aria",
        "family_title": "Aria",
        "title": "Prompt continuations (fine-tuned LM)",
        "order": 20,
        "text": f"Held-out test pieces: the first {prompt_s:g} s are the prompt (blue in the piano roll), "
        f"the rest is sampled ({settings}). Audio rendered with FluidSynth; MIDI of the "
        "continuation and of the prompt alone.",
        "tables": [
            {"caption": "Each continuation: ended = the model emitted its end token.", "columns": cols, "rows": rows}
        ],
        "samples": samples,
    }


def continue_piece(
    model,
    tok: AbsTokenizer,
    label: dict,
    midi: Path,
    p: AriaGenerateParams,
    sampling: Sampling,
    seed: int,
    soundfont,
    out: Path,
) -> tuple[list[dict], float]:
    """The continuations of one piece's prompt, written under ``out/<id>/``: one index entry each,
    and the seconds the sampling took."""
    pid = label["id"]
    (out / pid).mkdir()
    prompt = prompt_tokens(tok, read_prompt(midi), p.prompt_duration, prefix_metadata(label))
    n_prompt_notes = len(to_piece(tok, tok.encode(prompt)).notes)
    write_midi(tok, tok.encode(prompt), out / pid / "prompt.mid")
    t0 = time.perf_counter()
    outs = continue_prompt(
        model,
        tok,
        prompt,
        variations=p.variations,
        length=p.length,
        sampling=sampling,
        end=p.end,
        seed=seed,
        backend=p.backend,
    )
    seconds = time.perf_counter() - t0
    entries = []
    for k, ids in enumerate(outs):
        rel = f"{pid}/var{k}"
        piece = write_midi(tok, ids, out / f"{rel}.mid")
        piano_roll(
            piece,
            n_prompt_notes,
            out / f"{rel}.png",
            title=f"{pid} variation {k}: prompt {p.prompt_duration:g} s (blue) + continuation",
        )
        audio = render_midi((out / f"{rel}.mid").read_bytes(), p.audio, soundfont, p.sample_rate, p.max_seconds)
        sf.write(out / f"{rel}.wav", audio, p.sample_rate)
        entries.append(
            {
                "piece": pid,
                "composer": label.get("composer"),
                "period": label.get("period"),
                "variation": k,
                "prompt_tokens": len(prompt),
                "new_tokens": len(ids) - len(prompt),
                "notes": len(piece.notes),
                "prompt_notes": n_prompt_notes,
                "ended": ids[-1] == tok.eos_id,
                "has_dim": tok.dim_id in ids[len(prompt) :],
                "seconds": round(max((n.end_ms for n in piece.notes), default=0) / 1000, 2),
                "midi": f"{rel}.mid",
                "png": f"{rel}.png",
                "audio": f"{rel}.wav",
                "prompt_midi": f"{pid}/prompt.mid",
            }
        )
    get_run_logger().info(
        "generate %s: prompt %d tokens, %s new tokens", pid, len(prompt), [e["new_tokens"] for e in entries]
    )
    return entries, seconds


def generate_samples(
    model_dir: Path,
    tokens_dir: Path,
    ingest_dir: Path,
    p: AriaGenerateParams,
    seed: int,
    device: str,
    soundfont,
    out: Path,
    model_name: str,
) -> dict[str, float]:
    """Load the LM of ``model_dir``, choose the test pieces of ``tokens_dir``, continue each (piece
    ``i`` sampled with ``seed + i``) into ``out``; write index.json, metrics.json and headline.json.
    Returns the sampling speed (tokens/s): for the log and environment.json, never a hashed output."""
    tok = tokenizer_for(model_dir / "model.safetensors")
    model = load_model(model_dir, tok, p.backend, device)
    midi = {r["id"]: ingest_dir / r["midi"] for r in midi_rows(read_jsonl(ingest_dir / "index.jsonl"))[0]}
    chosen = choose(TokenStore(tokens_dir / "test").labels, dict(p.filters), p.pieces, seed)
    sampling = Sampling(p.temp, p.min_p, p.top_p, p.top_k).resolved()
    entries, seconds = [], 0.0
    for i, label in enumerate(chosen):
        more, s = continue_piece(model, tok, label, midi[label["id"]], p, sampling, seed + i, soundfont, out)
        entries, seconds = entries + more, seconds + s
    n, new_tokens = max(len(entries), 1), sum(e["new_tokens"] for e in entries)
    metrics = {
        "samples": len(entries),
        "pieces": len(chosen),
        "mean_new_tokens": round(new_tokens / n, 1),
        "ended_fraction": round(sum(e["ended"] for e in entries) / n, 3),
    }
    write_json(
        out / "index.json",
        {
            "model": model_name,
            "tokenizer_hash": tok.config_hash(),
            "backend": p.backend,
            "sampling": vars(sampling),
            "samples": entries,
        },
    )
    write_json(out / "metrics.json", metrics)
    write_headline(out, generation_headline(entries, p.prompt_duration, vars(sampling)))
    speed = round(new_tokens / max(seconds, 1e-9), 1)
    get_run_logger().info("generate: %s, %.1f new tokens/s", metrics, speed)
    return {"tokens_per_s": speed}
