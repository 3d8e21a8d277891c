"""Corpus sources, MIDI reading and validation, splits, audio rendering, lhotse manifests."""
