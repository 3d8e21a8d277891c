"""Typed params: one pydantic model per params.yaml section, unknown keys rejected.

This module is the loader; the section models live in ``pipeline/params/`` (``base.py`` holds
``base``, ``runtime`` and the strict ``Section`` base; one module per family holds its stages'
sections) and are registered in ``pipeline.params.SECTIONS``.

Every error names the file and the dotted key, so a typo fails fast instead of being
silently ignored (``ingest.limts`` is an error, not a default).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.params import SECTIONS
from pipeline.params.base import BaseParams, ParamsError, RuntimeParams, Section  # noqa: F401  (re-exported)

PARAMS_FILE = "params.yaml"


# ---------------------------------------------------------------- loading
def repo_root() -> Path:
    """The project root: $OSTINATO_ROOT, else the nearest parent holding params.yaml."""
    env = os.environ.get("OSTINATO_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / PARAMS_FILE).exists():
            return d
    return here


def duplicate_keys(node: yaml.Node | None, prefix: str = "") -> list[str]:
    """Every key given twice in one mapping of a composed YAML tree, as 'dotted.key (lines a and b)'.
    Plain YAML keeps the last copy silently, so an edit to the first one would do nothing."""
    out: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value in node.value:
            key = str(key_node.value)
            dotted = f"{prefix}{key}"
            line = key_node.start_mark.line + 1
            if key in seen:
                out.append(f"{dotted} (lines {seen[key]} and {line})")
            seen.setdefault(key, line)
            out += duplicate_keys(value, f"{dotted}.")
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += duplicate_keys(item, f"{prefix}{i}.")
    return out


def load_yaml_unique(text: str, path: Path | str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys with one ParamsError naming the file and keys."""
    dups = duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
    if dups:
        raise ParamsError(f"{path}: duplicate key {', '.join(dups)}: YAML would silently keep the last; keep one")
    return yaml.safe_load(text)


def read_params_file(path: Path | None = None) -> tuple[Path, dict[str, Any]]:
    path = Path(path) if path else repo_root() / PARAMS_FILE
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    try:
        raw = load_yaml_unique(path.read_text(), path) or {}
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections")
    return path, raw


def _format_errors(path: Path, section: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(
            str(p) for p in (section, *e["loc"]) if not str(p).startswith(("Music21Source", "MidiDirSource"))
        )
        if e["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key '{loc}'")
        else:
            lines.append(f"{path}: {loc}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def sections() -> dict[str, type[Section]]:
    return SECTIONS


def load_section(name: str, path: Path | None = None) -> Any:
    """Validate and return one section. Also rejects unknown top-level sections."""
    SECTIONS = sections()
    path, raw = read_params_file(path)
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ParamsError(f"{path}: unknown section(s) {unknown}; known: {sorted(SECTIONS)}")
    if name not in SECTIONS:
        raise ParamsError(f"no params model registered for section '{name}'")
    try:
        return SECTIONS[name].model_validate(raw.get(name) or {})
    except ValidationError as e:
        raise ParamsError(_format_errors(path, name, e)) from None


def validate_tree(path: Path, raw: dict) -> None:
    """Every section of an already-read params file, as ``ostinato params check`` does it, with
    one ParamsError naming the file and each bad dotted key."""
    known = sections()
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ParamsError(f"{path}: unknown section(s) {unknown}; known: {sorted(known)}")
    errors = []
    for name, model in known.items():
        if name not in raw:
            continue
        try:
            model.model_validate(raw.get(name) or {})
        except ValidationError as e:
            errors.append(_format_errors(path, name, e))
    if errors:
        raise ParamsError("\n".join(errors))


def default_sections(raw: dict) -> list[str]:
    """Sections missing from a params tree: every stage reading one runs on built-in defaults."""
    return [name for name in sections() if name not in raw]


def validate_all(path: Path | None = None) -> dict[str, Any]:
    """Validate every section (``ostinato params check``)."""
    _, raw = read_params_file(path)
    return {name: load_section(name, path) for name in raw}


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
