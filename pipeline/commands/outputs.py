"""Where a command may write a user's file: checked before any work starts.

Never inside a DVC output (``dvc repro`` deletes and rebuilds those folders, and ``dvc status``
would call the output modified), never over an existing file unless ``--force``, into a folder
that exists (made here) and is writable. Files are written to a hidden temp name and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pipeline.config import repo_root


def dvc_outputs(root: Path | None = None) -> list[Path]:
    """Every ``outs`` path of the project's dvc.yaml, resolved (none when there is no dvc.yaml)."""
    root = root or repo_root()
    dvc_yaml = root / "dvc.yaml"
    if not dvc_yaml.is_file():
        return []
    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}
    outs = []
    for stage in stages.values():
        for out in stage.get("outs") or []:
            outs.append((root / (next(iter(out)) if isinstance(out, dict) else str(out))).resolve())
    return outs


def project_of(path: Path) -> Path | None:
    """The nearest folder above ``path`` that holds a dvc.yaml (the project it would land in)."""
    return next((d for d in path.resolve().parents if (d / "dvc.yaml").is_file()), None)


def refuse_dvc_output(path: Path, flag: str, root: Path | None = None) -> None:
    """ValueError when ``path`` lies inside a DVC output of this project or of the project that
    holds it (a user running from elsewhere with --out pointing into a checkout)."""
    for r in {(root or repo_root()).resolve(), project_of(path)} - {None}:
        refuse_in_project(path, flag, r)


def refuse_in_project(path: Path, flag: str, root: Path) -> None:
    target = path.resolve()
    outs = dvc_outputs(root)
    for out in outs:
        if target.is_relative_to(out):
            raise ValueError(
                f"{flag}: {path} is inside the DVC output {out.relative_to(root)}: "
                "`dvc repro` replaces that folder; write somewhere else"
            )
    for top in sorted({root / out.relative_to(root).parts[0] for out in outs if out.is_relative_to(root)}):
        if target.is_relative_to(top):
            raise ValueError(
                f"{flag}: {path} is inside {top.name}/, which holds DVC outputs only; write somewhere else"
            )


def plan_output_files(paths: list[Path], force: bool, flag: str = "--out", suffixes=(".wav", ".flac")) -> None:
    """Check every file a command is about to write, before the work: known suffix, no two the
    same, none inside a DVC output, none existing without ``force``; make the folders."""
    seen: set[Path] = set()
    for p in paths:
        if p.suffix.lower() not in suffixes:
            raise ValueError(f"{flag}: {p}: the file name must end in {' or '.join(suffixes)}")
        if p.resolve() in seen:
            raise ValueError(f"{flag}: two outputs would both be written to {p}; give the inputs different names")
        seen.add(p.resolve())
        refuse_dvc_output(p, flag)
        if p.exists() and not force:
            raise ValueError(f"{flag}: {p} exists; pass --force to overwrite it or choose another name")
    for folder in {p.parent for p in paths}:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"{flag}: cannot create the folder {folder}: {e.strerror}") from None
        if not os.access(folder, os.W_OK):
            raise ValueError(f"{flag}: the folder {folder} is not writable")


def temp_name(path: Path) -> Path:
    """A hidden sibling with the same suffix (soundfile picks the format from it)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")
