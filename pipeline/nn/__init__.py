"""Model code (torch). MLX ports live in :mod:`pipeline.nn.mlx`.

Modules:
  aria       the Aria LLaMA-style decoder (config, trunk, LM and embedding heads)
  kv_cache   preallocated key/value cache for prefill + single-token decode
  aria_load  strict loading/saving of Aria safetensors checkpoints (re-exported by aria)

Nothing is imported here so that importing one model family never pulls another.
"""
