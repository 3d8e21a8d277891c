"""The Aria tab: continue an uploaded MIDI (``ostinato generate --family aria``)."""

from __future__ import annotations

from pathlib import Path

from pipeline.demo.fields import check_midi, device_args, seed_args, seed_box

TITLE = "Aria: continue a MIDI"
FAMILY = "aria"


def inputs(gr, sources) -> list:
    return [
        gr.File(label="prompt MIDI (empty: start from nothing)", file_types=[".mid", ".midi"], elem_id="aria-prompt"),
        gr.Number(15.0, label="seconds of the prompt to keep", minimum=0.5, elem_id="aria-prompt-seconds"),
        gr.Number(512, label="new tokens (max)", precision=0, minimum=1, elem_id="aria-length"),
        gr.Number(0.98, label="temperature", minimum=0.01, elem_id="aria-temp"),
        seed_box(gr, FAMILY),
    ]


def argv(sources, out: Path, prompt, prompt_seconds, length, temp, seed) -> list[str]:
    args = ["generate", "--family", "aria", "--checkpoint", str(sources.models[FAMILY]), "--save-dir", str(out)]
    if prompt:
        check_midi(prompt)
        args += ["--prompt-midi", str(prompt), "--prompt-duration", str(prompt_seconds)]
    args += ["--length", str(int(length)), "--temp", str(temp)]
    return args + seed_args(seed) + device_args(sources)


def pieces(out: Path) -> list[tuple[Path, list[Path]]]:
    return [(m, []) for m in sorted(out.glob("*.mid"))]
