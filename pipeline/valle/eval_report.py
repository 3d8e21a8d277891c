"""``valle_eval``'s work: the MIDI-VALLE table over ``data/valle_synthesize`` and its report.

Reads the synthesised segments, scores every system (``pipeline.valle.evaluate``) and writes
``metrics.json`` (every number), ``headline.json`` (the table, side-by-side samples, spectrograms),
``samples/*.flac`` and ``plots/spectrograms.png`` into the report dir; both name the weights used
(the codec's and VALL-E's released file and hash, from valle_synthesize's ``summary.json``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.params.valle import ValleEvalParams
from pipeline.report.headline import write_headline
from pipeline.valle.evaluate import SYSTEM_NAMES, distances, embed_all, fad_table, headline_rows, logmel_embedder

TEXT = (
    "{n} segments ({split} split) of {recs} recordings, each prompted by {prompt_s} s of another recording "
    "({relations}; the FluidSynth baseline renders in {baseline}). FAD against the ground-truth segments and "
    "against their codec reconstructions, on the codec's latents and on log-mel frames, 95% bootstrap "
    "intervals; FAD-inf extrapolates to infinitely many frames. Chroma and spectrogram distances (score-to-"
    "audio's objective_eval, as MIDI-VALLE reports them; the paper's Table 4 gives spectrogram distance vs "
    "reconstruction and chroma vs ground truth) are per segment against the ground truth and against its "
    "codec reconstruction (lower is better); the last column is this project's earlier mel variant with dB "
    "scaled to [0, 1]."
)


def spectrogram_figure(files: dict[str, Path], sr: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipeline.eval.audio_distance import mel_db

    fig, axes = plt.subplots(len(files), 1, figsize=(9, 2.0 * len(files)), squeeze=False)
    for ax, (name, path) in zip(axes[:, 0], files.items()):
        wave, rate = sf.read(str(path), dtype="float32")
        ax.imshow(
            mel_db(wave, rate) if len(wave) else np.zeros((80, 1)),
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=0,
            vmax=1,
        )
        ax.set_ylabel(name, fontsize=8)
        ax.set_xticks([])
    axes[-1, 0].set_xlabel("time (12 ms frames), 80 mel bins, dB scaled to [0, 1]")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)


def weights_text(weights: dict) -> str:
    """One sentence naming the weights each model came from (``summary.json`` ``weights``, written
    by valle_synthesize from the model dirs' manifests): the released file and its content hash,
    and whether it was imported unchanged or trained further here."""
    names = {"valle": "VALL-E", "codec": "codec"}
    parts = []
    for system, w in weights.items():
        init, steps = w.get("init"), w.get("steps")
        if init:
            how = "imported unchanged" if steps == 0 else f"then trained {steps} steps here"
            parts.append(f"{names.get(system, system)}: {init['path']} (hash {init['hash']}, {how})")
        else:
            parts.append(f"{names.get(system, system)}: {w['model']} (trained here from scratch, {steps} steps)")
    return "Weights used: " + "; ".join(parts) + "."


def recordings(index: list[dict]) -> list[str]:
    """Recording ids in index order, each once."""
    return list(dict.fromkeys(r["recording_id"] for r in index))


def copy_samples(index: list[dict], synth: Path, d: Path, n: int, sr: int) -> list[dict]:
    """The first ``n`` recordings' prompt, truth, baseline and VALL-E pieces as headline samples;
    the first one's spectrograms as ``plots/spectrograms.png``."""
    samples = []
    for k, rec in enumerate(recordings(index)[:n]):
        row = next(r for r in index if r["recording_id"] == rec)
        baseline = row.get("baseline_condition", row["prompt_condition"])
        files = {"prompt": synth / "prompts" / f"{rec}.flac"}
        files |= {s: synth / "pieces" / s / row["piece_file"] for s in ("truth", "baseline", "valle")}
        names = []
        for s, src in files.items():
            dst = d / "samples" / f"{k}_{s}.flac"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            names.append(f"samples/{k}_{s}.flac")
        samples.append(
            {
                "name": f"{rec} prompted in '{row['prompt_condition']}'",
                "caption": f"prompt ({row['prompt_recording']}, {row['prompt_relation']}), ground "
                f"truth ({row['condition']}), FluidSynth in '{baseline}', "
                "VALL-E",
                "audio": names,
            }
        )
        if k == 0:
            spectrogram_figure({s: d / f"samples/{k}_{s}.flac" for s in files}, sr, d / "plots" / "spectrograms.png")
    return samples


def write_eval_report(synth: Path, codec, p: ValleEvalParams, seed: int, d: Path) -> dict:
    """Score ``synth`` and write the report into ``d``; returns the metrics (``table``: the rows)."""
    index = read_jsonl(synth / "index.jsonl")
    summary = json.loads((synth / "summary.json").read_text())
    sr = summary["sample_rate"]
    waves = {
        s: [sf.read(str(synth / "segments" / s / f"{r['id']}.flac"), dtype="float32")[0] for r in index]
        for s in ("truth", *SYSTEM_NAMES)
    }

    def codec_latents(w):
        return codec.latents(torch.from_numpy(w)[None, None]).squeeze(0).double().numpy()

    emb = embed_all(waves, {"codec": codec_latents, "logmel": logmel_embedder(sr)})
    fads = fad_table(emb, p.n_boot, p.fad_inf_steps, p.fad_inf_min_n, seed)
    dist = distances(waves, sr, p.n_boot, seed)
    cols, rows = headline_rows(fads, dist)
    samples = copy_samples(index, synth, d, p.samples, sr)
    weights = summary.get("weights", {})  # what synthesised and what scores: named in the report
    metrics = {
        "split": summary["split"],
        "segments": len(index),
        "weights": weights,
        "fad": fads,
        "distances": dist,
        "synthesis": summary,
    }
    write_json(d / "metrics.json", metrics)
    caption = f"{summary['split']} split, {len(index)} segments: lower is better"
    if summary["split"] != "test":
        caption += f" (this corpus has no held-out test recordings; synthesised from the {summary['split']} split)"
    # what the prompts were, as synthesised (a real-audio corpus has one condition: no "other condition")
    text = TEXT.format(
        n=len(index),
        split=summary["split"],
        recs=len(recordings(index)),
        prompt_s=", ".join(sorted({f"{r['prompt_frames'] / codec.frame_rate:g}" for r in index})) or "no",
        relations=", ".join(sorted({r["prompt_relation"].replace("_", " ") for r in index})) or "none",
        baseline=", ".join(sorted({f"'{r.get('baseline_condition', r['prompt_condition'])}'" for r in index})) or "-",
    )
    text += " " + weights_text(weights) if weights else ""
    write_headline(
        d,
        {
            "family": "valle",
            "family_title": "MIDI-VALLE",
            "title": "Audio quality (MIDI-VALLE table)",
            "order": 10,
            "text": text,
            "tables": [{"caption": caption, "columns": cols, "rows": rows}],
            "figures": ["plots/spectrograms.png"] if samples else [],
            "samples": samples,
        },
    )
    return metrics | {"table": rows}
