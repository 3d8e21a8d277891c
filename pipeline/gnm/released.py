"""GnM released weights: upstream's ``dictionary.pkl`` as the vocabulary (``gnm_tokenize.vocab``)
and upstream's ``.pt`` state dicts as the start of gnm_pretrain / gnm_finetune / gnm_classifier
(``<stage>.init``), or with ``steps: 0`` their imported model.

Upstream's files store no config: the shape is read from the tensors, the heads are upstream's 8
(pipeline/gnm/checkpoint.py), and the vocabulary is the token store's, which must have exactly the
checkpoint's size: tokenize with the released dictionary (``gnm_tokenize.vocab``) first. A
dictionary without a mastery composer's token is refused naming both; corpus events outside it
are quarantined per piece with the events named (``rejected.jsonl``), never dropped silently.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.data.token_store import quarantined
from pipeline.gnm.checkpoint import load, save
from pipeline.gnm.model import StyleClassifier
from pipeline.gnm.vocab import Vocab
from pipeline.train.job import TrainJob


def adopted_vocab(path: str | Path, composers: list[str]) -> Vocab:
    """The released dictionary (``dictionary.pkl`` or our ``vocab.json``) as the vocabulary,
    refused when it lacks a mastery composer (``composers``: their GnM names)."""
    vocab = Vocab.load(path)
    missing = [c for c in composers if f"Composer_{c}" not in vocab]
    if missing:
        raise ValueError(
            f"gnm_tokenize.vocab: {path} has no token for composer(s) {missing} of gnm_tokenize.composers; "
            f"it knows {vocab.composers}"
        )
    return vocab


def outside_quarantined(result: dict, row: dict, vocab: Vocab) -> dict:
    """A piece's tokenize result, or its quarantine record naming the events ``vocab`` lacks."""
    missing = sorted({e for e in result["events"] if e not in vocab})
    if not missing:
        return result
    detail = f"{len(missing)} event(s) outside gnm_tokenize.vocab, e.g. {missing[:5]}"
    return quarantined(row, detail, reason="outside_vocab")


def load_init(job: TrainJob, vocab: Vocab):
    """The model in ``job.inputs["init"]`` with the token store's vocabulary, strictly; the kind
    must be the stage's (a decoder for the LM stages, a classifier for gnm_classifier)."""
    init = Path(job.inputs["init"])
    model = load(init, vocab=vocab)
    want = job.stage == "gnm_classifier"
    if isinstance(model, StyleClassifier) != want:
        kind = "a style classifier" if want else "a decoder"
        raise ValueError(f"{job.stage}.init: {init} is not {kind}")
    classes = list(job.inputs.get("composers") or [])
    if want and model.config["num_classes"] != len(classes):
        raise ValueError(
            f"gnm_classifier.init: {init} has {model.config['num_classes']} classes, "
            f"gnm_tokenize.composers gives {len(classes)} ({classes})"
        )
    return model.train()


def import_init(job: TrainJob) -> dict:
    """``steps: 0``: the checkpoint as this stage's model dir (params.pt, config.json with the
    meta the training job records, the vocabulary files)."""
    vocab = Vocab.load(job.inputs["tokens"])
    model = load_init(job, vocab).eval()
    origin = {"stage": job.stage, "imported": Path(job.inputs["init"]).name}
    if isinstance(model, StyleClassifier):
        classes = list(job.inputs["composers"])  # upstream stores no class names: ours, in this order
        save(model, job.model_dir, vocab, classes=classes, seq_len=job.p.seq_len, **origin)
    else:
        mode = job.inputs["mode"]
        adapters = list(job.p.model.adapter_positions) if mode == "generality" else model.config.adapter_positions
        meta = {"mode": mode, "composers": job.inputs["composers"], "mastery_adapters": list(adapters)}
        save(model, job.model_dir, vocab, **meta, vocab_hash=vocab.sha256(), **origin)
    out = {"parameters": sum(t.numel() for t in model.parameters()), "vocab_size": len(vocab)}
    if job.stage == "gnm_pretrain" and (differs := shape_differs(model.config, job.p.model)):
        from pipeline.train.loop import run_logger

        run_logger().warning(
            "gnm_pretrain.model differs from %s (%s): the checkpoint's shape is imported, but gnm_scratch "
            "trains gnm_pretrain.model, so the scratch baseline is not the generality architecture; "
            "set gnm_pretrain.model to the checkpoint's shape",
            Path(job.inputs["init"]).name,
            differs,
        )
        out["model_differs"] = differs  # in metrics.json and the manifest, next to the import
    return out


SHAPE = ("d_model", "n_heads", "n_layers", "d_ff", "d_word_embed")


def shape_differs(config, model_params) -> dict:
    """{field: {"gnm_pretrain.model": value, "checkpoint": value}} where the imported generality
    checkpoint's shape is not the one ``gnm_pretrain.model`` gives gnm_scratch (heads: upstream's
    8, the count its files do not store)."""
    return {
        k: {"gnm_pretrain.model": getattr(model_params, k), "checkpoint": getattr(config, k)}
        for k in SHAPE
        if getattr(model_params, k) != getattr(config, k)
    }
