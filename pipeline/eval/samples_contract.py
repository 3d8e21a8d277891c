"""The samples contract: how a generating stage tells the eval layer what it made.

Each generating stage writes ``samples.json`` in its reports folder::

    {"family": "aria", "format": "midi" | "abc",
     "samples": [{"path": "p/var0.mid", "label": "finetune", "midi": "p/var0.mid",
                  "audio": "p/var0.wav", "image": "p/var0.png", "composer": "bach",
                  "problems": ["end: ..."]}]}

Paths are relative to the folder of ``samples.json``. ``label`` names the generator (one table
row per family + label). ``midi``: the notes (default for a MIDI sample: ``path``; for ABC, the
MIDI the family's stage rendered, absent when it could not render; ``path`` is then the text the
scorer reads, interleaved ABC). ``audio``/``image``: the FluidSynth render and piano roll the
stage already wrote (optional). ``problems``: the family's own validity checks (``check: reason``);
the eval layer adds only generic ones. A new family joins by writing this file, no eval code edited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.data.jsonl import write_json

FILENAME = "samples.json"
FORMATS = ("midi", "abc")
_OPTIONAL = ("midi", "audio", "image", "composer")


@dataclass
class ContractSample:
    path: Path  # the sample as generated (absolute)
    label: str
    midi: Path | None = None
    audio: Path | None = None
    image: Path | None = None
    composer: str | None = None
    problems: list[str] = field(default_factory=list)
    # set only by in-memory contracts (``ostinato eval`` over a folder that mixes MIDI and ABC):
    name: str | None = None  # how the table names the piece (default: "<row> #<index>")
    format: str | None = None  # this sample's format (default: the contract's)


@dataclass
class Contract:
    family: str
    format: str
    samples: list[ContractSample]
    where: Path  # the samples.json read


def write_contract(folder: Path, family: str, fmt: str, samples: list[dict]) -> Path:
    """Write ``folder/samples.json`` atomically; each sample dict has ``path`` and ``label``, and
    optionally ``midi``, ``audio``, ``image``, ``composer``, ``problems`` (paths relative to folder)."""
    if fmt not in FORMATS:
        raise ValueError(f"samples contract of {family}: format must be one of {FORMATS}, got {fmt!r}")
    keep = ("path", "label", *_OPTIONAL, "problems")
    rows = [{k: s[k] for k in keep if s.get(k) not in (None, [])} for s in samples]
    for s in rows:
        for k in ("path", "midi", "audio", "image"):
            if k in s and not (Path(folder) / s[k]).is_file():
                raise FileNotFoundError(f"samples contract of {family}: {k} {s[k]} is not a file in {folder}")
    write_json(Path(folder) / FILENAME, {"family": family, "format": fmt, "samples": rows})
    return Path(folder) / FILENAME


def read_contract(path: Path) -> Contract:
    """Read and check one ``samples.json``; one line naming the file and the cause on bad input."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"samples contract not found: {path} (its generating stage writes it)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list) or not data.get("family"):
        raise ValueError(f"{path}: needs 'family' and a 'samples' list")
    if data.get("format") not in FORMATS:
        raise ValueError(f"{path}: format must be one of {FORMATS}, got {data.get('format')!r}")
    folder, out = path.parent, []
    for i, s in enumerate(data["samples"]):
        if not isinstance(s, dict) or not s.get("path") or not s.get("label"):
            raise ValueError(f"{path}: sample {i} needs 'path' and 'label'")
        files = {k: folder / s[k] if s.get(k) else None for k in ("midi", "audio", "image")}
        if data["format"] == "midi" and files["midi"] is None:  # a MIDI sample is its own notes
            files["midi"] = folder / s["path"]
        out.append(
            ContractSample(
                folder / s["path"],
                str(s["label"]),
                composer=s.get("composer"),
                problems=[str(p) for p in s.get("problems", [])],
                **files,
            )
        )
    return Contract(str(data["family"]), data["format"], out, path)


STYLE_FILENAME = "style_predictions.json"


def write_style_predictions(folder: Path, family: str, classifier: str, classes: list[str], rows: list[dict]) -> Path:
    """A family's style classifier's verdicts on generated samples, for the generators table:
    ``rows``: {"row": table row name (family + label), "conditioned": the composer asked for,
    "predicted": the classifier's label}. Written as ``folder/style_predictions.json``."""
    bad = [r for r in rows if not {"row", "conditioned", "predicted"} <= set(r)]
    if bad:
        raise ValueError(f"style predictions of {family}: each needs row, conditioned, predicted (got {bad[0]})")
    write_json(
        Path(folder) / STYLE_FILENAME,
        {"family": family, "classifier": classifier, "classes": list(classes), "predictions": rows},
    )
    return Path(folder) / STYLE_FILENAME


def read_style_predictions(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"style predictions not found: {path} (the family's classifier stage writes them)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("predictions"), list) or not data.get("classes"):
        raise ValueError(f"{path}: needs 'classes' and a 'predictions' list")
    return data
