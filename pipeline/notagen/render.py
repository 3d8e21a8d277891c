"""A generated piece out to files: ABC (as generated and interleaved), MusicXML, MIDI and audio.

Upstream's route: the interleaved ABC goes to MusicXML with abc2xml (shipped in abctoolkit,
NotaGen's toolkit; it reads inline ``[V:n]`` voices and fields directly), music21 reads that
MusicXML and writes the MIDI, FluidSynth renders the audio. music21's own ABC reader is not used
here: for a bar longer than its meter it splits the bar and re-inserts the *same* TimeSignature
object in several measures, and its MIDI writer then fails ("... is already found in this Stream").

Every failure is a :class:`ScoreRenderError` naming the step, so a caller can quarantine the
piece with the reason instead of crashing (upstream's conversion failures, NotaGen #4).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

log = logging.getLogger(__name__)


class ScoreRenderError(RuntimeError):
    """A piece that could not be converted (the failed step is in the message)."""


def to_musicxml(interleaved: str) -> str:
    """Interleaved ABC -> MusicXML text with abc2xml (raises ScoreRenderError)."""
    from abctoolkit import abc2xml

    log = io.StringIO()
    try:
        # abc2xml reports parse errors on stderr and returns no document
        with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
            docs = abc2xml.getXmlDocs(interleaved)
            xml = abc2xml.fixDoctype(docs[0]) if docs else None
    except Exception as e:  # noqa: BLE001 - a third-party parser raises many kinds
        raise ScoreRenderError(f"ABC -> MusicXML (abc2xml): {type(e).__name__}: {e}") from e
    if xml is None:
        lines = [ln.strip() for ln in log.getvalue().splitlines() if ln.strip()]
        raise ScoreRenderError("ABC -> MusicXML (abc2xml): " + (" | ".join(lines[-3:]) or "no score"))
    return xml


def to_score(interleaved: str):
    """Interleaved ABC -> music21 Score (through MusicXML); raises ScoreRenderError."""
    return read_musicxml(to_musicxml(interleaved))


def read_musicxml(xml: str):
    from music21 import converter

    try:
        return converter.parseData(xml, format="musicxml")
    except Exception as e:  # noqa: BLE001 - music21 raises many kinds
        raise ScoreRenderError(f"MusicXML -> music21: {type(e).__name__}: {e}") from e


def _without_repeats(score):
    """A copy with repeat barlines, endings and repeat expressions made plain (played once)."""
    from music21 import bar, repeat, spanner

    s = score.coreCopyAsDerivation("without_repeats")
    for b in list(s.recurse().getElementsByClass(bar.Repeat)):
        site = b.activeSite
        plain = bar.Barline("final" if b.type == "final" else "regular")
        if site.leftBarline is b:
            site.leftBarline = None
        elif site.rightBarline is b:
            site.rightBarline = plain
    for el in list(s.recurse().getElementsByClass((repeat.RepeatExpression, spanner.RepeatBracket))):
        el.activeSite.remove(el)
    return s


def write_midi(score, path: Path) -> None:
    """MIDI with repeats expanded; a piece whose repeats music21 cannot expand (badly formed: a
    section opened by ``|:`` and never closed, as real and generated pieces may have) is written
    played once through, with a warning."""
    from music21.repeat import ExpanderException

    try:
        score.write("midi", fp=str(path))
        return
    except ExpanderException as e:
        log.warning("%s: repeats not expanded (%s); MIDI plays the score once through", path.name, e)
    except Exception as e:  # noqa: BLE001
        raise ScoreRenderError(f"music21 -> midi: {type(e).__name__}: {e}") from e
    try:
        _without_repeats(score).write("midi", fp=str(path))
    except Exception as e:  # noqa: BLE001
        raise ScoreRenderError(f"music21 -> midi (repeats dropped): {type(e).__name__}: {e}") from e


def write_piece(
    out_dir: Path,
    name: str,
    text: str,
    interleaved: str | None,
    *,
    audio: bool = True,
    sample_rate: int = 16000,
    max_seconds: float = 30.0,
) -> dict[str, str]:
    """Writes ``<name>.abc`` (as generated) and, when ``interleaved`` is given, ``<name>.interleaved.abc``,
    ``.musicxml``, ``.mid`` and ``.flac``; returns {kind: file name}. Raises ScoreRenderError."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"abc": f"{name}.abc"}
    (out_dir / files["abc"]).write_text(text, encoding="utf-8")
    if interleaved is None:
        return files
    files["interleaved"] = f"{name}.interleaved.abc"
    (out_dir / files["interleaved"]).write_text(interleaved, encoding="utf-8")
    xml = to_musicxml(interleaved)
    files["musicxml"] = f"{name}.musicxml"
    (out_dir / files["musicxml"]).write_text(xml, encoding="utf-8")
    write_midi(read_musicxml(xml), out_dir / f"{name}.mid")
    files["midi"] = f"{name}.mid"
    if audio:
        files["audio"] = render_audio(out_dir / files["midi"], out_dir / f"{name}.flac", sample_rate, max_seconds)
    return files


def render_audio(midi: Path, out: Path, sample_rate: int, max_seconds: float) -> str:
    import soundfile as sf

    from pipeline.data.render import RenderError, render_midi, resolve_soundfont
    from pipeline.params.data import AcousticCondition

    try:
        wav = render_midi(
            midi.read_bytes(), AcousticCondition(), resolve_soundfont("default", Path(".")), sample_rate, max_seconds
        )
    except RenderError as e:
        raise ScoreRenderError(f"FluidSynth: {e}") from e
    sf.write(str(out), wav, sample_rate)
    return out.name
