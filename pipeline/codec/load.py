"""``load(path)``: our trained codec dir, a transformers EncodecModel dir, or an audiocraft export.

- ours: ``config.json`` (``"format": "ostinato-codec"``) + ``model.safetensors``
- transformers (``facebook/encodec_32khz`` layout): ``config.json`` (``model_type: encodec``) +
  ``model.safetensors`` or ``pytorch_model.bin`` (read with ``weights_only=True``)
- audiocraft export (MIDI-VALLE's ``compression_32khz_new.bin``): one ``torch.save``d dict with
  ``xp.cfg`` (YAML string) and ``best_state`` (state dict), read with ``weights_only=True``

Every mapping is strict (``keymap.strict_load``). The padding mode comes from the checkpoint's
own config (audiocraft: ``seanet.pad_mode``, default constant; transformers: ``pad_mode``,
default reflect) -- with the wrong one the codes differ.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from pipeline.codec.config import CodecConfig, CodecConfigError
from pipeline.codec.keymap import CodecCheckpointError, from_audiocraft, from_transformers, strict_load
from pipeline.codec.model import Codec
from pipeline.codec.upstream import config_from_hf, config_from_xp, parse_xp_cfg
from pipeline.train.checkpoint_files import load_safetensors, torch_load_weights

FORMAT = "ostinato-codec"
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


def save(codec: Codec, out_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (our key layout) into ``out_dir``."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous() for k, v in codec.state_dict().items()}
    save_file(sd, str(out_dir / WEIGHTS_FILE), metadata={"format": FORMAT})
    meta = {
        "format": FORMAT,
        "version": 1,
        "codec": codec.cfg.to_dict(),
        "frame_rate": codec.frame_rate,
        "bandwidth_kbps": codec.cfg.bandwidth_kbps,
        **(extra or {}),
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out_dir


def _build(cfg: CodecConfig, sd: dict, source: str, unknown: list[str] = (), pad_mode: str | None = None) -> Codec:
    if pad_mode is not None:
        cfg = replace(cfg, pad_mode=pad_mode)
    codec = Codec(cfg)
    strict_load(codec, sd, source, list(unknown))
    return codec.eval()


def _torch_load(path: Path) -> Any:
    return torch_load_weights(path, error=CodecCheckpointError)  # never a full pickle


def _load_file(path: str) -> dict:
    return load_safetensors(path, error=CodecCheckpointError)[0]


def _load_dir(path: Path, pad_mode: str | None) -> Codec:
    cfg_path = path / CONFIG_FILE
    if not cfg_path.is_file():
        raise CodecCheckpointError(
            f"{path}: no config.json (expected our codec dir or a transformers EncodecModel dir)"
        )
    try:
        meta = json.loads(cfg_path.read_text())
    except ValueError as e:
        raise CodecCheckpointError(f"{cfg_path} is not valid JSON ({e})") from None
    if meta.get("format") == FORMAT:
        if not (path / WEIGHTS_FILE).is_file():
            raise CodecCheckpointError(f"{path}: missing {WEIGHTS_FILE}")
        return _build(
            CodecConfig.from_dict(meta["codec"]), _load_file(str(path / WEIGHTS_FILE)), str(path), pad_mode=pad_mode
        )
    if meta.get("model_type") == "encodec":
        cfg = config_from_hf(meta)
        if (path / WEIGHTS_FILE).is_file():
            sd = _load_file(str(path / WEIGHTS_FILE))
        elif (path / "pytorch_model.bin").is_file():
            sd = _torch_load(path / "pytorch_model.bin")
        else:
            raise CodecCheckpointError(f"{path}: neither model.safetensors nor pytorch_model.bin")
        sd, unknown = from_transformers(sd)
        return _build(cfg, sd, str(path), unknown, pad_mode)
    raise CodecCheckpointError(f"{cfg_path}: neither an ostinato codec nor a transformers EnCodec config")


def _load_audiocraft(path: Path, pad_mode: str | None) -> Codec:
    pkg = _torch_load(path)
    if not isinstance(pkg, dict):
        raise CodecCheckpointError(f"{path}: not an audiocraft compression export (top level is not a dict)")
    if "pretrained" in pkg and "best_state" not in pkg:
        raise CodecCheckpointError(
            f"{path}: points to the pretrained model {pkg['pretrained']!r}, which "
            "would need a download; pass a local checkpoint of it instead"
        )
    if "xp.cfg" not in pkg or "best_state" not in pkg:
        raise CodecCheckpointError(
            f"{path}: expected audiocraft export keys 'xp.cfg' and 'best_state', found {sorted(pkg)[:8]}"
        )
    state = pkg["best_state"]
    if isinstance(state, dict) and isinstance(state.get("model"), dict):  # a solver checkpoint
        state = state["model"]
    cfg = config_from_xp(parse_xp_cfg(pkg["xp.cfg"]))
    sd, unknown = from_audiocraft(state)
    return _build(cfg, sd, str(path), unknown, pad_mode)


def load(
    path: str | Path,
    *,
    pad_mode: str | None = None,
    sample_rate: int | None = None,
    n_q: int | None = None,
    device: str | torch.device = "cpu",
) -> Codec:
    """The codec at ``path`` in eval mode. ``pad_mode`` overrides the checkpoint's (for tests
    and experiments only); ``sample_rate`` / ``n_q`` are checked when given (named error)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"codec checkpoint {path} does not exist")
    try:
        codec = _load_dir(path, pad_mode) if path.is_dir() else _load_audiocraft(path, pad_mode)
    except CodecConfigError as e:
        raise CodecCheckpointError(f"{path}: {e}") from None
    if sample_rate is not None and codec.sample_rate != int(sample_rate):
        raise CodecCheckpointError(f"{path}: codec is {codec.sample_rate} Hz, {sample_rate} Hz wanted")
    if n_q is not None and codec.n_q != int(n_q):
        raise CodecCheckpointError(f"{path}: codec has {codec.n_q} codebooks, {n_q} wanted")
    return codec.to(device)
