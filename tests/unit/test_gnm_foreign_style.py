"""GnM's style classifier on NotaGen's composer-prompted samples (pipeline/gnm/foreign_style.py):
composer labels map to classes by surname, the MIDI goes the GnM samples' path, rows are named as
eval_generators names them, unencodable samples are listed with their reason."""

import json
import random

import mido
import pytest
import torch

from pipeline.eval.samples_contract import read_style_predictions, write_contract
from pipeline.eval.style_table import style_rows
from pipeline.gnm.checkpoint import save
from pipeline.gnm.encode import events
from pipeline.gnm.evaluate import classify_samples
from pipeline.gnm.foreign_style import FILENAME, class_of, classify_foreign, predict_midi, write_foreign_style
from pipeline.gnm.model import StyleClassifier
from pipeline.gnm.samples_contract import write_gnm_style
from pipeline.gnm.vocab import Vocab

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

CLASSES = ["Bach", "Mozart", "Beethoven", "Haydn"]
SEQ_LEN, WINDOWS, SEED = 32, 3, 7


def write_midi(path, pitches, bars=4):
    """Quarter notes at 480 TPQ in 4/4, ``pitches`` cycled over ``bars`` bars."""
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)])
    for i in range(bars * 4):
        p = pitches[i % len(pitches)]
        track += [mido.Message("note_on", note=p, velocity=80, time=0), mido.Message("note_off", note=p, time=480)]
    mid = mido.MidiFile(ticks_per_beat=480)
    mid.tracks.append(track)
    mid.save(str(path))
    return path


@pytest.fixture
def notagen(tmp_path):
    """A NotaGen-shaped samples.json: K=0 prompted Bach, Mozart, an unmapped composer, a piece GnM
    cannot encode (pitch 12) and one without a MIDI rendering; K=1 unprompted."""
    out = tmp_path / "abc_score_table"
    (out / "samples").mkdir(parents=True)
    write_midi(out / "samples/bach.mid", [60, 64, 67, 72])
    write_midi(out / "samples/mozart.mid", [62, 65, 69, 74, 77])
    write_midi(out / "samples/folk.mid", [55, 57, 59])
    write_midi(out / "samples/low.mid", [12, 60])
    for name in ("bach", "mozart", "folk", "low", "norender", "free"):
        (out / f"samples/{name}.abc").write_text("X:1\n")
    rows = [
        ("bach", "K=0", "Bach, Johann Sebastian", True),
        ("mozart", "K=0", "MOZART, Wolfgang Amadeus", True),
        ("folk", "K=0", "Traditional", True),
        ("low", "K=0", "Haydn, Joseph", True),
        ("norender", "K=0", "Beethoven, Ludwig van", False),
        ("free", "K=1", None, False),
    ]
    samples = [
        {"path": f"samples/{n}.abc", "label": lab, "composer": c, "midi": f"samples/{n}.mid" if m else None}
        for n, lab, c, m in rows
    ]
    write_contract(out, "notagen", "abc", samples)
    return out


def tiny_classifier(dest, midi_dir, favour: str | None, seed: int = 0):
    """A 2-layer classifier over a vocabulary that holds the fixture's events; with ``favour``, its
    head's bias makes that class win every piece, so the expected verdicts are known."""
    corpus = [t for f in sorted(midi_dir.glob("*.mid")) if f.name != "low.mid" for t in events(f)]
    vocab = Vocab.build(corpus)
    torch.manual_seed(seed)
    clf = StyleClassifier(len(vocab), len(CLASSES), d_model=32, n_heads=4, n_layers=2, d_ff=64).eval()
    with torch.no_grad():
        clf.cls_head.bias.zero_()
        if favour:
            clf.cls_head.bias[CLASSES.index(favour)] = 50.0
        else:  # verdicts that differ from piece to piece and window to window
            for w in (w for w in clf.encoder.layers.parameters() if w.dim() == 2):
                w.mul_(10.0)
            clf.cls_head.weight.mul_(20.0)
    save(clf, dest, vocab, classes=CLASSES, seq_len=SEQ_LEN, stage="gnm_classifier")
    return dest


def test_composer_labels_map_to_classes_by_surname():
    assert class_of("Bach, Johann Sebastian", CLASSES) == "Bach"
    assert class_of("MOZART, Wolfgang Amadeus", CLASSES) == "Mozart"
    assert class_of("Ludwig van Beethoven", CLASSES) == "Beethoven"
    assert class_of("haydn", CLASSES) == "Haydn"
    assert class_of("Traditional", CLASSES) is None
    assert class_of("Bach-Abel", CLASSES) is None  # surname must match whole, not as a prefix


