"""``codec_train.init``: a released codec (audiocraft's ``compression_32khz_new.bin``, a transformers
EncodecModel dir, or one of ours) to fine-tune or, with ``steps: 0``, to import as ``models/codec_train``.

The checkpoint fixes the codec (its config wins over ``codec_train.model``); its sample rate must
be the renders' (checked before the stage starts, pipeline/codec/train_job.py:
:func:`~pipeline.codec.train_job.training_inputs`, and here again). The import writes what
codec_tokenize, valle_train and the FAD embedding read: config.json + model.safetensors.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.codec.load import load, save
from pipeline.train.job import TrainJob


def import_init(job: TrainJob) -> dict:
    """``steps: 0``: the codec in our layout, unchanged."""
    init = Path(job.inputs["init"])
    codec = load(init)
    try:
        codec.check_rate(job.inputs["sample_rate"])
    except ValueError as e:
        raise ValueError(f"codec_train.init: {init}: {e}") from None
    save(codec, job.model_dir, extra={"init_from": init.name, "steps": 0})
    return {
        "parameters": sum(t.numel() for t in codec.parameters()),
        "sample_rate": codec.sample_rate,
        "n_q": codec.n_q,
        "bins": codec.bins,
        "frame_rate": codec.frame_rate,
    }
