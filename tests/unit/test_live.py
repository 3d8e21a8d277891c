"""``ostinato live``: the streaming KV cache equals a full forward, the stable prefix never changes,
and sessions driven by mock input (a file or scripted messages on a real-time clock) into an
in-memory port keep timing order, hand back when the player plays, and save what they sent.

The sessions use a "grammar" model: random content, but its weights make every note a
well-formed (piano note, onset, dur) group with an early onset and a short duration, so a
continuation has notes to schedule (a random model almost never completes a note).
"""

import mido
import pytest
import torch

from pipeline.aria.continue_ import Sampling
from pipeline.aria.live import LiveOptions, LiveSession
from pipeline.aria.live_durations import lengthen_cut_notes
from pipeline.aria.live_io import Clock, RecordingOutput, ScriptedInput, is_note_off, is_note_on, read_tracks, save_midi
from pipeline.aria.live_score import MODEL, PLAYER, Performance, TokenTimer
from pipeline.aria.live_stream import StreamingContext
from pipeline.aria.model import ModelConfig, build
from pipeline.aria.tokenizer import PED_OFF, PED_ON, AbsTokenizer
from pipeline.cli import main

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TOK = AbsTokenizer()


def on(t, pitch, vel=80):
    return t, mido.Message("note_on", note=pitch, velocity=vel)


def off(t, pitch):
    return t, mido.Message("note_off", note=pitch)


def pedal(t, value):
    return t, mido.Message("control_change", control=64, value=value)


def phrase(start, n, step=150, dur=120, low=60):
    return [e for i in range(n) for e in (on(start + i * step, low + i % 7), off(start + i * step + dur, low + i % 7))]


def grammar_model(max_seq_len=192, seed=0, long_notes=False):
    """A 1-layer Aria whose blocks are identities: a bigram over token kinds (piano note ->
    onset -> dur -> piano note), onsets and durations favouring the low end (~0.75 s window;
    ``long_notes``: durations favour the high end)."""
    torch.manual_seed(seed)
    model = build(ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=TOK.vocab_size, max_seq_len=max_seq_len))
    emb, head = model.model.tok_embeddings.weight, model.lm_head.weight
    with torch.no_grad():
        for block in model.model.encode_layers:
            block.att_proj_linear.weight.zero_()
            block.ff_down_proj.weight.zero_()
        emb.zero_()
        head.zero_()
        for i, tok in enumerate(TOK.vocab):
            kind = TOK.kind(tok)
            piano = kind == "note" and tok[0] == "piano"
            emb[i, 0 if piano else {"onset": 1, "dur": 2}.get(kind, 3)] = 1.0
            if piano:
                head[i, 2] = head[i, 3] = 4.0  # after a dur, or after <S> / the prefix
            elif kind == "onset":
                head[i, 0] = 4.0 * (1 - tok[1] / 5000)
            elif kind == "dur":
                head[i, 1] = 4.0 * (tok[1] / 5000 if long_notes else 1 - tok[1] / 5000)
    return model.eval()


@pytest.fixture(scope="module")
def grammar():
    return grammar_model()


def test_token_kinds_cover_the_vocabulary_as_built():
    from collections import Counter

    kinds = Counter(TOK.kind(t) for t in TOK.vocab)
    assert kinds["onset"] == len(TOK.onset_grid) and kinds["dur"] == len(TOK.dur_grid) and kinds["T"] == 1
    assert kinds["note"] == sum(isinstance(t, tuple) and len(t) == 3 and t[0] != "prefix" for t in TOK.vocab)
    assert TOK.kind(["piano", 60, 80]) == "note" and TOK.kind(("drum", 36)) == "drum"  # lists as read from JSON
    assert TOK.kind(("prefix", "instrument", "piano")) == TOK.kind("<E>") == "other"
    assert AbsTokenizer(include_pedal=True).kind(PED_ON) == "pedal"


