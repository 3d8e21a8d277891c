"""Aria prompt continuation, shared by ``ostinato generate`` and the ``generate`` stage.

As upstream (seed-systems 1.5): the prompt is the notes with onset <= ``prompt_duration``
seconds, tokenised without ``<D>``/``<E>`` (an empty prompt is ``[prefix piano, <S>]``); the
token budget is ``min(max_seq_len - len(prompt), length)``; sampling is temperature then min-p
(default 0.035) or top-p -- never both, never one silently dropped; ``end=True`` forces
``<D>`` in the last 130 positions, at the first token that does not complete a note; a row
stops after ``<E>``. Every bad input is a ``ValueError`` naming the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pipeline.sample.sampling import SamplingError, check_options
from pipeline.aria.tokenizer import AbsTokenizer, Piece
from pipeline.aria.load import resolve_checkpoint
from pipeline.aria.midi import read_midi_file

DEFAULT_TEMP, DEFAULT_MIN_P, END_WINDOW = 0.98, 0.035, 130


@dataclass(frozen=True)
class Sampling:
    temp: float = DEFAULT_TEMP
    min_p: float | None = None
    top_p: float | None = None
    top_k: int | None = None

    def resolved(self) -> "Sampling":
        """min-p defaults to 0.035 only when top-p is not given; both given is an error."""
        if self.min_p is not None and self.top_p is not None:
            raise SamplingError(f"--min-p {self.min_p} and --top-p {self.top_p} conflict: give one of them")
        min_p = DEFAULT_MIN_P if self.min_p is None and self.top_p is None else self.min_p
        out = Sampling(self.temp, min_p, self.top_p, self.top_k)
        check_options(out.temp, out.min_p, out.top_p, out.top_k, "aria")
        return out


# ----------------------------------------------------------------------------- prompt
def read_prompt(path: str | Path) -> Piece:
    """The notes of a prompt MIDI; corrupt, empty or note-less files are ValueErrors."""
    return read_midi_file(path, "prompt MIDI")


def prompt_tokens(tok: AbsTokenizer, piece: Piece | None, prompt_duration: float,
                  metadata: dict | None = None) -> list:
    """Tokens of the notes with onset <= prompt_duration s (no <D>, no <E>); [piano, <S>] if none."""
    if prompt_duration < 0:
        raise ValueError(f"prompt duration must be >= 0 seconds, got {prompt_duration}")
    limit = round(prompt_duration * 1000)
    notes = [n for n in piece.notes if n.start_ms <= limit] if piece is not None else []
    if not notes:
        return [("prefix", "instrument", "piano"), "<S>"]
    pedals = [p for p in piece.pedals if p.end_ms <= limit]  # drop a dangling pedal-on
    part = Piece(notes, pedals, piece.clock, piece.source)
    return tok.tokenize_piece(part, add_dim_tok=False, add_eos_tok=False, metadata=metadata)


# ----------------------------------------------------------------------------- model
def load_model(checkpoint: str | Path, tok: AbsTokenizer, backend: str = "torch",
               device: torch.device | str = "cpu"):
    """Load strictly; a checkpoint for another vocabulary or tokenizer is a ValueError."""
    from pipeline.aria.load import CheckpointError, read_header

    path = resolve_checkpoint(checkpoint)
    have = read_header(path)[1].get("tokenizer_hash")
    if have and have != tok.config_hash():
        raise CheckpointError(f"checkpoint {path} was trained with tokenizer {have}, this tokenizer is "
                              f"{tok.config_hash()} (vocab {tok.vocab_size}): different vocabularies")
    if backend == "torch":
        from pipeline.aria.model import load

        return load(path, expected_vocab_size=tok.vocab_size, device=device, dtype=torch.float32)
    if backend == "mlx":
        from pipeline.aria import mlx_backend as mlx_backend

        try:
            return mlx_backend.load(path, expected_vocab_size=tok.vocab_size)
        except ImportError as e:
            raise RuntimeError(str(e)) from None
    raise ValueError(f"backend must be 'torch' or 'mlx', got {backend!r}")


class ForceEnd:
    """Wraps a model (generate's protocol) so that, from absolute position ``start`` on, each row
    that has not emitted ``<D>`` gets it as its next token unless that token completes a note
    (an onset or duration is due), as upstream Aria's ``--end``."""

    def __init__(self, model, tok: AbsTokenizer, start: int) -> None:
        self.model, self.tok, self.start, self.config = model, tok, start, model.config
        self.device = getattr(model, "device", None) or next(model.parameters()).device
        self.kind = _kinds(tok)  # id -> "note" | "onset" | "dur" | "other"
        self.tail: torch.Tensor | None = None  # last two tokens per row
        self.dim_seen: torch.Tensor | None = None

    def new_kv_cache(self, batch_size, max_len=None):
        return self.model.new_kv_cache(batch_size, max_len)

    def eval(self):
        return self

    def forward(self, idx, kv_cache=None, start_pos=0, last_only=False):
        logits = self.model(idx, kv_cache, start_pos, last_only=last_only)
        self._observe(idx, start_pos)
        pos = start_pos + idx.shape[1]  # absolute position of the token being predicted
        if pos < self.start:
            return logits
        prev, prev2 = self.tail[:, -1].tolist(), self.tail[:, -2].tolist()
        due = torch.tensor([self.kind.get(a) == "note" or (self.kind.get(a) == "onset" and self.kind.get(b) == "note")
                            for a, b in zip(prev, prev2)], device=logits.device)
        force = ~self.dim_seen.to(logits.device) & ~due
        if bool(force.any()):
            logits = logits.clone()
            last = logits[:, -1]
            last[force] = float("-inf")
            last[force, self.tok.dim_id] = 0.0
        return logits

    __call__ = forward

    def _observe(self, idx, start_pos):
        idx = idx.detach().cpu()
        if self.tail is None or start_pos == 0:
            pad = torch.full((idx.shape[0], 2), -1, dtype=idx.dtype)
            self.tail = torch.cat([pad, idx], dim=1)[:, -2:]
            self.dim_seen = (idx == self.tok.dim_id).any(dim=1)
        else:
            self.tail = torch.cat([self.tail, idx], dim=1)[:, -2:]
            self.dim_seen |= (idx == self.tok.dim_id).any(dim=1)


def _kinds(tok: AbsTokenizer) -> dict[int, str]:
    out = {}
    for i, t in enumerate(tok.vocab):
        k = tok._kind(t)
        out[i] = "note" if k in ("note", "drum", "pedal") else k if k in ("onset", "dur") else "other"
    return out


def continue_prompt(model, tok: AbsTokenizer, prompt: list, *, variations: int = 1, length: int = 2048,
                    sampling: Sampling = Sampling(), end: bool = False, seed: int | None = None,
                    backend: str = "torch", progress: bool = False) -> list[list[int]]:
    """``variations`` continuations (prompt included, ids) of ``prompt`` (tokens)."""
    s = sampling.resolved()
    if variations < 1 or length < 1:
        raise ValueError(f"variations and length must be >= 1, got {variations} and {length}")
    ids = tok.encode(prompt)
    max_len = int(model.config.max_seq_len)
    if len(ids) >= max_len:
        raise ValueError(f"the prompt is {len(ids)} tokens, longer than the model context "
                         f"(max_seq_len {max_len}) leaves room for: shorten --prompt-duration")
    budget = min(max_len - len(ids), length)
    if end and budget <= END_WINDOW:
        raise ValueError(f"--end needs more than {END_WINDOW} new tokens, only {budget} fit "
                         f"(length {length}, context {max_len}, prompt {len(ids)} tokens)")
    if backend == "mlx":
        from pipeline.aria.mlx import TorchAdapter

        model = TorchAdapter(model)
    if end:
        model = ForceEnd(model, tok, len(ids) + budget - END_WINDOW)
    from pipeline.sample.generate import generate

    return generate(model, [ids] * variations, max_new_tokens=budget, eos_id=tok.eos_id, pad_id=tok.pad_id,
                    seed=seed, temperature=s.temp, min_p=s.min_p, top_p=s.top_p, top_k=s.top_k,
                    progress=progress)


# ----------------------------------------------------------------------------- outputs
def to_piece(tok: AbsTokenizer, ids: list[int]) -> Piece:
    return tok.tokens_to_piece(tok.decode(ids))


def write_midi(tok: AbsTokenizer, ids: list[int], path: str | Path) -> Piece:
    piece = to_piece(tok, ids)
    tok.detokenize(tok.decode(ids)).save(str(path))
    return piece


def piano_roll(piece: Piece, n_prompt_notes: int, path: str | Path, title: str = "") -> None:
    """PNG piano roll: prompt notes in blue, the continuation in orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5), dpi=80)
    for i, n in enumerate(piece.notes):
        color = "tab:blue" if i < n_prompt_notes else "tab:orange"
        ax.broken_barh([(n.start_ms / 1000, max(n.end_ms - n.start_ms, 10) / 1000)], (n.pitch - 0.4, 0.8),
                       facecolors=color)
    if 0 < n_prompt_notes < len(piece.notes):  # the last prompt onset: where continuing starts
        ax.axvline(max(n.start_ms for n in piece.notes[:n_prompt_notes]) / 1000, color="k", lw=0.8, ls="--")
    ax.set_xlabel("seconds")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or "prompt (blue) + continuation (orange)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
