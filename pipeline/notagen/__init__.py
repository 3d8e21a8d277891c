"""The NotaGen family: interleaved ABC, the patch-level model, generation.

Entry points (resolved lazily so the ABC modules import without torch/transformers):

- ``load(path)`` -> :class:`NotaGenModel` (ours ``.safetensors`` or upstream ``.pth``)
- ``patchify(abc_text)`` -> LongTensor [P, 16], as upstream's training patchilizer
- ``logprob(model, patches)`` -> summed character log-probability (DPO)
- ``generate(model, prompt_lines, ...)`` -> :class:`Generated`
- ``generate_batch(model, prompt_lines, seeds=[...])`` -> one :class:`Generated` per seed, batched

Stage modules import the concrete modules (``pipeline.notagen.model`` ...), so that DVC's
dependency check sees the code they run.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("load", "save", "save_upstream", "NotaGenCheckpointError", "PatchSizeMismatch"):
        from pipeline.notagen import checkpoint

        return getattr(checkpoint, name)
    if name in ("patchify", "unpatchify", "PatchifyError"):
        from pipeline.notagen import patchilizer

        return getattr(patchilizer, name)
    if name in ("logprob", "NotaGenModel", "NotaGenConfig", "NAMED_CONFIGS", "pad_batch"):
        from pipeline.notagen import model

        return getattr(model, name)
    if name in ("generate", "Generated"):
        from pipeline.notagen import generation

        return getattr(generation, name)
    if name == "generate_batch":
        from pipeline.notagen import batch_generation

        return batch_generation.generate_batch
    if name in ("restore_rests", "reduce_rests"):
        from pipeline.notagen import rests

        return getattr(rests, name)
    raise AttributeError(f"module 'pipeline.notagen' has no attribute {name!r}")
