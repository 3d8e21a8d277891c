"""``pipeline.clamp.load(path)`` -> :class:`Scorer`: music features and CLaMP scores of ABC or MTF texts.

Reads our ``clamp.pth`` or a user's released CLaMP 2 / M3 ``.pth`` (the six-key training dict or
a bare state dict) with ``torch.load(weights_only=True)``, builds the model from the tensor
shapes and loads it strictly (old-format buffers tolerated). The text tower is built from its
shapes too (never downloaded); only music features are needed for scoring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.clamp import scores
from pipeline.clamp.model import ClampConfig, ClampModel, M3Model, clean_state, config_from_state
from pipeline.clamp.patches import drop_comment_lines, encode, extraction_segments
from pipeline.clamp.text import PAD_ID as TEXT_PAD
from pipeline.clamp.text import encode_text
from pipeline.train.checkpoint_files import torch_load_weights


class CheckpointError(ValueError):
    """A file that is not a loadable CLaMP 2 / M3 checkpoint."""


class Scorer:
    """Eval-mode CLaMP music tower with upstream's feature extraction and both estimators."""

    def __init__(
        self, model: ClampModel, device: str | torch.device = "cpu", batch_segments: int = 16, meta: dict | None = None
    ) -> None:
        self.model = model.to(device).eval()
        self.cfg: ClampConfig = model.cfg
        self.device = torch.device(device)
        self.batch_segments = batch_segments
        self.meta = meta or {}

    @property
    def dim(self) -> int:
        return self.cfg.proj or self.cfg.hidden

    @torch.no_grad()
    def music_features_batch(self, texts: list[str]) -> np.ndarray:
        """float32 [N, D]: upstream's extraction per ABC or MTF text (NotaGen's ``%``-line filter,
        a no-op on MTF whose lines start with a message type; BOS/EOS patches,
        PATCH_LENGTH windows with the overlapping last one, length-weighted mean of each
        window's pooled, projected feature). No L2 normalisation."""
        L, P = self.cfg.patch_length, self.cfg.patch_size
        windows, owners, weights = [], [], []
        for t, text in enumerate(texts):
            ids = encode(drop_comment_lines(text), P)
            spans, w = extraction_segments(len(ids), L)
            for (a, b), wt in zip(spans, w):
                windows.append(ids[a:b])
                owners.append(t)
                weights.append(wt)
        feats = np.zeros((len(windows), self.dim), dtype=np.float32)
        for s in range(0, len(windows), self.batch_segments):
            chunk = windows[s : s + self.batch_segments]
            x = np.zeros((len(chunk), L, P), dtype=np.int64)
            m = np.zeros((len(chunk), L), dtype=np.int64)
            for i, wdw in enumerate(chunk):
                x[i, : len(wdw)], m[i, : len(wdw)] = wdw, 1
            f = self.model.music_features(torch.from_numpy(x).to(self.device), torch.from_numpy(m).to(self.device))
            feats[s : s + len(chunk)] = f.float().cpu().numpy()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        wsum = np.zeros(len(texts), dtype=np.float64)
        for f, o, wt in zip(feats, owners, weights):
            out[o] += f * wt
            wsum[o] += wt
        return (out / wsum[:, None]).astype(np.float32)

    def music_features(self, text: str) -> np.ndarray:
        """float32 [D]: the feature upstream's ``extract_clamp2.py`` saves (as [1, D]) for an ABC
        text or an MTF text (``load(p).music_features(mtf(midi))`` is upstream's MIDI feature)."""
        return self.music_features_batch([text])[0]

    @torch.no_grad()
    def text_features(self, lines: list[str]) -> np.ndarray:
        """Our text tower's feature of metadata lines (our character vocabulary only)."""
        if not self.model.has_text:
            raise CheckpointError("this checkpoint has no text tower")
        ids = encode_text(lines, self.cfg.text_positions - 2)
        x = torch.tensor([ids], device=self.device)
        return self.model.text_features(x, (x != TEXT_PAD).long())[0].float().cpu().numpy()

    # the estimators, named as upstream's scripts
    mean_cosine_score = staticmethod(scores.mean_cosine_score)
    set_mean_score = staticmethod(scores.set_mean_score)
    piece_scores = staticmethod(scores.piece_scores)
    max_similarity = staticmethod(scores.max_similarity)


def read_state(path: str | Path) -> tuple[dict, dict]:
    """(state dict, the other entries) of a .pth file, via weights_only loading."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint: {path}")
    obj = torch_load_weights(path, error=CheckpointError)  # the check every family shares
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        return obj["model"], {k: v for k, v in obj.items() if k != "model"}
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, {}
    raise CheckpointError(f"{path}: expected a state dict or a dict with a 'model' state dict")


def build(state: dict) -> tuple[str, torch.nn.Module]:
    """The model a state dict describes, loaded strictly."""
    state = clean_state(state)
    try:
        kind, cfg = config_from_state(state)
    except (ValueError, KeyError) as e:
        raise CheckpointError(str(e)) from e
    model = ClampModel(cfg) if kind == "clamp" else M3Model(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"state dict does not match a {kind} model of its own shapes: {e}") from e
    return kind, model


def as_clamp(m3: M3Model) -> ClampModel:
    """A scorer over a standalone M3 encoder: features are the pooled hidden states."""
    cfg = ClampConfig(**{**m3.cfg.to_dict(), "proj": None, "text_vocab": None, "decoder_layers": 0})
    model = ClampModel(cfg)
    model.music_model.load_state_dict(m3.encoder.state_dict())
    return model


def load(path: str | Path, device: str | torch.device = "cpu") -> Scorer:
    """The scorer in a CLaMP 2 / M3 ``.pth`` (ours, or released upstream weights)."""
    state, meta = read_state(path)
    kind, model = build(state)
    if kind == "m3":
        model = as_clamp(model)
    return Scorer(
        model,
        device,
        meta={"kind": kind, "epoch": meta.get("epoch"), "min_eval_loss": meta.get("min_eval_loss"), "path": str(path)},
    )
