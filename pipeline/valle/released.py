"""``valle_train.init``: a released MIDI-VALLE ``.pt`` (or one of our VALL-E model dirs) to train
from or, with ``steps: 0``, to import as ``models/valle_train``.

The checkpoint fixes the model (width, depth, heads read by pipeline/valle/checkpoint.py); its
codebooks (count and size) must be the codec's, else the loader's check refuses naming both. The
import writes what valle_synthesize reads: model.safetensors (with the codec's rates) and config.json.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from pipeline.data.jsonl import write_json
from pipeline.train.job import TrainJob
from pipeline.valle.checkpoint import check_codec, load_valle, save_valle


def checked(init: str | Path, codec: dict):
    """The VALL-E in ``init`` once its codebooks and rates fit ``codec`` (one line naming the file)."""
    model = load_valle(init)
    try:
        check_codec(model, SimpleNamespace(**codec))
    except ValueError as e:
        raise ValueError(f"valle_train.init: {init}: {e}") from None
    return model


def import_init(job: TrainJob) -> dict:
    """``steps: 0``: the checkpoint in our layout, checked against the codec it will decode with."""
    init, codec = Path(job.inputs["init"]), job.inputs["codec"]
    model = checked(init, codec)
    model_dir = Path(job.model_dir)
    rates = {"sample_rate": codec["sample_rate"], "frame_rate": codec["frame_rate"]}
    save_valle(model, model_dir / "model.safetensors", codec=rates)
    write_json(model_dir / "config.json", {**model.cfg.to_dict(), "codec": codec, "imported": init.name})
    return {"parameters": sum(t.numel() for t in model.parameters()), "model": model.cfg.to_dict()}
