"""The style classifier job (upstream ``train_classifier``) on the core loop, and its use.

Trained on random bar-aligned windows of the mastery composers' train pieces (class-balanced,
pitch augmentation), validated on the held-out pieces: the loss plus accuracy over one window
per piece from bar 0 (``ClassifierObjective`` stats). Upstream's Adam with L2 weight decay is the
core's AdamW with ``weight_decay`` (decoupled; documented difference). Logits come from
position 0, which is the Tempo token (the composer token is dropped), as upstream trains it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.data.jsonl import write_json
from pipeline.gnm.checkpoint import save
from pipeline.gnm.data import ClassifierBatches, Pieces, split_pieces
from pipeline.gnm.model import StyleClassifier
from pipeline.gnm.released import load_init
from pipeline.gnm.vocab import Vocab
from pipeline.train.job import TrainJob, write_training_outputs
from pipeline.train.objectives import Loss

ENTRY = "pipeline.gnm.classifier_job:run_job"


class ClassifierObjective:
    name = "gnm_style_classifier"

    def __call__(self, model, batch) -> Loss:
        ids, labels = batch
        logits = model(ids)
        loss = F.cross_entropy(logits.float(), labels)
        acc = float((logits.argmax(-1) == labels).float().mean())
        return Loss(loss, torch.tensor(float(len(labels)), device=ids.device), {"accuracy": acc})

    def batch_tokens(self, batch) -> int:
        return int(batch[0].numel())

    def to(self, batch, device):
        return batch[0].to(device, dtype=torch.long), batch[1].to(device, dtype=torch.long)


def run_job(job: TrainJob) -> dict | None:
    from pipeline.train import distributed as D
    from pipeline.train.loop import train

    p, tokens, classes = job.p, job.inputs["tokens"], list(job.inputs["composers"])
    with D.session(job.device) as info:
        vocab = Vocab.load(tokens)
        train_p = split_pieces(tokens, "train", vocab, "mastery", "", classes)
        val_p = split_pieces(tokens, "val", vocab, "mastery", "", classes)
        torch.manual_seed(job.seed)
        if job.inputs.get("init"):  # gnm_classifier.init: a released classifier (its shape wins)
            model = load_init(job, vocab)
        else:
            model = StyleClassifier(len(vocab), len(classes), p.d_model, p.n_heads, p.n_layers, p.d_ff, p.dropout)
        kw = {"seed": job.seed, "rank": info.rank, "world_size": info.world_size}
        batches = ClassifierBatches(train_p, vocab, classes, p.batch_size, p.seq_len, augment=p.augment, **kw)
        val = ClassifierBatches(val_p, vocab, classes, p.batch_size, p.seq_len, augment=False, **kw)
        result = train(
            model,
            ClassifierObjective(),
            batches,
            job.train_config(),
            job.ckpt_dir,
            resume=job.resume,
            val=val,
            fingerprint_extra=job.fingerprint | {"inputs": job.inputs},
            dist_info=info,
        )
        metrics = write_outputs(job, result, vocab, classes, train_p, val_p) if info.is_main else None
    return metrics


def write_outputs(job: TrainJob, result, vocab: Vocab, classes: list[str], train_p: Pieces, val_p: Pieces) -> dict:
    """Rank 0: the model directory, metrics.json (+ the held-out accuracy), heldout.json, the loss curve."""
    p = job.p
    model = result.model.to("cpu").eval()
    held = heldout_confusion(model, val_p, vocab, classes, p.seq_len, p.eval_windows, job.seed)
    save(model, job.model_dir, vocab, classes=classes, seq_len=p.seq_len, stage=job.stage)
    metrics = write_training_outputs(
        result,
        job.report_dir,
        p.steps,
        extra={
            "classes": classes,
            "heldout_accuracy": held["accuracy"],
            "heldout_pieces": len(val_p.ids),
            "train_pieces": len(train_p.ids),
        },
    )
    write_json(Path(job.report_dir) / "heldout.json", held)
    return metrics


@torch.no_grad()
def classify_windows(model: StyleClassifier, windows: list[np.ndarray], pad_id: int) -> np.ndarray:
    """Mean class probabilities over windows (each an id array with the composer token dropped)."""
    if not windows:
        raise ValueError("no windows to classify")
    n = max(len(w) for w in windows)
    ids = torch.full((len(windows), n), pad_id, dtype=torch.long)
    for i, w in enumerate(windows):
        ids[i, : len(w)] = torch.as_tensor(w, dtype=torch.long)
    return torch.softmax(model(ids).float(), -1).mean(0).numpy()


def piece_windows(pieces: Pieces, vocab: Vocab, i: int, seq_len: int, n: int, seed: int) -> list[np.ndarray]:
    """The window from bar 0 plus ``n - 1`` random bar-aligned windows, composer token dropped."""
    b = ClassifierBatches(pieces, vocab, pieces.cat_names, 1, seq_len, augment=False)
    rng = np.random.default_rng([seed, i])
    rows = [b._row(i, None)] + [b._row(i, rng) for _ in range(n - 1)]
    return [r[1:][r[1:] != vocab.pad_id] for r in rows]


def heldout_confusion(
    model, pieces: Pieces, vocab: Vocab, classes: list[str], seq_len: int, windows: int, seed: int
) -> dict:
    """Row-normalised confusion (true composer x predicted) over held-out real pieces."""
    conf = np.zeros((len(classes), len(classes)))
    for i, cat in enumerate(pieces.categories):
        probs = classify_windows(model, piece_windows(pieces, vocab, i, seq_len, windows, seed), vocab.pad_id)
        conf[classes.index(cat), int(probs.argmax())] += 1
    correct = float(np.trace(conf) / max(conf.sum(), 1))
    rows = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    return {
        "classes": classes,
        "confusion": rows.round(4).tolist(),
        "counts": conf.astype(int).tolist(),
        "accuracy": round(correct, 4),
    }
