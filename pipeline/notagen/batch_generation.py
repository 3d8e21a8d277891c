"""Several NotaGen pieces at once: the character decoder runs over every unfinished piece in
one batch (it is most of the cost of a patch), each piece keeps its own patch-level cache,
context, caps and stream resets, and draws from its own generator.

``generate_batch(model, prompt_lines, seeds=[...])`` returns what ``generate(model, prompt_lines,
seed=s)`` returns for each seed: the same filters in the same order and one draw per sampled
character on the piece's own generator, so a piece does not depend on its batch mates (up to
floating-point differences of batched matrix products).
"""

from __future__ import annotations

import torch

from pipeline.notagen.decode import LeanGPT2
from pipeline.notagen.generation import Generated, _Piece, draw, filtered
from pipeline.notagen.model import NotaGenModel
from pipeline.notagen.patchilizer import EOS_ID, PAD_ID
from pipeline.sample.sampling import check_options

_R_TAG = [ord(c) for c in "[r:"]


def _sample_patches(
    model: NotaGenModel,
    pieces: list[_Piece],
    gens: list[torch.Generator],
    lean: LeanGPT2,
    top_k,
    top_p,
    temperature: float,
) -> list[list[int]]:
    lm = model.char_level_decoder.base
    wte, head = lm.transformer.wte.weight, lm.lm_head.weight
    ps = pieces[0].ps
    hidden = torch.cat([p.state.hidden for p in pieces])  # [R, H]
    chars: list[list[int]] = [[] for _ in pieces]
    done = [False] * len(pieces)
    past = None
    for pos in range(ps):
        if pos == 0:
            emb = hidden[:, None]
        else:
            last = torch.tensor([c[-1] if c else PAD_ID for c in chars], device=hidden.device)
            emb = wte[last][:, None]
        h, past = lean(emb, past)
        logits = h[:, -1] @ head.T
        probs, ids = (None, None) if temperature == 0 else filtered(logits, top_k, top_p, temperature)
        for r, piece in enumerate(pieces):
            if done[r]:
                continue
            c = chars[r]
            if not piece.in_body and len(c) in (3, 4) and c[:3] == _R_TAG:
                nxt = ord("0/"[len(c) - 3])  # the first body line is line 0 (as generate())
            else:
                nxt = draw(
                    None if probs is None else probs[r],
                    None if ids is None else ids[r],
                    logits[r],
                    temperature,
                    gens[r],
                )
            c.append(nxt)
            done[r] = nxt == EOS_ID or len(c) == ps
        if all(done):
            break
    return [c + [PAD_ID] * (ps - len(c)) for c in chars]


@torch.no_grad()
def generate_batch(
    model: NotaGenModel,
    prompt_lines=(),
    *,
    seeds: list[int],
    top_k: int | None = 9,
    top_p: float | None = 0.9,
    temperature: float = 1.2,
    max_chars: int = 102400,
    max_seconds: float = 1200.0,
    max_patches: int | None = None,
    extra_lines: int = 16,
    restore: bool = True,
) -> list[Generated]:
    """One piece per seed after the same ``prompt_lines`` (see ``generate``); caps apply per piece,
    ``max_seconds`` counted from the start of the batch."""
    if not seeds:
        return []
    check_options(temperature, None, top_p, top_k, "notagen")
    device = next(model.parameters()).device
    gens = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    was_training = model.training
    model.eval()
    try:
        pieces = [
            _Piece(
                model,
                prompt_lines,
                use_cache=True,
                extra_lines=extra_lines,
                max_chars=max_chars,
                max_seconds=max_seconds,
                max_patches=max_patches,
            )
            for _ in seeds
        ]
        lean = LeanGPT2(model.char_level_decoder.base.transformer)
        while True:
            active = [i for i, p in enumerate(pieces) if p.stop is None]
            if not active:
                break
            rows = _sample_patches(
                model, [pieces[i] for i in active], [gens[i] for i in active], lean, top_k, top_p, temperature
            )
            for i, row in zip(active, rows):
                pieces[i].accept(row)
    finally:
        model.train(was_training)
    return [p.result(restore) for p in pieces]
