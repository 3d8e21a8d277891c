"""The NotaGen family: interleaved ABC, the patch-level model, DPO."""
