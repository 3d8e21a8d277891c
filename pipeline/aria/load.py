"""Strict reading and saving of Aria checkpoints (safetensors, layout of ``specs/aria-checkpoint.md``).

``checked_config(path)`` infers the shape of the model from the tensors (d_model, n_layers,
ff_mult, vocab_size, emb_size), takes ``n_heads``/``max_seq_len``/``rope_base`` from the
overrides, then from the config JSON that :func:`save` writes into the safetensors metadata,
then from the released defaults (d_model // 64 heads, 8192 positions, base 500000); the head is
"lm" when ``lm_head.weight`` is present and "emb" when ``emb_head.weight`` is
(:func:`pipeline.aria.model.load` then builds the torch model). Any missing or unexpected key,
any shape mismatch, a vocabulary that differs from ``expected_vocab_size`` and a file that is
not safetensors raise :class:`CheckpointError` naming the file or the keys.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from safetensors.torch import save_file

from pipeline.aria.model_config import ModelConfig
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.train.checkpoint import canonical_safetensors
from pipeline.train.checkpoint_files import read_safetensors_header

TOK_EMB = "model.tok_embeddings.weight"
LM_HEAD = "lm_head.weight"
EMB_HEAD = "emb_head.weight"
_LAYER_RE = re.compile(r"^model\.encode_layers\.(\d+)\.")
_SHAPE_FIELDS = ("d_model", "n_layers", "ff_mult", "vocab_size", "emb_size")
_META_FIELDS = ("n_heads", "max_seq_len", "rope_base")
_RELEASED_MAX_SEQ_LEN = 8192


class CheckpointError(ValueError):
    """A checkpoint does not fit the model (missing/unexpected keys, shapes, vocabulary)."""


def expected_shapes(cfg, head: str) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of an Aria model with ``cfg``, and its shape. head: "lm" or "emb"."""
    d, h = cfg.d_model, cfg.ff_mult * cfg.d_model
    shapes = {TOK_EMB: (cfg.vocab_size, d)}
    for i in range(cfg.n_layers):
        p = f"model.encode_layers.{i}."
        shapes.update(
            {
                p + "mixed_qkv.weight": (3 * d, d),
                p + "att_proj_linear.weight": (d, d),
                p + "ff_gate_proj.weight": (h, d),
                p + "ff_up_proj.weight": (h, d),
                p + "ff_down_proj.weight": (d, h),
                p + "norm1.weight": (d,),
                p + "norm1.bias": (d,),
                p + "norm2.weight": (d,),
                p + "norm2.bias": (d,),
            }
        )
    shapes["model.out_layer_norm.weight"] = (d,)
    shapes["model.out_layer_norm.bias"] = (d,)
    if head == "lm":
        shapes[LM_HEAD] = (cfg.vocab_size, d)
    elif head == "emb":
        shapes[EMB_HEAD] = (cfg.emb_size, d)
    else:
        raise ValueError(f"head must be 'lm' or 'emb', got {head!r}")
    return shapes


def infer_config(shapes: Mapping[str, Sequence[int]], metadata: Mapping[str, str] | None = None, **overrides):
    """(ModelConfig, head) from tensor shapes, our metadata and overrides; see module doc."""
    if TOK_EMB not in shapes:
        raise CheckpointError(f"missing key {TOK_EMB}: not an Aria checkpoint (keys: {_short(shapes)})")
    heads = [k for k in (LM_HEAD, EMB_HEAD) if k in shapes]
    if len(heads) != 1:
        raise CheckpointError(f"expected exactly one of {LM_HEAD} (LM) or {EMB_HEAD} (embedding model), found {heads}")
    head = "lm" if heads[0] == LM_HEAD else "emb"
    vocab, d = (int(s) for s in shapes[TOK_EMB])
    layers = {int(m.group(1)) for k in shapes if (m := _LAYER_RE.match(k))}
    gate = shapes.get("model.encode_layers.0.ff_gate_proj.weight")
    ff_mult = int(gate[0]) // d if gate is not None and int(gate[0]) % d == 0 else 4
    inferred = {
        "d_model": d,
        "vocab_size": vocab,
        "n_layers": max(layers) + 1 if layers else 0,
        "ff_mult": ff_mult,
        "emb_size": int(shapes[EMB_HEAD][0]) if head == "emb" else None,
    }
    for key in _SHAPE_FIELDS:
        if key in overrides and overrides[key] != inferred[key]:
            raise CheckpointError(
                f"override {key}={overrides[key]} contradicts the checkpoint's shapes ({key}={inferred[key]})"
            )
    saved = _saved_config(metadata)
    fields = dict(inferred)
    for key in _META_FIELDS:
        if key in saved:
            fields[key] = saved[key]
    fields.setdefault("max_seq_len", _RELEASED_MAX_SEQ_LEN)
    fields.update({k: v for k, v in overrides.items() if k not in _SHAPE_FIELDS})
    if "n_heads" not in fields:
        if d % 64:
            raise CheckpointError(f"d_model {d} is not a multiple of 64: pass n_heads= explicitly")
        fields["n_heads"] = d // 64
    try:
        return ModelConfig.from_dict(fields), head
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"cannot build a config from the checkpoint: {e}") from e


