"""``valle_eval``'s work: the MIDI-VALLE table over ``data/valle_synthesize`` and its report.

Reads the synthesised segments, scores every system (``pipeline.valle.evaluate``) and writes
``metrics.json`` (every number), ``headline.json`` (the table, side-by-side samples, spectrograms),
``samples/*.flac`` and ``plots/spectrograms.png`` into the report dir; both name the weights used
(the codec's and VALL-E's released file and hash, from valle_synthesize's ``summary.json``).
headline.json's tables: the system table (over all segments), the codec table (the paper's Table 3:
our codec's reconstruction, which valle_synthesize wrote, and each ``baseline_codecs`` codec's, vs
the ground truth; ``metrics.json`` ``codecs``), then, when the recordings manifest's ``dataset``
column puts the segments in several datasets, the system table per dataset (``datasets``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from pipeline.codec import load as load_codec
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.data.recordings import read_pairs
from pipeline.orchestration.stage import hash_path
from pipeline.params.valle import ValleEvalParams
from pipeline.report.headline import write_headline
from pipeline.train.released import resolve_init
from pipeline.valle.evaluate import (
    SYSTEM_NAMES,
    codec_rows,
    dataset_groups,
    distance_table,
    embed_each,
    fad_table,
    headline_rows,
    logmel_embedder,
    present,
    subset,
    wave_features,
)

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
CODEC_TEXT = (
    " Codec table (the paper's Table 3): each codec's reconstruction (encode, decode) of the same "
    "ground-truth segments, spectrogram and chroma distance to them (lower is better), 95% intervals; "
    "ours is the codec_train model the segments were synthesised with."
)
DATASET_TEXT = (
    " The segments come from {n} datasets ({names}): one table per dataset follows (the paper's Table 4 columns)."
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


def codec_label(w: dict | None) -> str:
    """Our codec's row, named by its weights (summary.json ``weights.codec``)."""
    if not w:
        return "ours (models/codec_train)"
    init, steps = w.get("init"), w.get("steps")
    if not init:
        return f"ours: {w['model']} (trained here, {steps} steps)"
    return f"ours: {init['path']}" + ("" if steps == 0 else f" (+{steps} steps here)")


def load_baselines(paths: dict[str, str], root: Path, sample_rate: int) -> dict[str, dict]:
    """``valle_eval.baseline_codecs`` ({label: path under weights/valle_eval/}) loaded: {label: {path,
    hash, codec}}; a codec at another sample rate than the segments is refused, naming both."""
    out = {}
    for label, value in paths.items():
        rel = resolve_init("valle_eval", value, root, key=f"baseline_codecs[{label!r}]")
        codec = load_codec(root / rel)
        if codec.sample_rate != sample_rate:
            raise ValueError(
                f"valle_eval.baseline_codecs[{label!r}]: {rel} is a {codec.sample_rate} Hz codec, the "
                f"segments in data/valle_synthesize are {sample_rate} Hz"
            )
        out[label] = {"path": rel, "hash": hash_path(root / rel), "codec": codec}
    return out


@torch.inference_mode()
def reconstruct(codec, wave: np.ndarray) -> np.ndarray:
    """``wave`` encoded and decoded by ``codec``, cut to its length (as valle_synthesize's codec row)."""
    recon = codec.decode(codec.encode(torch.from_numpy(wave)[None, None]))[0].mean(0).float().numpy()
    return recon[: len(wave)]


def recording_datasets(synth: Path, root: Path) -> dict[str, str]:
    """{recording id: dataset} from the recordings manifest the synthesised corpus was rendered from
    (``render_audio.real_recordings`` as valle_synthesize's manifest.json records it, its optional
    ``dataset`` column); {} for a FluidSynth corpus or a manifest without datasets."""
    manifest = json.loads((synth / "manifest.json").read_text()) if (synth / "manifest.json").is_file() else {}
    rel = manifest.get("params", {}).get("render_audio", {}).get("real_recordings")
    if not rel:
        return {}
    return {r["id"]: r["dataset"] for r in read_pairs(root / rel) if r.get("dataset")}


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


