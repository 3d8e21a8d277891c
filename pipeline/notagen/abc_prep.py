"""NotaGen's data preparation of standard ABC (xml2abc output or a user's tune) -> interleaved ABC.

Upstream's ``data/2_data_preprocess.py`` up to its interleaved file (the one CLaMP 2 reads and NotaGen's
augmented copies start from), calling abctoolkit as it does: blank lines dropped, unidecode,
``X: T: C: W: w: Z: %%MIDI`` lines removed, ``%N`` bar-number comments removed, ``\\"`` removed, quoted
text holding a barline removed, unequal bar counts across voices refused, empty ``""`` annotations
removed, ``"^..."``/``"_..."`` runs of a repeated non-alphanumeric squeezed (dropped past 40 characters),
then ``rotate_abc``: one line per bar holding every voice.

One addition: a tune that declares no ``V:1`` in its header (a plain single-voice folk tune) gets the
two lines xml2abc writes for one voice, the declaration and the body's opening ``V:1``; without the
declaration abctoolkit cannot read the interleaved text back (``unrotate_abc`` takes the voices from
the header), so upstream's bar-alignment check would fail every such tune. Upstream's 15 transposed
copies and rest reduction are not done here (``pipeline.notagen.keys`` and ``rests`` have them).
"""

from __future__ import annotations

import re

from pipeline.notagen.abc_notation import AbcError

DROPPED_FIELDS = ["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"]


def with_voice_line(lines: list[str]) -> list[str]:
    """``V:1`` declared in the header and opening the body (see the module doc). abctoolkit's body
    starts at the last bare ``V:1`` line; its header must declare ``V:1`` for the rotated text."""
    bare = [i for i, ln in enumerate(lines) if ln.strip() == "V:1"]
    if bare:
        body = bare[-1]
    else:
        k = next((i for i, ln in enumerate(lines) if ln.startswith("K:")), None)
        if k is None:
            raise AbcError("no K: line")
        body, lines = k + 1, lines[: k + 1] + ["V:1\n"] + lines[k + 1 :]
    if any(ln.split()[:1] == ["V:1"] for ln in lines[:body]):
        return lines
    return lines[:body] + ["V:1\n"] + lines[body:]


def _squeeze_annotations(line: str) -> str:
    for match in re.findall(r'"[^"]*"', line):
        if match == '""':
            line = line.replace(match, "")
        if match[1] in ("^", "_"):
            sub = re.sub(r"([^a-zA-Z0-9])\1+", r"\1", match)
            line = line.replace(match, sub if len(sub) <= 40 else "")
    return line


def standard_to_interleaved(abc_text: str) -> str:
    """Upstream's preparation of one standard-ABC tune (see the module doc); :class:`AbcError` where
    upstream drops the file (no voices, unequal bar counts, anything abctoolkit fails on)."""
    from abctoolkit.check import check_alignment_unrotated
    from abctoolkit.convert import unidecode_abc_lines
    from abctoolkit.rotate import rotate_abc
    from abctoolkit.utils import Barlines, Quote_re, remove_bar_no_annotations, remove_information_field

    lines = [ln for ln in abc_text.splitlines(keepends=True) if ln.strip() != ""]
    lines = with_voice_line([ln if ln.endswith("\n") else ln + "\n" for ln in lines])
    try:
        lines = unidecode_abc_lines(lines)
        lines = remove_information_field(abc_lines=lines, info_fields=DROPPED_FIELDS)
        lines = remove_bar_no_annotations(lines)
        for i, line in enumerate(lines):
            if not (re.search(r"^[A-Za-z]:", line) or line.startswith("%")) and r"\"" in line:
                lines[i] = line.replace(r"\"", "")
        for i, line in enumerate(lines):
            for quoted in re.findall(Quote_re, line):
                if any(b in quoted for b in Barlines):
                    line = line.replace(quoted, "")
                    lines[i] = line
        _, same_bar_count, _ = check_alignment_unrotated(lines)
    except Exception as e:  # noqa: BLE001 - upstream drops any file its preparation fails on
        raise AbcError(f"abctoolkit could not prepare the tune: {type(e).__name__}: {e}") from None
    if not same_bar_count:
        raise AbcError("unequal bar numbers across voices")
    lines = [_squeeze_annotations(ln) for ln in lines]
    try:
        return "".join(rotate_abc(lines))
    except Exception as e:  # noqa: BLE001
        raise AbcError(f"abctoolkit could not interleave the tune: {type(e).__name__}: {e}") from None