def test_notagen_rows_verdicts_and_listed_failures(tmp_path, notagen):
    cls = tiny_classifier(tmp_path / "clf", notagen / "samples", favour="Mozart")
    eval_dir = tmp_path / "gnm_eval"
    eval_dir.mkdir()
    foreign = classify_foreign(
        {"reports/abc_score_table": notagen / "samples.json"}, cls, WINDOWS, SEED, "upstream", eval_dir
    )
    assert foreign == [
        {"row": "notagen K=0", "conditioned": "Bach", "predicted": "Mozart"},
        {"row": "notagen K=0", "conditioned": "Mozart", "predicted": "Mozart"},
        {"row": "notagen K=0", "conditioned": "Traditional", "predicted": "Mozart"},
    ]
    report = json.loads((eval_dir / FILENAME).read_text())
    assert report["sources"]["reports/abc_score_table"] == {
        "family": "notagen",
        "samples": 6,
        "conditioned": 5,
        "scored": 2,
        "unknown_composer": 1,
        "not_encoded": 2,
    }
    problems = {e["path"]: e["problem"] for e in report["samples"] if "problem" in e}
    assert set(problems) == {"samples/low.abc", "samples/norender.abc"}
    assert "low.mid" in problems["samples/low.abc"] and "21..108" in problems["samples/low.abc"]
    assert "no MIDI rendering" in problems["samples/norender.abc"]

    # gnm_style_foreign's and gnm_eval's style predictions into the generators table's style cells
    foreign_dir = tmp_path / "gnm_style_foreign"
    sources = {"reports/abc_score_table": notagen / "samples.json"}
    theirs = write_foreign_style(sources, cls, "models/gnm_classifier", WINDOWS, SEED, "upstream", foreign_dir)
    assert read_style_predictions(theirs)["predictions"] == foreign
    (eval_dir / "style.json").write_text(
        json.dumps({"pieces": {"mastery": [{"model": "mastery", "composer": "Bach", "predicted": "Bach"}]}})
    )
    (eval_dir / "metrics.json").write_text(json.dumps({"classes": CLASSES}))
    ours = write_gnm_style(eval_dir, "models/gnm_classifier")
    cells = style_rows([read_style_predictions(ours), read_style_predictions(theirs)], n_boot=50, seed=0)
    assert set(cells) == {"gnm mastery Bach", "notagen K=0"}
    assert cells["notagen K=0"]["pieces"] == 2  # the Traditional piece is left out: unknown to the classifier
    assert cells["notagen K=0"]["accuracy"]["value"] == pytest.approx(0.5)
    assert cells["notagen K=0"]["confusion"] == {"Bach": {"Mozart": 1}, "Mozart": {"Mozart": 1}}


def test_a_midi_sample_is_classified_as_the_same_events_from_gnm_generate(tmp_path):
    """Differential: the foreign path (MIDI -> GnM encoder) and gnm_eval's own path (generated event
    text in gnm_generate's index) give the same verdicts, with random classifiers whose verdicts
    differ between pieces and window seeds (so windows, seed and the dropped composer token matter)."""
    from pipeline.gnm.checkpoint import load

    rng = random.Random(0)
    names = [f"p{i}" for i in range(4)]
    gen = tmp_path / "gnm_generate"
    gen.mkdir()
    for n in names:
        write_midi(gen / f"{n}.mid", [rng.randint(40, 90) for _ in range(11)], bars=12)
        (gen / f"{n}.txt").write_text(" ".join(events(gen / f"{n}.mid", "Bach")))
    index = [{"model": "mastery", "composer": "Bach", "txt": f"{n}.txt"} for n in names]
    (gen / "index.json").write_text(json.dumps({"samples": index}))
    verdicts = []
    for model_seed, window_seed in ((0, SEED), (0, SEED + 1), (1, SEED)):
        clf = load(tiny_classifier(tmp_path / f"clf{model_seed}", gen, favour=None, seed=model_seed))
        ours = [predict_midi(clf, CLASSES, gen / f"{n}.mid", SEQ_LEN, WINDOWS, window_seed, "upstream") for n in names]
        theirs = classify_samples(clf, CLASSES, SEQ_LEN, gen, WINDOWS, window_seed)["mastery"]
        assert ours == [r["predicted"] for r in theirs]
        verdicts.append(ours)
    assert len(set(verdicts[0])) > 1 and verdicts[0] != verdicts[1]  # not constant: the comparison can fail
