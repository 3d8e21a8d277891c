"""Load and save NotaGen weights: ours (safetensors + config in its metadata) and upstream's
``.pth`` (a torch.save dict whose ``model`` entry is the state dict), loaded with
``torch.load(weights_only=True)`` and strict key/shape checks.

The config of an upstream file is read from its shapes (hidden, layer counts, patch length,
patch size); heads are hidden // 64 as upstream.  GPT-2 ``attn.bias`` / ``attn.masked_bias``
buffers that old transformers versions saved are tolerated and dropped. Files are read through
the shared check (``pipeline.train.checkpoint_files``); a DPO output folder (``iter_1/ ..``) is
named with its iterations (:func:`resolve`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from pipeline.notagen.model import NotaGenConfig, NotaGenModel
from pipeline.notagen.patchilizer import PATCH_SIZE, VOCAB
from pipeline.train.checkpoint import canonical_safetensors
from pipeline.train.checkpoint_files import load_safetensors, torch_load_weights

_PATCH = "patch_level_decoder."
_CHAR = "char_level_decoder.base."
_TIED = (_CHAR + "lm_head.weight", _CHAR + "transformer.wte.weight")
_OLD_BUFFERS = re.compile(r"\.attn\.(bias|masked_bias)$")


class NotaGenCheckpointError(ValueError):
    """A file that is not a loadable NotaGen checkpoint (named keys / shapes in the message)."""


class PatchSizeMismatch(NotaGenCheckpointError):
    """The checkpoint was trained on another patch size than the one asked for."""


def config_from_state(state: dict[str, torch.Tensor], dropout: float = 0.1) -> NotaGenConfig:
    try:
        emb = state[_PATCH + "patch_embedding.weight"]
        wpe = state[_PATCH + "base.wpe.weight"]
        char_wpe = state[_CHAR + "transformer.wpe.weight"]
    except KeyError as e:
        raise NotaGenCheckpointError(f"not a NotaGen state dict: missing {e.args[0]!r}") from None
    hidden, flat = emb.shape
    if flat % VOCAB:
        raise NotaGenCheckpointError(f"patch_embedding input {flat} is not a multiple of {VOCAB}")

    def layers(prefix: str) -> int:
        ids = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
        return max(ids) + 1 if ids else 0

    cfg = NotaGenConfig(
        hidden=int(hidden),
        patch_layers=layers(_PATCH + "base.h."),
        char_layers=layers(_CHAR + "transformer.h."),
        patch_length=int(wpe.shape[0]),
        patch_size=flat // VOCAB,
        dropout=dropout,
    )
    if char_wpe.shape[0] != cfg.patch_size + 1:
        raise NotaGenCheckpointError(
            f"char wpe has {char_wpe.shape[0]} positions, expected patch size + 1 = {cfg.patch_size + 1}"
        )
    return cfg


def model_from_state(
    state: dict[str, torch.Tensor], *, patch_size: int | None = PATCH_SIZE, config: NotaGenConfig | None = None
) -> NotaGenModel:
    """Strictly load a state dict in upstream's key layout; named errors for any mismatch."""
    state = {k: v for k, v in state.items() if not _OLD_BUFFERS.search(k)}
    cfg = config or config_from_state(state)
    if patch_size is not None and cfg.patch_size != patch_size:
        raise PatchSizeMismatch(
            f"checkpoint patch size is {cfg.patch_size}, expected {patch_size} "
            "(patches are cut to 16 chars as upstream; pass patch_size=None to accept it)"
        )
    if all(k in state for k in _TIED) and not torch.equal(state[_TIED[0]], state[_TIED[1]]):
        raise NotaGenCheckpointError("lm_head.weight differs from the char wte.weight; NotaGen ties them")
    model = NotaGenModel(cfg)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    bad = [
        f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or extra or bad:
        raise NotaGenCheckpointError(
            f"state dict does not fit {cfg}: missing {missing[:5]} "
            f"(+{max(0, len(missing) - 5)}), unexpected {extra[:5]} "
            f"(+{max(0, len(extra) - 5)}), shape {bad[:5]}"
        )
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model.eval()


def load(path, *, patch_size: int | None = PATCH_SIZE, device: str | torch.device = "cpu") -> NotaGenModel:
    """Our ``.safetensors`` or upstream's ``.pth`` (pretrain / finetune / RL files) -> model in eval mode."""
    path = resolve(path)
    if path.suffix == ".safetensors":
        state, meta = load_safetensors(path, error=NotaGenCheckpointError)
        config = None
        if "notagen_config" in meta:
            config = NotaGenConfig(**json.loads(meta["notagen_config"]))
        model = _named(path, model_from_state, state, patch_size=patch_size, config=config)
    else:
        blob = torch_load_weights(path, error=NotaGenCheckpointError)
        if isinstance(blob, dict) and isinstance(blob.get("model"), dict):
            state = blob["model"]
        elif isinstance(blob, dict) and any(k.startswith(_PATCH) for k in blob):
            state = blob
        else:
            keys = list(blob)[:6] if isinstance(blob, dict) else type(blob).__name__
            raise NotaGenCheckpointError(f"{path}: no 'model' state dict in the checkpoint (found {keys})")
        model = _named(path, model_from_state, state, patch_size=patch_size)
    return model.to(device)


def resolve(path) -> Path:
    """The weights file of ``path``: itself, ``<dir>/model.safetensors``, or for a DPO output
    folder (``iter_1/ .. iter_N/``) a named error that points to its iterations."""
    path = Path(path)
    if path.is_dir():
        if not (path / "model.safetensors").is_file():
            iters = sorted(
                (p for p in path.glob("iter_*") if (p / "model.safetensors").is_file()),
                key=lambda p: int(p.name.split("_")[1]) if p.name.split("_")[1].isdigit() else -1,
            )
            if iters:
                names = ", ".join(p.name for p in iters)
                raise NotaGenCheckpointError(
                    f"{path} holds DPO iterations ({names}), not one model: pass --checkpoint {iters[-1]} "
                    "(the last) or another iter_N"
                )
        path = path / "model.safetensors"
    if not path.is_file():
        raise NotaGenCheckpointError(f"no such checkpoint: {path}")
    return path


def _named(path: Path, build, state, **kw) -> NotaGenModel:
    """Key / shape errors of ``build`` with the file named (another family's weights, say)."""
    try:
        return build(state, **kw)
    except NotaGenCheckpointError as e:
        raise type(e)(f"{path}: {e}") from None


def save(model: NotaGenModel, path, extra_meta: dict | None = None) -> Path:
    """Write ``model.safetensors`` atomically with every upstream key (tied weights duplicated)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path / "model.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"notagen_config": json.dumps(model.config.to_dict()), "format": "notagen"}
    meta |= {k: str(v) for k, v in (extra_meta or {}).items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    save_file(state, tmp, metadata=meta)
    canonical_safetensors(tmp)  # sorted metadata: equal weights, equal bytes
    os.replace(tmp, path)
    return path


def save_upstream(model: NotaGenModel, path, *, epoch: int = 0, min_eval_loss: float = 0.0) -> Path:
    """Upstream's pretrain/finetune ``.pth`` layout (model + the keys upstream prints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "epoch": epoch, "best_epoch": epoch, "min_eval_loss": min_eval_loss}, path)
    return path
