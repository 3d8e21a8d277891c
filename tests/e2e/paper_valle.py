"""profiles/paper-valle.yaml on micro data: a tiny Piano-Encodec in audiocraft's export format and a
tiny MIDI-VALLE trainer file stand in for the zenodo downloads, a tiny transformers EncodecModel at
32 kHz for facebook/encodec_32khz (the codec table's baseline row); four Bach chorales from the
music21 corpus stand in for ATEPP (MIDI folder + ATEPP-1.2-clean.csv) and for its recordings
(FluidSynth at 32 kHz, listed in pairs.csv, labelled atepp or maestro). ``dvc repro valle_eval``
imports both checkpoints (``steps: 0``), synthesises and writes the MIDI-VALLE table (all, then one
per dataset) and the codec table, naming the weights it used."""

from __future__ import annotations

import csv
import json
from pathlib import Path

# One recording per piece (fixed corpus paths): the test ones are synthesised, prompted by another piece.
PIECES = ("bach/bwv269", "bach/bwv66.6", "bach/bwv347", "bach/bwv86.6")
SPLITS = ("test", "test", "train", "validation")  # the readers take "validation" (MAESTRO's spelling) for val
DATASETS = ("atepp", "maestro", "atepp", "maestro")  # pairs.csv's dataset column: one test recording each
SR = 32000  # Piano-Encodec's rate, the profile's render_audio.sample_rate
SECONDS = 6.0  # per recording: room for a 2 s prompt and two 2-3 s segments


def _name(piece: str) -> str:
    return "atepp_" + piece.split("/")[1].replace(".", "_")


def midi_folder(path: Path) -> None:
    """The ATEPP MIDI folder: one performer folder of transcribed MIDI, as ATEPP nests them."""
    import music21

    for piece in PIECES:
        out = path / "Glenn_Gould" / f"{_name(piece)}.mid"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            music21.corpus.parse(piece).write("midi", fp=str(out))


def atepp_csv(path: Path) -> None:
    """MIDI-VALLE's ATEPP-1.2-clean.csv columns (those the atepp reader maps, and its ids)."""
    midi_folder(path.parent)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["artist_id", "track_id", "artist", "track", "composer", "midi_path", "audio_path", "split"])
        for i, (piece, split) in enumerate(zip(PIECES, SPLITS)):
            midi = f"Glenn_Gould/{_name(piece)}.mid"
            w.writerow([1, i, "Glenn Gould", piece, "Johann Sebastian Bach", midi, midi[:-4] + ".flac", split])


def pairs_csv(path: Path) -> None:
    """Recordings of the same MIDI (FluidSynth, the project's renderer, at the codec's 32 kHz) and
    pairs.csv listing them with their split and dataset."""
    import soundfile as sf

    from pipeline.data.render import render_midi, resolve_soundfont
    from pipeline.params.data import AcousticCondition

    root = path.parent
    midi_folder(root)
    piano = AcousticCondition(soundfont="default", program=0, gain=0.5, reverb=0.2, chorus=False)
    sf2 = resolve_soundfont("default", root.parents[1])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["audio", "midi", "split", "dataset"])
        for piece, split, dataset in zip(PIECES, SPLITS, DATASETS):
            midi = f"Glenn_Gould/{_name(piece)}.mid"
            audio = f"audio/{_name(piece)}.flac"
            (root / audio).parent.mkdir(parents=True, exist_ok=True)
            sf.write(root / audio, render_midi((root / midi).read_bytes(), piano, sf2, SR, SECONDS), SR)
            w.writerow([audio, midi, split, dataset])


def codec_export(path: Path) -> None:
    """Piano-Encodec's compression_32khz_new.bin layout with a tiny SEANet (4 x 2048 codebooks)."""
    from codec_fixtures import write_audiocraft_export

    path.parent.mkdir(parents=True, exist_ok=True)
    write_audiocraft_export(path)


def valle_trainer_file(path: Path) -> None:
    """MIDI-VALLE's best-valid-loss.pt (trainer dict, ``module.`` keys, PosixPaths), tiny."""
    from test_valle_load import _trainer_file, _upstream_state

    path.parent.mkdir(parents=True, exist_ok=True)
    assert _trainer_file(path.parent, _upstream_state()) == path


def encodec_32khz(path: Path) -> None:
    """facebook/encodec_32khz's folder layout (transformers EncodecModel: config.json +
    model.safetensors), tiny, at 32 kHz."""
    import torch
    from codec_fixtures import hf_config
    from transformers import EncodecModel

    torch.manual_seed(0)
    EncodecModel(hf_config()).save_pretrained(path)


BASELINE = "EnCodec 32 kHz"  # the profile's valle_eval.baseline_codecs label

