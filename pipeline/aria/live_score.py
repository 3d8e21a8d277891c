"""The score of a live session in both directions: what was played -> tokens, tokens -> notes to play.

:class:`Performance` keeps every timed message of the player (track 0) and of the model (track
1) and tokenises them the way training data was tokenised: written as MIDI and read by the
project's one reader (sustain pedal folded into durations, or kept as pedal tokens when the
checkpoint's tokenizer has them). Model time 0 is the first note-on. ``stable_tokens`` is the
prefix that can no longer change: tokens of notes that started before every note still
sounding (held, or sustained by a pedal that is down).

:class:`TokenTimer` follows generated tokens and turns each complete note (note, onset, dur)
or pedal (pedal, onset) into timed events, like upstream's demo: onset = <T> count x 5 s +
onset token.
"""

from __future__ import annotations

from dataclasses import dataclass

import mido

from pipeline.aria.live_io import PEDAL_CC, Timed, is_note_off, is_note_on, timed_midi
from pipeline.aria.midi import read_notes
from pipeline.aria.tokenizer import PED_OFF, PED_ON, AbsTokenizer

PLAYER, MODEL = 0, 1


class Performance:
    def __init__(self, tok: AbsTokenizer) -> None:
        self.tok = tok
        self.tracks: list[list[Timed]] = [[], []]
        self.t0_ms: int | None = None  # clock time of the first note-on: model time 0
        self._held: dict[tuple[int, int], int] = {}  # (source, pitch) -> note-on time
        self._pedal_down: dict[int, int] = {}  # source -> pedal-down time
        self._released: dict[tuple[int, int], int] = {}  # (source, pitch) -> on time, released under pedal

    def add(self, t_ms: int, msg: mido.Message, source: int = PLAYER) -> None:
        self.tracks[source].append((t_ms, msg))
        if is_note_on(msg):
            self.t0_ms = t_ms if self.t0_ms is None else self.t0_ms
            self._held[(source, msg.note)] = t_ms
        elif is_note_off(msg):
            start = self._held.pop((source, msg.note), None)
            if start is not None and source in self._pedal_down:
                self._released.setdefault((source, msg.note), start)  # the earliest decides
        elif msg.type == "control_change" and msg.control == PEDAL_CC:
            if msg.value >= 64:
                self._pedal_down.setdefault(source, t_ms)
            else:
                self._pedal_down.pop(source, None)
                self._released = {k: v for k, v in self._released.items() if k[0] != source}

    @property
    def notes_held(self) -> int:
        """Keys still down (pedal-sustained notes not counted)."""
        return len(self._held)

    def pedal_down(self, source: int) -> bool:
        return source in self._pedal_down

    def note_ons(self, source: int = PLAYER) -> list[int]:
        return [t for t, m in self.tracks[source] if is_note_on(m)]

    def _open_since(self) -> int | None:
        """Clock time of the earliest event whose tokens may still change (None: nothing open)."""
        times = list(self._held.values()) + list(self._released.values())
        if self.tok.config["include_pedal"]:
            times += list(self._pedal_down.values())
        return min(times, default=None)

    def tokens(self, now_ms: int) -> list:
        """Tokens of everything so far (no <E>); held keys and pedals are released at ``now_ms``."""
        if self.t0_ms is None:
            return [("prefix", "instrument", "piano"), "<S>"]
        tracks = [list(t) for t in self.tracks]
        for (source, pitch), start in self._held.items():  # at least one step long: the reader drops empty notes
            end = max(now_ms, start + self.tok.time_step)
            tracks[source].append((end, mido.Message("note_off", note=pitch, channel=source)))
        for source in self._pedal_down:
            tracks[source].append((now_ms, mido.Message("control_change", control=PEDAL_CC, value=0, channel=source)))
        origin = min(t for events in tracks for t, _ in events)
        midi = timed_midi([[(t, m.copy(channel=s)) for t, m in ev] for s, ev in enumerate(tracks)], origin)
        return self.tok.tokenize_piece(read_notes(midi), add_eos_tok=False)

    def stable_tokens(self, now_ms: int) -> list:
        """The prefix of ``tokens(now_ms)`` that later messages cannot change."""
        tokens = self.tokens(now_ms)
        since = self._open_since()
        if since is None or self.t0_ms is None:
            return tokens
        limit, segment, end, pos = since - self.t0_ms, 0, tokens.index("<S>") + 1, 0
        for kind, group in self.tok.groups(tokens):
            pos += len(group)
            if kind == "T":
                segment += 1
            elif kind in ("note", "drum", "pedal"):
                if segment * self.tok.abs_step + group[1][1] >= limit:
                    break
                end = pos
        return tokens[:end]

    def prompt(self, now_ms: int) -> list:
        """Tokens to continue from at ``now_ms``: everything so far, a trailing pedal-off dropped
        (the pedal is released only to close the piece, as upstream's demo does), and <T> tokens up
        to the present so the continuation starts now, not after the last note."""
        tokens = self.tokens(now_ms)
        if len(tokens) >= 2 and tokens[-2] == PED_OFF:
            tokens = tokens[:-2]
        if self.t0_ms is not None:
            tokens += ["<T>"] * ((now_ms - self.t0_ms) // self.tok.abs_step - tokens.count("<T>"))
        return tokens

    def note_rate(self, source: int = PLAYER) -> float:
        """Notes per second of ``source`` over the span of its note-ons (0 with fewer than two)."""
        ons = self.note_ons(source)
        return (len(ons) - 1) / ((ons[-1] - ons[0]) / 1000) if len(ons) > 1 and ons[-1] > ons[0] else 0.0


@dataclass
class TimedEvent:
    """A note (pitch, velocity, on and off in model ms) or a pedal change (pitch None)."""

    on_ms: int
    off_ms: int | None
    pitch: int | None
    velocity: int


class TokenTimer:
    """Generated tokens -> :class:`TimedEvent`; ``segment`` starts at the prompt's <T> count."""

    def __init__(self, tok: AbsTokenizer, segment: int) -> None:
        self.tok, self.segment, self._buf = tok, segment, []

    def ms(self, onset: int) -> int:
        return self.segment * self.tok.abs_step + onset

    def push(self, token) -> TimedEvent | None:
        if token == "<T>":
            self.segment += 1
            self._buf = []
            return None
        kind = self.tok.kind(token)
        if kind in ("note", "drum", "pedal"):
            self._buf = [token]
            return None
        if not self._buf:
            return None
        self._buf.append(token)
        head, first = self._buf[0], self.tok.kind(self._buf[0])
        if first == "pedal" and kind == "onset":
            self._buf = []
            return TimedEvent(self.ms(token[1]), None, None, 127 if head == PED_ON else 0)
        if first == "note" and [self.tok.kind(t) for t in self._buf] == ["note", "onset", "dur"]:
            (_, pitch, vel), onset, dur = self._buf
            self._buf = []
            return TimedEvent(self.ms(onset[1]), self.ms(onset[1]) + dur[1], pitch, vel)
        if first == "drum" or len(self._buf) >= 3:  # drums are not played; malformed groups are skipped
            self._buf = []
        return None

    @property
    def at_boundary(self) -> bool:
        """Between groups: a <T> may come next without breaking a note."""
        return not self._buf

    @property
    def expects_onset(self) -> bool:
        return len(self._buf) == 1
