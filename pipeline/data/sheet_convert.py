"""Sheet music -> standard ABC: MusicXML through upstream's xml2abc (run as its own program, as
NotaGen's ``data/1_batch_xml2abc.py`` does), ABC tunes kept as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.data.midi import Rejected
from pipeline.data.sources import abc_tunes

XML2ABC = Path(__file__).parent / "vendor" / "xml2abc.py"
XML2ABC_OPTIONS = ("-d", "8", "-c", "6", "-x")  # upstream's: L:1/8, credit filter 6, no line breaks
XML_SUFFIXES = (".xml", ".mxl", ".musicxml")


def xml_to_abc(path: Path, timeout_s: float = 120.0) -> str:
    """xml2abc's stdout for one MusicXML file; empty output (xml2abc's way of failing) is a rejection."""
    try:
        done = subprocess.run(
            [sys.executable, str(XML2ABC), *XML2ABC_OPTIONS, str(path)],
            capture_output=True,
            timeout=timeout_s,
            cwd=path.parent,
        )
    except subprocess.TimeoutExpired:
        raise Rejected("xml2abc_timeout", f"xml2abc took over {timeout_s:g} s") from None
    out = done.stdout.decode("utf-8", errors="replace")
    if out.strip() == "":
        err = [ln.strip("* -") for ln in done.stderr.decode("utf-8", errors="replace").splitlines() if ln.strip()]
        raise Rejected("xml2abc_failed", err[-1] if err else f"no output (exit status {done.returncode})")
    return out


def sheet_abc(path: Path, tune: int | None, timeout_s: float = 120.0) -> tuple[str, str]:
    """(standard ABC text, how it was made: ``xml2abc`` or ``abc``)."""
    if path.suffix.lower() in XML_SUFFIXES:
        return xml_to_abc(path, timeout_s), "xml2abc"
    try:
        tunes = dict(abc_tunes(path))
    except OSError as e:
        raise Rejected("unreadable", str(e)) from None
    if tune not in tunes:
        raise Rejected("unparseable_score", f"no X:{tune} tune in the file")
    return tunes[tune], "abc"
