"""The generic metric table: note statistics by hand, overlapping area edge cases, sanity baselines,
and the sanity rows ranking below real pieces on bundled corpus chorales (music21's corpus,
written to MIDI by the ingest stage's own writer)."""

import json

import numpy as np
import pytest
from scipy import integrate, stats

from pipeline.data.notes import Note, Piece, read_midi_file, read_piece
from pipeline.eval import note_stats as ns
from pipeline.eval.metric_table import Row, Sample, TableConfig, build_table, score_row, split_halves
from pipeline.eval.overlap import intra_distances, overlap_area, pairwise, relative_overlap
from pipeline.eval.sanity import PIANO, random_pitch, shuffled_onsets, write_midi
from pipeline.eval.table_writer import markdown, write_table

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]


def piece(notes, source="fixture"):
    """(start_ms, end_ms, pitch[, track]) -> Piece without ticks (beats from ms at 120 bpm)."""
    return Piece([Note(s, e, p, 80, "piano", t[0] if t else 0) for s, e, p, *t in notes], source=source)


ARPEGGIO = piece([(0, 500, 60), (500, 1000, 64), (1000, 1500, 67), (1500, 2000, 72)])
# two bars: a C major chord held 2 beats + a C an octave up on beat 2; then one note on bar 2's downbeat
CHORDS = piece([(0, 1000, 60), (0, 1000, 64), (0, 1000, 67), (500, 1500, 72, 1), (2000, 2500, 62)])


# ----------------------------------------------------------------------------- statistics by hand
def test_statistics_of_an_arpeggio():
    s = ns.piece_statistics(ARPEGGIO)
    assert s["pitch_class_entropy"][0] == pytest.approx(1.5)  # C twice, E, G: -(.5 log .5 + 2 * .25 log .25)
    assert s["pitch_range"][0] == 12
    assert s["polyphony"][0] == pytest.approx(1.0)
    assert s["note_density"][0] == pytest.approx(2.0)  # 4 notes in 2 s
    assert s["ioi_histogram"].tolist() == [0, 0, 0, 1, 0, 0, 0]  # three 1-beat IOIs
    want = np.zeros(13)
    want[[4, 3, 5]] = 1 / 3  # C-E, E-G, G-C
    assert s["pitch_interval_histogram"] == pytest.approx(want)
    assert s["grooving_similarity"][0] == 1.0  # one bar


def test_statistics_of_chords_across_two_bars():
    s = ns.piece_statistics(CHORDS)
    assert s["polyphony"][0] == pytest.approx((3000 + 1000 + 500) / 2000)  # sounding 0..1500 and 2000..2500
    assert s["note_density"][0] == pytest.approx(5 / 2.5)
    # onsets at beats 0, 1, 4: IOIs 1 and 3 beats
    assert s["ioi_histogram"].tolist() == [0, 0, 0, 0.5, 0, 0.5, 0]
    # track 0: C E G (a chord, low to high) then D: 4, 3, 5; track 1: a single note
    want = np.zeros(13)
    want[[4, 3, 5]] = 1 / 3
    assert s["pitch_interval_histogram"] == pytest.approx(want)
    # bar 1 has onsets on beats 0 and 1, bar 2 on beat 0: one grid step of 48 differs
    assert s["grooving_similarity"][0] == pytest.approx(1 - 1 / 48)
    with pytest.raises(ValueError, match="no notes"):
        ns.piece_statistics(piece([]))


def test_statistics_read_the_same_through_midi_ticks(tmp_path):
    write_midi(CHORDS, tmp_path / "c.mid")
    back = read_midi_file(tmp_path / "c.mid")
    assert back.clock is not None and all(n.ticks for n in back.notes)
    a, b = ns.piece_statistics(CHORDS), ns.piece_statistics(back)
    for name in ns.STATISTICS:
        assert a[name] == pytest.approx(b[name]), name


