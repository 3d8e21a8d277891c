"""GnM's style classifier on other families' composer-conditioned samples (issue 18, style).

Each source is a generating stage's ``samples.json`` (pipeline/eval/samples_contract.py). A sample
whose ``composer`` is set was conditioned on that composer; its MIDI goes through GnM's own encoder
(pipeline/gnm/encode.py, the token store's pickup rule) and vocabulary, and the classifier labels
it as ``gnm_eval`` labels GnM's pieces (pipeline/gnm/classifier_job.py: bar 0 plus random
bar-aligned windows, mean class probability). Composer labels map to the classifier's classes by
surname, case-insensitive (``"Bach, Johann Sebastian"`` and ``"J. S. Bach"`` -> ``Bach``); an
unmapped composer keeps its own name as ``conditioned``, so the generators table leaves the row out
and counts it as unknown (pipeline/eval/style_table.py). A sample GnM cannot encode (no MIDI
rendering, pitches outside 21..108, events outside the vocabulary) is listed with its reason in
``foreign_style.json``, never silently dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.data.jsonl import write_json
from pipeline.eval.samples_contract import Contract, read_contract
from pipeline.gnm.checkpoint import load
from pipeline.gnm.classifier_job import classify_windows, piece_windows
from pipeline.gnm.data import Pieces
from pipeline.gnm.encode import GnmEventError, events
from pipeline.gnm.vocab import VocabError

FILENAME = "foreign_style.json"


def surname(composer: str) -> str:
    """``"Bach, Johann Sebastian"`` -> ``bach``; ``"Johann Sebastian Bach"`` -> ``bach``."""
    name = composer.split(",")[0] if "," in composer else (composer.split() or [""])[-1]
    return name.strip().lower()


def class_of(composer: str, classes: list[str]) -> str | None:
    """The classifier class whose surname is the composer's, or None (unknown to the classifier)."""
    by_surname = {surname(c): c for c in classes}
    return by_surname.get(surname(composer))


def predict_midi(clf, classes: list[str], midi: Path, seq_len: int, windows: int, seed: int, pickup: str) -> str:
    """The classifier's composer for one MIDI file; GnmEventError / VocabError when GnM cannot encode it."""
    vocab = clf.vocab
    ids = np.asarray(vocab.encode(events(midi, None, pickup=pickup)), dtype=np.int64)
    one = Pieces([ids], ["None"], vocab)
    probs = classify_windows(clf, piece_windows(one, vocab, 0, seq_len, windows, seed), vocab.pad_id)
    return classes[int(probs.argmax())]


def classify_contract(contract: Contract, clf, classes: list[str], seq_len: int, windows: int, seed: int, pickup: str):
    """One entry per composer-conditioned sample: its table row (family + label, as eval_generators
    names rows), composer, ``conditioned`` class, and ``predicted`` or the ``problem`` that stopped it."""
    out = []
    for s in contract.samples:
        if not s.composer:
            continue  # not conditioned on a composer: no style to check
        known = class_of(s.composer, classes)
        entry = {
            "row": f"{contract.family} {s.label}",
            "path": str(s.path.relative_to(contract.where.parent)),
            "composer": s.composer,
            "conditioned": known or s.composer,
            "known": known is not None,
        }
        if s.midi is None:
            out.append(entry | {"problem": "no MIDI rendering (the family's stage could not render it)"})
            continue
        try:
            entry["predicted"] = predict_midi(clf, classes, s.midi, seq_len, windows, seed, pickup)
        except (GnmEventError, VocabError) as e:
            entry["problem"] = f"GnM cannot encode {s.midi.name}: {e}"
        out.append(entry)
    return out


def source_summary(contract: Contract, entries: list[dict]) -> dict:
    scored = [e for e in entries if "predicted" in e]
    summary = {
        "family": contract.family,
        "samples": len(contract.samples),
        "conditioned": len(entries),
        "scored": sum(e["known"] for e in scored),
        "unknown_composer": sum(not e["known"] for e in entries),
        "not_encoded": sum("problem" in e for e in entries),
    }
    if not entries:
        summary["note"] = (
            "no sample carries a composer label (unprompted, or its samples.json does not record the prompt)"
        )
    return summary


def classify_foreign(
    sources: dict[str, Path], cls_dir: Path, windows: int, seed: int, pickup: str, out_dir: Path
) -> list[dict]:
    """Classify every source's composer-conditioned samples; write ``out_dir/foreign_style.json``
    (per source a summary, per sample its verdict or problem) and return the style prediction rows
    (row, conditioned, predicted) of the samples that were classified."""
    clf = load(cls_dir)
    meta = json.loads((Path(cls_dir) / "config.json").read_text())["meta"]
    classes, seq_len = meta["classes"], meta["seq_len"]
    summaries, entries = {}, []
    for name, path in sources.items():
        contract = read_contract(path)
        mine = classify_contract(contract, clf, classes, seq_len, windows, seed, pickup)
        summaries[name] = source_summary(contract, mine)
        entries += mine
    write_json(Path(out_dir) / FILENAME, {"classes": classes, "sources": summaries, "samples": entries})
    return [{k: e[k] for k in ("row", "conditioned", "predicted")} for e in entries if "predicted" in e]


def write_foreign_style(
    sources: dict[str, Path], cls_dir: Path, classifier: str, windows: int, seed: int, pickup: str, out_dir: Path
) -> Path:
    """``classify_foreign`` into ``out_dir``, plus its verdicts as ``style_predictions.json`` for the
    generators table (``classifier``: the repo-relative dir named in it)."""
    from pipeline.eval.samples_contract import write_style_predictions

    rows = classify_foreign(sources, cls_dir, windows, seed, pickup, out_dir)
    classes = json.loads((Path(out_dir) / FILENAME).read_text())["classes"]
    return write_style_predictions(out_dir, "gnm", classifier, classes, rows)
