"""``abc_pretrain.init`` / ``abc_finetune.init``: a released NotaGen ``.pth`` (pretrain, fine-tune
or RL file) or one of our model dirs, as the model to train from or, with ``steps: 0``, to import.

The checkpoint fixes every shape (width, layer counts, patch length) through the strict loader
(pipeline/notagen/checkpoint.py); its patch size must be the patchilizer's, else the loader
refuses naming both. The import writes what abc_finetune, abc_dpo and ``ostinato generate``
read from a model dir: model.safetensors (upstream keys, config in the metadata), config.json
and prompts.json (the prompt triples of this stage's training data, as training writes them).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.data.jsonl import write_json
from pipeline.notagen.checkpoint import load, save
from pipeline.notagen.train_job import prompt_counts, split_items, write_prompts
from pipeline.train.job import TrainJob


def import_init(job: TrainJob) -> dict:
    """``steps: 0``: the released model as this stage's model dir, unchanged."""
    init = Path(job.inputs["init"])
    model = load(init)
    model_dir = Path(job.model_dir)
    save(model, model_dir / "model.safetensors", {"stage": job.stage, "init": init.name})
    items, bad = split_items(job, "train", model.config.patch_length, "none")
    write_prompts(model_dir, prompt_counts(items))
    write_json(model_dir / "config.json", {"model": model.config.to_dict(), "imported": init.name})
    return {
        "parameters": sum(t.numel() for t in model.parameters()),
        "patch_length": model.config.patch_length,
        "train_pieces": len(items.pieces),
        "quarantined": len(bad),
    }
