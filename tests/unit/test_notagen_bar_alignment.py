"""NotaGen's bar-alignment error follows upstream's check where ours and upstream's disagree.

The two texts are reduced from default-run samples on which the checks disagree: a ``//`` length
abctoolkit cannot read (upstream: unaligned, ours: fine) and a one-voice piece with an overfull bar
(upstream: aligned, as it only compares voices; ours: music21 splits the bar).
"""

import pytest

pytest.importorskip("music21")
pytest.importorskip("abctoolkit")

from pipeline.clamp import score_table  # noqa: E402
from pipeline.clamp.table import alignment_errors  # noqa: E402
from pipeline.notagen.abc_check import validate_interleaved  # noqa: E402
from pipeline.notagen.parity import aligned  # noqa: E402

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

HEAD = 'X:1\nL:1/8\nM:{m}\nK:C\nV:1 nm="Part 1"\n'
SLASHES = HEAD.format(m="2/4") + "[V:1]F2E// z|\n[V:1]C4|]\n"
OVERFULL = HEAD.format(m="4/8") + "[V:1]G2 F2 G2 A2|\n[V:1]E4|]\n"
TWO_VOICES = HEAD.format(m="2/4") + 'V:2 nm="Part 2"\n[V:1]C4|[V:2]C,4|\n[V:1]D4|[V:2]D,2|]\n'


def test_the_checks_disagree_on_these_texts():
    assert validate_interleaved(SLASHES)[0] and aligned(SLASHES) == (False, "unequal bar durations")
    assert aligned(OVERFULL) == (True, "") and "music21 read 3 bars" in validate_interleaved(OVERFULL)[1]
    assert not aligned(TWO_VOICES)[0] and not validate_interleaved(TWO_VOICES)[0]  # both catch real misalignment


def test_score_table_counts_upstream_verdicts():
    assert score_table.upstream_bar_alignment is aligned
    bad, why = alignment_errors([SLASHES, OVERFULL, TWO_VOICES], score_table.upstream_bar_alignment)
    assert bad == 2 and why == {"unequal bar durations": 1, "unequal barlines, bar durations": 1}
