"""Training items for the NotaGen model: abc_tokenize's interleaved texts -> upstream's training
text -> (transposed, rest-reduced, cropped) patches, in seeded step-indexed batches.

Training text (upstream's preprocessing): no ``X: T: C: W: w: Z: %%MIDI`` lines; the ``%period`` / ``%composer`` /
``%instrumentation`` prompt lines only for fine-tuning; the body laid out as abctoolkit's
rotate(unrotate(.)) lays it out; all-rest voice segments removed.
Per item at training time: a key (15 signatures for pretraining, a weighted +-3 semitone shift
for fine-tuning, abctoolkit), rest reduction, then upstream's stream-mode crop at line starts
(metadata kept) to the model's patch context.  Batch ``i`` is a pure function of
(seed, i, rank), so a resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pipeline.notagen.keys import (
    TransposeError,
    canonical,
    key_signature,
    random_key,
    shifted_key,
    transpose,
)
from pipeline.notagen.model import pad_batch
from pipeline.notagen.patchilizer import PatchifyError, patchify
from pipeline.notagen.rests import reduce_rests
from pipeline.train.batches import RowBatches

PROMPT_FIELDS = ("period", "composer", "instrumentation")


@dataclass(frozen=True)
class Piece:
    id: str
    text: str  # training text (no X:, prompt lines kept only when asked)
    prompt: tuple[str, str, str] | None


def prompt_of(text: str) -> tuple[str, str, str] | None:
    """The leading ``%period`` / ``%composer`` / ``%instrumentation`` lines, if all three are there."""
    lines = text.split("\n")[:3]
    if len(lines) == 3 and all(line.startswith("%") and not line.startswith("%%") for line in lines):
        return tuple(line[1:].strip() for line in lines)  # type: ignore[return-value]
    return None


_STRIPPED = ("X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI")  # fields upstream's preprocessing removes


def training_text(text: str, keep_prompt: bool) -> str:
    lines = [line for line in text.split("\n") if line.strip() and not line.startswith(_STRIPPED)]
    if not keep_prompt:
        lines = [line for line in lines if not (line.startswith("%") and not line.startswith("%%"))]
    return "\n".join(lines) + "\n"


def load_pieces(tokens_dir: str | Path, split: str, keep_prompt: bool) -> list[Piece]:
    path = Path(tokens_dir) / split / "texts.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no interleaved texts at {path}: run the abc_tokenize stage first")
    out = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        text = canonical(training_text(row["text"], keep_prompt))
        out.append(Piece(row["id"], text, prompt_of(row["text"])))
    return out


class PieceItems:
    """One training item (LongTensor [P <= patch_length, 16]) from a piece and a generator."""

    def __init__(self, pieces: list[Piece], patch_length: int, transposition: str) -> None:
        if transposition not in ("none", "15keys", "shift3"):
            raise ValueError(f"transposition must be none | 15keys | shift3, got {transposition!r}")
        self.pieces, self.patch_length, self.transposition = pieces, patch_length, transposition
        self._reduced = lru_cache(maxsize=4096)(self._reduce)

    def _reduce(self, j: int, key: str | None) -> str:
        text = self.pieces[j].text
        if key is not None:
            text = transpose(text, key)
        return reduce_rests(text)

    def item(self, j: int, rng: np.random.Generator, augment: bool = True) -> torch.Tensor:
        key = None
        if augment and self.transposition == "15keys":
            key = random_key(rng)
        elif augment and self.transposition == "shift3":
            key = shifted_key(key_signature(self.pieces[j].text), rng)
        crop = random.Random(int(rng.integers(2**31)))
        try:
            return patchify(self._reduced(j, key), patch_length=self.patch_length, rng=crop)
        except (TransposeError, ValueError):  # AbcError/PatchifyError: this key fails, keep the own key
            if key is None:
                raise
            return patchify(self._reduced(j, None), patch_length=self.patch_length, rng=crop)

    def check(self) -> tuple[list[Piece], list[dict]]:
        """Pieces that reduce and patchify in their own key; the rest quarantined with a reason."""
        ok, bad = [], []
        for j, p in enumerate(self.pieces):
            try:
                patchify(self._reduced(j, None))
                ok.append(p)
            except (PatchifyError, ValueError) as e:
                bad.append({"id": p.id, "reason": f"{type(e).__name__}: {e}"})
        return ok, bad


class PatchBatches:
    """Seeded batches of (patches [B, L, 16], masks [B, L]) over pieces; the batches protocol."""

    def __init__(
        self,
        items: PieceItems,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        train: bool = True,
    ) -> None:
        n = len(items.pieces)
        if n == 0:
            raise ValueError("no pieces to train on")
        self.items, self.seed, self.train = items, seed, train
        self.index = RowBatches(np.arange(n)[:, None], batch_size, seed=seed, rank=rank, world_size=world_size)
        self.rank, self.world_size, self.batch_size = rank, world_size, batch_size

    def describe(self) -> dict:
        return {
            "kind": "notagen_patches",
            "pieces": len(self.items.pieces),
            "patch_length": self.items.patch_length,
            "transposition": self.items.transposition if self.train else "none",
        }

    def batch(self, i: int):
        idx = self.index.batch(i)[:, 0].tolist()
        # each item's crop/transposition is seeded by its GLOBAL stream position, so N processes
        # with batch B/N draw exactly what one process draws with batch B
        B = self.batch_size
        rows = [
            self.items.item(
                j, np.random.default_rng([self.seed, (i * B + k) * self.world_size + self.rank]), augment=self.train
            )
            for k, j in enumerate(idx)
        ]
        return pad_batch(rows)

    def once(self, max_batches: int | None = None):
        """Validation: every piece of this rank once, own key, crop seeded by the piece index."""
        mine = list(range(self.rank, len(self.items.pieces), self.world_size))
        for k, start in enumerate(range(0, len(mine), self.batch_size)):
            if max_batches is not None and k >= max_batches:
                return
            chunk = mine[start : start + self.batch_size]
            yield pad_batch([self.items.item(j, np.random.default_rng([self.seed, j]), augment=False) for j in chunk])
