"""Evaluation: handcrafted features, linear probes, retrieval checks (and, later, FAD, CLaMP scores)."""
