"""One model-config idiom for every family (litgpt's ``Config.from_name``).

A family keeps its sizes in a ``CONFIGS`` table of frozen dataclasses, each entry with a comment
saying where its numbers come from, and exposes ``Config.from_name(name, **overrides)``, which
calls :func:`from_table`. Unknown names and keys fail here, naming what is allowed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C")


class ModelConfigError(ValueError):
    """An unknown config name or override key."""


def from_table(table: dict[str, C], name: str, what: str, **overrides: Any) -> C:
    """``table[name]`` with ``overrides`` replaced; ``what`` names the family in errors."""
    if name not in table:
        raise ModelConfigError(f"unknown {what} config {name!r}; known: {sorted(table)}")
    base = table[name]
    allowed = {f.name for f in dataclasses.fields(base)}
    bad = sorted(set(overrides) - allowed)
    if bad:
        raise ModelConfigError(f"unknown {what} config keys {bad}; allowed: {sorted(allowed)}")
    return dataclasses.replace(base, **overrides) if overrides else base
