"""EnCodec-style codec: transformers' SEANet encoder/decoder + a trainable residual VQ.

transformers' ``EncodecModel`` gives the SEANet encoder/decoder (pure torch, same layer order as
audiocraft), but its quantizer has no training path (no EMA update, no k-means init, no
commitment loss, no dead-code expiry). The quantizer is therefore vector-quantize-pytorch's
``ResidualVQ`` (EMA codebooks, k-means init, dead-code expiry, commitment loss), whose buffers
map one-to-one onto audiocraft's / transformers' codebook buffers (see ``keymap``).

Inference (``encode``) assigns codes with audiocraft's exact formula on the codebook buffers
(argmax of -(|x|^2 - 2 x.e + |e|^2), stage by stage on the residual), so released checkpoints
give upstream's codes; training goes through ``ResidualVQ.forward``.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.codec.config import CodecConfig


class CodecInputError(ValueError):
    """Audio or codes of the wrong shape/type for this codec."""


class CodecSampleRateError(ValueError):
    """Audio at a sample rate the codec was not built for."""


def _rvq(cfg: CodecConfig) -> nn.Module:
    from vector_quantize_pytorch import ResidualVQ

    return ResidualVQ(
        dim=cfg.dimension,
        num_quantizers=cfg.n_q,
        codebook_size=cfg.bins,
        decay=cfg.decay,
        kmeans_init=cfg.kmeans_init,
        kmeans_iters=cfg.kmeans_iters,
        threshold_ema_dead_code=cfg.threshold_ema_dead_code,
        commitment_weight=1.0,
        sync_codebook=None,
    )  # None: all-reduce the EMA statistics when a process group is up
    # (torchrun), so N processes update the codebooks as 1 would


class Codec(nn.Module):
    """``encode(wave[B,C,T]) -> codes[B,n_q,F]``, ``decode(codes) -> wave[B,C,F*hop]``,
    ``latents(wave) -> [B,F,D]`` (the quantized latent, as MIDI-VALLE's fadtk ``encodec-music``)."""

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        from transformers.models.encodec.modeling_encodec import EncodecDecoder, EncodecEncoder

        self.cfg = cfg
        hf = cfg.to_hf()
        self.encoder = EncodecEncoder(hf)
        self.decoder = EncodecDecoder(hf)
        self.quantizer = _rvq(cfg)
        # training only: while set, forward() skips the quantizer until its codebooks are
        # k-means-initialised (init_codebooks), so k-means sees a trained encoder's latents
        self.defer_quantizer = False

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def n_q(self) -> int:
        return self.cfg.n_q

    @property
    def bins(self) -> int:
        return self.cfg.bins

    @property
    def frame_rate(self) -> float:
        return self.cfg.frame_rate

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def check_rate(self, sample_rate: int) -> None:
        if int(sample_rate) != self.sample_rate:
            raise CodecSampleRateError(
                f"audio at {sample_rate} Hz, but this codec takes {self.sample_rate} Hz "
                "(resample it, or use a codec built for that rate)"
            )

    def _check_wave(self, wave: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(wave) or wave.dim() != 3 or wave.shape[1] != self.cfg.channels:
            shape = tuple(wave.shape) if torch.is_tensor(wave) else type(wave).__name__
            raise CodecInputError(f"expected audio [B, {self.cfg.channels}, T], got {shape}")
        if wave.shape[-1] < 1:
            raise CodecInputError("empty audio")
        if not wave.is_floating_point():
            raise CodecInputError(f"audio must be float, got {wave.dtype}")
        return wave

    # ------------------------------------------------------------------ codebooks
    def codebooks(self) -> list[torch.Tensor]:
        """Each stage's codebook [bins, D] (the ``embed`` buffer)."""
        return [layer._codebook.embed[0] for layer in self.quantizer.layers]

    def quantize(self, emb: torch.Tensor) -> torch.Tensor:
        """Codes [B, n_q, F] for latents [B, D, F], audiocraft's nearest-neighbour rule."""
        residual = emb.transpose(1, 2).reshape(-1, emb.shape[1])
        codes = []
        for embed in self.codebooks():
            dist = -(residual.pow(2).sum(1, keepdim=True) - 2 * residual @ embed.t() + embed.pow(2).sum(1)[None, :])
            idx = dist.argmax(dim=-1)
            residual = residual - embed[idx]
            codes.append(idx)
        return torch.stack(codes, 1).view(emb.shape[0], emb.shape[2], -1).transpose(1, 2).contiguous()

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Sum of the stages' codebook rows: latents [B, D, F]."""
        if codes.dim() != 3 or codes.shape[1] > self.n_q:
            raise CodecInputError(f"expected codes [B, <= {self.n_q}, F], got {tuple(codes.shape)}")
        if codes.dtype not in (torch.int64, torch.int32, torch.int16):
            raise CodecInputError(f"codes must be integers, got {codes.dtype}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.cfg.bins):
            raise CodecInputError(f"codes outside [0, {self.cfg.bins})")
        out = 0
        for q, embed in enumerate(self.codebooks()[: codes.shape[1]]):
            out = out + nn.functional.embedding(codes[:, q].long(), embed)
        return out.transpose(1, 2).contiguous()  # channel-contiguous: the decoder's convs run ~2x faster

    # ------------------------------------------------------------------ public API
    @torch.no_grad()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self.quantize(self.encoder(self._check_wave(wave)))

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.dequantize(codes))

    @torch.no_grad()
    def latents(self, wave: torch.Tensor) -> torch.Tensor:
        """The quantized continuous latent [B, F, D] (fadtk ``encodec-music`` embeds this)."""
        return self.dequantize(self.encode(wave)).transpose(1, 2)

    @property
    def quantizer_ready(self) -> bool:
        """Whether every codebook is initialised (always, without k-means init)."""
        return all(bool(layer._codebook.initted) for layer in self.quantizer.layers)

    @torch.no_grad()
    def init_codebooks(self, wave: torch.Tensor) -> None:
        """k-means-initialise the codebooks (stage by stage on the residual) on the latents of
        ``wave`` [B,C,T]; give it many more frames than ``bins`` (a 200-frame batch for 256 codes
        samples duplicates, and those codes die)."""
        emb = self.encoder(self._check_wave(wave))
        was = self.quantizer.training
        self.quantizer.train()
        self.quantizer(emb.transpose(1, 2))
        self.quantizer.train(was)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Training pass: (reconstruction [B,C,T], commitment loss, codes [B,n_q,F]).

        In train mode the quantizer k-means-initialises, expires dead codes and updates its
        EMA codebooks; gradients reach the encoder through the straight-through estimator.
        With ``defer_quantizer`` and uninitialised codebooks the latents go to the decoder
        unquantized (an autoencoder warm-up; codes None, commitment 0)."""
        wave = self._check_wave(wave)
        emb = self.encoder(wave)
        if self.defer_quantizer and not self.quantizer_ready:
            recon = self.decoder(emb)[..., : wave.shape[-1]]
            return recon, emb.new_zeros(()), None
        q, idx, commit = self.quantizer(emb.transpose(1, 2))
        recon = self.decoder(q.transpose(1, 2))[..., : wave.shape[-1]]
        return recon, commit.mean(), idx.transpose(1, 2)
