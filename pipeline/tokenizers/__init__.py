"""Symbolic-music tokenizers (Aria "abs", and others next to it)."""