WRITERS = {
    "ingest.sources[0].path": midi_folder,
    "ingest.sources[0].metadata": atepp_csv,
    "render_audio.real_recordings": pairs_csv,
    "codec_train.init": codec_export,
    "valle_train.init": valle_trainer_file,
    f"valle_eval.baseline_codecs.{BASELINE}": encodec_32khz,
}

# Micro sizes; every init and steps: 0 and the 32 kHz rate stay the paper's.
MICRO = {
    "runtime": {"device": "cpu", "task_runner": "threads"},  # no worker processes to start: one shard each
    "render_audio": {"max_seconds": SECONDS},
    "segment": {"min_s": 2.0, "max_s": 3.0, "drop_under_s": 1.0},
    "valle_synthesize": {"recordings": 2, "max_segments": 4, "prompt_seconds": 2.0},
    "valle_eval": {"n_boot": 20, "fad_inf_steps": 5, "samples": 1},
}

TARGETS = ["valle_eval"]
IMPORTS = ("codec_train", "valle_train")


def check(repo: Path, filled: dict[str, str], ran: list[str]) -> None:
    from pipeline.orchestration.stage import hash_path

    assert {"ingest", "render_audio", "segment", *IMPORTS, "valle_synthesize", "valle_eval"} <= set(ran), ran
    used = {}
    for stage in IMPORTS:
        manifest = json.loads((repo / "models" / stage / "manifest.json").read_text())
        init = filled[f"{stage}.init"]
        assert manifest["init"] == {"path": init, "hash": hash_path(repo / init)}, manifest.get("init")
        assert manifest["metrics"]["steps"] == 0 and manifest["metrics"]["imported"]
        used[stage] = manifest["init"]
    # the ATEPP table labelled the MIDI; pairs.csv's recordings (and their split) reached the table
    index = [json.loads(line) for line in (repo / "data/ingest/index.jsonl").read_text().splitlines()]
    assert sorted(r["labels"]["performer"] for r in index if r["source"] == "atepp") == ["Glenn Gould"] * len(PIECES)
    assert json.loads((repo / "reports/render_audio/metrics.json").read_text())["sample_rate"] == SR

    d = repo / "reports/valle_eval"
    head = json.loads((d / "headline.json").read_text())
    table = head["tables"][0]
    assert [r[0] for r in table["rows"]] == ["VALL-E", "FluidSynth (prompt's condition)", "codec reconstruction"]
    for col in ("FAD codec vs truth", "FAD codec vs codec", "FAD logmel vs truth", "FAD logmel vs codec"):
        assert col in table["columns"], table["columns"]
    assert any("spectrogram" in c for c in table["columns"]) and any("chroma" in c for c in table["columns"])
    assert all(len(r) == len(table["columns"]) for r in table["rows"])

    # the report names the weights it used: the released files, by path and content hash
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["segments"] > 0
    weights = metrics["weights"]
    assert weights["codec"] == {"model": "models/codec_train", "init": used["codec_train"], "steps": 0}, weights
    assert weights["valle"] == {"model": "models/valle_train", "init": used["valle_train"], "steps": 0}, weights
    for stage in IMPORTS:
        assert f"{used[stage]['path']} (hash {used[stage]['hash']}, imported unchanged)" in head["text"], head["text"]

    # the codec table (the paper's Table 3): ours, named by its released file, and the baseline codec
    codec_table = head["tables"][1]
    assert codec_table["columns"][:3] == ["codec", "spectrogram distance vs truth", "chroma distance vs truth"]
    base_path = filled[f"valle_eval.baseline_codecs.{BASELINE}"]
    labels = [f"ours: {used['codec_train']['path']}", f"{BASELINE}: {base_path}"]
    assert [r[0] for r in codec_table["rows"]] == labels, codec_table["rows"]
    assert all(
        isinstance(c, dict) and c["ci95"][0] <= c["value"] <= c["ci95"][1] + 1e-9
        for r in codec_table["rows"]
        for c in r[1:3]
    )
    assert sorted(metrics["codecs"]) == sorted(labels)  # metrics.json: keys sorted
    assert metrics["codecs"][labels[1]]["weights"] == {
        "path": base_path,
        "hash": hash_path(repo / base_path),
        "sample_rate": SR,
    }
    assert metrics["codecs"][labels[0]]["vs_truth"] == metrics["distances"]["codec"]["vs_truth"]

    # Table 4's column groups: one block per dataset of pairs.csv, after the table over all
    assert table["caption"].startswith("all datasets"), table["caption"]
    blocks = head["tables"][2:]
    assert [b["caption"].split(":")[0] for b in blocks] == ["dataset atepp", "dataset maestro"], blocks
    assert all(
        b["columns"] == table["columns"] and [r[0] for r in b["rows"]] == [r[0] for r in table["rows"]] for b in blocks
    )
    per = metrics["datasets"]
    assert sorted(per) == ["atepp", "maestro"] and all(per[k]["recordings"] == 1 for k in per), per
    assert sum(per[k]["segments"] for k in per) == metrics["segments"]
