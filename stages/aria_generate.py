"""DVC stage ``generate``: continue held-out test prompts with the fine-tuned Aria LM.

For ``generate.pieces`` test pieces (those matching ``generate.filters``, drawn with
``base.seed``), the first ``prompt_duration`` seconds are the prompt (as ``ostinato generate``
builds it, with the piece's own prefix tokens) and ``variations`` continuations are sampled.
Each prompt + continuation is written as MIDI, a piano-roll PNG and FluidSynth audio to
``reports/aria_generate/<piece>/``, listed in ``reports/aria_generate/index.json``; summary numbers go
to ``reports/aria_generate/metrics.json``; ``headline.json`` puts the samples in the report's Aria section.
"""

from __future__ import annotations

import time

import numpy as np
import soundfile as sf
from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.data.token_store import TokenStore
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.report.headline import write_headline
from pipeline.aria.load import tokenizer_for
from pipeline.aria.checkpoints import load_model
from pipeline.aria.continue_ import Sampling, continue_prompt
from pipeline.aria.decoded import to_piece, write_midi
from pipeline.aria.piano_roll import piano_roll
from pipeline.aria.prompt import prompt_tokens, read_prompt
from pipeline.aria.lm import matches
from pipeline.train.distributed import resolve_device

OUT, MODEL, TOKENS, INGEST = "reports/aria_generate", "models/aria_finetune", "data/tokens/aria", "data/ingest"


def choose(labels: list[dict], filters: dict, n: int, seed: int) -> list[dict]:
    cands = sorted((lab for lab in labels if matches(lab, filters)), key=lambda lab: lab["id"])
    if not cands:
        raise ValueError(f"no test piece in {TOKENS}/test matches generate.filters {filters}")
    pick = np.random.default_rng(seed).choice(len(cands), size=min(n, len(cands)), replace=False)
    return [cands[i] for i in sorted(pick)]


def prefix_metadata(label: dict) -> dict:
    """The prefix fields (e.g. composer) the piece was tokenized with in tokenize_aria."""
    return {kind: value for kind, _, value in (s.partition(":") for s in label.get("prefix", []))
            if kind != "instrument"}


def generation_headline(entries: list[dict], prompt_s: float, sampling: dict) -> dict:
    """The report's Aria samples (pipeline/report/headline.py): one row and one player per continuation."""
    cols = ["piece", "composer", "variation", "prompt tokens", "new tokens", "notes", "seconds", "ended"]
    rows = [[e["piece"], e["composer"], e["variation"], e["prompt_tokens"], e["new_tokens"], e["notes"],
             e["seconds"], e["ended"]] for e in entries]
    samples = [{"name": f"{e['piece']} · variation {e['variation']}",
                "caption": ", ".join(str(v) for v in (e["composer"], e["period"]) if v)
                + f"; {e['new_tokens']} new tokens, {e['seconds']:g} s",
                "audio": [e["audio"]], "midi": [e["midi"], e["prompt_midi"]], "image": [e["png"]]} for e in entries]
    settings = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in sampling.items()
                         if v is not None)
    return {"family": "aria", "family_title": "Aria", "title": "Prompt continuations (fine-tuned LM)", "order": 20,
            "text": f"Held-out test pieces: the first {prompt_s:g} s are the prompt (blue in the piano roll), "
                    f"the rest is sampled ({settings}). Audio rendered with FluidSynth; MIDI of the "
                    "continuation and of the prompt alone.",
            "tables": [{"caption": "Each continuation: ended = the model emitted its end token.",
                        "columns": cols, "rows": rows}],
            "samples": samples}


@flow(name="aria_generate")
def generate() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("aria_generate"), load_section("runtime"), repo_root()
    tok = tokenizer_for(root / MODEL / "model.safetensors")
    device = resolve_device(rt.device) if p.backend == "torch" else "cpu"
    model = load_model(root / MODEL, tok, p.backend, device)
    midi_of = {r["id"]: r["midi"] for r in read_jsonl(root / INGEST / "index.jsonl")}
    chosen = choose(TokenStore(root / TOKENS / "test").labels, dict(p.filters), p.pieces, base.seed)
    sampling = Sampling(p.temp, p.min_p, p.top_p, p.top_k).resolved()
    soundfont = resolve_soundfont(p.audio.soundfont, root)
    entries, new_tokens, gen_seconds = [], 0, 0.0
    with StageOutputs("aria_generate", [OUT]) as out:
        for i, label in enumerate(chosen):
            piece_dir = out[OUT] / label["id"]
            piece_dir.mkdir()
            prompt = prompt_tokens(tok, read_prompt(root / INGEST / midi_of[label["id"]]), p.prompt_duration,
                                   prefix_metadata(label))
            n_prompt_notes = len(to_piece(tok, tok.encode(prompt)).notes)
            write_midi(tok, tok.encode(prompt), piece_dir / "prompt.mid")
            t0 = time.perf_counter()
            outs = continue_prompt(model, tok, prompt, variations=p.variations, length=p.length,
                                   sampling=sampling, end=p.end, seed=base.seed + i, backend=p.backend)
            gen_seconds += time.perf_counter() - t0
            for k, ids in enumerate(outs):
                rel = f"{label['id']}/var{k}"
                piece = write_midi(tok, ids, out[OUT] / f"{rel}.mid")
                piano_roll(piece, n_prompt_notes, out[OUT] / f"{rel}.png",
                           title=f"{label['id']} variation {k}: prompt {p.prompt_duration:g} s (blue) + continuation")
                audio = render_midi((out[OUT] / f"{rel}.mid").read_bytes(), p.audio, soundfont, p.sample_rate,
                                    p.max_seconds)
                sf.write(out[OUT] / f"{rel}.wav", audio, p.sample_rate)
                new = len(ids) - len(prompt)
                new_tokens += new
                entries.append({"piece": label["id"], "composer": label.get("composer"),
                                "period": label.get("period"), "variation": k, "prompt_tokens": len(prompt),
                                "new_tokens": new, "notes": len(piece.notes), "prompt_notes": n_prompt_notes,
                                "ended": ids[-1] == tok.eos_id, "has_dim": tok.dim_id in ids[len(prompt):],
                                "seconds": round(max((n.end_ms for n in piece.notes), default=0) / 1000, 2),
                                "midi": f"{rel}.mid", "png": f"{rel}.png", "audio": f"{rel}.wav",
                                "prompt_midi": f"{label['id']}/prompt.mid"})
            log.info("generate %s: prompt %d tokens, %s new tokens", label["id"], len(prompt),
                     [len(ids) - len(prompt) for ids in outs])
        metrics = {"samples": len(entries), "pieces": len(chosen),
                   "mean_new_tokens": round(new_tokens / max(len(entries), 1), 1),
                   "ended_fraction": round(sum(e["ended"] for e in entries) / max(len(entries), 1), 3),
                   "generate_tokens_per_s": round(new_tokens / max(gen_seconds, 1e-9), 1)}
        write_json(out[OUT] / "index.json", {"model": MODEL, "tokenizer_hash": tok.config_hash(), "backend": p.backend,
                   "sampling": vars(sampling), "samples": entries})
        write_json(out[OUT] / "metrics.json", metrics)
        write_headline(out[OUT], generation_headline(entries, p.prompt_duration, vars(sampling)))
        out.commit(params_dump("base", "aria_generate"), inputs=[MODEL, f"{TOKENS}/test", INGEST],
                   seed=base.seed)
    log.info("generate: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(generate)
