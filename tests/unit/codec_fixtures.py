"""Tiny random EnCodec checkpoints in the upstream layouts, built from the spec's key patterns
(``specs/valle.md`` A), not from our model: an audiocraft compression export and a
transformers ``EncodecModel`` directory."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

RATIOS = (8, 5, 4, 4)

XP_CFG = """\
sample_rate: 32000
channels: 1
compression_model: encodec
encodec:
  autoencoder: seanet
  quantizer: rvq
  sample_rate: ${{sample_rate}}
  channels: ${{channels}}
  causal: false
  renormalize: false
seanet:
  dimension: {D}
  channels: ${{channels}}
  causal: ${{encodec.causal}}
  n_filters: {nf}
  n_residual_layers: 1
  ratios: [8, 5, 4, 4]
  activation: ELU
  activation_params: {{alpha: 1.0}}
  norm: weight_norm
  norm_params: {{}}
  kernel_size: 7
  residual_kernel_size: 3
  last_kernel_size: 7
  dilation_base: 2
  pad_mode: {pad_mode}
  true_skip: true
  compress: 2
  lstm: 2
  disable_norm_outer_blocks: 0
  encoder: {{}}
  decoder:
    trim_right_ratio: 1.0
    final_activation: null
    final_activation_params: null
rvq:
  n_q: {n_q}
  q_dropout: false
  bins: {bins}
  decay: 0.99
  kmeans_init: true
  kmeans_iters: 50
  threshold_ema_dead_code: 2
  orthogonal_reg_weight: 0.0
  orthogonal_reg_active_codes_only: false
"""


def audiocraft_state(nf: int = 2, D: int = 8, bins: int = 2048, n_q: int = 4, seed: int = 0) -> dict:
    """audiocraft EnCodec state dict (weight-norm hook names) with random weights."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def conv(prefix: str, cin: int, cout: int, k: int, transposed: bool = False) -> None:
        shape = (cin, cout, k) if transposed else (cout, cin, k)
        v = torch.randn(shape, generator=g) / math.sqrt(cin * k)
        scale = 0.8 + 0.4 * torch.rand(shape[0], 1, 1, generator=g)
        sd[f"{prefix}.weight_g"] = v.norm(dim=(1, 2), keepdim=True) * scale
        sd[f"{prefix}.weight_v"] = v
        sd[f"{prefix}.bias"] = 0.01 * torch.randn(cout, generator=g)

    def lstm(prefix: str, w: int) -> None:
        for layer in range(2):
            for name, shape in (
                ("weight_ih", (4 * w, w)),
                ("weight_hh", (4 * w, w)),
                ("bias_ih", (4 * w,)),
                ("bias_hh", (4 * w,)),
            ):
                sd[f"{prefix}.lstm.{name}_l{layer}"] = torch.randn(shape, generator=g) / math.sqrt(w)

    def resblock(prefix: str, w: int) -> None:
        conv(f"{prefix}.block.1.conv.conv", w, w // 2, 3)
        conv(f"{prefix}.block.3.conv.conv", w // 2, w, 1)

    conv("encoder.model.0.conv.conv", 1, nf, 7)
    w = nf
    for s, stride in enumerate(reversed(RATIOS)):
        resblock(f"encoder.model.{1 + 3 * s}", w)
        conv(f"encoder.model.{3 + 3 * s}.conv.conv", w, 2 * w, 2 * stride)
        w *= 2
    lstm("encoder.model.13", w)
    conv("encoder.model.15.conv.conv", w, D, 7)
    conv("decoder.model.0.conv.conv", D, w, 7)
    lstm("decoder.model.1", w)
    for s, stride in enumerate(RATIOS):
        conv(f"decoder.model.{3 + 3 * s}.convtr.convtr", w, w // 2, 2 * stride, transposed=True)
        resblock(f"decoder.model.{4 + 3 * s}", w // 2)
        w //= 2
    conv("decoder.model.15.conv.conv", nf, 1, 7)
    for q in range(n_q):
        embed = torch.randn(bins, D, generator=g) * (0.5**q)
        sd[f"quantizer.vq.layers.{q}._codebook.inited"] = torch.ones(1)
        sd[f"quantizer.vq.layers.{q}._codebook.cluster_size"] = torch.rand(bins, generator=g) * 10
        sd[f"quantizer.vq.layers.{q}._codebook.embed"] = embed
        sd[f"quantizer.vq.layers.{q}._codebook.embed_avg"] = embed * 3
    return sd


def write_audiocraft_export(
    path: Path,
    pad_mode: str = "constant",
    nf: int = 2,
    D: int = 8,
    bins: int = 2048,
    n_q: int = 4,
    state: dict | None = None,
) -> Path:
    pkg = {
        "best_state": state if state is not None else audiocraft_state(nf, D, bins, n_q),
        "xp.cfg": XP_CFG.format(nf=nf, D=D, bins=bins, n_q=n_q, pad_mode=pad_mode),
        "version": "1.3.0",
        "exported": True,
    }
    torch.save(pkg, path)
    return path


def audiocraft_to_hf_keys(sd: dict) -> dict:
    """The spec's audiocraft -> transformers renaming (independent of pipeline/codec/keymap.py)."""
    out = {}
    for k, v in sd.items():
        k2 = (
            k.replace(".model.", ".layers.")
            .replace(".conv.conv.", ".conv.")
            .replace(".convtr.convtr.", ".conv.")
            .replace("quantizer.vq.layers.", "quantizer.layers.")
            .replace("._codebook.", ".codebook.")
        )
        k2 = k2.replace(".weight_g", ".parametrizations.weight.original0").replace(
            ".weight_v", ".parametrizations.weight.original1"
        )
        out[k2] = v
    return out


def hf_config(pad_mode: str = "reflect", nf: int = 2, D: int = 8, bins: int = 2048):
    from transformers import EncodecConfig

    nbits = int(math.log2(bins))
    return EncodecConfig(
        target_bandwidths=[4 * nbits * 50 / 1000],
        sampling_rate=32000,
        audio_channels=1,
        normalize=False,
        chunk_length_s=None,
        overlap=None,
        hidden_size=D,
        num_filters=nf,
        num_residual_layers=1,
        upsampling_ratios=list(RATIOS),
        norm_type="weight_norm",
        kernel_size=7,
        last_kernel_size=7,
        residual_kernel_size=3,
        dilation_growth_rate=2,
        use_causal_conv=False,
        pad_mode=pad_mode,
        compress=2,
        num_lstm_layers=2,
        trim_right_ratio=1.0,
        codebook_size=bins,
        codebook_dim=D,
        use_conv_shortcut=False,
    )


def write_hf_dir(path: Path, state: dict, pad_mode: str = "reflect", bin_format: bool = False) -> Path:
    """A transformers EncodecModel directory (config.json + weights) holding ``state`` (HF keys)."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    cfg = hf_config(pad_mode).to_dict()
    (path / "config.json").write_text(json.dumps(cfg, default=list))
    if bin_format:
        torch.save(state, path / "pytorch_model.bin")
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path / "model.safetensors"))
    return path
