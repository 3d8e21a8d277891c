"""NotaGen generation: cached == recomputed, streaming past the context, caps, no_grad,
untagged user prompts, restored rests."""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

from pipeline.notagen.generation import generate  # noqa: E402
from pipeline.notagen.model import NotaGenConfig, NotaGenModel  # noqa: E402
from pipeline.notagen.patchilizer import patchify  # noqa: E402
from pipeline.notagen.rests import reduce_rests, restore_rests  # noqa: E402

PROMPT = ["%Baroque", "%Bach, Johann Sebastian", "%Choral"]
PIECE = (
    "%Baroque\n%Bach, Johann Sebastian\n%Choral\nL:1/8\nM:4/4\nK:C\nV:1\nV:2\n"
    "[V:1]c2 d2 e2 f2|[V:2]z8|\n[V:1]g8|][V:2]C8|]\n"
)


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    return NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32)).eval()


def test_cached_equals_recomputed(random_model):
    a = generate(random_model, PROMPT, max_patches=12, seed=3, use_cache=True)
    b = generate(random_model, PROMPT, max_patches=12, seed=3, use_cache=False)
    assert a.text == b.text and a.stop == b.stop == "max_patches"
    assert a.text.startswith("%Baroque\n%Bach, Johann Sebastian\n%Choral\n")
    assert a.patches == 12


def test_lean_forward_matches_transformers(random_model):
    from pipeline.notagen.decode import LeanGPT2

    base = random_model.patch_level_decoder.base
    x = torch.randn(1, 7, 64)
    with torch.no_grad():
        want = base(inputs_embeds=x).last_hidden_state
        lean = LeanGPT2(base)
        full, _ = lean(x, None)
        _, cache = lean(x[:, :4], None)
        steps = []
        for t in range(4, 7):
            h, cache = lean(x[:, t : t + 1], cache)
            steps.append(h)
    assert torch.allclose(full, want, atol=1e-5)
    assert torch.allclose(torch.cat(steps, 1), want[:, 4:], atol=1e-5)


def test_streams_past_the_context_without_error(random_model):
    prompt = PROMPT + ["L:1/8", "K:C", "V:1"] + [f"[V:1]c{i}|" for i in range(1, 5)]
    g = generate(random_model, prompt, max_patches=40, seed=0)
    assert g.stop in ("max_patches", "eos", "context_overflow")
    assert g.stream_resets >= 1 or g.stop == "eos"
    # the untagged user body got stream tags and generation went on (upstream NotaGen #34)
    assert "[r:0/19][V:1]c1|" in g.text and g.patches > 0
    # a prompt longer than the context keeps its last lines
    long = PROMPT + ["L:1/8", "K:C", "V:1"] + [f"[V:1]c{i}|" for i in range(1, 40)]
    assert generate(random_model, long, max_patches=3, seed=0).patches == 3


def test_caps_and_no_grad(random_model):
    modes = []
    dec = random_model.patch_level_decoder
    embed = dec.embed

    def recording(patches):  # every patch embedding of generation runs without autograd
        modes.append(torch.is_grad_enabled())
        return embed(patches)

    dec.embed = recording
    random_model.train()
    try:
        g = generate(random_model, PROMPT, max_chars=20, seed=1)
    finally:
        del dec.embed
    assert random_model.training  # mode restored
    random_model.eval()
    assert g.stop in ("max_chars", "eos", "no_body_line") and modes and not any(modes)
    assert generate(random_model, PROMPT, max_seconds=0.0, seed=1).stop in ("max_seconds", "eos")


def test_filters_never_fail_on_extreme_logits(random_model):
    with torch.no_grad():
        random_model.char_level_decoder.base.lm_head.weight.mul_(1e4)  # near one-hot softmax
    try:
        g = generate(random_model, PROMPT, max_patches=5, seed=0)
        assert g.patches <= 5
    finally:
        with torch.no_grad():
            random_model.char_level_decoder.base.lm_head.weight.div_(1e4)


def test_memorised_piece_ends_with_eos_and_rests_restored():
    torch.manual_seed(0)
    model = NotaGenModel(NotaGenConfig(hidden=64, patch_layers=2, char_layers=1, patch_length=64, dropout=0.0))
    reduced = reduce_rests(PIECE)
    assert "[V:2]z8" not in reduced
    batch = patchify(reduced)[None]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300):
        loss, _ = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    g = generate(model.eval(), PROMPT, top_k=1, seed=0, max_patches=64)
    assert g.stop == "eos", g.text
    assert "[r:0/1][V:1]c2 d2 e2 f2|" in g.text
    assert g.complete and "[V:2]z8|" in g.interleaved and g.interleaved.startswith("X:1\n")
    assert "%Baroque" not in g.interleaved and "[r:" not in g.interleaved


def test_restore_rests_reports_unparsable_text():
    text, err = restore_rests("%Baroque\nL:1/8\n[r:0/0][V:1]c8|\n garbage\n")
    assert text is None and "AbcError" in err


def test_complete_lines_drops_the_unfinished_line():
    from pipeline.notagen.rests import complete_lines

    assert complete_lines("%A\n[r:0/1][V:1]c8|\n[r:1/0][V:1]d") == "%A\n[r:0/1][V:1]c8|\n"
    assert complete_lines("x") == ""


def test_metadata_only_piece_is_not_complete():
    text, err = restore_rests("%Baroque\nL:1/8\nK:C\nV:1\n")
    assert text is None and "no tune body" in err


def test_batch_equals_one_by_one(random_model):
    from pipeline.notagen.batch_generation import generate_batch

    prompt = PROMPT + ["L:1/8", "K:C", "V:1", "[V:1]c2|"]
    batch = generate_batch(random_model, prompt, seeds=[3, 4, 5], max_patches=30, max_chars=300)
    single = [generate(random_model, prompt, seed=s, max_patches=30, max_chars=300) for s in (3, 4, 5)]
    assert [b.text for b in batch] == [s.text for s in single]
    assert [b.stop for b in batch] == [s.stop for s in single]
    assert generate_batch(random_model, PROMPT, seeds=[]) == []


def test_sampling_distribution_is_the_shared_notagen_order():
    from pipeline.notagen.generation import filtered
    from pipeline.sample.sampling import filtered_probs

    logits = torch.randn(3, 128) * 3
    for k, p, t in ((9, 0.9, 1.2), (None, 0.5, 0.7), (20, None, 1.0)):
        probs, ids = filtered(logits, k, p, t)
        full = torch.zeros(3, 128).scatter(1, ids, probs)
        want = filtered_probs(logits, temperature=t, top_p=p, top_k=k, order="notagen")
        assert torch.allclose(full, want, atol=1e-6), (k, p, t)
