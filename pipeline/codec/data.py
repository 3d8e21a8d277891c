"""Seeded random crops of segment audio: the codec's training batches.

Item ``k`` of a process's stream is global item ``k * world_size + rank``; its waveform and
offset come from a generator seeded by (seed, global item), so batch ``i`` (items
``[i*B, (i+1)*B)``) is a pure function of ``i`` -- resume needs no iterator state and
``grad_accum`` micro-batches see exactly the items of one larger batch. Waveforms are drawn with
probability proportional to their length. ``once()`` gives fixed crops for validation.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch


class CropBatches:
    def __init__(
        self,
        waves: Sequence[np.ndarray],
        crop: int,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not len(waves):
            raise ValueError("no audio to train the codec on")
        if crop < 1 or batch_size < 1:
            raise ValueError(f"crop and batch_size must be >= 1, got {crop}, {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.waves = [np.asarray(w) for w in waves]
        self.crop, self.batch_size, self.seed = int(crop), int(batch_size), int(seed)
        self.rank, self.world_size = rank, world_size
        lengths = np.array([len(w) for w in self.waves], dtype=np.float64)
        self.cum = np.cumsum(lengths / lengths.sum())

    @property
    def seq_len(self) -> int:
        return self.crop

    def describe(self) -> dict:
        return {
            "kind": "audio_crops",
            "waves": len(self.waves),
            "samples": int(sum(len(w) for w in self.waves)),
            "crop": self.crop,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }

    def _crop(self, j: int, offset: int) -> np.ndarray:
        w = self.waves[j]
        out = np.zeros(self.crop, dtype=np.float32)
        piece = w[offset : offset + self.crop]
        out[: len(piece)] = piece.astype(np.float32) / (32767.0 if w.dtype == np.int16 else 1.0)
        return out

    def item(self, g: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, g])
        j = int(np.searchsorted(self.cum, rng.random(), side="right").clip(0, len(self.waves) - 1))
        offset = int(rng.integers(0, max(len(self.waves[j]) - self.crop, 0) + 1))
        return self._crop(j, offset)

    def batch(self, i: int) -> torch.Tensor:
        """Micro-batch ``i`` of this process's stream, float32 [B, 1, crop]."""
        ks = range(i * self.batch_size, (i + 1) * self.batch_size)
        return torch.from_numpy(np.stack([self.item(k * self.world_size + self.rank) for k in ks]))[:, None]

    def once(self, max_batches: int | None = None) -> Iterator[torch.Tensor]:
        """Each waveform's middle crop (this process's share), in order."""
        mine = list(range(self.rank, len(self.waves), self.world_size))
        for n, start in enumerate(range(0, len(mine), self.batch_size)):
            if max_batches is not None and n >= max_batches:
                return
            crops = [
                self._crop(j, max(len(self.waves[j]) - self.crop, 0) // 2)
                for j in mine[start : start + self.batch_size]
            ]
            yield torch.from_numpy(np.stack(crops))[:, None]
