"""Logits processors: each rule on its own, and through generate() with the counting model."""

import pytest
import torch
from test_sampling import CountingModel

from pipeline.sample import generate
from pipeline.sample.processors import (
    AllowedNext,
    BanTokens,
    ClassifierFreeGuidance,
    ForceTokenAfter,
    GenerationState,
)

pytestmark = pytest.mark.unit


def state(tokens, pos, prompt_lens, active=None):
    t = torch.tensor(tokens)
    return GenerationState(
        t,
        pos,
        torch.tensor(prompt_lens),
        torch.ones(len(tokens), dtype=torch.bool) if active is None else torch.tensor(active),
    )


def test_ban_tokens_sets_minus_inf():
    out = BanTokens([1, 3])(torch.zeros(2, 5), state([[0, 0], [0, 0]], 1, [1, 1]))
    assert torch.isinf(out[:, [1, 3]]).all() and torch.isfinite(out[:, [0, 2, 4]]).all()


def test_force_token_after_only_rows_that_have_not_emitted_it():
    s = state([[5, 1, 2, 0], [5, 7, 2, 0]], 3, [1, 1])  # row 0 emitted 7? no; row 1 did
    out = ForceTokenAfter(7, after=2)(torch.zeros(2, 9), s)
    assert out[0].argmax() == 7 and torch.isinf(out[0, :7]).all()
    assert torch.isfinite(out[1]).all()  # already seen: untouched
    early = ForceTokenAfter(7, after=5)(torch.zeros(2, 9), s)
    assert torch.isfinite(early).all()


def test_allowed_next_gives_up_instead_of_dead_ending():
    guard = AllowedNext(lambda st: torch.tensor([[True, False, False], [False, False, False]]))
    out = guard(torch.zeros(2, 3), state([[0], [0]], 1, [0, 0]))
    assert torch.isinf(out[0, 1:]).all() and torch.isfinite(out[1]).all() and guard.gave_up == 1


def test_classifier_free_guidance_formula():
    cond, uncond = torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    out = ClassifierFreeGuidance(lambda st: uncond, 3.0)(cond.clone(), state([[0]], 1, [1]))
    assert torch.allclose(out, uncond + 3.0 * (cond - uncond))


def test_generate_takes_a_processor_list():
    # the counting model wants 4 after 3; a guard that allows only even ids forces a detour
    even = AllowedNext(lambda st: (torch.arange(20) % 2 == 0).expand(st.tokens.shape[0], 20))
    out = generate(CountingModel(), [[3]], max_new_tokens=3, temperature=0, processors=[even])
    assert all(t % 2 == 0 for t in out[0][1:])
    forced = generate(
        CountingModel(), [[3]], max_new_tokens=4, temperature=0, processors=[ForceTokenAfter(15, after=2)]
    )
    assert forced == [[3, 4, 5, 15, 16]]
