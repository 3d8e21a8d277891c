"""Reconstruction quality of a codec on held-out segments: SI-SNR, log-mel distance, codebook use.

``reconstruct(codec, wave)`` is encode -> decode trimmed to the input length (what the codec
gives VALL-E and the audio table). ``recon_metrics`` averages over segments; codebook use is
the fraction of each codebook's entries that appear, and its perplexity (exp entropy of the code
histogram), the usual signs of a collapsed codebook.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from pipeline.codec.losses import MultiScaleMelLoss
from pipeline.codec.model import Codec
from pipeline.codec.objective import si_snr


@torch.no_grad()
def reconstruct(codec: Codec, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reconstruction float32 [T], codes int64 [n_q, frames]) of mono ``wave``."""
    dev = next(codec.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None, None].to(dev)
    codes = codec.encode(x)
    audio = codec.decode(codes)[0, 0, : x.shape[-1]]
    return audio.float().cpu().numpy(), codes[0].cpu().numpy()


@torch.no_grad()
def recon_metrics(codec: Codec, waves: Sequence[np.ndarray]) -> tuple[dict, list[np.ndarray]]:
    """(metrics, reconstructions) over ``waves``."""
    if not len(waves):
        return {}, []
    codec.eval()
    mel = MultiScaleMelLoss(codec.sample_rate, (512,), 64)
    snrs, mels, counts, recons = [], [], np.zeros((codec.n_q, codec.bins)), []
    for w in waves:
        rec, codes = reconstruct(codec, w)
        recons.append(rec)
        x, y = torch.from_numpy(rec)[None, None], torch.from_numpy(np.asarray(w, np.float32))[None, None]
        snrs.append(float(si_snr(x, y)[0]))
        mx, my = mel.mel(x, 512), mel.mel(y, 512)
        mels.append(float((torch.log(mx + 1e-5) - torch.log(my + 1e-5)).abs().mean()))
        for q in range(codec.n_q):
            counts[q] += np.bincount(codes[q], minlength=codec.bins)
    probs = counts / counts.sum(axis=1, keepdims=True)
    ent = -(np.where(probs > 0, probs * np.log(np.where(probs > 0, probs, 1)), 0)).sum(axis=1)
    metrics = {
        "recon_si_snr_db": round(float(np.mean(snrs)), 3),
        "recon_logmel_l1": round(float(np.mean(mels)), 4),
        "codebook_use": [round(float((c > 0).mean()), 4) for c in counts],
        "codebook_perplexity": [round(float(math.exp(e)), 2) for e in ent],
        "recon_segments": len(waves),
    }
    return metrics, recons


def spectrogram_figure(path: Path, pairs: Sequence[tuple[str, np.ndarray, np.ndarray]], sample_rate: int) -> Path:
    """Log-mel of original vs reconstruction, one row per segment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mel = MultiScaleMelLoss(sample_rate, (1024,), 64)
    fig, axes = plt.subplots(len(pairs), 2, figsize=(9, 2.2 * len(pairs)), squeeze=False)
    for row, (name, orig, rec) in enumerate(pairs):
        for col, (title, w) in enumerate((("original", orig), ("reconstruction", rec))):
            m = mel.mel(torch.from_numpy(np.asarray(w, np.float32))[None, None], 1024)[0]
            axes[row, col].imshow(torch.log(m + 1e-5).numpy(), origin="lower", aspect="auto", cmap="magma")
            axes[row, col].set_title(f"{name}: {title}", fontsize=8)
            axes[row, col].set_xticks([]), axes[row, col].set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
