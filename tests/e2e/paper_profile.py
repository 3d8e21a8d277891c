"""A paper profile (profiles/paper-<family>.yaml) made runnable on micro data: every ``SET-ME``
value becomes the path it names, written by the test (tiny checkpoints in the upstream format, a
few pieces in the upstream data layout), and the recipe's sizes give way to micro ones. The result
is applied with the user's own command, ``ostinato params profile`` (which validates the merged file
and refuses unset paths; ``params check --profile`` adds only the parameter counts, unit-tested in
tests/unit/test_paper_profiles.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import yaml
from repo_copy import run


def set_me_leaves(tree, key: str = ""):
    """(dotted key, value) of every ``SET-ME`` leaf; list items as ``key[i]``."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from set_me_leaves(v, f"{key}.{k}" if key else k)
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from set_me_leaves(v, f"{key}[{i}]")
    elif isinstance(tree, str) and "SET-ME" in tree:
        yield key, tree


def _set(tree, key: str, value) -> None:
    *parents, last = key.replace("[", ".[").split(".")
    for part in parents:
        tree = tree[int(part[1:-1])] if part.startswith("[") else tree[part]
    if last.startswith("["):
        tree[int(last[1:-1])] = value
    else:
        tree[last] = value


def deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = deep_merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def apply_paper_profile(
    repo: Path, family: str, writers: dict[str, Callable[[Path], None]], micro: dict
) -> dict[str, str]:
    """Fill profiles/paper-<family>.yaml in ``repo`` (each writer makes the file or folder its
    ``SET-ME`` value names), merge ``micro`` on top, apply it; returns {dotted key: path}."""
    tree = yaml.safe_load((repo / "profiles" / f"paper-{family}.yaml").read_text())
    filled = {}
    for key, value in set_me_leaves(tree):
        rel = value.split()[1].rstrip(":")  # "SET-ME <path>: what to download"
        assert key in writers, f"paper-{family}.yaml: no test file for {key} ({rel})"
        writers[key](repo / rel)
        assert (repo / rel).exists(), rel
        _set(tree, key, rel)
        filled[key] = rel
    assert set(writers) == set(filled), f"writers for keys the profile does not set: {set(writers) - set(filled)}"
    name = f"test-paper-{family}"
    (repo / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(deep_merge(tree, micro), sort_keys=False))
    run([sys.executable, "-m", "pipeline.cli", "params", "profile", name], repo)
    return filled
