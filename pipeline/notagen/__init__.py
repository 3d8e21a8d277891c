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

import importlib

# entry point -> the submodule defining it; no entry point is named like a submodule, so reading one
# twice gives the same object (tests/unit/test_notagen_entry_points.py)
_EXPORTS = {
    **dict.fromkeys(("load", "save", "save_upstream", "NotaGenCheckpointError", "PatchSizeMismatch"), "checkpoint"),
    **dict.fromkeys(("patchify", "unpatchify", "PatchifyError"), "patchilizer"),
    **dict.fromkeys(("logprob", "NotaGenModel", "NotaGenConfig", "CONFIGS", "pad_batch"), "model"),
    **dict.fromkeys(("generate", "Generated"), "generation"),
    "generate_batch": "batch_generation",
    **dict.fromkeys(("restore_rests", "reduce_rests"), "rests"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pipeline.notagen' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pipeline.notagen.{_EXPORTS[name]}"), name)