def check_shapes(shapes: Mapping[str, Sequence[int]], cfg, head: str, expected_vocab_size: int | None = None) -> None:
    """Raise CheckpointError unless ``shapes`` is exactly the state dict of (cfg, head)."""
    if expected_vocab_size is not None and cfg.vocab_size != expected_vocab_size:
        raise CheckpointError(
            f"vocabulary mismatch: checkpoint {TOK_EMB} has {cfg.vocab_size} rows, tokenizer has "
            f"{expected_vocab_size} tokens (different tokenizer config, e.g. pedal/delimiter tokens?)"
        )
    want = expected_shapes(cfg, head)
    missing = sorted(set(want) - set(shapes))
    unexpected = sorted(set(shapes) - set(want))
    wrong = [
        f"{k}: checkpoint {tuple(int(s) for s in shapes[k])} vs model {want[k]}"
        for k in sorted(set(want) & set(shapes))
        if tuple(int(s) for s in shapes[k]) != want[k]
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short(unexpected)}")
    if wrong:
        problems.append(f"shape mismatches {_short(wrong)}")
    if problems:
        raise CheckpointError("checkpoint does not match the Aria layout: " + "; ".join(problems))


def read_header(path: str | Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Shapes of every tensor and the string metadata of a safetensors file, without loading data.

    A file that is not safetensors at all (a MIDI file passed as --checkpoint, a truncated
    download) is a CheckpointError naming it, not the library's bare ``header too large``."""
    return read_safetensors_header(path, error=CheckpointError)  # the check every family shares


def checked_config(path: Path, expected_vocab_size: int | None = None, **config_overrides):
    """(config, head) of a checkpoint, from its header only, after every key/shape/vocab check;
    shared by the torch and MLX loaders so both fail the same way."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    shapes, metadata = read_header(path)
    try:
        cfg, head = infer_config(shapes, metadata, **config_overrides)
        check_shapes(shapes, cfg, head, expected_vocab_size)
    except CheckpointError as e:  # name the file: it may be another family's weights
        raise CheckpointError(f"{path}: {e}") from None
    return cfg, head


def resolve_checkpoint(path: str | Path) -> Path:
    """A .safetensors file, or a directory holding model.safetensors (as the stages write)."""
    path = Path(path)
    if path.is_dir():
        weights = sorted(p.name for p in path.iterdir() if p.suffix in (".pt", ".pth", ".bin", ".safetensors"))
        if weights and "model.safetensors" not in weights:
            raise CheckpointError(
                f"{path} is not an Aria model folder: no model.safetensors (it holds {', '.join(weights[:4])}: "
                "another family's model?)"
            )
        path = path / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


# tokenizer options a released checkpoint may have been trained with; each adds tokens, so the
# size of model.tok_embeddings.weight tells them apart (pedal: +2, delimiter: +1)
_VOCAB_VARIANTS = (
    {},
    {"include_pedal": True},
    {"include_delimiter": True},
    {"include_pedal": True, "include_delimiter": True},
)


def tokenizer_for(checkpoint: Path, include_pedal: bool | None = None):
    """The tokenizer of a checkpoint: its tokenizer.json (what our stages save), else the variant
    whose vocabulary has the checkpoint's size (released files carry no tokenizer file), else the
    default. ``include_pedal`` (the --pedal/--no-pedal flag) decides where the file cannot, and
    is an error where the saved tokenizer says otherwise."""
    saved = Path(checkpoint).parent / "tokenizer.json"
    if saved.is_file():
        tok = AbsTokenizer(**json.loads(saved.read_text()).get("config", {}))
        if include_pedal is not None and tok.config["include_pedal"] != include_pedal:
            raise CheckpointError(
                f"{saved} says include_pedal={tok.config['include_pedal']}, contradicting "
                f"{'--pedal' if include_pedal else '--no-pedal'}"
            )
        return tok
    if include_pedal is not None:
        return AbsTokenizer(include_pedal=include_pedal)
    shapes, _ = read_header(checkpoint)
    rows = shapes.get(TOK_EMB, (None,))[0]
    for variant in _VOCAB_VARIANTS:
        tok = AbsTokenizer(**variant)
        if tok.vocab_size == rows:
            return tok
    return AbsTokenizer()  # no variant fits: the vocabulary check names both sizes


def save(model, path: str | Path, metadata: Mapping[str, object] | None = None) -> Path:
    """Write the model's state dict as safetensors with its config JSON under metadata "config".

    Other metadata values are stored as given when str, else as JSON. Written atomically.
    """
    path = Path(path)
    meta = {"format": "pt", "config": json.dumps(model.config.to_dict(), sort_keys=True)}
    for k, v in (metadata or {}).items():
        if k in ("format", "config"):
            raise ValueError(f"metadata key {k!r} is reserved")
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    canonical_safetensors(tmp)  # sorted metadata: equal weights, equal bytes
    os.replace(tmp, path)
    return path


def _saved_config(metadata: Mapping[str, str] | None) -> dict:
    if not metadata or "config" not in metadata:
        return {}
    try:
        cfg = json.loads(metadata["config"])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"metadata 'config' is not valid JSON: {e}") from e
    return cfg if isinstance(cfg, dict) else {}


def _short(items, n: int = 12) -> str:
    items = list(items)
    more = f" ... (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(str(i) for i in items[:n]) + more
