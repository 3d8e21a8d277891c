"""The VALL-E training job on the core loop: token stores in, weights + report out, resume, quarantine."""

import json
import shutil

import numpy as np
import pytest
from jobs import cpu_job

from pipeline.data.token_store import write_split
from pipeline.valle import load
from pipeline.valle.midi_tokens import notes_to_tokens
from pipeline.valle.train_job import run_job

pytestmark = pytest.mark.unit


def _stores(root, n=5):
    rng = np.random.default_rng(0)
    for split, k in (("train", n), ("val", 2), ("test", 0)):
        codes, midi = [], []
        for i in range(k):
            frames = 40 + 5 * i  # 0.8 s + at 50 frames/s
            notes = [(int(t), 40, 60 + t % 12, 81) for t in range(0, int(frames / 50 * 192) - 20, 30)]
            lab = {"id": f"{split}-{i}"}
            codes.append((lab, rng.integers(0, 16, (2, frames))))
            midi.append((lab, notes_to_tokens(notes)))
        if split == "train":  # a pair whose MIDI outlasts its audio: quarantined, not a crash
            lab = {"id": "bad"}
            codes.append((lab, rng.integers(0, 16, (2, 10))))
            midi.append((lab, notes_to_tokens([(0, 40, 60, 81), (192 * 3, 40, 62, 81)])))
        write_split(root / "codes" / split, codes)
        write_split(root / "midi" / split, midi)


def _job(tmp_path, steps):
    from pipeline.params.valle import ValleTrainParams
    from pipeline.train.job import TrainJob

    p = ValleTrainParams(
        model_overrides={"d_model": 16, "nhead": 2, "n_layers": 1},
        max_frames=60,
        batch_size=2,
        steps=steps,
        lr=1e-3,
        warmup_steps=1,
        eval_every=2,
        checkpoint_every=2,
    )
    inputs = {
        "tokens": str(tmp_path / "tok"),
        "init": None,
        "codec": {"sample_rate": 16000, "frame_rate": 50.0, "n_q": 2, "bins": 16},
    }
    job = cpu_job("valle_train", p, tmp_path, inputs, fingerprint={"test": 1})
    return TrainJob.from_json(job.to_json())  # as a torchrun worker gets it


def test_train_job_writes_weights_report_and_resumes(tmp_path):
    _stores(tmp_path / "tok")
    m1 = run_job(_job(tmp_path, 4))
    assert m1["train_items"] == 5 and m1["quarantined"] == 1 and m1["resumed_from_step"] is None
    bad = json.loads((tmp_path / "report" / "quarantine.json").read_text())
    assert bad[0]["id"] == "bad" and bad[0]["reason"] == "length_mismatch"
    csv = (tmp_path / "report" / "plots" / "loss.csv").read_text().splitlines()[0]
    for col in ("train_ar_loss", "train_nar_loss", "val_ar_accuracy", "val_nar_loss"):
        assert col in csv
    shutil.rmtree(tmp_path / "ckpt" / "step-00000004")  # as if killed after step 2's checkpoint
    m2 = run_job(_job(tmp_path, 4))
    assert m2["resumed_from_step"] == 2
    assert m2["val_loss"] == pytest.approx(m1["val_loss"], rel=1e-4)  # the same run, resumed
    model = load(tmp_path / "model")
    assert model.cfg.n_quantizers == 2 and model.cfg.audio_bins == 16 and model.codec_info["frame_rate"] == 50.0


def test_model_keys_are_the_overridable_config_fields():
    import dataclasses
    import typing

    from pydantic import ValidationError

    from pipeline.params.valle import ValleModelKey, ValleTrainParams
    from pipeline.valle.model import CONFIGS, ValleConfig

    from_codec = {"n_quantizers", "audio_bins"}  # set from the codec by the job, never by the user
    assert set(typing.get_args(ValleModelKey)) == {f.name for f in dataclasses.fields(ValleConfig)} - from_codec
    assert set(typing.get_args(ValleTrainParams.model_fields["model"].annotation)) == set(CONFIGS)
    with pytest.raises(ValidationError, match="d_model"):  # the error names the allowed keys
        ValleTrainParams(model_overrides={"depth": 2})
    assert ValleConfig.from_name("tiny", n_layers=3).n_layers == 3 and ValleConfig.from_name("tiny") is CONFIGS["tiny"]
