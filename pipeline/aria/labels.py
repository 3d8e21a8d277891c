"""Selecting pieces by their labels (``{period: [baroque, classical]}``), for finetuning and generation."""

from __future__ import annotations

from typing import Any


def label_value(label: dict, key: str) -> Any:
    """A metadata field of a piece: top-level label key, else inside its ``labels`` dict."""
    if key in label:
        return label[key]
    return (label.get("labels") or {}).get(key)


def matches(label: dict, filters: dict[str, list]) -> bool:
    return all(str(label_value(label, k)) in {str(v) for v in allowed} for k, allowed in filters.items())
