"""GnM training windows (upstream ``dataloader.py`` facts), as seeded step-indexed batches.

* Sampling: a category uniformly, then a piece of it uniformly (class-balanced).
* A window starts at 0 or at a Bar token (not the last bar, not later than len - (L/2 - 2)),
  and ends at the furthest Bar e with e - start + 2 <= L (L = seq_len), so it stops on a Bar;
  a window that does not start at 0 gets the piece's [Composer, Tempo] re-prepended.
* Pitch augmentation: a shift in -3..+3 semitones redrawn until every pitch stays in 21..108.
* Rows are ``seq_len + 1`` ids padded with PAD: the LM sees row[:-1] and predicts row[1:].
* Validation: every piece once, window from 0, no augmentation.

``composer_ids`` replaces token 0 (``Composer_None`` in the store) by the piece's composer
token (mastery / scratch); otherwise pieces keep ``Composer_None`` (generality).
Batch ``i`` is a pure function of (seed, i, rank, world_size), so resuming needs no state, and
its items are those of one process's batch ``i`` with batch size ``world_size * B``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pipeline.data.token_store import TokenStore
from pipeline.gnm.vocab import Vocab


class EmptyCategoryError(ValueError):
    """A category (collection / composer) selected for training has no pieces."""


class PitchShifter:
    def __init__(self, vocab: Vocab, max_shift: int = 3):
        self.max_shift = max_shift
        self.pitch = np.full(len(vocab), -1, dtype=np.int64)
        self.id_of = np.full(128, -1, dtype=np.int64)
        for p in range(21, 109):
            i = vocab.id(f"Note_Pitch_{p}")
            self.pitch[i], self.id_of[p] = p, i

    def __call__(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.max_shift <= 0:
            return ids
        pitches = self.pitch[ids]
        notes = pitches >= 0
        if not notes.any():
            return ids
        lo, hi = int(pitches[notes].min()), int(pitches[notes].max())
        choices = [s for s in range(-self.max_shift, self.max_shift + 1) if lo + s >= 21 and hi + s <= 108]
        shift = int(rng.choice(choices))  # == upstream's redraw-until-valid distribution
        out = ids.copy()
        out[notes] = self.id_of[pitches[notes] + shift]
        return out


class Pieces:
    """Token arrays + their Bar positions + category of each piece."""

    def __init__(
        self,
        pieces: Sequence[np.ndarray],
        categories: Sequence[str],
        vocab: Vocab,
        composer_ids: Sequence[int] | None = None,
    ):
        if len(pieces) != len(categories):
            raise ValueError("one category per piece")
        bar = vocab.id("Bar_None")
        self.ids = [np.asarray(p, dtype=np.int64) for p in pieces]
        if composer_ids is not None:
            for a, c in zip(self.ids, composer_ids):
                a[0] = c
        self.bars = [np.flatnonzero(a == bar) for a in self.ids]
        self.categories = list(categories)
        self.by_cat: dict[str, list[int]] = {}
        for i, c in enumerate(categories):
            self.by_cat.setdefault(c, []).append(i)
        self.cat_names = sorted(self.by_cat)
        if not self.cat_names:
            raise EmptyCategoryError("no pieces to train on")

    def window(self, i: int, seq_len: int, rng: np.random.Generator | None) -> np.ndarray:
        ids, bars = self.ids[i], self.bars[i]
        starts = np.concatenate([[0], bars[:-1]]) if len(bars) else np.array([0])
        if rng is not None:
            ok = starts[starts <= len(ids) - (seq_len // 2 - 2)]
            start = int(rng.choice(ok)) if len(ok) else 0
        else:
            start = 0
        ends = bars[(bars > start) & (bars - start + 2 <= seq_len)]
        end = int(ends.max()) if len(ends) else min(len(ids), start + seq_len - 2) - 1
        return ids[start : end + 1], start


class WindowBatches:
    """Class-balanced LM rows [B, seq_len + 1] (train), or every piece once (``once``)."""

    def __init__(
        self,
        pieces: Pieces,
        vocab: Vocab,
        batch_size: int,
        seq_len: int,
        *,
        seed: int = 0,
        augment: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.p, self.batch_size, self.seq_len = pieces, batch_size, seq_len
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.pad = vocab.pad_id
        self.shift = PitchShifter(vocab, 3 if augment else 0)

    def describe(self) -> dict:
        return {
            "kind": "gnm_windows",
            "pieces": len(self.p.ids),
            "categories": self.p.cat_names,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "augment": self.shift.max_shift,
            "draw": "per_item",
        }

    def _row(self, i: int, rng: np.random.Generator | None) -> np.ndarray:
        seg, start = self.p.window(i, self.seq_len, rng)
        if rng is not None:
            seg = self.shift(seg, rng)
        if start > 0:
            seg = np.concatenate([self.p.ids[i][:2], seg])
        row = np.full(self.seq_len + 1, self.pad, dtype=np.int64)
        row[: min(len(seg), self.seq_len + 1)] = seg[: self.seq_len + 1]
        return row

    def sample(self, i: int) -> tuple[np.ndarray, list[int]]:
        """Batch ``i``: items ``k`` in ``[i*B, (i+1)*B)`` of this process's stream, each drawn from
        its own generator seeded by its global position ``k * world_size + rank``, so N processes
        with batch B/N draw together exactly the items one process draws with batch B."""
        rows, chosen = [], []
        for k in range(i * self.batch_size, (i + 1) * self.batch_size):
            rng = np.random.default_rng([self.seed, k * self.world_size + self.rank])
            cat = self.p.cat_names[int(rng.integers(len(self.p.cat_names)))]
            members = self.p.by_cat[cat]
            chosen.append(members[int(rng.integers(len(members)))])
            rows.append(self._row(chosen[-1], rng))
        return np.stack(rows), chosen

    def batch(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.sample(i)[0])

    def once(self, max_batches: int | None = None):
        mine = list(range(self.rank, len(self.p.ids), self.world_size))
        for k, s in enumerate(range(0, len(mine), self.batch_size)):
            if max_batches is not None and k >= max_batches:
                return
            yield torch.from_numpy(np.stack([self._row(j, None) for j in mine[s : s + self.batch_size]]))


class ClassifierBatches(WindowBatches):
    """(ids [B, seq_len] without the composer token, class [B]) for the style classifier."""

    def __init__(self, pieces: Pieces, vocab: Vocab, classes: Sequence[str], batch_size: int, seq_len: int, **kw):
        super().__init__(pieces, vocab, batch_size, seq_len, **kw)
        self.classes = list(classes)

    def _label(self, j: int) -> int:
        return self.classes.index(self.p.categories[j])

    def batch(self, i: int):
        rows, chosen = self.sample(i)
        return torch.from_numpy(rows[:, 1:]), torch.tensor([self._label(j) for j in chosen])

    def once(self, max_batches: int | None = None):
        mine = list(range(self.rank, len(self.p.ids), self.world_size))
        for k, s in enumerate(range(0, len(mine), self.batch_size)):
            if max_batches is not None and k >= max_batches:
                return
            part = mine[s : s + self.batch_size]
            rows = np.stack([self._row(j, None) for j in part])
            yield torch.from_numpy(rows[:, 1:]), torch.tensor([self._label(j) for j in part])


def split_pieces(
    tokens_dir: str | Path, split: str, vocab: Vocab, mode: str, category: str, composers: list[str]
) -> Pieces:
    """A split's pieces for ``mode``: every piece by its ``category`` (generality), or the pieces of
    ``composers`` with their composer token (mastery, scratch, the style classifier)."""
    store = TokenStore(Path(tokens_dir) / split)
    pieces, cats, comps = [], [], []
    for i, lab in enumerate(store.labels):
        if mode == "generality":
            pieces.append(store.piece(i))
            cats.append(str(lab.get("category", lab.get(category))))
        elif lab.get("gnm_composer") in composers:
            pieces.append(store.piece(i))
            cats.append(lab["gnm_composer"])
            comps.append(vocab.composer_id(lab["gnm_composer"]))
    if mode != "generality":
        empty = [c for c in composers if c not in cats]
        if empty:
            raise EmptyCategoryError(
                f"{split} split has no piece of mastery composer(s) {empty} "
                f"(gnm_tokenize.composers; check the ingest caps)"
            )
    if not pieces:
        raise EmptyCategoryError(f"{split} split of {tokens_dir} has no pieces for {mode}")
    return Pieces(pieces, cats, vocab, comps if mode != "generality" else None)