def write_eval_report(
    synth: Path,
    codec,
    p: ValleEvalParams,
    seed: int,
    d: Path,
    baselines: dict[str, dict] | None = None,
    datasets: dict[str, str] | None = None,
) -> dict:
    """Score ``synth`` and write the report into ``d``; returns the metrics (``table``: the rows).
    ``baselines``: {label: {path, hash, codec}} rows of the codec table beside ours (``load_baselines``);
    ``datasets``: {recording id: dataset}, one more table per dataset when there are several."""
    index = read_jsonl(synth / "index.jsonl")
    summary = json.loads((synth / "summary.json").read_text())
    sr = summary["sample_rate"]
    waves = {
        s: [sf.read(str(synth / "segments" / s / f"{r['id']}.flac"), dtype="float32")[0] for r in index]
        for s in ("truth", *SYSTEM_NAMES)
    }

    def codec_latents(w):
        return codec.latents(torch.from_numpy(w)[None, None]).squeeze(0).double().numpy()

    emb = embed_each(waves, {"codec": codec_latents, "logmel": logmel_embedder(sr)})
    feats = wave_features(waves, sr)
    fads = fad_table(present(emb), p.n_boot, p.fad_inf_steps, p.fad_inf_min_n, seed)
    dist = distance_table(feats, p.n_boot, seed)
    cols, rows = headline_rows(fads, dist)
    weights = summary.get("weights", {})  # what synthesised and what scores: named in the report

    # the codec table: ours (the reconstructions valle_synthesize wrote) + each baseline codec's
    baselines = baselines or {}
    ours = codec_label(weights.get("codec"))
    row = dist["codec"]
    codecs = {
        ours: {"weights": weights.get("codec"), "vs_truth": row["vs_truth"], "skipped": row["skipped"]["vs_truth"]}
    }
    if baselines:
        recon = {label: [reconstruct(b["codec"], w) for w in waves["truth"]] for label, b in baselines.items()}
        base_feats = wave_features(recon, sr) | {"truth": feats["truth"]}
        base_dist = distance_table(base_feats, p.n_boot, seed, systems=tuple(recon), references=("truth",))
        for label, b in baselines.items():
            codecs[f"{label}: {b['path']}"] = {
                "weights": {"path": b["path"], "hash": b["hash"], "sample_rate": b["codec"].sample_rate},
                "vs_truth": base_dist[label]["vs_truth"],
                "skipped": base_dist[label]["skipped"]["vs_truth"],
            }
    codec_cols, codec_table = codec_rows(codecs)

    # one block per dataset (the paper's Table 4 columns), when the segments span several
    datasets = datasets or {}
    groups = dataset_groups([datasets.get(r["recording_id"]) for r in index])
    per_dataset, dataset_tables = {}, []
    for name, keep in groups.items():
        sub_fads = fad_table(present(subset(emb, keep)), p.n_boot, p.fad_inf_steps, p.fad_inf_min_n, seed)
        sub_dist = distance_table(subset(feats, keep), p.n_boot, seed)
        recs = {r["recording_id"] for r, k in zip(index, keep) if k}
        per_dataset[name] = {"segments": sum(keep), "recordings": len(recs), "fad": sub_fads, "distances": sub_dist}
        dataset_tables.append(
            {
                "caption": f"dataset {name}: {sum(keep)} segments of {len(recs)} recording{'s' * (len(recs) > 1)}, "
                "lower is better",
                "columns": cols,
                "rows": headline_rows(sub_fads, sub_dist)[1],
            }
        )

    samples = copy_samples(index, synth, d, p.samples, sr)
    metrics = {
        "split": summary["split"],
        "segments": len(index),
        "weights": weights,
        "fad": fads,
        "distances": dist,
        "codecs": codecs,
        "datasets": per_dataset,
        "synthesis": summary,
    }
    write_json(d / "metrics.json", metrics)
    caption = f"{summary['split']} split, {len(index)} segments: lower is better"
    if summary["split"] != "test":
        caption += f" (this corpus has no held-out test recordings; synthesised from the {summary['split']} split)"
    if groups:
        caption = f"all datasets, {caption}"
    # what the prompts were, as synthesised (a real-audio corpus has one condition: no "other condition")
    text = TEXT.format(
        n=len(index),
        split=summary["split"],
        recs=len(recordings(index)),
        prompt_s=", ".join(sorted({f"{r['prompt_frames'] / codec.frame_rate:g}" for r in index})) or "no",
        relations=", ".join(sorted({r["prompt_relation"].replace("_", " ") for r in index})) or "none",
        baseline=", ".join(sorted({f"'{r.get('baseline_condition', r['prompt_condition'])}'" for r in index})) or "-",
    )
    text += CODEC_TEXT
    if groups:
        text += DATASET_TEXT.format(n=len(groups), names=", ".join(groups))
    text += " " + weights_text(weights) if weights else ""
    codec_caption = f"codec reconstruction of the {len(index)} ground-truth segments: lower is better"
    write_headline(
        d,
        {
            "family": "valle",
            "family_title": "MIDI-VALLE",
            "title": "Audio quality (MIDI-VALLE table)",
            "order": 10,
            "text": text,
            "tables": [
                {"caption": caption, "columns": cols, "rows": rows},
                {"caption": codec_caption, "columns": codec_cols, "rows": codec_table},
                *dataset_tables,
            ],
            "figures": ["plots/spectrograms.png"] if samples else [],
            "samples": samples,
        },
    )
    return metrics | {"table": rows, "codec_table": codec_table}
