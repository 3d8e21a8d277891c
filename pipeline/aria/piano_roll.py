"""A piano-roll picture of a continuation: the prompt's notes in blue, the new ones in orange."""

from __future__ import annotations

from pathlib import Path

from pipeline.data.notes import Piece


def piano_roll(piece: Piece, n_prompt_notes: int, path: str | Path, title: str = "") -> None:
    """PNG piano roll: prompt notes in blue, the continuation in orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5), dpi=80)
    for i, n in enumerate(piece.notes):
        color = "tab:blue" if i < n_prompt_notes else "tab:orange"
        ax.broken_barh(
            [(n.start_ms / 1000, max(n.end_ms - n.start_ms, 10) / 1000)], (n.pitch - 0.4, 0.8), facecolors=color
        )
    if 0 < n_prompt_notes < len(piece.notes):  # the last prompt onset: where continuing starts
        ax.axvline(max(n.start_ms for n in piece.notes[:n_prompt_notes]) / 1000, color="k", lw=0.8, ls="--")
    ax.set_xlabel("seconds")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or "prompt (blue) + continuation (orange)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
