"""``ostinato embed FILE... --checkpoint PATH``: global embeddings of MIDI files.

The same code path as the ``embed`` stage (``pipeline/aria/embedding.py``): each file's notes are
cut into ``--chunk-notes``-note chunks (300), each chunk is tokenised with no ``<D>`` and ``<E>``
forced at the end, embedded at ``<E>`` by an Aria embedding model (a checkpoint with
``emb_head.weight``, e.g. ``models/aria_contrastive``), and the chunk embeddings are averaged.
Without ``--out`` one line per file is printed (name, first values, L2 norm); with ``--out x.npy``
an array [files, emb_size] is saved in the order given. ``--backend mlx`` runs the same model in
MLX (``pipeline/aria/mlx.py``; float32, same chunks and batches); without mlx installed that is one
error line saying how to install it. A corrupt or note-less MIDI file, or a checkpoint without
``emb_head`` (a language model), is a ``ValueError`` naming it.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="MIDI files to embed")
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="Aria embedding checkpoint (.safetensors with emb_head), or a directory holding "
        "model.safetensors (e.g. models/aria_contrastive)",
    )
    p.add_argument("--out", type=Path, help="save the embeddings as a .npy array [files, emb_size]")
    p.add_argument("--chunk-notes", type=int, default=300, help="notes per chunk (default 300)")
    p.add_argument(
        "--max-tokens",
        type=int,
        default=2048,
        help="tokens per chunk, <E> included (default 2048, capped by the model's context)",
    )
    p.add_argument("--show", type=int, default=4, help="values printed per file (default 4)")
    p.add_argument(
        "--backend", choices=["torch", "mlx"], default="torch", help="torch (default) or mlx (Apple Silicon, CPU)"
    )
    p.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, cuda:N, mps")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from pipeline.aria.checkpoints import checked_path, load_checked
    from pipeline.aria.embedding import embed_pieces
    from pipeline.aria.encoders import EmbEncoder
    from pipeline.aria.load import resolve_checkpoint, tokenizer_for
    from pipeline.aria.pieces import read_midi
    from pipeline.train.distributed import resolve_device

    if args.chunk_notes < 1:
        raise ValueError(f"--chunk-notes must be >= 1, got {args.chunk_notes}")
    if args.max_tokens < 2:
        raise ValueError(f"--max-tokens must be >= 2, got {args.max_tokens}")
    if args.out is not None and args.out.suffix != ".npy":
        raise ValueError(f"--out must name a .npy file, got {args.out}")
    if args.backend == "mlx" and args.device not in (None, "auto", "cpu"):
        raise ValueError(f"--device {args.device} is a torch device; the mlx backend picks its own device")
    checkpoint = resolve_checkpoint(args.checkpoint)
    tok = tokenizer_for(checkpoint)
    if args.backend == "mlx":
        encoder = mlx_encoder(checked_path(checkpoint, tok, head="emb"), tok)
    else:
        model = load_checked(checkpoint, tok, head="emb", device=resolve_device(args.device or "auto"))
        encoder = EmbEncoder(model)
    pieces = [read_midi(f) for f in args.files]  # every file checked before any work
    emb, chunks = embed_pieces(encoder, tok, pieces, args.chunk_notes, args.max_tokens)
    x = emb["contrastive"]
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        with open(tmp, "wb") as fh:  # atomic: a killed run leaves no half-written array
            np.save(fh, x)
        tmp.replace(args.out)
        print(f"{args.out}: {x.shape[0]} embeddings x {x.shape[1]} ({', '.join(str(f) for f in args.files)})")
        return 0
    for f, v, n in zip(args.files, x, chunks):
        head = " ".join(f"{float(a):+.4f}" for a in v[: args.show])
        print(
            f"{f.name}\t[{head}{' ...' if len(v) > args.show else ''}]\tnorm={float(np.linalg.norm(v)):.4f}"
            f"\tchunks={n}\tdim={len(v)}"
        )
    return 0


def mlx_encoder(path, tok):
    """The checked embedding checkpoint in MLX; a missing mlx is a RuntimeError (one CLI line)."""
    from pipeline.aria import mlx_backend

    try:
        return mlx_backend.embedding_encoder(path, expected_vocab_size=tok.vocab_size)
    except mlx_backend.MLXUnavailableError as e:
        raise RuntimeError(f"--backend mlx: {e}") from None
