"""The VALL-E stages through real ``dvc repro valle_eval`` on the micro profile (a temp repo copy):
codec -> codec tokens -> VALL-E -> synthesis -> the MIDI-VALLE table."""

import json

import pytest
import soundfile as sf
from repo_copy import run, stages_run

pytestmark = pytest.mark.pipeline

VALLE = ["codec_train", "codec_tokenize", "valle_train", "valle_synthesize", "valle_eval"]


@pytest.fixture(scope="module")
def repo(micro_dag):
    assert set(VALLE) <= set(micro_dag.ran)
    return micro_dag.path


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_model_loads_and_matches_the_codec(repo):
    from pipeline.codec import load as load_codec
    from pipeline.valle import load
    from pipeline.valle.checkpoint import check_codec

    model, codec = load(repo / "models/valle_train"), load_codec(repo / "models/codec_train")
    check_codec(model, codec)
    metrics = json.loads((repo / "reports/valle_train/metrics.json").read_text())
    assert metrics["train_items"] > 0 and "val_ar_loss" in metrics and "val_nar_loss" in metrics


def test_synthesis_names_the_prompt_condition_and_stitches(repo):
    d = repo / "data/valle_synthesize"
    rows = read_jsonl(d / "index.jsonl")
    assert rows
    for r in rows:
        assert r["prompt_recording"] != r["recording_id"]
        if r["prompt_relation"] == "other_piece_other_condition":
            assert r["prompt_condition"] != r["condition"] and r["prompt_piece"] != r["piece_id"]
        assert f"prompt-{r['prompt_condition']}" in r["piece_file"]
        for system in ("valle", "baseline", "truth", "codec"):
            assert (d / "segments" / system / f"{r['id']}.flac").is_file()
            assert (d / "pieces" / system / r["piece_file"]).is_file()
    wave, sr = sf.read(d / "pieces" / "valle" / rows[0]["piece_file"])
    assert len(wave) > 0 and sr == json.loads((d / "summary.json").read_text())["sample_rate"]


def test_table_samples_and_noop(repo):
    head = json.loads((repo / "reports/valle_eval/headline.json").read_text())
    rows = head["tables"][0]["rows"]
    assert [r[0] for r in rows] == ["VALL-E", "FluidSynth (prompt's condition)", "codec reconstruction"]
    cell = rows[0][1]
    assert cell["ci95"][0] <= cell["value"] <= cell["ci95"][1] + 1e-9
    for sample in head["samples"]:
        for audio in sample["audio"]:
            assert (repo / "reports/valle_eval" / audio).is_file()
    assert (repo / "reports/valle_eval/plots/spectrograms.png").is_file()
    again = stages_run(run(["dvc", "repro", "valle_eval"], repo).stdout)
    assert not set(VALLE) & set(again)
