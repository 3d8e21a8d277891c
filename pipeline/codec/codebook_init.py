"""The codec's k-means switch: a step hook of ``pipeline.train.adversarial.train_adversarial``.

Until step ``at`` the codec runs unquantized (``Codec.defer_quantizer``): an autoencoder warm-up,
so k-means clusters a trained encoder's latents instead of a random one's (k-means on the random
encoder's first 200-frame batch left 2-6 % of the codes in use). The loop calls each hook with the
start step (0 or the resume point) and then with the number of completed steps, so the codebooks
are initialised right before step ``at``'s first batch, in a fresh and in a resumed run alike.
"""

from __future__ import annotations

import torch

from pipeline.codec.data import CropBatches
from pipeline.codec.model import Codec


class CodebookInitAt:
    """``hook(step, model)``: k-means-initialise ``codec``'s codebooks (once) when ``step >= at``.

    The k-means crops and the torch RNG (forked, so the training stream is untouched) are seeded
    and rank-independent, so every rank gets the same codebooks."""

    def __init__(self, codec: Codec, at: int, kmeans: CropBatches, seed: int) -> None:
        self.codec, self.at, self.kmeans, self.seed = codec, int(at), kmeans, seed
        codec.defer_quantizer = True

    def describe(self) -> dict:
        """For the resume fingerprint."""
        return {"codebook_init_at": self.at, "kmeans_crops": self.kmeans.batch_size}

    def __call__(self, step: int, model=None) -> None:
        if step >= self.at:
            self.init_now()

    def init_now(self) -> None:
        if self.codec.quantizer_ready:
            return
        dev = next(self.codec.parameters()).device
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self.seed)
            self.codec.init_codebooks(self.kmeans.batch(0).to(dev))
