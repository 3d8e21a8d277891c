"""Periodic training checkpoints: write atomically, find the last one, resume from it.

A checkpoint is a directory ``<dir>/step-00000123/`` holding
  model.safetensors   the (unwrapped) model's state dict -- for Aria models the Aria key layout
  state.pt            optimizer, scheduler, RNG states (as tensors), step, history, extra
                      (``torch.save``; read back with ``torch.load(weights_only=True)``)
  meta.json           step and the fingerprint (hash of the training params) it belongs to
It is written into ``<dir>/.tmp-step-.../`` and renamed into place, so a kill mid-write leaves
at worst a temp dir (ignored, cleaned next time). The newest ``keep`` checkpoints are kept.
A checkpoint whose fingerprint differs from the current run's is not resumed from.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from pipeline.train.checkpoint_files import torch_load_weights

MODEL_FILE, STATE_FILE, META_FILE = "model.safetensors", "state.pt", "meta.json"
_STEP_RE = re.compile(r"^step-(\d{8})$")


def fingerprint(params: Any) -> str:
    """Short hash of JSON-able training params; resuming requires equal fingerprints."""
    blob = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- RNG
def rng_state() -> dict[str, Any]:
    """Every RNG the loop may touch, as tensors/numbers (loadable with weights_only=True)."""
    np_state = np.random.get_state()
    py_version, py_keys, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "python": {"version": int(py_version), "keys": torch.tensor(py_keys, dtype=torch.int64), "gauss": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(k) for k in p["keys"].tolist()), p["gauss"]))


# ----------------------------------------------------------------------------- save / find / load
def save(
    ckpt_dir: str | Path,
    step: int,
    model: torch.nn.Module,
    optimizer,
    scheduler,
    fp: str,
    *,
    history: list | None = None,
    extra: dict | None = None,
    keep: int = 2,
) -> Path:
    """Write checkpoint ``step`` atomically; prune all but the newest ``keep``."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"step-{step:08d}"
    tmp = ckpt_dir / f".tmp-step-{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / MODEL_FILE))
    state = {
        "step": int(step),
        "fingerprint": fp,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state(),
        "history": list(history or []),
        "extra": dict(extra or {}),
    }
    torch.save(state, tmp / STATE_FILE)
    (tmp / META_FILE).write_text(json.dumps({"step": int(step), "fingerprint": fp}, sort_keys=True) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoints(ckpt_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = [
        p
        for p in ckpt_dir.iterdir()
        if p.is_dir() and _STEP_RE.match(p.name) and all((p / f).is_file() for f in (MODEL_FILE, STATE_FILE, META_FILE))
    ]
    return sorted(found, key=lambda p: int(_STEP_RE.match(p.name).group(1)))


def latest(ckpt_dir: str | Path) -> Path | None:
    found = checkpoints(ckpt_dir)
    return found[-1] if found else None


def read_meta(path: str | Path) -> dict:
    return json.loads((Path(path) / META_FILE).read_text())


def load(
    path: str | Path, model: torch.nn.Module, optimizer=None, scheduler=None, restore_rng: bool = True
) -> dict[str, Any]:
    """Load checkpoint dir ``path`` into model/optimizer/scheduler (tensors are copied onto
    their current devices); return its state (``step``, ``history``, ``extra``, ``fingerprint``)."""
    path = Path(path)
    load_model(model, str(path / MODEL_FILE), strict=True)
    state = torch_load_weights(path / STATE_FILE)  # one line naming the file when it is damaged
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        set_rng_state(state["rng"])
    return state


def clear(ckpt_dir: str | Path) -> None:
    """Remove a scratch checkpoint directory (after its stage committed its outputs)."""
    shutil.rmtree(ckpt_dir, ignore_errors=True)


def canonical_safetensors(path: str | Path) -> None:
    """Rewrite a safetensors header with its metadata keys sorted, in place. The safetensors
    writer stores ``__metadata__`` in hash order, so equal weights gave different bytes (and DVC
    hashes) on every run; the header keeps its length (data offsets are unchanged)."""
    path = Path(path)
    with open(path, "r+b") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
        if "__metadata__" in header:
            header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        new = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(new) > n:
            raise ValueError(f"{path}: canonical safetensors header is longer than the original")
        fh.seek(8)
        fh.write(new + b" " * (n - len(new)))
