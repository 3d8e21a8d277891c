"""The one check every checkpoint loader runs before trusting a file: one line naming it and why.

Loaders of every family read weights through these functions, so an empty file, a MIDI file
renamed to ``.safetensors``/``.pt``, a truncated download or a pickle that would run code all
fail the same way, as a :class:`CheckpointFileError` (a ValueError, which the CLI prints as one
``ostinato CMD: error: ...`` line), never as a library traceback.

- :func:`read_safetensors_header` / :func:`load_safetensors`: safetensors, header-only or whole.
- :func:`torch_load_weights`: ``torch.load(weights_only=True)`` only. A pickle that references
  anything beyond tensors and plain containers (``posix.system``, a model class) is refused as
  "holds code we will not run"; the advice torch prints (re-run with weights_only off) is dropped
  on purpose: that would run the file's code.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

MIDI_MAGIC = b"MThd"
ZIP_MAGIC = b"PK\x03\x04"
_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header
# what a weights file's pickle may name: tensor rebuilders, containers, dtypes (for the message only:
# torch's weights-only unpickler is the gate)
_SAFE_MODULES = ("torch", "collections", "_codecs", "numpy", "pathlib")
_PLAIN_BUILTINS = ("set", "frozenset", "dict", "list", "tuple", "int", "float", "str", "bool", "bytearray", "slice")


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot be read at all (empty, another format, truncated, unsafe)."""


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sniff(path: Path) -> str | None:
    """Why an existing file is obviously no checkpoint of any kind (empty, a MIDI file), else None."""
    if path.stat().st_size == 0:
        return "the file is empty (0 bytes)"
    with path.open("rb") as f:
        if f.read(4) == MIDI_MAGIC:
            return "it is a MIDI file"
    return None


def _safetensors_problem(path: Path) -> str:
    """The cause of a safetensors read failure, from the file's own first bytes."""
    data_len = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"only {data_len} bytes, too short for a header"
        if head.startswith(ZIP_MAGIC):
            return "it is a torch zip file (.pt/.pth)"
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_HEADER:
            return "its first 8 bytes are not a header length"
        if n > data_len - 8:
            return f"truncated, its header alone should be {n} bytes and the file has {data_len}"
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError):
            return "its header is not JSON"
    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    want = 8 + n + max(ends, default=0)
    if data_len < want:
        return f"truncated, {data_len} of {want} bytes (an interrupted download or copy?)"
    return ""


def _safetensors_error(path: Path, exc: Exception, error: type[Exception]) -> Exception:
    cause = sniff(path) or _safetensors_problem(path) or _one_line(exc)
    return error(f"{path} is not a safetensors checkpoint: {cause}")


def _require_file(path: Path, kind: str, error: type[Exception]) -> None:
    if path.is_dir():
        raise error(f"{path} is a directory, not a {kind} file")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    cause = sniff(path)
    if cause:
        raise error(f"{path} is not a {kind} checkpoint: {cause}")


def read_safetensors_header(
    path: str | Path, error: type[Exception] = CheckpointFileError
) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """(shape of every tensor, string metadata) of a safetensors file, reading no tensor data;
    ``error``: the (ValueError) class to raise, so a family keeps its own error type."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    _require_file(path, "safetensors", error)
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            metadata = dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise _safetensors_error(path, e, error) from None
    return shapes, metadata


def load_safetensors(
    path: str | Path, device: str = "cpu", error: type[Exception] = CheckpointFileError
) -> tuple[dict[str, Any], dict[str, str]]:
    """(every tensor, string metadata) of a safetensors file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    _require_file(path, "safetensors", error)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            metadata = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise _safetensors_error(path, e, error) from None
    return state, metadata


# ----------------------------------------------------------------------------- torch pickles
def _pickle_bytes(path: Path) -> list[bytes]:
    """The pickles inside a torch file: ``*/data.pkl`` of a zip checkpoint, else the raw file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return [z.read(n) for n in z.namelist() if n.endswith(".pkl")]
    return [path.read_bytes()]


def pickle_globals(data: bytes) -> list[str]:
    """Every ``module.name`` a pickle would import, found by reading its opcodes (nothing runs)."""
    found, strings, memo = [], [], {}
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        try:
            for op, arg, _ in pickletools.genops(stream):
                if op.name == "GLOBAL":
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str) and ("UNICODE" in op.name or "STRING" in op.name):
                    strings.append(str(arg))
                elif op.name == "MEMOIZE" and strings:
                    memo[len(memo)] = strings[-1]
                elif op.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                    strings.append(memo[arg])
        except (ValueError, EOFError, pickle.UnpicklingError, UnicodeDecodeError):
            break  # tensor bytes after the last pickle of a legacy file, or garbage
    return found


def _foreign_globals(path: Path) -> list[str]:
    """Globals outside torch's tensor rebuilders and plain containers (what would run as code)."""
    out = []
    try:
        blobs = _pickle_bytes(path)
    except (OSError, zipfile.BadZipFile):
        return []
    for blob in blobs:
        for g in pickle_globals(blob):
            module, _, name = g.partition(".")
            plain = module in _SAFE_MODULES or (module == "builtins" and name in _PLAIN_BUILTINS)
            if not plain and g not in out:
                out.append(g)
    return out


def _torch_problem(path: Path, exc: BaseException) -> str:
    """The cause of a weights-only load failure, in our words (never torch's advice)."""
    bad = _foreign_globals(path)
    if bad:
        return (
            f"{path} holds code we will not run (its pickle references {', '.join(bad[:3])}); "
            "refusing to load it: only a plain state dict of tensors is accepted (weights_only=True)"
        )
    with path.open("rb") as f:
        head = f.read(4)
    if head == ZIP_MAGIC and not zipfile.is_zipfile(path):
        why = "truncated, its zip archive has no central directory (an interrupted download or copy?)"
    elif _looks_like_safetensors(path):
        why = "it is a safetensors file"
    elif isinstance(exc, EOFError):
        why = "truncated, the pickle ends early"
    elif isinstance(exc, pickle.UnpicklingError):
        detail = [line for line in str(exc).splitlines() if "Unsupported" in line or "GLOBAL" in line]
        why = "torch.load(weights_only=True) cannot read its pickle" + (
            f" ({_one_line(detail[0], 120)})" if detail else ""
        )
    else:
        why = f"{type(exc).__name__}: {_one_line(exc, 160) or 'unreadable'}"
    return f"{path} is not a torch checkpoint: {why}"


def _looks_like_safetensors(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < path.stat().st_size


def torch_load_weights(
    path: str | Path, *, allow: tuple[type, ...] = (), error: type[Exception] = CheckpointFileError
) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; ``allow``: extra classes (e.g. PosixPath)
    admitted as torch's safe globals; ``error``: the class to raise. Any failure names the file."""
    import torch

    path = Path(path)
    _require_file(path, "torch", error)
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(list(allow)):
            warnings.simplefilter("ignore")  # torch's pickle-protocol notes: the error says it all
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, OSError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        raise error(_torch_problem(path, e)) from None
