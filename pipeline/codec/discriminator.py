"""EnCodec's multi-scale STFT discriminator (audiocraft ``MultiScaleSTFTDiscriminator``), small.

Each scale takes the complex STFT (real and imaginary parts as 2 channels, [B, 2, frames, freq]),
runs weight-normed 2-D convs (kernel 3 x 9, dilations 1/2/4 over time, stride 2 over
frequency, LeakyReLU 0.2) and a 1-channel output conv; it returns logits and the feature maps
used by the feature-matching loss. No installed library provides it (transformers ships only
the inference side of EnCodec), so it is written here.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def _pad(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return ((kernel[0] - 1) * dilation[0] // 2, (kernel[1] - 1) * dilation[1] // 2)


class STFTDiscriminator(nn.Module):
    def __init__(
        self,
        filters: int,
        n_fft: int,
        hop: int,
        channels: int = 1,
        max_filters: int = 256,
        dilations: Sequence[int] = (1, 2, 4),
        kernel: tuple[int, int] = (3, 9),
    ) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        convs = [weight_norm(nn.Conv2d(2 * channels, filters, kernel, padding=_pad(kernel)))]
        width = filters
        for i, d in enumerate(dilations):
            out = min(filters * 2 ** (i + 1), max_filters)
            convs.append(
                weight_norm(nn.Conv2d(width, out, kernel, stride=(1, 2), dilation=(d, 1), padding=_pad(kernel, (d, 1))))
            )
            width = out
        sq = (kernel[0], kernel[0])
        convs.append(weight_norm(nn.Conv2d(width, width, sq, padding=_pad(sq))))
        self.convs = nn.ModuleList(convs)
        self.conv_post = weight_norm(nn.Conv2d(width, 1, sq, padding=_pad(sq)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        z = torch.stft(
            x.reshape(b * c, t).float(),
            self.n_fft,
            self.hop,
            self.n_fft,
            window=self.window,
            normalized=True,
            center=True,
            return_complex=True,
        )
        z = torch.view_as_real(z).reshape(b, c, z.shape[-2], z.shape[-1], 2)  # [B, C, F, T, 2]
        z = z.permute(0, 1, 4, 3, 2).reshape(b, 2 * c, z.shape[3], z.shape[2])  # [B, 2C, T, F]
        fmap = []
        for conv in self.convs:
            z = F.leaky_relu(conv(z), 0.2)
            fmap.append(z)
        return self.conv_post(z), fmap


class MultiScaleSTFTDiscriminator(nn.Module):
    """One STFT discriminator per FFT size (hop = n_fft / 4)."""

    def __init__(
        self, filters: int = 8, n_ffts: Sequence[int] = (512, 1024, 256), channels: int = 1, max_filters: int = 256
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(filters, int(n), int(n) // 4, channels, max_filters) for n in n_ffts
        )

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        logits, fmaps = [], []
        for d in self.discriminators:
            lg, fm = d(x)
            logits.append(lg)
            fmaps.append(fm)
        return logits, fmaps
