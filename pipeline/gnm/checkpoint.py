"""Load GnM checkpoints: ours (a directory) and upstream's released ``.pt`` state dicts.

Upstream saves ``torch.save(model.state_dict())``: a plain dict of float32 tensors, no config.
We read it with ``torch.load(weights_only=True)``, infer the shape from the tensors (layers,
d_model, d_ff, d_word_embed, adapter positions, vocabulary size; heads are not stored: 8 as
upstream unless given) and load strictly. The vocabulary (our ``vocab.json`` or upstream's
``dictionary.pkl`` through a restricted unpickler) must have exactly the checkpoint's size.

Our model directories hold ``params.pt`` (the same upstream layout), ``config.json`` and
``vocab.json`` (+ ``dictionary.pkl``), so upstream code can read our weights too. ``config.json``'s
``meta`` records the job's mode and the composers it trained on (:func:`trained_composers`); the
vocabulary holds every upstream composer token whether trained or not. Files are read through the
shared check (``pipeline.train.checkpoint_files``): a bad file is one line naming it and why.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from pipeline.gnm.model import GnmConfig, GnmDecoder, StyleClassifier
from pipeline.gnm.vocab import Vocab
from pipeline.train.checkpoint_files import torch_load_weights

WEIGHTS = "params.pt"
KINDS = ("decoder", "classifier")


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not match its vocabulary/config."""


class VocabMismatchError(CheckpointError):
    """The checkpoint's vocabulary size differs from the dictionary given with it."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no such checkpoint: {path}")
    sd = torch_load_weights(path, error=CheckpointError)  # the check every family shares
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def infer_config(sd: dict[str, torch.Tensor], n_heads: int = 8) -> dict:
    """Shape of an upstream decoder or classifier from its state dict."""
    kind = "classifier" if "cls_head.weight" in sd else "decoder"
    stack = "encoder" if kind == "classifier" else "decoder"
    try:
        vocab, d_embed = sd["word_emb.emb_lookup.weight"].shape
        layers = {int(m.group(1)) for k in sd if (m := re.match(rf"{stack}\.layers\.(\d+)\.", k))}
        d_ff, d_model = sd[f"{stack}.layers.0.ffn.0.weight"].shape
    except KeyError as exc:
        raise CheckpointError(f"not a GnM checkpoint: missing {exc}") from None
    cfg = {
        "kind": kind,
        "vocab_size": int(vocab),
        "d_model": int(d_model),
        "n_heads": n_heads,
        "n_layers": len(layers),
        "d_ff": int(d_ff),
    }
    if kind == "classifier":
        cfg["num_classes"] = int(sd["cls_head.weight"].shape[0])
    else:
        cfg["d_word_embed"] = int(d_embed)
        cfg["adapter_positions"] = sorted(
            {int(m.group(1)) for k in sd if (m := re.match(r"decoder\.adapters\.(\d+)\.", k))}
        )
    return cfg


def build(cfg: dict) -> torch.nn.Module:
    cfg = dict(cfg)
    kind = cfg.pop("kind", "decoder")
    cfg.pop("meta", None)
    if kind == "classifier":
        return StyleClassifier(**cfg)
    return GnmDecoder(GnmConfig.from_name("generality", **cfg))  # what cfg leaves out is upstream's


def load(
    path: str | Path,
    vocab: str | Path | Vocab | None = None,
    *,
    n_heads: int | None = None,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """A GnM decoder or style classifier in eval mode, with ``.vocab`` attached.

    ``path``: one of our model directories, or an upstream ``.pt`` (then ``vocab`` is required:
    a ``dictionary.pkl``, a ``vocab.json`` or its directory).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no GnM checkpoint at {path} (neither a model directory nor a .pt file)")
    if path.is_dir():
        cfg = read_config(path)
        if n_heads is not None:
            cfg["n_heads"] = n_heads
        sd = read_state_dict(path / WEIGHTS)
        vocab = vocab if vocab is not None else path
    else:
        sd = read_state_dict(path)  # a bad file or another family's is named before a missing vocabulary
        try:
            cfg = infer_config(sd, n_heads or 8)
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
        if vocab is None:
            raise CheckpointError(
                f"{path}: an upstream checkpoint needs vocab= (its dictionary.pkl; --vocab on the command line)"
            )
    vocab = vocab if isinstance(vocab, Vocab) else Vocab.load(vocab)
    if len(vocab) != cfg["vocab_size"]:
        raise VocabMismatchError(
            f"checkpoint {path.name} has a vocabulary of {cfg['vocab_size']} (PAD included), "
            f"the dictionary gives {len(vocab)}: they were not made together"
        )
    model = build(cfg)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the config: {exc}") from exc
    model.vocab = vocab
    model.meta = dict(cfg.get("meta") or {})  # what the job recorded: stage, mode, trained composers
    return model.to(device).eval()


def read_config(path: Path) -> dict:
    """``config.json`` of one of our GnM model directories; another family's folder is named."""
    cfg_file = path / "config.json"
    others = sorted(p.name for p in path.glob("*.safetensors"))
    if not (path / WEIGHTS).is_file() and others:
        raise CheckpointError(
            f"{path} is not a GnM model (it holds {', '.join(others)}, no {WEIGHTS}: another family's model?)"
        )
    if not cfg_file.is_file():
        raise CheckpointError(f"{path} has no config.json (not a GnM model directory)")
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{cfg_file} is not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or "vocab_size" not in cfg or cfg.get("kind", "decoder") not in KINDS:
        raise CheckpointError(f"{path} is not a GnM model ({cfg_file} has no kind decoder/classifier)")
    return cfg


def weights_used(model_dir: str | Path, root: str | Path) -> dict:
    """The weights a model directory holds, as the reports name them: the released file its stage
    imported (``steps: 0``; the manifest's ``init`` path and content hash), else its own
    ``params.pt`` (repo-relative path, content hash, the steps it trained; ``init``: the released
    file it started from, if any)."""
    from pipeline.orchestration.model_origin import model_origin
    from pipeline.orchestration.stage import hash_path  # the hash the manifests record

    model_dir = Path(model_dir)
    origin = model_origin(model_dir)
    steps, init = origin["steps"], origin["init"]
    if init and steps == 0:
        return {"path": init["path"], "hash": init["hash"], "steps": 0}
    own = model_dir / WEIGHTS
    try:
        rel = own.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:  # a model outside the repo: named as given
        rel = str(own)
    return {"path": rel, "hash": hash_path(own), "steps": steps} | ({"init": init} if init else {})


def trained_composers(model) -> list[str] | None:
    """Composers a GnM decoder was trained to condition on, from the record its job left in
    ``config.json`` (None for files without one, e.g. upstream ``.pt``). A generality model
    knows only Composer_None; a mastery/scratch model its composers, plus None from its init."""
    meta = getattr(model, "meta", None) or {}
    if "composers" not in meta or "mode" not in meta:
        return None
    if meta["mode"] == "generality":
        return ["None"]
    return list(meta["composers"]) + (["None"] if meta["mode"] == "mastery" else [])


def save(model: torch.nn.Module, out_dir: str | Path, vocab: Vocab, **extra) -> None:
    """``params.pt`` (upstream layout) + ``config.json`` + the vocabulary files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, out_dir / WEIGHTS)
    if isinstance(model, StyleClassifier):
        cfg = {"kind": "classifier", **model.config}
    else:
        cfg = {"kind": "decoder", **model.config.to_dict()}
    (out_dir / "config.json").write_text(json.dumps({**cfg, "meta": extra}, indent=2, sort_keys=True) + "\n")
    vocab.save(out_dir)