def session(model, events, clock, **opts):
    out = RecordingOutput(clock)
    opts = {"sampling": Sampling(temp=1.0), "seed": 0, "max_seconds": 1.0, **opts}
    return LiveSession(model, TOK, ScriptedInput(events, clock), out, clock, LiveOptions(**opts)), out


def note_spans(sent):
    """(on ms, off ms, pitch) of each note in a message list; raises if a note never ends."""
    open_, spans = {}, []
    for t, m in sent:
        if is_note_on(m):
            assert m.note not in open_, f"note {m.note} struck twice without a note-off"
            open_[m.note] = t
        elif is_note_off(m) and m.note in open_:
            spans.append((open_.pop(m.note), t, m.note))
    assert not open_, f"notes left sounding: {open_}"
    return spans


# ------------------------------------------------------------------ the streaming KV cache
def test_streaming_context_equals_a_full_forward_after_growth_and_rewinds():
    torch.manual_seed(0)
    model = build(ModelConfig(d_model=32, n_heads=2, n_layers=2, vocab_size=200, max_seq_len=300)).eval()
    seq = torch.randint(0, 200, (250,)).tolist()
    ctx = StreamingContext(model)
    assert ctx.sync(seq[:40]) == 40
    assert ctx.sync(seq[:40] + [7, 8, 9]) == 3  # grows: only the new tokens are encoded
    changed = seq[:30] + [5] + seq[31:200]  # a token near the end changed: rewind to it
    assert ctx.sync(changed) == 170
    logits = ctx.prime(changed + [11])
    with torch.inference_mode():
        full = model(torch.tensor([changed + [11]]))[0, -1]
    torch.testing.assert_close(logits, full.float(), rtol=1e-4, atol=1e-4)
    stepped = ctx.step(12)
    with torch.inference_mode():
        full = model(torch.tensor([changed + [11, 12]]))[0, -1]
    torch.testing.assert_close(stepped, full.float(), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="max_seq_len 300"):
        ctx.sync(seq + seq)


def test_streaming_context_on_the_mlx_backend_follows_torch(tmp_path):
    pytest.importorskip("mlx.core")
    from pipeline.aria import mlx_backend
    from pipeline.aria.model import load, save

    torch.manual_seed(1)
    path = save(
        build(ModelConfig(d_model=32, n_heads=2, n_layers=2, vocab_size=200, max_seq_len=128)),
        tmp_path / "m.safetensors",
    )
    seq = torch.randint(0, 200, (60,)).tolist()
    got = []
    for model in (load(path), mlx_backend.port().TorchAdapter(mlx_backend.load(path))):
        ctx = StreamingContext(model)
        ctx.sync(seq[:50])
        got.append(ctx.prime(seq[:20] + [3] + seq[21:60]))  # rewinds to position 20
    torch.testing.assert_close(got[1], got[0], rtol=1e-3, atol=1e-3)


# ------------------------------------------------------------------ the performance
@pytest.mark.parametrize("include_pedal", [False, True])
def test_stable_tokens_are_never_changed_by_later_messages(include_pedal):
    tok = AbsTokenizer(include_pedal=include_pedal)
    events = sorted(
        phrase(0, 6)
        + [on(1000, 48), pedal(1100, 127), on(1200, 72), off(1300, 72), off(1500, 48)]
        + [on(1600, 67), pedal(1900, 0), off(2000, 67), on(5200, 70), off(5600, 70)],
        key=lambda e: e[0],
    )
    perf, prefixes = Performance(tok), []
    for t, msg in events:
        perf.add(t, msg)
        prefixes.append(perf.stable_tokens(t))
    final = perf.tokens(events[-1][0])
    for p in prefixes:
        assert final[: len(p)] == p
    assert prefixes[-1] == final  # nothing open at the end
    held = prefixes[events.index(on(1000, 48))]  # the held note and everything after it wait
    assert ("piano", 48, 80) not in held and ("piano", 72, 80) not in held


