"""The codec's architecture as one frozen dataclass; ``CodecConfig.from_name(name, **overrides)``
over the ``CONFIGS`` table.

Field names follow audiocraft's ``seanet.*`` / ``rvq.*`` config (the format MIDI-VALLE's
Piano-Encodec was exported with); ``to_hf()`` gives the equivalent transformers
``EncodecConfig`` whose SEANet encoder/decoder we reuse.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from pipeline.train.named_config import from_table


class CodecConfigError(ValueError):
    """A codec config that our model cannot represent."""


@dataclass(frozen=True)
class CodecConfig:
    sample_rate: int = 16_000
    channels: int = 1
    # SEANet
    n_filters: int = 8
    dimension: int = 32  # latent (and codebook) width
    ratios: tuple[int, ...] = (8, 5, 4, 2)  # decoder order; the encoder uses them reversed
    n_residual_layers: int = 1
    lstm: int = 2
    kernel_size: int = 7
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_base: int = 2
    compress: int = 2
    true_skip: bool = True  # identity skip in residual blocks (no shortcut conv)
    causal: bool = False
    norm: str = "weight_norm"
    pad_mode: str = "constant"  # audiocraft default; transformers' EncodecConfig defaults to reflect
    trim_right_ratio: float = 1.0
    renormalize: bool = False
    # residual VQ
    n_q: int = 4
    bins: int = 256
    decay: float = 0.99
    kmeans_init: bool = True
    kmeans_iters: int = 50
    threshold_ema_dead_code: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratios", tuple(int(r) for r in self.ratios))
        if self.channels not in (1, 2):
            raise CodecConfigError(f"codec channels must be 1 or 2, got {self.channels}")
        if self.bins < 2 or 2 ** int(math.log2(self.bins)) != self.bins:
            raise CodecConfigError(f"codebook size (bins) must be a power of 2, got {self.bins}")
        if self.norm not in ("weight_norm", "time_group_norm"):
            raise CodecConfigError(f"norm {self.norm!r} is not supported (weight_norm, time_group_norm)")
        if self.pad_mode not in ("constant", "reflect", "replicate", "circular"):
            raise CodecConfigError(f"pad_mode {self.pad_mode!r} is not a torch padding mode")
        if self.lstm < 1:
            raise CodecConfigError("lstm must be >= 1 (transformers' SEANet always has the LSTM block)")
        if self.n_q < 1 or self.dimension < 1 or self.n_filters < 1:
            raise CodecConfigError("n_q, dimension and n_filters must be >= 1")
        if self.renormalize:
            raise CodecConfigError(
                "renormalize=true codecs (per-chunk scales) are not supported; "
                "Piano-Encodec and MusicGen's 32 kHz codec use renormalize=false"
            )

    @property
    def hop_length(self) -> int:
        return int(math.prod(self.ratios))

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def bandwidth_kbps(self) -> float:
        return self.n_q * math.log2(self.bins) * self.frame_rate / 1000

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratios"] = list(self.ratios)
        return d

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> "CodecConfig":
        """``CONFIGS[name]`` with ``overrides`` (field names) replaced."""
        return from_table(CONFIGS, name, "codec", **overrides)

    @classmethod
    def from_params(cls, model) -> "CodecConfig":
        """From the ``codec_train.model`` params section: its ``preset`` plus every non-null field."""
        return cls.from_name(
            model.preset, **{k: v for k, v in model.model_dump().items() if k != "preset" and v is not None}
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CodecConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise CodecConfigError(f"unknown codec config keys: {unknown}")
        return cls(**d)

    def to_hf(self):
        """The transformers ``EncodecConfig`` with the same SEANet (and codebook) shape."""
        from transformers import EncodecConfig

        return EncodecConfig(
            target_bandwidths=[self.bandwidth_kbps],
            sampling_rate=self.sample_rate,
            audio_channels=self.channels,
            normalize=self.renormalize,
            chunk_length_s=None,
            overlap=None,
            hidden_size=self.dimension,
            num_filters=self.n_filters,
            num_residual_layers=self.n_residual_layers,
            upsampling_ratios=list(self.ratios),
            norm_type=self.norm,
            kernel_size=self.kernel_size,
            last_kernel_size=self.last_kernel_size,
            residual_kernel_size=self.residual_kernel_size,
            dilation_growth_rate=self.dilation_base,
            use_causal_conv=self.causal,
            pad_mode=self.pad_mode,
            compress=self.compress,
            num_lstm_layers=self.lstm,
            trim_right_ratio=self.trim_right_ratio,
            codebook_size=self.bins,
            codebook_dim=self.dimension,
            use_conv_shortcut=not self.true_skip,
        )


CONFIGS: dict[str, CodecConfig] = {
    # ours: tiny CPU default (16 kHz, hop 320 -> 50 frames/s, 4 x 256 codes). audiocraft expires codes
    # whose EMA count < 2, sized for ~3,200 vectors per batch and 2,048 codes; a CPU batch of 8 x 0.5 s
    # (200 vectors) for 256 codes would reset ~95 % of the codes every step, so tiny expires below 0.5
    # (measured: see docs/codec.md)
    "tiny": CodecConfig(threshold_ema_dead_code=0.5),
    # audiocraft's MusicGen 32 kHz EnCodec = MIDI-VALLE's Piano-Encodec (hop 640 -> 50 Hz, 4 x 2048 codes,
    # 64 filters, 128-dim latent, constant padding; a loaded file's xp.cfg wins)
    "encodec_32khz": CodecConfig(
        sample_rate=32_000, n_filters=64, dimension=128, ratios=(8, 5, 4, 4), n_q=4, bins=2048, kmeans_iters=50
    ),
}


__all__ = ["CONFIGS", "CodecConfig", "CodecConfigError"]
