"""The Generality-to-Mastery tab: a score in one composer's style (``ostinato generate --family gnm``)."""

from __future__ import annotations

from pathlib import Path

from pipeline.demo.fields import device_args, seed_args, seed_box

TITLE = "GnM: composer style"
FAMILY = "gnm"


def vocab_file(checkpoint: Path) -> Path | None:
    """None for our model directory (it holds vocab.json); for an upstream .pt, the dictionary beside it."""
    if not checkpoint.is_file():
        return None
    for name in ("dictionary.pkl", "vocab.json"):
        if (checkpoint.parent / name).is_file():
            return checkpoint.parent / name
    raise FileNotFoundError(f"{checkpoint}: an upstream GnM checkpoint needs dictionary.pkl beside it")


def composers(sources) -> list[str]:
    from pipeline.gnm.vocab import Vocab

    path = sources.models[FAMILY]
    return [c for c in Vocab.load(vocab_file(path) or path).composers if c != "None"]


def inputs(gr, sources) -> list:
    names = composers(sources)
    return [
        gr.Dropdown(names, value=names[0] if names else None, label="composer", elem_id="gnm-composer"),
        gr.Number(16, label="bars (max)", precision=0, minimum=1, elem_id="gnm-bars"),
        gr.Number(1200, label="events (max)", precision=0, minimum=8, elem_id="gnm-events"),
        gr.Number(1.1, label="temperature", minimum=0.01, elem_id="gnm-temp"),
        seed_box(gr, FAMILY),
    ]


def argv(sources, out: Path, composer, bars, events, temp, seed) -> list[str]:
    if not composer:
        raise ValueError("choose a composer")
    args = ["generate", "--family", "gnm", "--checkpoint", str(sources.models[FAMILY]), "--save-dir", str(out)]
    args += ["--composer", composer, "-n", "1", "--max-bars", str(int(bars)), "--max-events", str(int(events))]
    args += ["--temp", str(temp)]
    vocab = vocab_file(sources.models[FAMILY])
    args += ["--vocab", str(vocab)] if vocab else []
    return args + seed_args(seed) + device_args(sources)


def pieces(out: Path) -> list[tuple[Path, list[Path]]]:
    return [(m, [m.with_suffix(".txt")]) for m in sorted(out.glob("*.mid"))]
