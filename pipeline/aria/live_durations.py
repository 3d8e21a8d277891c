"""Notes cut by the stop get the duration the model expects, as upstream's demo re-predicts them.

When the model takes over, keys still down are released at that moment, so their duration
tokens say "ends now" although the player may hold them on. For every note whose end lies
within ``BUFFER_MS`` of the latest end in the prompt, the model's most likely duration at that
position replaces the cut one when it is longer (upstream's ``recalc_dur_tokens_chunked``:
never shorter, later positions re-encoded after a change).
"""

from __future__ import annotations

import torch

from pipeline.aria.live_stream import StreamingContext
from pipeline.aria.tokenizer import AbsTokenizer

BUFFER_MS = 100  # upstream's RECALC_DUR_BUFFER_MS


def note_ends(tok: AbsTokenizer, tokens: list) -> list[tuple[int, int]]:
    """(index of the dur token, end ms) of every complete note in ``tokens``."""
    out, segment, i = [], 0, 0
    for kind, group in tok.groups(tokens):
        if kind == "T":
            segment += 1
        elif kind == "note":
            out.append((i + 2, segment * tok.abs_step + group[1][1] + group[2][1]))
        i += len(group)
    return out


def lengthen_cut_notes(ctx: StreamingContext, tok: AbsTokenizer, tokens: list) -> tuple[list, int]:
    """``tokens`` with the cut notes' durations re-predicted; also how many were lengthened."""
    ends = note_ends(tok, tokens)
    if not ends:
        return tokens, 0
    last = max(end for _, end in ends)
    dur_ids = torch.tensor([tok.tok_to_id[("dur", d)] for d in tok.dur_grid])
    ids, out, changed = tok.encode(tokens), list(tokens), 0
    for i, end in ends:
        if end < last - BUFFER_MS:
            continue
        logits = ctx.prime(ids[:i])  # the prediction for position i
        k = int(logits[dur_ids].argmax())
        if tok.dur_grid[k] > out[i][1]:
            ids[i], out[i] = int(dur_ids[k]), ("dur", tok.dur_grid[k])
            changed += 1
    return out, changed