def test_prompt_releases_what_is_held_and_reaches_the_present():
    tok = AbsTokenizer(include_pedal=True)
    perf = Performance(tok)
    for t, msg in [pedal(0, 127), on(100, 60), off(300, 60), on(400, 64)]:
        perf.add(t, msg)
    prompt = perf.prompt(12_500)
    assert PED_ON in prompt and PED_OFF not in prompt  # the pedal is still down: no closing pedal-off
    assert prompt[-2:] == ["<T>", "<T>"]  # 12.4 s after the first note: two 5 s segments passed
    notes = tok.tokens_to_piece(prompt).notes
    assert [n.end_ms - n.start_ms for n in notes][-1] == 5000  # the held key lasts until now (capped)
    folded = Performance(AbsTokenizer())
    for t, msg in [pedal(0, 127), on(100, 60), off(300, 60), on(400, 64), off(500, 64)]:
        folded.add(t, msg)
    durs = [tok[1] for tok in folded.prompt(1000) if isinstance(tok, tuple) and tok[0] == "dur"]
    assert durs == [900, 600]  # no pedal tokens: the pedal held to the present lengthens both notes


@pytest.mark.parametrize("long_notes", [False, True])
def test_notes_cut_by_the_stop_get_the_duration_the_model_expects(long_notes):
    perf = Performance(TOK)
    for t, msg in phrase(0, 4) + [on(700, 50)]:  # 50 is still down at the stop (900 ms)
        perf.add(t, msg)
    tokens = perf.prompt(900)
    out, n = lengthen_cut_notes(StreamingContext(grammar_model(long_notes=long_notes)), TOK, tokens)
    durs = [t[1] for t in out if isinstance(t, tuple) and t[0] == "dur"]
    assert durs[:4] == [120] * 4  # ended long before the stop: kept
    assert (n, durs[4]) == ((1, 5000) if long_notes else (0, 200))  # never shortened


def test_token_timer_times_notes_and_pedals_by_segment():
    tok = AbsTokenizer(include_pedal=True)
    timer = TokenTimer(tok, segment=1)
    got = [timer.push(t) for t in [("piano", 60, 80), ("onset", 250), ("dur", 400), "<T>", PED_ON, ("onset", 10)]]
    notes = [e for e in got if e is not None]
    assert (notes[0].on_ms, notes[0].off_ms, notes[0].pitch) == (5250, 5650, 60)
    assert (notes[1].on_ms, notes[1].pitch, notes[1].velocity) == (10010, None, 127)
    assert timer.push(("piano", 61, 80)) is None and timer.push(("dur", 10)) is None  # no onset: skipped


