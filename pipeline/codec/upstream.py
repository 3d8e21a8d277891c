"""Codec configs from upstream files: audiocraft's ``xp.cfg`` YAML and transformers' config.json.

audiocraft exports (``CompressionModel.get_pretrained``) store the whole Hydra config as a YAML
string with ``${...}`` interpolations left unresolved; we resolve them (absolute dotted paths,
as Hydra does for these keys) and read ``encodec.*``, ``seanet.*`` (with the ``encoder`` /
``decoder`` overrides) and ``rvq.*``. Anything our model cannot represent is a named error.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from pipeline.codec.config import CodecConfig, CodecConfigError

_INTERP = re.compile(r"\$\{([^}]+)\}")


def _lookup(root: dict, dotted: str) -> Any:
    node: Any = root
    for part in dotted.strip().split("."):
        if not isinstance(node, dict) or part not in node:
            raise CodecConfigError(f"xp.cfg: interpolation ${{{dotted}}} points to a missing key")
        node = node[part]
    return node


def _resolve(node: Any, root: dict, depth: int = 0) -> Any:
    if depth > 20:
        raise CodecConfigError("xp.cfg: interpolations nest too deep (a cycle?)")
    if isinstance(node, dict):
        return {k: _resolve(v, root, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root, depth) for v in node]
    if isinstance(node, str):
        whole = _INTERP.fullmatch(node.strip())
        if whole:
            return _resolve(_lookup(root, whole[1]), root, depth + 1)
        return _INTERP.sub(lambda m: str(_resolve(_lookup(root, m[1]), root, depth + 1)), node)
    return node


def parse_xp_cfg(text: str | dict) -> dict:
    raw = yaml.safe_load(text) if isinstance(text, str) else dict(text)
    if not isinstance(raw, dict):
        raise CodecConfigError("xp.cfg is not a YAML mapping")
    return _resolve(raw, raw)


def _side(seanet: dict, side: str) -> dict:
    base = {k: v for k, v in seanet.items() if k not in ("encoder", "decoder")}
    return {**base, **(seanet.get(side) or {})}


_SEANET_FIELDS = (
    "n_filters",
    "dimension",
    "ratios",
    "n_residual_layers",
    "lstm",
    "kernel_size",
    "last_kernel_size",
    "residual_kernel_size",
    "dilation_base",
    "compress",
    "true_skip",
    "norm",
    "pad_mode",
)


def config_from_xp(cfg: dict) -> CodecConfig:
    """Our CodecConfig from a resolved audiocraft experiment config."""
    if cfg.get("compression_model", "encodec") != "encodec":
        raise CodecConfigError(f"xp.cfg: compression_model {cfg.get('compression_model')!r} is not encodec")
    enc = cfg.get("encodec") or {}
    for key, want in (("autoencoder", "seanet"), ("quantizer", "rvq")):
        if enc.get(key, want) != want:
            raise CodecConfigError(f"xp.cfg: encodec.{key}={enc.get(key)!r}; only {want!r} is supported")
    seanet, rvq = cfg.get("seanet") or {}, cfg.get("rvq") or {}
    e, d = _side(seanet, "encoder"), _side(seanet, "decoder")
    for f in _SEANET_FIELDS:
        if e.get(f) != d.get(f):
            raise CodecConfigError(
                f"xp.cfg: seanet.{f} differs between encoder ({e.get(f)}) and decoder "
                f"({d.get(f)}); our codec shares one SEANet config"
            )
    if int(e.get("disable_norm_outer_blocks", 0) or 0) != 0:
        raise CodecConfigError("xp.cfg: seanet.disable_norm_outer_blocks != 0 is not supported")
    if d.get("final_activation") not in (None, "none", "None"):
        raise CodecConfigError(
            f"xp.cfg: seanet.decoder.final_activation={d.get('final_activation')!r} is not supported"
        )
    if e.get("activation", "ELU") != "ELU" or float((e.get("activation_params") or {}).get("alpha", 1.0)) != 1.0:
        raise CodecConfigError("xp.cfg: only ELU(alpha=1) activations are supported")
    dim = int(e.get("dimension", 128))
    if int(rvq.get("dimension", dim) or dim) != dim:
        raise CodecConfigError("xp.cfg: rvq.dimension != seanet.dimension (projected codebooks) is not supported")
    channels = int(enc.get("channels", cfg.get("channels", 1)))
    return CodecConfig(
        sample_rate=int(enc.get("sample_rate", cfg.get("sample_rate", 32_000))),
        channels=channels,
        n_filters=int(e.get("n_filters", 32)),
        dimension=dim,
        ratios=tuple(int(r) for r in e.get("ratios", (8, 5, 4, 2))),
        n_residual_layers=int(e.get("n_residual_layers", 1)),
        lstm=int(e.get("lstm", 2)),
        kernel_size=int(e.get("kernel_size", 7)),
        last_kernel_size=int(e.get("last_kernel_size", 7)),
        residual_kernel_size=int(e.get("residual_kernel_size", 3)),
        dilation_base=int(e.get("dilation_base", 2)),
        compress=int(e.get("compress", 2)),
        true_skip=bool(e.get("true_skip", True)),
        causal=bool(enc.get("causal", e.get("causal", False))),
        norm=str(e.get("norm", "weight_norm")),
        pad_mode=str(e.get("pad_mode", "constant")),
        trim_right_ratio=float(d.get("trim_right_ratio", 1.0)),
        renormalize=bool(enc.get("renormalize", False)),
        n_q=int(rvq.get("n_q", 8)),
        bins=int(rvq.get("bins", 1024)),
        decay=float(rvq.get("decay", 0.99)),
        kmeans_init=bool(rvq.get("kmeans_init", True)),
        kmeans_iters=int(rvq.get("kmeans_iters", 50)),
        threshold_ema_dead_code=float(rvq.get("threshold_ema_dead_code", 2)),
    )


def config_from_hf(c: dict) -> CodecConfig:
    """Our CodecConfig from a transformers ``EncodecModel`` config.json."""
    if c.get("model_type") != "encodec":
        raise CodecConfigError(f"config.json model_type is {c.get('model_type')!r}, not 'encodec'")
    if c.get("chunk_length_s") is not None:
        raise CodecConfigError("chunked EnCodec (chunk_length_s set, e.g. the 48 kHz model) is not supported")
    hidden = int(c.get("hidden_size", 128))
    if int(c.get("codebook_dim") or hidden) != hidden:
        raise CodecConfigError("codebook_dim != hidden_size is not supported")
    ratios = tuple(int(r) for r in c.get("upsampling_ratios", (8, 5, 4, 2)))
    sr, bins = int(c.get("sampling_rate", 24_000)), int(c.get("codebook_size", 1024))
    frame_rate = math.ceil(sr / math.prod(ratios))
    bws = c.get("target_bandwidths") or [24.0]
    n_q = int(1000 * max(bws) // (frame_rate * math.ceil(math.log2(bins))))  # as EncodecConfig does
    return CodecConfig(
        sample_rate=sr,
        channels=int(c.get("audio_channels", 1)),
        n_filters=int(c.get("num_filters", 32)),
        dimension=hidden,
        ratios=ratios,
        n_residual_layers=int(c.get("num_residual_layers", 1)),
        lstm=int(c.get("num_lstm_layers", 2)),
        kernel_size=int(c.get("kernel_size", 7)),
        last_kernel_size=int(c.get("last_kernel_size", 7)),
        residual_kernel_size=int(c.get("residual_kernel_size", 3)),
        dilation_base=int(c.get("dilation_growth_rate", 2)),
        compress=int(c.get("compress", 2)),
        true_skip=not bool(c.get("use_conv_shortcut", True)),
        causal=bool(c.get("use_causal_conv", True)),
        norm=str(c.get("norm_type", "weight_norm")),
        pad_mode=str(c.get("pad_mode", "reflect")),
        trim_right_ratio=float(c.get("trim_right_ratio", 1.0)),
        renormalize=bool(c.get("normalize", False)),
        n_q=n_q,
        bins=bins,
    )
