"""valle_eval's codec table (the paper's Table 3: each codec's reconstruction of the ground truth,
spectrogram and chroma distance) and its per-dataset blocks (the paper's Table 4 column groups, from
the recordings manifest's ``dataset`` column), on small real files: tiny 32 kHz codecs (ours in
audiocraft's export format, a transformers EncodecModel folder as the baseline) and a few tones."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from codec_fixtures import hf_config, write_audiocraft_export

from pipeline.codec import load as load_codec
from pipeline.data.jsonl import write_jsonl
from pipeline.data.recordings import read_pairs
from pipeline.params.valle import ValleEvalParams
from pipeline.valle.eval_report import load_baselines, recording_datasets, write_eval_report
from pipeline.valle.evaluate import (
    SYSTEM_NAMES,
    codec_rows,
    dataset_groups,
    distance_table,
    distances,
    subset,
    wave_features,
)

pytestmark = pytest.mark.unit
SR = 32000


def tone(f: float, noise: float, seed: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * f * t) + noise * rng.normal(size=len(t))).astype(np.float32)


def encodec_dir(path, sampling_rate: int = SR):
    from transformers import EncodecModel

    torch.manual_seed(0)
    cfg = hf_config()
    cfg.sampling_rate = sampling_rate
    EncodecModel(cfg).save_pretrained(path)
    return path


def test_distance_table_takes_any_systems_and_references():
    """``distances`` is ``distance_table`` over the MIDI-VALLE systems; the codec table is the same
    code with codecs as systems and the truth alone as reference."""
    truth = [tone(440, 0.01, 0), tone(330, 0.01, 1)]
    waves = {
        "truth": truth,
        "codec": [tone(440, 0.02, 2), tone(330, 0.02, 3)],
        "baseline": [tone(440, 0.01, 4), tone(330, 0.01, 5)],
        "valle": [tone(600, 0.2, 6), tone(700, 0.2, 7)],
    }
    feats = wave_features(waves, SR)
    assert distance_table(feats, 20, 0) == distances(waves, SR, 20, 0)
    codecs = wave_features({"good": [tone(440, 0.02, 8), tone(330, 0.02, 9)], "bad": [tone(500, 0.3, 10)] * 2}, SR)
    table = distance_table(codecs | {"truth": feats["truth"]}, 20, 0, systems=("good", "bad"), references=("truth",))
    assert set(table) == {"good", "bad"} and set(table["good"]) == {"vs_truth", "skipped"}
    for k in ("spectrogram", "chroma"):
        assert table["good"]["vs_truth"][k]["value"] < table["bad"]["vs_truth"][k]["value"]
    cols, rows = codec_rows(table)
    assert cols[:3] == ["codec", "spectrogram distance vs truth", "chroma distance vs truth"]
    assert [r[0] for r in rows] == ["good", "bad"] and all(len(r) == len(cols) for r in rows)
    lo, hi = rows[0][1]["ci95"]
    assert lo <= rows[0][1]["value"] <= hi


def test_dataset_groups_only_when_several():
    assert dataset_groups(["atepp", "atepp"]) == {} and dataset_groups([None, None]) == {}
    groups = dataset_groups(["maestro", "atepp", None, "atepp"])
    assert list(groups) == ["(no dataset)", "atepp", "maestro"]
    assert groups["atepp"] == [False, True, False, True]
    tree = {"codec": {"truth": [1, 2, 3, 4]}}
    assert subset(tree, groups["atepp"]) == {"codec": {"truth": [2, 4]}}


def test_manifest_dataset_column_reaches_valle_eval(tmp_path):
    """pairs.csv's optional dataset column, looked up from valle_synthesize's record of
    ``render_audio.real_recordings`` by recording id (the index keeps it); none for FluidSynth."""
    data = tmp_path / "data/atepp"
    data.mkdir(parents=True)
    (data / "pairs.csv").write_text(
        "audio,midi,id,dataset\na.flac,a.mid,rec_a,atepp\nb.flac,b.mid,rec_b,maestro\nc.flac,c.mid,rec_c,\n"
    )
    pairs = read_pairs(data / "pairs.csv")
    assert [p["dataset"] for p in pairs] == ["atepp", "maestro", None]
    synth = tmp_path / "data/valle_synthesize"
    synth.mkdir(parents=True)
    (synth / "manifest.json").write_text(
        json.dumps({"params": {"render_audio": {"real_recordings": "data/atepp/pairs.csv"}}})
    )
    assert recording_datasets(synth, tmp_path) == {"rec_a": "atepp", "rec_b": "maestro"}
    (synth / "manifest.json").write_text(json.dumps({"params": {"render_audio": {"real_recordings": None}}}))
    assert recording_datasets(synth, tmp_path) == {}


def test_baseline_codecs_live_under_weights_and_match_the_sample_rate(tmp_path):
    weights = tmp_path / "weights/valle_eval"
    encodec_dir(weights / "encodec_32khz")
    got = load_baselines({"EnCodec 32 kHz": "weights/valle_eval/encodec_32khz"}, tmp_path, SR)
    assert got["EnCodec 32 kHz"]["path"] == "weights/valle_eval/encodec_32khz" and got["EnCodec 32 kHz"]["hash"]
    with pytest.raises(ValueError, match=r"is a 32000 Hz codec, the segments .* are 24000 Hz"):
        load_baselines({"EnCodec 32 kHz": "weights/valle_eval/encodec_32khz"}, tmp_path, 24000)
    encodec_dir(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="outside weights/valle_eval/"):
        load_baselines({"x": "elsewhere"}, tmp_path, SR)


def synth_dir(tmp_path, datasets: dict[str, str], codec) -> tuple:
    """A data/valle_synthesize of two recordings (two segments each) from real tones."""
    synth = tmp_path / "data/valle_synthesize"
    index = []
    for k, rec in enumerate(datasets):
        for j in range(2):
            sid = f"{rec}_{j}"
            truth = tone(220 * (k + 1) + 110 * j, 0.01, k * 10 + j)
            recon = codec.decode(codec.encode(torch.from_numpy(truth)[None, None]))[0].mean(0).detach().numpy()
            waves = {"truth": truth, "codec": recon[: len(truth)], "baseline": truth, "valle": tone(700, 0.2, j)}
            for s, w in waves.items():
                (synth / "segments" / s).mkdir(parents=True, exist_ok=True)
                sf.write(synth / "segments" / s / f"{sid}.flac", np.clip(w, -1, 1), SR)
            index.append(
                {
                    "id": sid,
                    "recording_id": rec,
                    "piece_id": rec,
                    "condition": "real",
                    "prompt_recording": "other",
                    "prompt_condition": "real",
                    "prompt_relation": "other_piece_same_condition",
                    "piece_file": f"{rec}__prompt-real.flac",
                    "prompt_frames": 50,
                }
            )
        for s in ("truth", "baseline", "valle"):
            (synth / "pieces" / s).mkdir(parents=True, exist_ok=True)
            sf.write(synth / "pieces" / s / f"{rec}__prompt-real.flac", tone(440, 0.01, 0), SR)
        (synth / "prompts").mkdir(exist_ok=True)
        sf.write(synth / "prompts" / f"{rec}.flac", tone(440, 0.01, 0), SR)
    write_jsonl(index, synth / "index.jsonl")
    init = {"path": "weights/codec_train/compression_32khz_new.bin", "hash": "abc"}
    summary = {
        "split": "test",
        "sample_rate": SR,
        "weights": {"codec": {"model": "models/codec_train", "init": init, "steps": 0}},
    }
    (synth / "summary.json").write_text(json.dumps(summary))
    return synth, index


def test_report_writes_the_codec_table_and_one_block_per_dataset(tmp_path):
    codec = load_codec(write_audiocraft_export(tmp_path / "ours.bin"))
    encodec_dir(tmp_path / "weights/valle_eval/encodec_32khz")
    baselines = load_baselines({"EnCodec 32 kHz": "weights/valle_eval/encodec_32khz"}, tmp_path, SR)
    synth, index = synth_dir(tmp_path, {"rec_a": "atepp", "rec_b": "maestro"}, codec)
    p = ValleEvalParams(n_boot=10, fad_inf_steps=3, fad_inf_min_n=10, samples=1)
    d = tmp_path / "report"
    metrics = write_eval_report(synth, codec, p, 0, d, baselines, {"rec_a": "atepp", "rec_b": "maestro"})
    head = json.loads((d / "headline.json").read_text())
    main, codecs, *blocks = head["tables"]
    labels = ["ours: weights/codec_train/compression_32khz_new.bin", "EnCodec 32 kHz: weights/valle_eval/encodec_32khz"]
    assert [r[0] for r in codecs["rows"]] == labels and list(metrics["codecs"]) == labels
    assert metrics["codecs"][labels[0]]["vs_truth"] == metrics["distances"]["codec"]["vs_truth"]
    assert metrics["codecs"][labels[1]]["weights"]["hash"] == baselines["EnCodec 32 kHz"]["hash"]
    assert metrics["codecs"][labels[1]]["skipped"] == 0
    for row in codecs["rows"]:
        assert all(c is not None for c in row[1:])
    # our codec reconstructs the truth it was written from; the untrained baseline does not
    spec = codecs["columns"].index("spectrogram distance vs truth")
    assert codecs["rows"][0][spec]["value"] == pytest.approx(
        metrics["distances"]["codec"]["vs_truth"]["spectrogram"]["value"], rel=1e-5
    )
    assert main["caption"].startswith("all datasets")
    assert [b["caption"].split(":")[0] for b in blocks] == ["dataset atepp", "dataset maestro"]
    assert all(
        b["columns"] == main["columns"] and [r[0] for r in b["rows"]] == list(SYSTEM_NAMES.values()) for b in blocks
    )
    assert {k: (v["segments"], v["recordings"]) for k, v in metrics["datasets"].items()} == {
        "atepp": (2, 1),
        "maestro": (2, 1),
    }
    # a block is the same computation over its segments only
    ids = [r["id"] for r in index if r["recording_id"] == "rec_a"]
    waves_a = {
        s: [sf.read(synth / "segments" / s / f"{i}.flac", dtype="float32")[0] for i in ids]
        for s in ("truth", *SYSTEM_NAMES)
    }
    assert metrics["datasets"]["atepp"]["distances"] == distances(waves_a, SR, 10, 0)
    no_groups = write_eval_report(synth, codec, p, 0, tmp_path / "r2", {}, {})
    assert no_groups["datasets"] == {} and len(json.loads((tmp_path / "r2/headline.json").read_text())["tables"]) == 2
    assert [r[0] for r in no_groups["codec_table"]] == labels[:1]
    assert "2 datasets (atepp, maestro)" in head["text"] and "Table 3" in head["text"]
