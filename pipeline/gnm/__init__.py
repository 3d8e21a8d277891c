"""The Generality-to-Mastery family: composer-style REMI generation with style adapters.

``pipeline.gnm.events(midi_path, composer=None)`` -> upstream's event strings;
``pipeline.gnm.load(path, vocab=...)`` -> our or upstream's decoder / style classifier.
Both are resolved lazily so importing a submodule does not import torch.
"""


def __getattr__(name: str):
    if name == "events":
        from pipeline.gnm.events import events

        return events
    if name == "load":
        from pipeline.gnm.load import load

        return load
    raise AttributeError(f"module 'pipeline.gnm' has no attribute {name!r}")
