"""Inputs and checks every family tab shares: the seed box, the device, a MIDI upload's header."""

from __future__ import annotations

from pathlib import Path


def seed_box(gr, family: str):
    # a Textbox, not a Number: an empty Number reads as 0, and empty must mean "random"
    return gr.Textbox("", label="seed (empty: random)", max_lines=1, elem_id=f"{family}-seed")


def seed_args(seed: str | None) -> list[str]:
    text = (seed or "").strip()
    if not text:
        return []
    if not text.lstrip("-").isdigit():
        raise ValueError(f"seed must be a whole number, got {text!r}")
    return ["--seed", text]


def device_args(sources) -> list[str]:
    return ["--device", sources.device] if sources.device else []


def check_midi(path) -> None:
    """An upload that is not a Standard MIDI File: one line naming it, before any model loads."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"MThd":
        raise ValueError(f"{path.name}: not a MIDI file (a Standard MIDI File starts with 'MThd')")
