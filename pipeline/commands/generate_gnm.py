"""``ostinato generate --family gnm``: composer-conditioned scores from a GnM checkpoint.

Upstream ``inference_score`` options: ``--composer NAME`` (``none`` = Composer_None, the
generality model's prompt), ``--all-composers`` (every composer the model was trained on, as its
job recorded in ``config.json``; for a file without that record, e.g. upstream's ``.pt``, every
composer of the vocabulary except None and Schumann, as upstream cycles them, with a warning),
``-n`` pieces each, temperature 1.1 and top-p 0.99 by default. A composer the model was not
trained on is refused even when the vocabulary has its token. The checkpoint is ours (a model
directory, default ``models/gnm_finetune`` under the project folder) or upstream's released
``.pt`` with ``--vocab dictionary.pkl``. Writes ``<save-dir>/<Composer>_<k>``
``.mid`` and ``.txt`` (the events).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_CHECKPOINT = Path("models/gnm_finetune")


def add_arguments(p) -> None:
    p.add_argument("--all-composers", action="store_true", help="every composer the model was trained on")
    p.add_argument("--vocab", type=Path, help="dictionary.pkl or vocab.json for an upstream .pt checkpoint")
    p.add_argument("--max-bars", type=int, default=None, help="stop after this many bars (default 128)")
    p.add_argument("--max-events", type=int, default=None, help="events per piece (default 1200)")
    p.add_argument("--heads", type=int, default=None, help="attention heads of an upstream .pt (default 8)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from pipeline.commands.defaults import default_checkpoint
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
    checkpoint = default_checkpoint(args.checkpoint, DEFAULT_CHECKPOINT, "gnm")
    model = load(checkpoint, vocab=args.vocab, n_heads=args.heads, device=resolve_device(args.device or "auto"))
    vocab = model.vocab
    composers = pick_composers(model, checkpoint, args.composer, args.all_composers)
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


def pick_composers(model, checkpoint: Path, composer: str | None, every: bool) -> list[str | None]:
    """The composers to sample: the one asked for, or every trained one; a composer the model was
    not trained on is refused (its token may sit in the vocabulary all the same)."""
    from pipeline.gnm.checkpoint import trained_composers
    from pipeline.gnm.encode import composer_name

    vocab = model.vocab
    trained = trained_composers(model)
    if trained is None:
        known = [c for c in vocab.composers if c not in ("None", "Schumann")]
        print(
            f"warning: {checkpoint} does not record the composers it was trained on; "
            f"using its vocabulary's ({', '.join(known)}): some may be untrained",
            file=sys.stderr,
        )
        trained = [*known, "None"]
    if every:
        return [c for c in trained if c != "None"] or [None]
    name = composer_name(composer)
    vocab.composer_id(composer)  # not in the vocabulary at all: that error, with the known ones
    if name not in trained:
        raise ValueError(
            f"{checkpoint} was not trained on composer {name} (its vocabulary has Composer_{name}, "
            f"its training saw no piece of it); trained: {', '.join(trained)}"
        )
    return [None if name == "None" else name]
