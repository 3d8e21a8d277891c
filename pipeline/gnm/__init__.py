"""The Generality-to-Mastery family: composer-style REMI generation with style adapters.

``pipeline.gnm.events(midi_path, composer=None)`` -> upstream's event strings (encode.py);
``pipeline.gnm.load(path, vocab=...)`` -> our or upstream's decoder / style classifier (checkpoint.py).
Both are resolved lazily so importing a submodule does not import torch.
"""

import importlib

# entry point -> its module; no submodule may share an entry point's name, or importing that
# submodule would replace the function on the package (the attribute would change under a caller)
ENTRY_POINTS = {"events": "pipeline.gnm.encode", "load": "pipeline.gnm.checkpoint"}
__all__ = sorted(ENTRY_POINTS)


def __getattr__(name: str):
    if name in ENTRY_POINTS:
        return getattr(importlib.import_module(ENTRY_POINTS[name]), name)
    raise AttributeError(f"module 'pipeline.gnm' has no attribute {name!r}")