# ----------------------------------------------------------------------------- overlapping area
def test_overlap_area_edge_cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    assert overlap_area(x, x) == pytest.approx(1.0, abs=1e-6)
    assert overlap_area(x, x + 100) == pytest.approx(0.0, abs=1e-6)
    assert overlap_area([3.0] * 5, [3.0] * 7) == pytest.approx(1.0, abs=1e-6)  # constant, equal
    assert overlap_area([3.0] * 5, [4.0] * 7) == pytest.approx(0.0, abs=1e-6)  # constant, apart
    assert overlap_area([2.0], x) == overlap_area(x, [2.0])  # one value: symmetric, defined
    y = rng.normal(0.5, 1.3, size=300)
    assert overlap_area(x, y) == pytest.approx(overlap_area(y, x))
    for bad in ([], [np.nan, 1.0]):
        with pytest.raises(ValueError):
            overlap_area(bad, x)


def test_overlap_area_equals_scipy_kde_integral():
    """mgeval's integral (scipy gaussian_kde, area under the minimum) over the whole line."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=200), rng.gamma(2.0, size=150)
    t = np.linspace(-8, 16, 24001)
    want = integrate.trapezoid(np.minimum(stats.gaussian_kde(a)(t), stats.gaussian_kde(b)(t)), t)
    assert overlap_area(a, b) == pytest.approx(want, abs=2e-3)


def test_relative_overlap_uses_intra_and_inter_distances():
    ref = np.array([[0.0], [1.0], [3.0]])
    assert sorted(intra_distances(ref).tolist()) == [1.0, 2.0, 3.0]
    assert pairwise(np.array([[1.0, 1.0]]), np.array([[4.0, 5.0]])).tolist() == [[5.0]]
    near, far = relative_overlap(ref, ref + 0.1), relative_overlap(ref, ref + 50)
    assert near > 0.5 > 0.01 > far
    with pytest.raises(ValueError, match="at least 2"):
        relative_overlap(ref[:1], ref)


# ----------------------------------------------------------------------------- sanity baselines
def test_sanity_baselines_keep_what_they_promise(tmp_path):
    write_midi(CHORDS, tmp_path / "c.mid")
    real = read_midi_file(tmp_path / "c.mid")
    shuffled = shuffled_onsets(real, seed=3)
    assert sorted(n.pitch for n in shuffled.notes) == sorted(n.pitch for n in real.notes)
    assert sorted(n.ticks[1] - n.ticks[0] for n in shuffled.notes) == sorted(
        n.ticks[1] - n.ticks[0] for n in real.notes
    )
    assert [n.start_ms for n in shuffled.notes] != [n.start_ms for n in real.notes]
    assert [n.start_ms for n in shuffled_onsets(real, seed=3).notes] == [n.start_ms for n in shuffled.notes]
    pitched = random_pitch(real, seed=3)
    assert [(n.start_ms, n.end_ms, n.track) for n in pitched.notes] == [
        (n.start_ms, n.end_ms, n.track) for n in real.notes
    ]
    assert all(PIANO[0] <= n.pitch <= PIANO[1] for n in pitched.notes)
    assert [n.pitch for n in pitched.notes] != [n.pitch for n in real.notes]


def test_validity_counts_every_failed_sample():
    ok = [Sample(f"r{i}", shuffled_onsets(ARPEGGIO, seed=i)) for i in range(4)]
    broken = [
        Sample("bad.mid", problems=["decode: bad.mid is corrupt"]),
        Sample("cut.abc", ARPEGGIO, problems=["end: no final bar line", "family: bar 2 voices"]),
    ]
    r = score_row(Row("mixed", ok[:2] + broken), ok[2:], TableConfig(n_boot=20))
    assert r["pieces"] == 4 and r["valid"] == 2
    assert r["cells"]["validity"]["value"] == 0.5
    assert r["invalid_by_check"] == {"decode": 1, "end": 1, "family": 1}
    assert [i["name"] for i in r["invalid"]] == ["bad.mid", "cut.abc"]
    assert r["cells"]["fmd"]["value"] is None and "needs >= 2" in r["cells"]["fmd"]["why"]


# ----------------------------------------------------------------------------- real chorales
@pytest.fixture(scope="module")
def chorales():
    """32 Bach chorales of music21's bundled corpus, as the ingest stage writes them to MIDI."""
    from music21 import converter, corpus

    from pipeline.data.scores import score_to_midi_bytes

    paths = sorted(p for p in corpus.getComposer("bach") if p.suffix == ".mxl")[:32]
    return [Sample(p.stem, read_piece(score_to_midi_bytes(converter.parse(p)))) for p in paths]


