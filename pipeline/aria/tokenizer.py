"""Our implementation of the Aria "abs" MIDI tokenizer (vocab 17,727 with the default config).

Written from shared/specs/aria-abs-tokenizer.md; the vocabulary order must match the released
Aria checkpoints exactly, so ``config_hash()`` is recorded next to every checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import replace
from functools import lru_cache
from typing import Any, Iterator, Sequence

import mido

from pipeline.aria.midi import (
    DRUM_DUR_MS,
    KEPT_FAMILIES,
    AriaPiece,
    TokenizerError,
    assign_channels,
    read_notes,
    write_midi,
)
from pipeline.data.notes import DRUM, Note, Pedal, Piece, rebase, slice_notes

__all__ = [
    "AbsTokenizer",
    "Piece",
    "Note",
    "TokenizerError",
    "read_notes",
    "slice_notes",
    "snap",
    "pitch_shift",
    "velocity_shift",
    "tempo_scale",
    "augment",
]

DEFAULT_CONFIG: dict[str, Any] = {
    "time_step_ms": 10,
    "abs_time_step_ms": 5000,
    "max_dur_ms": 5000,
    "velocity_step": 10,
    "include_drums": True,
    "include_pedal": False,
    "include_delimiter": False,
}
SPECIALS = ("<S>", "<E>", "<P>", "<U>", "<D>", "<T>")
COMPOSERS = (
    "bach",
    "beethoven",
    "mozart",
    "chopin",
    "rachmaninoff",
    "liszt",
    "debussy",
    "schubert",
    "brahms",
    "ravel",
    "satie",
    "scarlatti",
)
FORMS = ("sonata", "prelude", "nocturne", "étude", "waltz", "mazurka", "impromptu", "fugue")
GENRES = ("jazz", "classical")
METADATA_NAMES = {"composer": COMPOSERS, "form": FORMS, "genre": GENRES}
DRUM_PITCHES = range(35, 82)
PED_ON, PED_OFF, DELIMITER = "<PED_ON>", "<PED_OFF>", "<X>"
DRUM_VELOCITY = 90  # drum tokens carry no velocity; this is only what gets written back
TIMED = ("note", "drum", "pedal")


def snap(value: float, grid: Sequence[int]) -> int:
    """Nearest grid value; ties go wherever a binary search over the sorted grid meets first
    (starting from grid[0], as ariautils' ``_find_closest_int`` does)."""
    lo, hi, best = 0, len(grid) - 1, grid[0]
    while lo <= hi:
        mid = (lo + hi) // 2
        if abs(grid[mid] - value) < abs(best - value):
            best = grid[mid]  # only a strictly closer value replaces the first candidate
        if grid[mid] < value:
            lo = mid + 1
        else:
            hi = mid - 1
    return best


def _fold_name(name: str) -> str:
    """Case- and accent-insensitive form, so "Etude" matches "étude"."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().strip().lower()


def _as_token(tok):
    return tuple(tok) if isinstance(tok, list) else tok  # JSON round trips turn tuples into lists


def _randint(rng, lo: int, hi: int) -> int:
    """Inclusive integer draw from a random.Random or a numpy Generator."""
    return int(rng.integers(lo, hi + 1)) if hasattr(rng, "integers") else rng.randint(lo, hi)


class AbsTokenizer:
    """Notes as (family, pitch, velocity) + onset-in-5s-segment + duration, `<T>` per 5 s."""

    def __init__(self, **config_overrides: Any):
        unknown = set(config_overrides) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"unknown AbsTokenizer config keys: {sorted(unknown)}")
        self.config = {**DEFAULT_CONFIG, **config_overrides}
        c = self.config
        self.time_step = c["time_step_ms"]
        self.abs_step = c["abs_time_step_ms"]
        self.velocity_step = c["velocity_step"]
        self.onset_grid = list(range(0, self.abs_step, self.time_step))
        self.dur_grid = list(range(0, c["max_dur_ms"] + 1, self.time_step))
        self.velocity_grid = list(range(0, 128, self.velocity_step))
        self._memo_velocity, self._memo_duration, self._memo_onset = {}, {}, {}
        self._tok_onset, self._tok_dur, self._tok_note = {}, {}, {}
        self.vocab = self._build_vocab()
        self.tok_to_id = {tok: i for i, tok in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)
        self.bos_id, self.eos_id, self.pad_id, self.unk_id, self.dim_id, self.time_id = (
            self.tok_to_id[s] for s in SPECIALS
        )

    # ------------------------------------------------------------ vocabulary
    def _build_vocab(self) -> list:
        vocab: list = list(SPECIALS)
        vocab += [("prefix", "instrument", f) for f in (*KEPT_FAMILIES, DRUM)]
        for kind, names in METADATA_NAMES.items():
            vocab += [("prefix", kind, name) for name in names]
        vocab += [(f, p, v) for f in KEPT_FAMILIES for p in range(128) for v in self.velocity_grid]
        vocab += [(DRUM, p) for p in DRUM_PITCHES]
        vocab += [("dur", d) for d in self.dur_grid]
        vocab += [("onset", t) for t in self.onset_grid]
        if self.config["include_pedal"]:
            vocab += [PED_ON, PED_OFF]
        if self.config["include_delimiter"]:
            vocab.append(DELIMITER)
        return vocab

    def config_hash(self) -> str:
        """Short sha256 of the vocabulary in id order: equal hashes mean interchangeable ids."""
        canon = json.dumps(self.vocab, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]

    def encode(self, tokens: Sequence) -> list[int]:
        get, unk = self.tok_to_id.get, self.unk_id
        return [get(t, unk) if t.__class__ is not list else get(tuple(t), unk) for t in tokens]

    def decode(self, ids: Sequence[int]) -> list:
        n = self.vocab_size
        return [self.vocab[int(i)] if 0 <= int(i) < n else "<U>" for i in ids]

    # ------------------------------------------------------------ quantization
    # Memoised: the inputs are a few thousand distinct ms / velocity values, and snapping each
    # note three times by binary search was a third of tokenization time.
    def q_velocity(self, velocity: int) -> int:
        q = self._memo_velocity.get(velocity)
        if q is None:
            q = snap(velocity, self.velocity_grid)
            q = self._memo_velocity[velocity] = self.velocity_step if q == 0 and velocity > 0 else q
        return q

    def q_duration(self, ms: int) -> int:
        ms = min(ms, self.config["max_dur_ms"])
        q = self._memo_duration.get(ms)
        if q is None:
            q = self._memo_duration[ms] = snap(ms, self.dur_grid) or self.time_step
        return q

    def q_onset(self, ms: int) -> int:
        ms = ms % self.abs_step
        q = self._memo_onset.get(ms)
        if q is None:
            q = self._memo_onset[ms] = snap(ms, self.onset_grid)
        return q

    # ------------------------------------------------------------ MIDI -> tokens
    def tokenize(
        self, midi, add_dim_tok: bool = False, add_eos_tok: bool = True, metadata: dict | None = None, rng=None
    ) -> list:
        """MIDI path, bytes, mido.MidiFile or Piece -> tokens (prefixes, <S>, notes, <E>)."""
        piece = midi if isinstance(midi, Piece) else read_notes(midi)
        return self.tokenize_piece(piece, add_dim_tok, add_eos_tok, metadata, rng)

    def tokenize_piece(
        self, piece: Piece, add_dim_tok: bool = False, add_eos_tok: bool = True, metadata: dict | None = None, rng=None
    ) -> list:
        notes = [n for n in piece.notes if n.family == DRUM or n.family in KEPT_FAMILIES]
        if not notes:
            name = piece.source or "<piece>"
            raise TokenizerError(f"{name}: no notes after removing ignored instruments")
        if not isinstance(piece, AriaPiece) and (len(notes) != len(piece.notes) or notes[0].start_ms != 0):
            piece = rebase(piece, notes)  # leading silence is measured from the first kept note
        # (an AriaPiece is timed as ariautils times it; its first onset may even be non-zero)
        body = self._pedal_body(piece) if self.config["include_pedal"] else self._note_body(piece.notes)
        seq = self._prefix(piece, metadata) + ["<S>"] + body
        if add_eos_tok:
            seq.append("<E>")
        return self.insert_dim(seq, rng) if add_dim_tok else seq

    def _note_body(self, notes: list[Note]) -> list:
        """Tokens of the notes, `<T>` counted as ariautils counts them (from the previous
        note's time); a drum left out (include_drums off) still counts. The hot loop of
        tokenization: token tuples are memoised per distinct value."""
        step, drums = self.abs_step, self.config["include_drums"]
        onsets, durs, notes_tok = self._tok_onset, self._tok_dur, self._tok_note
        body, prev = [], 0
        for n in notes:
            t = n.start_ms
            if t // step > prev // step:
                body += ["<T>"] * (t // step - prev // step)
            prev = t
            onset = onsets.get(t % step) or onsets.setdefault(t % step, ("onset", self.q_onset(t)))
            if n.family == DRUM:
                # ariautils also writes ("drum", n) for n outside 35..81, which has no id (<U>);
                # we leave those out (the tokenize stage would quarantine the file for a <U>).
                if drums and n.pitch in DRUM_PITCHES:
                    body += ((DRUM, n.pitch), onset)
                continue
            key = (n.family, n.pitch, n.velocity)
            note = notes_tok.get(key) or notes_tok.setdefault(key, (n.family, n.pitch, self.q_velocity(n.velocity)))
            d = n.end_ms - n.start_ms
            body += (note, onset, durs.get(d) or durs.setdefault(d, ("dur", self.q_duration(d))))
        return body

    def _pedal_body(self, piece: Piece) -> list:
        body, prev = [], 0
        for t_ms, toks in self._events(piece):
            body += ["<T>"] * (t_ms // self.abs_step - prev // self.abs_step)
            prev = t_ms
            body += toks
        return body

    def _events(self, piece: Piece) -> list[tuple[int, list]]:
        """(ms, tokens) per note, plus pedal on/off when enabled; pedal first on equal times."""
        events = [(n.start_ms, 1, i, self._note_tokens(n)) for i, n in enumerate(piece.notes)]
        if self.config["include_pedal"]:
            for i, (start, end) in enumerate(_merge_intervals(piece.pedals)):
                events.append((start, 0, 2 * i, [PED_ON, ("onset", self.q_onset(start))]))
                events.append((end, 0, 2 * i + 1, [PED_OFF, ("onset", self.q_onset(end))]))
        events.sort(key=lambda e: e[:3])
        return [(t, toks) for t, _, _, toks in events]

    def _note_tokens(self, n: Note) -> list:
        onset = ("onset", self.q_onset(n.start_ms))
        if n.family == DRUM:
            return [(DRUM, n.pitch), onset] if self.config["include_drums"] and n.pitch in DRUM_PITCHES else []
        end = n.off_ms if self.config["include_pedal"] and n.off_ms is not None else n.end_ms
        dur = ("dur", self.q_duration(end - n.start_ms))
        return [(n.family, n.pitch, self.q_velocity(n.velocity)), onset, dur]

    def _prefix(self, piece: Piece, metadata: dict | None) -> list:
        present = {n.family for n in piece.notes if n.family != DRUM or self.config["include_drums"]}
        if isinstance(piece, AriaPiece):  # ariautils lists every channel's family, notes or not
            present = {f for f in present if f == DRUM} | set(piece.families)
        fams = [f for f in (*KEPT_FAMILIES, DRUM) if f in present]
        prefix = [("prefix", "instrument", f) for f in fams]
        for kind, names in METADATA_NAMES.items():
            value = (metadata or {}).get(kind)
            if isinstance(value, str):
                match = [name for name in names if _fold_name(name) == _fold_name(value)]
                prefix += [("prefix", kind, name) for name in match]
        return prefix

    def insert_dim(self, seq: list, rng=None) -> list:
        """Put `<D>` ~100 (+-10 with rng) tokens before the end, never inside a note's tokens."""
        if len(seq) <= 150:
            return list(seq)
        i = len(seq) - 100 + (_randint(rng, -10, 10) if rng is not None else 0)
        first = seq.index("<S>") + 1 if "<S>" in seq else 0
        while i > first and self.kind(seq[i]) in ("onset", "dur"):
            i -= 1
        return seq[:i] + ["<D>"] + seq[i:]

    # ------------------------------------------------------------ tokens -> MIDI
    def kind(self, tok) -> str:
        """A token's role: "note", "drum", "onset", "dur", "pedal", "T" or "other" (specials, prefixes)."""
        tok = _as_token(tok)
        if tok == "<T>":
            return "T"
        if tok in (PED_ON, PED_OFF):
            return "pedal"
        if isinstance(tok, tuple):
            if len(tok) == 3 and tok[0] in KEPT_FAMILIES:
                return "note"
            if len(tok) == 2 and tok[0] in (DRUM, "onset", "dur"):
                return "drum" if tok[0] == DRUM else tok[0]
        return "other"

    def groups(self, tokens: Sequence) -> Iterator[tuple[str, list]]:
        """Split tokens into ("note", [note, onset, dur]), ("drum"/"pedal", [tok, onset]),
        ("T", ["<T>"]) and ("other", [tok]); an incomplete note is passed on as "other"."""
        tokens = [_as_token(t) for t in tokens]
        i = 0
        while i < len(tokens):
            kind = self.kind(tokens[i])
            if kind in TIMED:
                want = ("onset", "dur") if kind == "note" else ("onset",)
                got = tuple(self.kind(t) for t in tokens[i + 1 : i + 1 + len(want)])
                if got == want:
                    yield kind, tokens[i : i + 1 + len(want)]
                    i += 1 + len(want)
                    continue
                kind = "other"
            yield (kind if kind == "T" else "other"), [tokens[i]]
            i += 1

    def tokens_to_piece(self, tokens: Sequence) -> Piece:
        """Decode a token sequence (stops at `<E>`); malformed fragments are skipped."""
        notes, pedals, segment, pedal_on = [], [], 0, None
        for kind, g in self.groups(tokens):
            if kind == "T":
                segment += 1
            elif kind == "other" and g[0] == "<E>":
                break
            elif kind in TIMED:
                t = segment * self.abs_step + g[1][1]
                if kind == "note":
                    (fam, pitch, vel), dur = g[0], g[2][1]
                    notes.append(Note(t, t + dur, pitch, vel, fam, -1))
                elif kind == "drum":
                    notes.append(Note(t, t + DRUM_DUR_MS, g[0][1], DRUM_VELOCITY, DRUM, -1))
                elif g[0] == PED_ON and pedal_on is None:
                    pedal_on = t
                elif g[0] == PED_OFF and pedal_on is not None:
                    pedals.append(Pedal(0, pedal_on, t))
                    pedal_on = None
        if pedal_on is not None:
            pedals.append(Pedal(0, pedal_on, max([pedal_on] + [n.end_ms for n in notes])))
        chans = assign_channels(n.family for n in notes)
        return Piece([replace(n, track=chans[n.family]) for n in notes], pedals)

    def detokenize(self, tokens: Sequence) -> mido.MidiFile:
        """Tokens -> MIDI at 500 ticks/beat and 500,000 µs/beat (1 tick = 1 ms)."""
        return write_midi(self.tokens_to_piece(tokens))

    # ------------------------------------------------------------ augmentation
    def pitch_shift(self, x, semitones: int):
        """Transpose pitched notes (drums untouched); notes pushed out of 0..127 are dropped."""
        if isinstance(x, Piece):
            notes = [n if n.family == DRUM else replace(n, pitch=n.pitch + semitones) for n in x.notes]
            return replace(x, notes=[n for n in notes if 0 <= n.pitch < 128])
        out = []
        for kind, g in self.groups(x):
            if kind == "note":
                fam, pitch, vel = g[0]
                if not 0 <= pitch + semitones < 128:
                    continue
                g = [(fam, pitch + semitones, vel)] + g[1:]
            out += g
        return out

    def velocity_shift(self, x, steps: int):
        """Move velocities by `steps` grid steps, clamped to the non-zero grid."""
        delta = steps * self.velocity_step
        if isinstance(x, Piece):
            return replace(
                x,
                notes=[
                    n if n.family == DRUM else replace(n, velocity=min(127, max(1, n.velocity + delta)))
                    for n in x.notes
                ],
            )
        top = self.velocity_grid[-1]
        out = []
        for kind, g in self.groups(x):
            if kind == "note":
                fam, pitch, vel = g[0]
                g = [(fam, pitch, min(top, max(self.velocity_step, vel + delta)))] + g[1:]
            out += g
        return out

    def tempo_scale(self, x, factor: float, rng=None):
        """Stretch time by `factor` (>1 is slower); with rng, notes sharing an onset are
        shuffled afterwards ("note mixup")."""
        if factor <= 0:
            raise ValueError(f"tempo factor must be positive, got {factor}")
        if isinstance(x, Piece):
            return _scale_piece(x, factor)
        placed, segment = [], 0  # (kind, tokens, new abs ms or None)
        for kind, g in self.groups(x):
            if kind == "T":
                segment += 1
                placed.append(("T", [], round(segment * self.abs_step * factor)))
            elif kind in TIMED:
                t = round((segment * self.abs_step + g[1][1]) * factor)
                new = [g[0], ("onset", self.q_onset(t))]
                if kind == "note":
                    new.append(("dur", self.q_duration(round(g[2][1] * factor))))
                placed.append((kind, new, t))
            else:
                placed.append((kind, g, None))
        if rng is not None:
            _mixup(placed, rng, self.abs_step)
        return self._emit_with_ticks(placed)

    def _emit_with_ticks(self, placed: list) -> list:
        """Re-create `<T>` tokens from new absolute times; trailing ones keep their place."""
        last_timed = max((i for i, p in enumerate(placed) if p[0] in TIMED), default=-1)
        out, segment = [], 0
        for i, (kind, toks, t) in enumerate(placed):
            if t is not None:
                target = t // self.abs_step
                if kind in TIMED or i > last_timed:
                    out += ["<T>"] * (target - segment)
                    segment = max(segment, target)
            out += toks
        return out

    def augment(
        self, x, rng, max_pitch: int = 5, max_velocity_steps: int = 1, max_tempo_change: float = 0.2, mixup: bool = True
    ):
        """Pretraining augmentation: tempo x U(1 +- 0.2) (+ note mixup), pitch +-5, velocity +-1."""
        semitones = _randint(rng, -max_pitch, max_pitch)
        steps = _randint(rng, -max_velocity_steps, max_velocity_steps)
        factor = float(rng.uniform(1 - max_tempo_change, 1 + max_tempo_change))
        x = self.tempo_scale(x, factor, rng if mixup else None)
        return self.velocity_shift(self.pitch_shift(x, semitones), steps)


def _merge_intervals(pedals: Sequence[Pedal]) -> list[tuple[int, int]]:
    """Union of all channels' pedal intervals, clipped at the origin."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, p.start_ms), max(0, p.end_ms)) for p in pedals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged if e > s]


def _scale_piece(piece: Piece, factor: float) -> Piece:
    def sc(ms):
        return None if ms is None else round(ms * factor)

    notes = [
        replace(n, start_ms=sc(n.start_ms), end_ms=sc(n.end_ms), off_ms=sc(n.off_ms), ticks=None) for n in piece.notes
    ]
    pedals = [replace(p, start_ms=sc(p.start_ms), end_ms=sc(p.end_ms), ticks=None) for p in piece.pedals]
    return Piece(notes, pedals, None, piece.source)


def _mixup(placed: list, rng, abs_step: int) -> None:
    """Shuffle, in place, each run of consecutive note/drum groups with the same new onset."""

    def key(p):
        return (p[2] // abs_step, p[1][1]) if p[0] in ("note", "drum") else None

    i = 0
    while i < len(placed):
        j = i
        while j < len(placed) and key(placed[j]) is not None and key(placed[j]) == key(placed[i]):
            j += 1
        if j - i > 1:
            run = placed[i:j]
            rng.shuffle(run)
            placed[i:j] = run
        i = max(j, i + 1)


# ---------------------------------------------------------------- module-level shortcuts
@lru_cache(maxsize=None)
def _default() -> AbsTokenizer:
    return AbsTokenizer()


def pitch_shift(x, semitones: int, tokenizer: AbsTokenizer | None = None):
    return (tokenizer or _default()).pitch_shift(x, semitones)


def velocity_shift(x, steps: int, tokenizer: AbsTokenizer | None = None):
    return (tokenizer or _default()).velocity_shift(x, steps)


def tempo_scale(x, factor: float, rng=None, tokenizer: AbsTokenizer | None = None):
    return (tokenizer or _default()).tempo_scale(x, factor, rng)


def augment(x, rng, tokenizer: AbsTokenizer | None = None, **kwargs):
    return (tokenizer or _default()).augment(x, rng, **kwargs)
