"""DVC stage ``codec_train``: the EnCodec-style codec, trained adversarially on segment audio
(or fine-tuned from a user's local checkpoint, ``codec_train.init_from``).

Outputs ``models/codec_train/`` (config.json + model.safetensors, loadable with
``pipeline.codec.load``) and ``reports/codec_train/`` (metrics.json with the reconstruction
metrics, plots/loss.csv with every loss term, plots/spectrograms.png, samples/, headline.json).
Checkpoints go to ``models/.ckpt/codec_train/``; a killed run resumes there with unchanged params.
"""

from __future__ import annotations

import json
from dataclasses import replace

from prefect import flow, get_run_logger

from pipeline.codec.config import preset
from pipeline.codec.model import CodecSampleRateError
from pipeline.codec.segments import read_specs, spread
from pipeline.codec.train_job import ENTRY
from pipeline.config import load_section, repo_root
from pipeline.orchestration.stage import StageOutputs, hash_path, params_dump
from pipeline.report.headline import write_headline
from pipeline.train import checkpoint as ckpt
from pipeline.train.job import run_training, train_config

MODEL, REPORT, CUTS = "models/codec_train", "reports/codec_train", "data/segment/cuts.jsonl.gz"
CKPT = "models/.ckpt/codec_train"


def codec_config(p) -> dict:
    m = p.model
    overrides = {k: v for k, v in m.model_dump().items() if k != "preset" and v is not None}
    return replace(preset(m.preset), **overrides).to_dict()


def pick_segments(specs: list[dict], p) -> tuple[list[dict], list[dict], str]:
    train = spread([s for s in specs if s["split"] == "train"], p.max_segments)
    held = [s for s in specs if s["split"] == "val"] or [s for s in specs if s["split"] == "test"]
    source = "val" if held and held[0]["split"] == "val" else "test" if held else "train"
    val = spread(held or train, p.val_segments) if p.val_segments else []
    return train, val, source


def headline(m: dict, val_source: str, samples: list[dict]) -> dict:
    row = ["codec_train" + (" (fine-tuned)" if m.get("init_from") else ""), m["sample_rate"], m["n_q"], m["bins"],
           m["frame_rate"], m["bandwidth_kbps"], m.get("recon_si_snr_db"), m.get("recon_logmel_l1"),
           min(m.get("codebook_use") or [None]) if m.get("codebook_use") else None]
    return {"family": "valle", "family_title": "MIDI-VALLE", "title": "Neural codec (reconstruction)", "order": 20,
            "text": f"EnCodec-style codec (SEANet + residual VQ, adversarial MS-STFT training) on the rendered "
                    f"segments; reconstruction measured on {m.get('recon_segments', 0)} held-out ({val_source}) "
                    "segments: SI-SNR (higher is better), log-mel L1 (lower is better), smallest codebook use.",
            "tables": [{"caption": "Codec reconstruction", "columns": ["codec", "Hz", "codebooks", "bins", "frames/s",
                                                                       "kbps", "SI-SNR dB", "log-mel L1", "min codebook use"],
                        "rows": [row]}],
            "figures": ["plots/spectrograms.png"] if samples else [],
            "samples": [{"name": s["name"], "caption": f"original | reconstruction ({s.get('condition')})",
                         "audio": s["audio"]} for s in samples]}


@flow(name="codec_train")
def codec_train() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("codec_train"), load_section("runtime"), repo_root()
    specs = read_specs(root / CUTS, root, p.conditions)
    if not specs:
        raise ValueError(f"codec_train: no segments in {CUTS} for conditions {p.conditions}")
    codec = codec_config(p)
    rates = sorted({s["sample_rate"] for s in specs})
    if not p.init_from and rates != [codec["sample_rate"]]:
        raise CodecSampleRateError(f"segments are at {rates} Hz but codec preset {p.model.preset!r} takes "
                                   f"{codec['sample_rate']} Hz: set render_audio.sample_rate to {codec['sample_rate']}")
    init_from = str(root / p.init_from) if p.init_from else None
    if init_from and not (root / p.init_from).exists():
        raise FileNotFoundError(f"codec_train.init_from: {init_from} does not exist")
    train, val, val_source = pick_segments(specs, p)
    with StageOutputs("codec_train", [MODEL, REPORT]) as out:
        job = {"stage": "codec_train", "codec": codec, "init_from": init_from, "sample_rate": rates[0],
               "train": train_config(p, base.seed, rt.device) | {"disc_lr": p.disc_lr, "adv_start": p.adv_start},
               "batch_size": p.batch_size, "crop_s": p.crop_s,
               "vq_warmup": p.vq_warmup, "kmeans_crops": p.kmeans_crops, "weights": p.weights.model_dump(),
               "adv_loss": p.adv_loss, "disc_filters": p.disc_filters, "disc_n_ffts": list(p.disc_n_ffts),
               "mel_n_ffts": list(p.mel_n_ffts), "n_mels": p.n_mels, "mel_floor_db": p.mel_floor_db,
               "mel_log_loss": p.mel_log_loss, "mel_after_warmup": p.mel_after_warmup, "samples": p.samples,
               "train_segments": train, "val_segments": val,
               "ckpt_dir": str(root / CKPT), "model_dir": str(out[MODEL]), "report_dir": str(out[REPORT]),
               "fingerprint": {"params": p.model_dump(mode="json"), "cuts": hash_path(root / CUTS),
                               "init_from": hash_path(root / p.init_from) if p.init_from else None}}
        log.info("codec_train: %s codec, %d train / %d %s segments, %d steps, launcher %s x%d",
                 p.init_from or p.model.preset, len(train), len(val), val_source, p.steps, rt.launcher,
                 rt.nproc_per_node)
        metrics = run_training(ENTRY, job, rt.launcher, rt.nproc_per_node)
        samples = json.loads((out[REPORT] / "samples.json").read_text())
        write_headline(out[REPORT], headline(metrics, val_source, samples))
        out.commit(params_dump("base", "codec_train"), inputs=[CUTS], seed=base.seed,
                   extra={"metrics": metrics, "init_from": job["fingerprint"]["init_from"]})
    ckpt.clear(root / CKPT)
    log.info("codec_train: SI-SNR %.2f dB, log-mel L1 %.3f, %.0f samples/s", metrics.get("recon_si_snr_db") or 0,
             metrics.get("recon_logmel_l1") or 0, metrics.get("samples_per_s") or 0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(codec_train)
