"""CLaMP-style scorer (M3 patch encoder + text tower) and the CLaMP-DPO loop of the NotaGen family.

Entry points: :func:`load` (ours or released CLaMP 2 / M3 weights) -> :class:`Scorer` with
``music_features(text)`` (ABC, or MTF text as :func:`mtf` writes it for a MIDI file) and the
two upstream estimators (:mod:`pipeline.clamp.scores`). The module holding ``mtf`` is named
``midi_text`` so that no entry point is named like a submodule.
"""

from pipeline.clamp.midi_text import mtf
from pipeline.clamp.scorer import CheckpointError, Scorer, load
from pipeline.clamp.scores import mean_cosine_score, piece_scores, set_mean_score

__all__ = ["CheckpointError", "Scorer", "load", "mean_cosine_score", "mtf", "piece_scores", "set_mean_score"]
