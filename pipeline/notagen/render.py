"""A generated piece out to files: ABC (as generated and interleaved), MusicXML and MIDI through
music21 (our de-interleaving rewrite, no MuseScore), audio through FluidSynth.

Every failure is a :class:`ScoreRenderError` naming the step, so a caller can quarantine the
piece with the reason instead of crashing (upstream's conversion failures, NotaGen #4).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.notagen.abc_check import deinterleave


class ScoreRenderError(RuntimeError):
    """A piece that could not be converted (the failed step is in the message)."""


def to_score(interleaved: str):
    from music21 import converter

    try:
        return converter.parse(deinterleave(interleaved), format="abc")
    except Exception as e:  # noqa: BLE001 - music21 raises many kinds
        raise ScoreRenderError(f"ABC -> music21: {type(e).__name__}: {e}") from e


def write_piece(out_dir: Path, name: str, text: str, interleaved: str | None, *, audio: bool = True,
                sample_rate: int = 16000, max_seconds: float = 30.0) -> dict[str, str]:
    """Writes ``<name>.abc`` (as generated) and, when ``interleaved`` is given, ``<name>.interleaved.abc``,
    ``.musicxml``, ``.mid`` and ``.flac``; returns {kind: file name}. Raises ScoreRenderError."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"abc": f"{name}.abc"}
    (out_dir / files["abc"]).write_text(text, encoding="utf-8")
    if interleaved is None:
        return files
    files["interleaved"] = f"{name}.interleaved.abc"
    (out_dir / files["interleaved"]).write_text(interleaved, encoding="utf-8")
    score = to_score(interleaved)
    for kind, fmt, ext in (("musicxml", "musicxml", "musicxml"), ("midi", "midi", "mid")):
        try:
            score.write(fmt, fp=str(out_dir / f"{name}.{ext}"))
        except Exception as e:  # noqa: BLE001
            raise ScoreRenderError(f"music21 -> {fmt}: {type(e).__name__}: {e}") from e
        files[kind] = f"{name}.{ext}"
    if audio:
        files["audio"] = render_audio(out_dir / files["midi"], out_dir / f"{name}.flac", sample_rate, max_seconds)
    return files


def render_audio(midi: Path, out: Path, sample_rate: int, max_seconds: float) -> str:
    import soundfile as sf

    from pipeline.data.render import RenderError, render_midi, resolve_soundfont
    from pipeline.params.data import AcousticCondition

    try:
        wav = render_midi(midi.read_bytes(), AcousticCondition(), resolve_soundfont("default", Path(".")),
                          sample_rate, max_seconds)
    except RenderError as e:
        raise ScoreRenderError(f"FluidSynth: {e}") from e
    sf.write(str(out), wav, sample_rate)
    return out.name
