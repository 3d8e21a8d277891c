"""The MIDI-VALLE tab: a MIDI file played in the sound of a prompt recording (``ostinato synthesize``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.demo.fields import check_midi, seed_args, seed_box

TITLE = "MIDI-VALLE: MIDI + a prompt recording"
FAMILY = "valle"
MAKES_VALLE_AUDIO = True  # the job itself is the VALL-E rendering


def inputs(gr, sources) -> list:
    default = f" (empty: {sources.prompt_wav.name} from the DAG)" if sources.prompt_wav else ""
    return [
        gr.File(label="MIDI to play", file_types=[".mid", ".midi"], elem_id="valle-midi"),
        gr.File(label=f"prompt recording, .wav or .flac{default}", file_types=[".wav", ".flac"], elem_id="valle-wav"),
        gr.File(label="the prompt recording's MIDI", file_types=[".mid", ".midi"], elem_id="valle-prompt-midi"),
        seed_box(gr, FAMILY),
    ]


def argv(sources, out: Path, midi, prompt_wav, prompt_midi, seed) -> list[str]:
    if not (sources.has("valle") and sources.has("codec")):
        raise ValueError(sources.missing("valle" if not sources.has("valle") else "codec"))
    if not midi:
        raise ValueError("upload the MIDI file to play")
    check_midi(midi)
    if (prompt_wav is None) != (prompt_midi is None):
        raise ValueError("upload both the prompt recording and its MIDI, or neither (the default prompt)")
    if prompt_wav is None:
        if sources.prompt_wav is None:
            raise ValueError("no default prompt (the DAG's data/segment is missing): upload a recording and its MIDI")
        prompt_wav, prompt_midi = sources.prompt_wav, sources.prompt_midi
    else:
        check_midi(prompt_midi)
        check_audio(Path(prompt_wav))
    out.mkdir(parents=True, exist_ok=True)
    target = out / Path(midi).name
    shutil.copyfile(midi, target)
    return sources.valle_argv(
        target, target.with_suffix(".valle.wav"), Path(prompt_wav), Path(prompt_midi)
    ) + seed_args(seed)


def pieces(out: Path) -> list[tuple[Path, list[Path]]]:
    return [(m, [m.with_suffix(".valle.wav")]) for m in sorted(out.glob("*.mid"))]


def check_audio(path: Path) -> None:
    import soundfile as sf

    try:
        sf.info(str(path))
    except Exception as e:  # soundfile's own message says what it could not parse
        raise ValueError(f"{path.name}: not a readable audio file ({type(e).__name__}: {e})") from None
