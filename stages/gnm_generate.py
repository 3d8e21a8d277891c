"""DVC stage ``gnm_generate``: N pieces per mastery composer from the mastery and scratch models,
and N pieces from the generality model (``Composer_None``), as upstream's ``inference_score``.

Temperature then nucleus sampling, the beat grammar guard (a logits processor with a give-up
bound), bar and event caps, KV-cache decoding (pipeline/gnm/generation.py). Per piece:
``reports/gnm_generate/<model>/<Composer>/<k>.{txt,mid,png,flac}`` (events, MIDI, piano roll,
FluidSynth audio); ``index.json`` lists them, ``metrics.json`` has tokens/s and guard counts.
"""

from __future__ import annotations

import json
import time
import zlib

import soundfile as sf
from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.gnm.decode import write_midi
from pipeline.gnm.generation import sample_pieces
from pipeline.gnm.load import load
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.report.figures import plot_piano_roll
from pipeline.train.distributed import resolve_device

OUT, TOKENS = "reports/gnm_generate", "data/tokens/remi"
MODELS = {"generality": "models/gnm_pretrain", "mastery": "models/gnm_finetune", "scratch": "models/gnm_scratch"}


@flow(name="gnm_generate")
def gnm_generate() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("gnm_generate"), load_section("runtime"), repo_root()
    meta = json.loads((root / TOKENS / "tokenizer_meta.json").read_text())
    device = resolve_device(rt.device)
    soundfont = resolve_soundfont(p.audio.soundfont, root)
    entries, stats = [], {"events": 0, "seconds": 0.0, "gave_up": 0}
    with StageOutputs("gnm_generate", [OUT]) as out:
        for name in p.models:
            model = load(root / MODELS[name], device=device)
            composers = [None] if name == "generality" else meta["mastery_composers"]
            for composer in composers:
                label = composer or "None"
                seed = base.seed + zlib.crc32(f"{name}/{label}".encode()) % 100_000
                t0 = time.perf_counter()
                pieces, info = sample_pieces(model, model.vocab, composer, p.pieces, seed=seed,
                                             temperature=p.temperature, top_p=p.top_p, max_bars=p.max_bars,
                                             max_events=p.max_events, max_fails=p.max_fails)
                stats["seconds"] += time.perf_counter() - t0
                stats["events"] += sum(info["events"])
                stats["gave_up"] += info["gave_up"]
                for k, events in enumerate(pieces):
                    rel = f"{name}/{label}/{k}"
                    (out[OUT] / rel).parent.mkdir(parents=True, exist_ok=True)
                    (out[OUT] / f"{rel}.txt").write_text("\n".join(events) + "\n")
                    midi = write_midi(events, out[OUT] / f"{rel}.mid")
                    png = plot_piano_roll(out[OUT] / f"{rel}.mid", out[OUT] / f"{rel}.png",
                                          f"{name} model, Composer_{label}, piece {k}")
                    audio = render_midi((out[OUT] / f"{rel}.mid").read_bytes(), p.audio, soundfont,
                                        p.sample_rate, p.max_seconds)
                    sf.write(out[OUT] / f"{rel}.flac", audio, p.sample_rate)
                    entries.append({"model": name, "composer": label, "index": k, "events": len(events),
                                    "bars": midi["bars"], "notes": midi["notes"], "tempo": midi["tempo"],
                                    "txt": f"{rel}.txt", "midi": f"{rel}.mid", "audio": f"{rel}.flac",
                                    "image": f"{rel}.png" if png else None})
                log.info("gnm_generate %s %s: %d pieces, events %s, gave up %d", name, label, len(pieces),
                         info["events"], info["gave_up"])
        metrics = {"pieces": len(entries), "events": stats["events"], "guard_gave_up": stats["gave_up"],
                   "tokens_per_s": round(stats["events"] / max(stats["seconds"], 1e-9), 1),
                   "mean_events": round(stats["events"] / max(len(entries), 1), 1)}
        write_json(out[OUT] / "index.json", {"composers": meta["mastery_composers"], "models": p.models, "samples": entries})
        write_json(out[OUT] / "metrics.json", metrics)
        out.commit(params_dump("base", "gnm_generate"), inputs=[MODELS[m] for m in p.models] + [TOKENS],
                   seed=base.seed)
    log.info("gnm_generate: %s", metrics)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_generate)
