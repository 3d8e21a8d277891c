"""``ostinato demo``: one local generation page (Gradio) with a tab per family.

The page never loads a model itself: each generation is an ``ostinato generate`` /
``ostinato synthesize`` child process (``jobs.py``), so the page follows the CLI exactly, shows
its progress lines, and Cancel kills the child. ``results.py`` turns the MIDI it writes into a
piano roll and FluidSynth (and VALL-E) audio; one small module per family builds its tab.
"""