def test_sanity_rows_rank_below_real_chorales(chorales, tmp_path):
    scored, held = split_halves(chorales, seed=0)
    rows = [
        Row("real", scored),
        Row("shuffled", [Sample(s.name, shuffled_onsets(s.piece)) for s in scored]),
        Row("random pitch", [Sample(s.name, random_pitch(s.piece)) for s in scored]),
    ]
    table = build_table(rows, held, TableConfig(n_boot=30))
    cell = {r["row"]: {k: v["value"] for k, v in r["cells"].items()} for r in table["rows"]}
    real = cell["real"]
    assert all(real[s] > 0.35 for s in ns.STATISTICS)  # two halves of one collection overlap
    # each corruption is seen by the statistics of what it destroys, well below the real half
    for s in ("grooving_similarity", "ioi_histogram", "pitch_interval_histogram"):
        assert cell["shuffled"][s] < real[s] - 0.15, s
    for s in ("pitch_class_entropy", "pitch_range", "pitch_interval_histogram"):
        assert cell["random pitch"][s] < real[s] - 0.3, s
    # blind by construction: random pitch keeps the rhythm, so rhythm statistics cannot tell
    for s in ("note_density", "grooving_similarity", "ioi_histogram", "polyphony"):
        assert cell["random pitch"][s] == pytest.approx(real[s]), s
    lo, hi = table["rows"][0]["cells"]["pitch_range"]["ci95"]
    assert lo <= real["pitch_range"] <= hi and lo < hi

    write_table(table, tmp_path)
    md = (tmp_path / "table.md").read_text()
    assert "| shuffled | 16/16 |" in md and "n/a" in md  # no features given: FMD cells are n/a
    assert json.loads((tmp_path / "table.json").read_text())["rows"][2]["row"] == "random pitch"
    assert markdown(table) == md


# ----------------------------------------------------------------------------- FMD-Inf point and interval
def test_fmd_inf_point_lies_inside_its_interval():
    """FMD-Inf is the median of repeated runs of the package's extrapolation, its interval their 2.5-97.5%
    range. On this fixture the former cell (one run on all pieces, interval from piece resamples around
    runs: resampled twice) put the point below its interval, as seen on micro."""
    import warnings

    from pipeline.eval.frechet import bootstrap_interval, fmd_inf
    from pipeline.eval.metric_table import _fmd_cells

    rng = np.random.default_rng(0)
    ref, test = rng.normal(size=(20, 16)), rng.normal(0.3, 1.0, size=(12, 16))
    cfg = TableConfig(n_boot=20, n_boot_inf=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resampled sets are rank deficient: frechet_distance retries with eps
        cell = _fmd_cells(ref, test, cfg)["fmd_inf"]

        def once(idx):
            return fmd_inf(ref, test[idx], steps=10, min_n=3, estimator="oas", seed=0)["fmd_inf"]

        old_lo, _ = bootstrap_interval(len(test), once, n_boot=20, seed=0)
        runs = [fmd_inf(ref, test, steps=10, min_n=3, estimator="oas", seed=k)["fmd_inf"] for k in range(20)]
        assert once(np.arange(len(test))) < old_lo  # the inconsistency this cell no longer has
    assert cell["value"] == pytest.approx(np.median(runs)) and cell["runs"] == 20 and cell["min_n"] == 3
    assert cell["ci95"][0] < cell["value"] < cell["ci95"][1]
    assert cell["ci95"] == pytest.approx(np.quantile(runs, [0.025, 0.975]).tolist())
