"""Save and load VALL-E checkpoints: ours (safetensors + config metadata) and MIDI-VALLE's.

MIDI-VALLE ships two layouts: the trainer's ``best-valid-loss.pt`` (icefall: weights under
``model``, training params flattened beside them, two of them ``pathlib.PosixPath``) and a flat
inference state dict. Both go through ``torch.load(weights_only=True)`` with exactly one class,
``PosixPath``, allow-listed; never full pickle. Loading is strict: an error names the missing,
unexpected and mis-shaped keys. Upstream files carry no codec facts: they are Piano-Encodec's
(32 kHz, 50 frames/s); ``check_codec`` refuses a codec of another codebook count or sample rate.
"""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import torch
from safetensors.torch import save_file

from pipeline.train.checkpoint import canonical_safetensors
from pipeline.train.checkpoint_files import load_safetensors, read_safetensors_header, torch_load_weights
from pipeline.valle.model import Valle, ValleConfig

FORMAT = "ostinato-valle"
UPSTREAM_CODEC = {"sample_rate": 32000, "frame_rate": 50}


class CheckpointError(ValueError):
    """A VALL-E checkpoint that does not fit the model (names the offending keys) or cannot load."""


class CodecMismatch(ValueError):
    """A VALL-E checkpoint used with a codec of another codebook count or sample rate."""


def save_valle(model: Valle, path: str | Path, codec: dict | None = None) -> Path:
    """One safetensors file; tied weights are stored under both names (like upstream's dict)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(model.cfg.to_dict()), "codec": json.dumps(codec or {})}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    canonical_safetensors(tmp)  # sorted metadata: equal weights, equal bytes
    tmp.replace(path)
    return path


def _read_upstream(path: Path) -> tuple[dict, dict]:
    obj = torch_load_weights(path, allow=(pathlib.PosixPath,), error=CheckpointError)  # never full pickle
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(obj).__name__}")
    if isinstance(obj.get("model"), dict):  # icefall trainer file
        params = {k: v for k, v in obj.items() if not isinstance(v, dict) and not torch.is_tensor(v)}
        state = obj["model"]
    else:
        params, state = {}, obj
    state = {k.removeprefix("module."): v for k, v in state.items()}
    bad = [k for k, v in state.items() if not torch.is_tensor(v)]
    if bad:
        raise CheckpointError(f"{path}: non-tensor entries in the state dict: {bad[:5]}")
    return state, params


def upstream_config(state: dict, params: dict, nhead: int | None = None) -> ValleConfig:
    """Sizes from the weights; heads from the trainer params (``nhead``), else d_model // 64
    (the released 1024-wide model has 16 heads)."""
    try:
        d = state["ar_text_embedding.weight"].shape[0]
        bins = state["nar_audio_embeddings.1.word_embeddings.weight"].shape[0]
    except KeyError as e:
        raise CheckpointError(f"not a MIDI-VALLE state dict: missing {e}") from None
    layers = len({k.split(".")[2] for k in state if k.startswith("ar_decoder.layers.")})
    nq = len({k.split(".")[1] for k in state if k.startswith("nar_audio_embeddings.")})
    heads = nhead or int(params.get("nhead", 0)) or max(1, d // 64)
    return ValleConfig(d_model=d, nhead=heads, n_layers=layers, n_quantizers=nq, audio_bins=bins)


def load_state_strict(model: Valle, state: dict, source: str) -> None:
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    unexpected = sorted(set(state) - set(want))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} != {tuple(want[k].shape)}"
        for k in set(want) & set(state)
        if state[k].shape != want[k].shape
    )
    if missing or unexpected or shapes:
        parts = [
            f"{name} ({len(keys)}): {keys[:8]}"
            for name, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shapes))
            if keys
        ]
        raise CheckpointError(f"{source} does not fit VALL-E {model.cfg}: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def load_valle(path: str | Path, *, nhead: int | None = None, map_location="cpu") -> Valle:
    """Our ``.safetensors`` (or a directory holding ``model.safetensors``), or MIDI-VALLE's
    trainer / flat ``.pt`` file -> an eval-mode :class:`Valle` with ``.codec_info``."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"no VALL-E checkpoint at {path}")
    if path.suffix == ".safetensors":
        _, meta = read_safetensors_header(path, error=CheckpointError)  # the check every family shares
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not an ostinato VALL-E file (format {meta.get('format')!r})")
        state, meta = load_safetensors(path, error=CheckpointError)
        cfg = ValleConfig(**json.loads(meta["config"]))
        codec = json.loads(meta.get("codec") or "{}")
    else:
        state, params = _read_upstream(path)
        cfg = upstream_config(state, params, nhead)
        codec = dict(UPSTREAM_CODEC)
    model = Valle(cfg)
    load_state_strict(model, state, str(path))
    model.codec_info = {**codec, "n_q": cfg.n_quantizers, "bins": cfg.audio_bins}
    return model.to(map_location).eval()


def check_codec(model: Valle, codec) -> None:
    """Refuse a codec whose codebook count, codebook size or sample rate differs from training."""
    info = getattr(model, "codec_info", {})
    problems = []
    if int(codec.n_q) != model.cfg.n_quantizers:
        problems.append(f"codec has {codec.n_q} codebooks, VALL-E was trained on {model.cfg.n_quantizers}")
    bins = getattr(codec, "bins", None) or getattr(codec, "codebook_size", None)
    if bins is not None and int(bins) != model.cfg.audio_bins:
        problems.append(f"codec codebooks have {bins} entries, VALL-E expects {model.cfg.audio_bins}")
    for key in ("sample_rate", "frame_rate"):
        want = info.get(key)
        if want is not None and abs(float(getattr(codec, key)) - float(want)) > 1e-6:
            problems.append(f"codec {key} {getattr(codec, key)} != {want} the checkpoint was trained at")
    if problems:
        raise CodecMismatch("; ".join(problems))