# ------------------------------------------------------------------ sessions on a real clock
def test_a_file_played_as_input_is_continued_in_time_and_saved_as_sent(tmp_path, grammar):
    from midi_fixtures import note, write

    prompt = write(tmp_path / "prompt.mid", [[e for i in range(8) for e in note(i * 150, i * 150 + 120, 60 + i)]])
    clock = Clock()
    live, out = session(grammar, [], clock)
    live.inp = ScriptedInput.from_file(prompt, clock)
    result = live.run()
    (turn,) = result.turns
    assert turn.prompt_tokens > 20 and turn.encoded_at_stop <= 8  # the prompt was encoded while it played
    assert turn.notes_sent >= 1 and turn.notes_sent + turn.notes_dropped >= 3  # late ones dropped on a busy machine
    assert min(result.lateness_ms) >= 0  # never early
    assert sorted(result.lateness_ms)[len(result.lateness_ms) // 2] <= 50  # on time, as a rule
    assert turn.first_onset_ms >= turn.stop_ms  # the first note is not placed in the past
    last_input = max(t for t, _ in result.player)
    assert all(t >= last_input for t, _ in result.sent)
    spans = note_spans(result.sent)
    assert all(a <= b for a, b, _ in spans)
    assert [t for t, _ in out.sent] == sorted(t for t, _ in out.sent)

    saved = save_midi(tmp_path / "out.mid", [result.player, result.sent])
    player, model = read_tracks(saved)
    origin = result.player[0][0]
    assert [m for _, m in model] == [m for _, m in out.sent]  # the port got exactly what was saved
    # the port stamps on its own reading of the clock, a moment after the session's (at most a
    # thread switch apart: Python hands the GIL over every 5 ms)
    assert all(abs((t_out - origin) - t) <= 20 for (t, _), (t_out, _) in zip(model, out.sent))
    assert [(t + origin, m) for t, m in player] == result.player


def test_the_model_hands_back_when_the_player_plays_again(grammar):
    a, b = phrase(0, 5), phrase(1600, 3)  # A, a pause (the model takes over after 300 ms), then B
    clock = Clock()
    live, out = session(grammar, a + b, clock, silence_ms=300, max_seconds=5.0)
    result = live.run()
    first, second = result.turns
    b_start = b[0][0]
    assert first.handed_back and not second.handed_back
    assert first.stop_ms >= 600 + 300 and first.notes_sent >= 1
    assert first.first_onset_ms >= first.stop_ms and second.first_onset_ms >= second.stop_ms
    assert second.stop_ms >= b[-1][0]
    model_ons = [t for t, m in out.sent if is_note_on(m)]
    assert not [t for t in model_ons if b_start <= t < second.stop_ms]  # silent while the player plays
    # at the hand-back every model note is released at once (a loop tick; 100 ms on a busy machine)
    spans = note_spans(out.sent)
    assert all(end <= b_start + 100 for start, end, _ in spans if start < b_start)
    # the model's notes of turn 1 are in the context of turn 2
    in_context = live.perf.note_ons(MODEL)[: first.notes_sent]  # stamped by the session, ms apart from the port's
    assert len(in_context) == first.notes_sent and all(abs(a - b) <= 20 for a, b in zip(in_context, model_ons))
    assert len(live.perf.note_ons(PLAYER)) == 8


def test_control_change_hands_over_at_once(grammar):
    events = phrase(0, 3) + [(700, mido.Message("control_change", control=67, value=127))] + phrase(5000, 1)
    clock = Clock()
    live, _ = session(grammar, events, clock, silence_ms=10_000, control_cc=67, max_seconds=0.3)
    live.listen()
    assert 700 <= clock.now_ms() < 1500  # not the 10 s silence, not the end of the input


# ------------------------------------------------------------------ the command
def test_cli_needs_one_input_and_an_output(tmp_path, capsys):
    assert main(["live", "--save-path", str(tmp_path / "o.mid")]) == 2
    assert "give one input" in capsys.readouterr().err
    assert main(["live", "--midi-path", str(tmp_path / "p.mid")]) == 2
    assert "give an output" in capsys.readouterr().err
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    args = ["live", "--midi-path", str(bad), "--save-path", str(tmp_path / "o.mid"), "--checkpoint", str(bad)]
    assert main(args) == 2
    assert str(bad) in capsys.readouterr().err
    # a port that is not there (or no MIDI system at all) is one line, before any model loads
    assert main(["live", "--midi-in", "no such port", "--save-path", str(tmp_path / "o.mid")]) == 2
    assert "MIDI input port" in capsys.readouterr().err


def test_cli_continues_a_file_into_a_saved_midi(tmp_path, capsys):
    from midi_fixtures import note, write

    from pipeline.aria.model import save

    ckpt = save(grammar_model(), tmp_path / "model.safetensors", metadata={"tokenizer_hash": TOK.config_hash()})
    prompt = write(tmp_path / "prompt.mid", [[e for i in range(6) for e in note(i * 150, i * 150 + 120, 60 + i)]])
    out = tmp_path / "out.mid"
    args = ["live", "--checkpoint", ckpt, "--midi-path", prompt, "--save-path", out, "--max-seconds", "0.5"]
    assert main([*map(str, args), "--seed", "1", "--temp", "1"]) == 0
    text = capsys.readouterr().out
    assert "first note" in text and "notes/s generated" in text
    player, model = read_tracks(out)
    assert sum(is_note_on(m) for _, m in player) == 6 and sum(is_note_on(m) for _, m in model) >= 1
