"""Reconstruction and adversarial loss terms of EnCodec training (audiocraft's recipe, small).

- multi-scale mel: for each FFT size, L1 on mel magnitudes + L2 on log-mel (audiocraft's
  ``MultiScaleMelSpectrogramLoss``), mel filters from transformers' ``mel_filter_bank``;
  options: the log floor relative to each example's loudest real mel bin (``floor_db``) instead
  of audiocraft's absolute 1e-5, and L1 instead of L2 on the log-mel (``log_loss``)
- waveform L1
- adversarial: least-squares (``mse``, audiocraft's default for EnCodec) or ``hinge``
- feature matching: L1 between discriminator feature maps of fake and real, each layer
  normalised by the mean magnitude of the real one
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """[n_mels, n_fft // 2 + 1] Slaney mel filters."""
    from transformers.audio_utils import mel_filter_bank

    fb = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=sample_rate / 2,
        sampling_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(fb.T.copy()).float()


class MultiScaleMelLoss(nn.Module):
    """``floor_db``: None = log(mel + ``log_eps``) (audiocraft); a number = log(mel + eps) with eps
    ``floor_db`` dB below the example's loudest real mel bin, so the log term is level-invariant and
    bins far below the music saturate instead of dominating the gradient on quiet audio."""

    def __init__(
        self,
        sample_rate: int,
        n_ffts: Sequence[int] = (256, 512, 1024),
        n_mels: int = 64,
        log_eps: float = 1e-5,
        floor_db: float | None = None,
        log_loss: str = "l2",
    ) -> None:
        super().__init__()
        if log_loss not in ("l1", "l2"):
            raise ValueError(f"log_loss must be 'l1' or 'l2', got {log_loss!r}")
        self.n_ffts, self.log_eps = tuple(int(n) for n in n_ffts), log_eps
        self.floor_db, self.log_loss = floor_db, log_loss
        for n in self.n_ffts:
            # a mel bank wider than a quarter of the bins leaves empty filters
            self.register_buffer(f"fb{n}", mel_filters(sample_rate, n, min(n_mels, n // 4)), persistent=False)
            self.register_buffer(f"win{n}", torch.hann_window(n), persistent=False)

    def mel(self, x: torch.Tensor, n: int) -> torch.Tensor:
        spec = torch.stft(
            x.reshape(-1, x.shape[-1]).float(),
            n,
            n // 4,
            n,
            window=getattr(self, f"win{n}"),
            center=True,
            return_complex=True,
        ).abs()
        return getattr(self, f"fb{n}") @ spec

    def eps(self, real_mel: torch.Tensor) -> torch.Tensor | float:
        """The log floor for real mels [N, mels, frames]: absolute, or per example ([N, 1, 1])."""
        if self.floor_db is None:
            return self.log_eps
        peak = real_mel.detach().amax(dim=(1, 2), keepdim=True)
        return peak * 10 ** (-self.floor_db / 20) + 1e-12  # + tiny: an all-silent crop stays finite

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        total = fake.new_zeros((), dtype=torch.float32)
        dist = F.mse_loss if self.log_loss == "l2" else F.l1_loss
        for n in self.n_ffts:
            mf, mr = self.mel(fake, n), self.mel(real, n)
            eps = self.eps(mr)
            total = total + F.l1_loss(mf, mr) + dist(torch.log(mf + eps), torch.log(mr + eps))
        return total / len(self.n_ffts)


def generator_adv_loss(logits_fake: list[torch.Tensor], kind: str) -> torch.Tensor:
    if kind == "hinge":
        terms = [F.relu(1 - lf).mean() for lf in logits_fake]
    else:
        terms = [(1 - lf).pow(2).mean() for lf in logits_fake]
    return torch.stack(terms).mean()


def discriminator_adv_loss(
    logits_real: list[torch.Tensor], logits_fake: list[torch.Tensor], kind: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, real part, fake part), averaged over sub-discriminators."""
    if kind == "hinge":
        real = torch.stack([F.relu(1 - lr).mean() for lr in logits_real]).mean()
        fake = torch.stack([F.relu(1 + lf).mean() for lf in logits_fake]).mean()
    else:
        real = torch.stack([(1 - lr).pow(2).mean() for lr in logits_real]).mean()
        fake = torch.stack([lf.pow(2).mean() for lf in logits_fake]).mean()
    return real + fake, real, fake


def feature_matching_loss(fmaps_fake: list[list[torch.Tensor]], fmaps_real: list[list[torch.Tensor]]) -> torch.Tensor:
    terms = []
    for ff, fr in zip(fmaps_fake, fmaps_real):
        for a, b in zip(ff, fr):
            b = b.detach()
            terms.append(F.l1_loss(a, b) / (b.abs().mean() + 1e-8))
    return torch.stack(terms).mean()
