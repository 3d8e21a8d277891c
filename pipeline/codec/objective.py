"""The codec's adversarial objective (plugs into ``pipeline.train.adversarial``).

Generator loss = l1 * |x - x^| + mel * multi-scale mel + commit * commitment
               + adv * adversarial(D(x^)) + feat * feature matching(D(x^), D(x)),
(the mel term's log floor and log distance: ``mel_floor_db``, ``mel_log_loss``, see losses.py),
the adversarial terms only once the loop says so (``adversarial=True``).
Discriminator loss = LS-GAN (``mse``) or hinge on D(x) vs D(x^.detach()).
Weights default to audiocraft's EnCodec recipe (l1 0.1, mel 2, commit 1, adv 3, feat 3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from pipeline.codec.losses import (
    MultiScaleMelLoss,
    discriminator_adv_loss,
    feature_matching_loss,
    generator_adv_loss,
)
from pipeline.train.objectives import Loss


@dataclass(frozen=True)
class LossWeights:
    l1: float = 0.1
    mel: float = 2.0
    commit: float = 1.0
    adv: float = 3.0
    feat: float = 3.0


class CodecObjective:
    name = "codec"

    def __init__(
        self,
        sample_rate: int,
        weights: LossWeights = LossWeights(),
        adv_loss: str = "mse",
        mel_n_ffts: tuple[int, ...] = (256, 512, 1024),
        n_mels: int = 64,
        mel_floor_db: float | None = None,
        mel_log_loss: str = "l2",
        mel_after_warmup: bool = False,
    ) -> None:
        if adv_loss not in ("mse", "hinge"):
            raise ValueError(f"adv_loss must be 'mse' or 'hinge', got {adv_loss!r}")
        self.weights, self.adv_loss, self.mel_after_warmup = weights, adv_loss, mel_after_warmup
        self.mel = MultiScaleMelLoss(sample_rate, mel_n_ffts, n_mels, floor_db=mel_floor_db, log_loss=mel_log_loss)
        self._hp = {
            "sample_rate": sample_rate,
            "weights": asdict(weights),
            "adv_loss": adv_loss,
            "mel_n_ffts": list(mel_n_ffts),
            "n_mels": n_mels,
            "mel_floor_db": mel_floor_db,
            "mel_log_loss": mel_log_loss,
            "mel_after_warmup": mel_after_warmup,
        }

    def hparams(self) -> dict:
        return dict(self._hp)

    def setup(self, model, device: torch.device) -> None:
        self.mel.to(device)

    def to(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        return batch.to(device, dtype=torch.float32, non_blocking=True)

    def batch_tokens(self, batch: torch.Tensor) -> int:
        """Audio samples fed to the codec (the loop reports samples/s)."""
        return int(batch.numel())

    def _mel_weight(self, gen) -> float:
        """0 during the unquantized warm-up when ``mel_after_warmup`` (waveform L1 first sets the phase)."""
        codec = getattr(gen, "module", gen)  # DDP wraps the codec
        warming = getattr(codec, "defer_quantizer", False) and not codec.quantizer_ready
        return 0.0 if self.mel_after_warmup and warming else self.weights.mel

    def _recon(
        self, fake: torch.Tensor, real: torch.Tensor, commit: torch.Tensor, mel_weight: float
    ) -> tuple[torch.Tensor, dict]:
        w = self.weights
        l1 = (fake - real).abs().mean()
        mel = self.mel(fake, real)
        total = w.l1 * l1 + mel_weight * mel + w.commit * commit
        return total, {"l1": _f(l1), "mel": _f(mel), "commit": _f(commit)}

    def generator_step(self, gen, disc, batch: torch.Tensor, adversarial: bool) -> tuple[Loss, torch.Tensor]:
        """(generator loss, the detached reconstruction for the discriminator step)."""
        fake, commit, _ = gen(batch)
        total, stats = self._recon(fake, batch, commit, self._mel_weight(gen))
        if adversarial:
            logits_fake, fmaps_fake = disc(fake)
            with torch.no_grad():
                _, fmaps_real = disc(batch)
            adv = generator_adv_loss(logits_fake, self.adv_loss)
            feat = feature_matching_loss(fmaps_fake, fmaps_real)
            total = total + self.weights.adv * adv + self.weights.feat * feat
            stats |= {"adv": _f(adv), "feat": _f(feat)}
        return Loss(total, torch.tensor(float(batch.shape[0])), stats), fake.detach()

    def discriminator_step(self, disc, batch: torch.Tensor, fake: torch.Tensor) -> Loss:
        logits_real, _ = disc(batch)
        logits_fake, _ = disc(fake)
        total, real, fk = discriminator_adv_loss(logits_real, logits_fake, self.adv_loss)
        return Loss(total, torch.tensor(float(batch.shape[0])), {"d_real": _f(real), "d_fake": _f(fk)})

    @torch.no_grad()
    def val_step(self, gen, batch: torch.Tensor) -> Loss:
        """Reconstruction loss (no adversarial terms) plus SI-SNR of the reconstruction."""
        fake, commit, _ = gen(batch)
        total, stats = self._recon(fake, batch, commit, self._mel_weight(gen))
        stats["si_snr_db"] = float(si_snr(fake, batch).mean())
        return Loss(total, torch.tensor(float(batch.shape[0])), stats)


def _f(t: torch.Tensor) -> float:
    return float(t.detach())


def si_snr(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SNR in dB per item ([B, C, T] -> [B])."""
    est, ref = est.flatten(1), ref.flatten(1)
    est, ref = est - est.mean(1, keepdim=True), ref - ref.mean(1, keepdim=True)
    proj = (est * ref).sum(1, keepdim=True) / (ref.pow(2).sum(1, keepdim=True) + eps) * ref
    noise = est - proj
    return 10 * torch.log10(proj.pow(2).sum(1) / (noise.pow(2).sum(1) + eps) + eps)
