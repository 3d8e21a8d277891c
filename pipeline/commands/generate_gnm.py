"""``ostinato generate --family gnm``: composer-conditioned scores from a GnM checkpoint.

Upstream ``inference_score`` options: ``--composer NAME`` (``none`` = Composer_None, the
generality model's prompt), ``--all-composers`` (every composer of the vocabulary except None
and Schumann, as upstream cycles them), ``-n`` pieces each, temperature 1.1 and top-p 0.99 by
default. The checkpoint is ours (a model directory, default ``models/gnm_finetune``) or
upstream's released ``.pt`` with ``--vocab dictionary.pkl``. Writes ``<save-dir>/<Composer>_<k>``
``.mid`` and ``.txt`` (the events).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_CHECKPOINT = Path("models/gnm_finetune")


def add_arguments(p) -> None:
    p.add_argument("--composer", help="composer to condition on (e.g. bach; 'none' = Composer_None)")
    p.add_argument("--all-composers", action="store_true", help="every composer the checkpoint knows")
    p.add_argument("-n", "--pieces", type=int, default=None, help="pieces per composer (default 4)")
    p.add_argument("--vocab", type=Path, help="dictionary.pkl or vocab.json for an upstream .pt checkpoint")
    p.add_argument("--max-bars", type=int, default=None, help="stop after this many bars (default 128)")
    p.add_argument("--max-events", type=int, default=None, help="events per piece (default 1200)")
    p.add_argument("--heads", type=int, default=None, help="attention heads of an upstream .pt (default 8)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from pipeline.gnm.checkpoint import load
    from pipeline.gnm.decode import write_midi
    from pipeline.gnm.encode import composer_name
    from pipeline.gnm.generation import sample_pieces
    from pipeline.train.distributed import resolve_device

    n = 4 if args.pieces is None else args.pieces
    if n < 1:
        raise ValueError(f"-n must be >= 1, got {n}")
    if bool(args.composer) == bool(args.all_composers):
        raise ValueError("give exactly one of --composer NAME or --all-composers")
    model = load(
        args.checkpoint or DEFAULT_CHECKPOINT,
        vocab=args.vocab,
        n_heads=args.heads,
        device=resolve_device(args.device or "auto"),
    )
    vocab = model.vocab
    if args.all_composers:
        composers = [c for c in vocab.composers if c not in ("None", "Schumann")]
    else:
        composers = [None if args.composer.lower() == "none" else args.composer]
        vocab.composer_id(composers[0])  # unknown composer: a named error before sampling
    args.save_dir.mkdir(parents=True, exist_ok=True)
    for i, composer in enumerate(composers):
        seed = None if args.seed is None else args.seed + i
        pieces, info = sample_pieces(
            model,
            vocab,
            composer,
            n,
            seed=seed,
            temperature=1.1 if args.temp is None else args.temp,
            top_p=0.99 if args.top_p is None else args.top_p,
            max_bars=args.max_bars or 128,
            max_events=args.max_events or 1200,
            progress=True,
        )
        for k, events in enumerate(pieces):
            stem = args.save_dir / f"{composer_name(composer)}_{k}"
            stem.with_suffix(".txt").write_text("\n".join(events) + "\n")
            midi = write_midi(events, stem.with_suffix(".mid"))
            print(f"{stem}.mid: {len(events)} events, {midi['bars']} bars, {midi['notes']} notes")
        if info["gave_up"]:
            print(f"{info['gave_up']} piece(s) of {composer_name(composer)} ended early: the beat guard gave up")
    return 0
