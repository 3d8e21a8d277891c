"""REMI score tokens, Generality-to-Mastery (GnM) style, on top of miditok 3.1.

GnM's "extended REMI" puts two global tokens in front of every piece::

    Composer_<name>  TempoClass_<40|80|120|160>  BOS  Bar ... Position/Pitch/Duration ...  EOS

* ``Composer_<name>``: the composer label (``Composer_None`` for pre-training);
* ``TempoClass_<c>``: the time-weighted average tempo of the file, snapped to the
  nearest of 40/80/120/160 BPM (see :func:`tempo_class`);
* the body is miditok's REMI (bars, positions, pitches 21..108, durations, time
  signatures; no tempo tokens, velocities optional), with all non-drum tracks
  merged into one stream, as GnM encodes a score as one sequence.

Composer and tempo-class tokens are declared as miditok *special tokens* in the
``TokenizerConfig``, so they live in the miditok vocabulary, get stable ids and are
written to / reloaded from the tokenizer JSON.  Files with notes outside the pitch
range are rejected with :class:`RemiError` (GnM drops them), unless
``out_of_range="drop_notes"`` asks miditok to delete those notes instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TEMPO_CLASSES",
    "average_bpm",
    "RemiError",
    "RemiTokenizer",
    "build_config",
    "composer_token",
    "load_score",
    "snap_tempo",
    "tempo_class",
]

TEMPO_CLASSES: tuple[int, ...] = (40, 80, 120, 160)
DEFAULT_BPM = 120.0
COMPOSER_PREFIX = "Composer"
TEMPO_PREFIX = "TempoClass"
_WRAPPER_KEY = "ostinato_remi"

DEFAULT_PARAMS: dict[str, Any] = {
    "beat_res": {"0_4": 8, "4_12": 4},
    "num_velocities": 1,
    "use_time_signatures": True,
    "use_tempos": False,
    "pitch_range": [21, 109],  # high end excluded, i.e. 21..108 as in GnM
    "composers": [],
    "use_bos": True,
    "out_of_range": "reject",  # or "drop_notes"
}

# keys of the params dict that are ours, not miditok TokenizerConfig arguments
_WRAPPER_PARAMS = {"composers", "use_bos", "out_of_range", "tokenizer"}


class RemiError(ValueError):
    """A file cannot be tokenized (the message names the reason) or ids are malformed."""


# ----------------------------------------------------------------------------
# helpers


def composer_token(name: str | None) -> str:
    """``Composer_<slug>`` for a composer name (``Composer_None`` for ``None``)."""
    if name is None or str(name).strip() == "" or str(name).lower() == "none":
        return f"{COMPOSER_PREFIX}_None"
    slug = re.sub(r"[^0-9a-z]+", "-", str(name).strip().lower()).strip("-")
    if not slug:
        raise RemiError(f"composer name {name!r} has no usable characters")
    return f"{COMPOSER_PREFIX}_{slug}"


def load_score(midi: Any) -> Any:
    """A ``symusic.Score`` from a path / bytes / Score (ticks)."""
    import symusic

    if isinstance(midi, symusic.Score):
        return midi
    if isinstance(midi, (bytes, bytearray)):
        return symusic.Score.from_midi(bytes(midi))
    if isinstance(midi, (str, Path)):
        path = Path(midi)
        if not path.is_file():
            raise RemiError(f"no such MIDI file: {path}")
        try:
            return symusic.Score(str(path))
        except Exception as exc:  # noqa: BLE001
            raise RemiError(f"unreadable MIDI file {path.name}: {exc}") from exc
    raise RemiError(f"expected a path, bytes or symusic.Score, got {type(midi).__name__}")


def snap_tempo(bpm: float, classes: Sequence[int] = TEMPO_CLASSES) -> int:
    """Nearest tempo class; a tie goes to the slower class (``argmin`` order)."""
    if not bpm or bpm != bpm or bpm <= 0:  # 0, None, NaN
        bpm = DEFAULT_BPM
    return min(classes, key=lambda c: (abs(c - bpm), c))


def average_bpm(midi: Any) -> float:
    """Time-weighted average tempo (BPM, quarter notes per minute).

    Each tempo is weighted by how long it lasts, in score ticks, from its onset to
    the next tempo change (or the end of the last note).  Files without tempo
    events count as 120 BPM (the MIDI default).
    """
    score = load_score(midi)
    tempos = sorted(((int(t.time), float(t.qpm)) for t in score.tempos), key=lambda x: x[0])
    end = int(score.end())
    if not tempos:
        return DEFAULT_BPM
    if tempos[0][0] > 0:
        tempos.insert(0, (0, DEFAULT_BPM))
    total = weight = 0.0
    for i, (time, qpm) in enumerate(tempos):
        nxt = tempos[i + 1][0] if i + 1 < len(tempos) else max(end, time)
        span = max(0, nxt - time)
        total += qpm * span
        weight += span
    if weight == 0:  # all tempo events at/after the end: take the last one
        return tempos[-1][1]
    return total / weight


def tempo_class(midi: Any) -> int:
    """Time-weighted average BPM of a MIDI file snapped to 40/80/120/160."""
    return snap_tempo(average_bpm(midi))


def _normalise_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(DEFAULT_PARAMS)
    out.update(dict(params or {}))
    out["composers"] = list(out.get("composers") or [])
    if out["out_of_range"] not in ("reject", "drop_notes"):
        raise RemiError(f"out_of_range must be 'reject' or 'drop_notes', not {out['out_of_range']!r}")
    return out


def _special_tokens(composers: Iterable[str]) -> list[str]:
    tokens = ["PAD_None", "BOS_None", "EOS_None", f"{COMPOSER_PREFIX}_None"]
    for name in composers:
        tok = composer_token(name)
        if tok not in tokens:
            tokens.append(tok)
    tokens += [f"{TEMPO_PREFIX}_{c}" for c in TEMPO_CLASSES]
    return tokens


def build_config(params: Mapping[str, Any] | None = None) -> Any:
    """A ``miditok.TokenizerConfig`` for GnM-style REMI from a params dict.

    Understands ``beat_res`` (keys ``"0_4"`` or tuples), ``num_velocities``
    (``1`` also turns velocity tokens off unless ``use_velocities`` is given),
    ``use_time_signatures``, ``use_tempos``, ``pitch_range`` and ``composers``;
    any other key is passed to ``TokenizerConfig`` unchanged.
    """
    from miditok import TokenizerConfig

    p = _normalise_params(params)
    kwargs = {k: v for k, v in p.items() if k not in _WRAPPER_PARAMS}
    beat_res = {}
    for k, v in dict(kwargs.pop("beat_res")).items():
        key = tuple(int(x) for x in k.split("_")) if isinstance(k, str) else tuple(k)
        beat_res[key] = int(v)
    kwargs["beat_res"] = beat_res
    kwargs["pitch_range"] = tuple(int(x) for x in kwargs["pitch_range"])
    kwargs.setdefault("use_velocities", int(kwargs["num_velocities"]) > 1)
    if "time_signature_range" in kwargs:
        kwargs["time_signature_range"] = {int(k): list(v) for k, v in dict(kwargs["time_signature_range"]).items()}
    kwargs["special_tokens"] = _special_tokens(p["composers"])
    # one stream: GnM encodes the whole score as a single sequence
    kwargs.setdefault("use_programs", False)
    try:
        return TokenizerConfig(**kwargs)
    except TypeError as exc:
        raise RemiError(f"bad REMI params: {exc}") from exc


# ----------------------------------------------------------------------------
# tokenizer


class RemiTokenizer:
    """miditok REMI with GnM's ``Composer_*`` / ``TempoClass_*`` prefix tokens.

    ``encode(midi, composer=...)`` returns
    ``[Composer_x, TempoClass_y, BOS?, ...REMI ids..., EOS]`` and ``decode(ids)``
    strips that frame and returns a ``symusic.Score`` (tempo set from the class).
    """

    def __init__(self, params: Mapping[str, Any] | None = None, *, _miditok: Any = None):
        from miditok import REMI

        self.params = _normalise_params(params)
        self.tokenizer = _miditok if _miditok is not None else REMI(build_config(self.params))
        self.vocab: dict[str, int] = dict(self.tokenizer.vocab)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        low, high = self.tokenizer.config.pitch_range
        self.pitch_range = (int(low), int(high) - 1)  # inclusive

    # --- vocabulary -----------------------------------------------------------
    @property
    def composers(self) -> list[str]:
        pre = f"{COMPOSER_PREFIX}_"
        return [t[len(pre) :] for t in self.vocab if t.startswith(pre)]

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def pad_id(self) -> int:
        return self.vocab["PAD_None"]

    @property
    def bos_id(self) -> int:
        return self.vocab["BOS_None"]

    @property
    def eos_id(self) -> int:
        return self.vocab["EOS_None"]

    def composer_id(self, name: str | None) -> int:
        tok = composer_token(name)
        if tok not in self.vocab:
            raise RemiError(f"unknown composer {name!r} ({tok}); known: {sorted(self.composers)}")
        return self.vocab[tok]

    def tempo_class_id(self, cls: int) -> int:
        tok = f"{TEMPO_PREFIX}_{int(cls)}"
        if tok not in self.vocab:
            raise RemiError(f"no tempo class {cls}; classes are {TEMPO_CLASSES}")
        return self.vocab[tok]

    def vocab_hash(self) -> str:
        """sha256 of the vocabulary as sorted ``(token, id)`` pairs."""
        blob = json.dumps(sorted(self.vocab.items()), separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    # --- persistence ------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the miditok tokenizer JSON (plus our params); returns the file path."""
        path = Path(path)
        if path.suffix != ".json":
            path = path / "tokenizer.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {_WRAPPER_KEY: {**self.params, "vocab_sha256": self.vocab_hash()}}
        self.tokenizer.save(path, additional_attributes=extra)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RemiTokenizer:
        """Rebuild a tokenizer from :meth:`save`'s JSON (or a plain miditok REMI JSON)."""
        from miditok import REMI

        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RemiError(f"cannot read tokenizer file {path}: {exc}") from exc
        if data.get("tokenization") not in (None, "REMI"):
            raise RemiError(f"{path} holds a {data.get('tokenization')} tokenizer, not REMI")
        params = dict(data.get(_WRAPPER_KEY) or {})
        expected = params.pop("vocab_sha256", None)
        tok = REMI(params=path)
        if hasattr(tok, _WRAPPER_KEY):
            delattr(tok, _WRAPPER_KEY)
        out = cls(params, _miditok=tok)
        if not params:  # plain miditok file: recover composers from the vocabulary
            out.params["composers"] = [c for c in out.composers if c != "None"]
        if expected is not None and out.vocab_hash() != expected:
            raise RemiError(f"{path}: vocabulary hash mismatch after reload")
        return out

    # --- encoding ---------------------------------------------------------------
    def prepare(self, midi: Any) -> Any:
        """Load, drop drum tracks, check the pitch range, merge tracks into one.

        Raises :class:`RemiError` for empty files and (with the default
        ``out_of_range="reject"``) for notes outside the pitch range.
        """
        import numpy as np
        import symusic

        score = load_score(midi)
        tracks = [t for t in score.tracks if not t.is_drum and t.note_num() > 0]
        if not tracks:
            raise RemiError("no pitched notes (empty file or drums only)")
        low, high = self.pitch_range
        pitches = np.concatenate([t.notes.numpy()["pitch"].astype(np.int16) for t in tracks])
        n_out = int(((pitches < low) | (pitches > high)).sum())
        if n_out and self.params["out_of_range"] == "reject":
            raise RemiError(
                f"pitch out of range: {n_out} notes outside {low}..{high} "
                f"(min {int(pitches.min())}, max {int(pitches.max())}); file dropped as in GnM"
            )
        merged = symusic.Score(score.ticks_per_quarter)
        merged.tempos = score.tempos.copy()
        merged.time_signatures = score.time_signatures.copy()
        merged.key_signatures = score.key_signatures.copy()
        track = symusic.Track(name="score", program=0, is_drum=False)
        for t in tracks:
            track.notes.extend(t.notes.copy())
        track.notes.sort()
        merged.tracks.append(track)
        return merged

    def encode(
        self,
        midi: Any,
        composer: str | None = None,
        *,
        tempo: int | None = None,
    ) -> list[int]:
        """Ids ``[Composer_x, TempoClass_y, BOS?, ...REMI..., EOS]`` for a MIDI file.

        ``tempo`` overrides the tempo class computed from the file.
        """
        score = load_score(midi)
        cls = snap_tempo(float(tempo)) if tempo is not None else tempo_class(score)
        prefix = [self.composer_id(composer), self.tempo_class_id(cls)]
        merged = self.prepare(score)
        seq = self.tokenizer.encode(merged)
        if isinstance(seq, list):
            if len(seq) != 1:
                raise RemiError(f"expected one token stream, miditok returned {len(seq)}")
            seq = seq[0]
        body = list(seq.ids)
        if not body:
            raise RemiError("no REMI tokens after preprocessing (notes outside the grid?)")
        head = [self.bos_id] if self.params.get("use_bos", True) else []
        return prefix + head + body + [self.eos_id]

    __call__ = encode

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Token strings for ids (unknown ids raise :class:`RemiError`)."""
        out = []
        for i in ids:
            i = int(i)
            if i not in self.id_to_token:
                raise RemiError(f"id {i} is not in the vocabulary (size {len(self.vocab)})")
            out.append(self.id_to_token[i])
        return out

    def split_prefix(self, ids: Sequence[int]) -> tuple[str | None, int | None, list[int]]:
        """``(composer slug, tempo class, remaining ids)`` with the frame removed.

        Leading composer / tempo-class / BOS tokens, trailing EOS (and anything
        after it) and PAD are stripped.
        """
        ids = [int(i) for i in ids]
        composer: str | None = None
        cls: int | None = None
        k = 0
        while k < len(ids):
            tok = self.id_to_token.get(ids[k], "")
            if tok.startswith(f"{COMPOSER_PREFIX}_"):
                composer = tok.split("_", 1)[1]
            elif tok.startswith(f"{TEMPO_PREFIX}_"):
                cls = int(tok.split("_", 1)[1])
            elif ids[k] in (self.bos_id, self.pad_id):
                pass
            else:
                break
            k += 1
        body = ids[k:]
        if self.eos_id in body:
            body = body[: body.index(self.eos_id)]
        special = {self.pad_id, self.bos_id, self.eos_id}
        body = [
            i
            for i in body
            if i not in special
            and not self.id_to_token.get(i, "").startswith((f"{COMPOSER_PREFIX}_", f"{TEMPO_PREFIX}_"))
        ]
        return composer, cls, body

    def decode(self, ids: Sequence[int], out_path: str | Path | None = None) -> Any:
        """A ``symusic.Score`` from ids (prefix/BOS/EOS stripped); optional MIDI file.

        The tempo of the decoded score is the tempo class's BPM when the ids carry
        one (``use_tempos`` is off, so that is the only tempo information).
        """
        import symusic

        for i in ids:
            if int(i) not in self.id_to_token:
                raise RemiError(f"id {int(i)} is not in the vocabulary (size {len(self.vocab)})")
        _, cls, body = self.split_prefix(ids)
        if body:
            score = self.tokenizer.decode([body])
        else:
            score = symusic.Score(self.tokenizer.time_division)
        if cls is not None and not self.tokenizer.config.use_tempos:
            score.tempos = symusic.Score(score.ticks_per_quarter).tempos
            score.tempos.append(symusic.Tempo(0, float(cls)))
        if out_path is not None:
            out_path = Path(out_path)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            score.dump_midi(str(out_path))
        return score
