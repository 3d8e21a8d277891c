"""``codec_train``'s headline: the reconstruction table, the spectrogram figure, original/reconstruction pairs."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.report.headline import write_headline


def headline(m: dict, val_source: str, samples: list[dict]) -> dict:
    row = [
        "codec_train" + (" (fine-tuned)" if m.get("init_from") else ""),
        m["sample_rate"],
        m["n_q"],
        m["bins"],
        m["frame_rate"],
        m["bandwidth_kbps"],
        m.get("recon_si_snr_db"),
        m.get("recon_logmel_l1"),
        min(m.get("codebook_use") or [None]) if m.get("codebook_use") else None,
    ]
    return {
        "family": "valle",
        "family_title": "MIDI-VALLE",
        "title": "Neural codec (reconstruction)",
        "order": 20,
        "text": f"EnCodec-style codec (SEANet + residual VQ, adversarial MS-STFT training) on the rendered "
        f"segments; reconstruction measured on {m.get('recon_segments', 0)} held-out ({val_source}) "
        "segments: SI-SNR (higher is better), log-mel L1 (lower is better), smallest codebook use.",
        "tables": [
            {
                "caption": "Codec reconstruction",
                "columns": [
                    "codec",
                    "Hz",
                    "codebooks",
                    "bins",
                    "frames/s",
                    "kbps",
                    "SI-SNR dB",
                    "log-mel L1",
                    "min codebook use",
                ],
                "rows": [row],
            }
        ],
        "figures": ["plots/spectrograms.png"] if samples else [],
        "samples": [
            {"name": s["name"], "caption": f"original | reconstruction ({s.get('condition')})", "audio": s["audio"]}
            for s in samples
        ],
    }


def write_train_headline(report: Path, metrics: dict, val_source: str) -> None:
    """After the job: ``report`` holds its ``samples.json``."""
    samples = json.loads((report / "samples.json").read_text())
    write_headline(report, headline(metrics, val_source, samples))
