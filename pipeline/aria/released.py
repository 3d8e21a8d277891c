"""``aria_pretrain.init`` / ``aria_finetune.init`` / ``aria_contrastive.init``: a released Aria
``.safetensors`` (or one of our model dirs) to train from or, with ``steps: 0``, to import.

The checkpoint fixes the model's shapes (pipeline/aria/load.py reads them from the tensors) and
its vocabulary, which must be the tokenizer's: released files carry no tokenizer, so their size
names the tokenizer options they were trained with (pedal tokens +2, delimiter +1), and a misfit
is refused naming both sizes and the aria_tokenize options that would fit. The tokenizer is
upstream of training in the DAG (aria_tokenize, pack), so the user sets those options there.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.aria.checkpoints import load_checked
from pipeline.aria.load import EMB_HEAD, LM_HEAD, TOK_EMB, read_header, resolve_checkpoint, save, tokenizer_for
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.jsonl import write_json
from pipeline.train.job import TrainJob

OPTIONS = ("include_pedal", "include_delimiter")  # the options a vocabulary size tells apart
HEADS = {"lm": LM_HEAD, "emb": EMB_HEAD}
KINDS = {"lm": "a language model (aria-medium-base)", "emb": "an embedding model (aria-medium-embedding)"}


def checked_init(stage: str, init: str | Path, want: int, head: str | None = None) -> Path:
    """The checkpoint file behind ``init`` once its vocabulary is the tokenizer's (``want`` tokens)
    and, when ``head`` is given, it has that head ("lm": lm_head.weight, "emb": emb_head.weight)."""
    path = resolve_checkpoint(init)
    shapes = read_header(path)[0]
    if head and HEADS[head] not in shapes:
        raise ValueError(f"{stage}.init: {path} has no {HEADS[head]}: {stage} needs {KINDS[head]}")
    rows = shapes.get(TOK_EMB, (None,))[0]
    if rows != want:
        fits = tokenizer_for(path)
        options = {k: fits.config[k] for k in OPTIONS}
        hint = f" (aria_tokenize.config {options} fits it)" if fits.vocab_size == rows else ""
        raise ValueError(
            f"{stage}.init: {path} has a vocabulary of {rows} tokens, the tokenizer "
            f"(data/tokens/aria/tokenizer.json) has {want}{hint}"
        )
    return path


def import_init(job: TrainJob) -> dict:
    """``steps: 0``: the checkpoint as this stage's model dir (model.safetensors with the tokenizer
    hash, config.json, tokenizer.json), as the training job writes it; aria_contrastive needs an
    embedding checkpoint (``emb_head``), the LM stages a language model (``lm_head``)."""
    tokenizer = job.inputs["tokenizer"]
    head = "emb" if job.stage == "aria_contrastive" else "lm"
    path = checked_init(job.stage, job.inputs["init"], int(tokenizer["vocab_size"]), head)
    model = load_checked(path, AbsTokenizer(**tokenizer["config"]), head=head)
    model_dir = Path(job.model_dir)
    tok_hash = tokenizer.get("config_hash")
    meta = {"tokenizer_hash": tok_hash or "", "vocab_size": str(tokenizer["vocab_size"]), "stage": job.stage}
    save(model, model_dir / "model.safetensors", metadata=meta | {"init": path.name})
    config = {"model": model.config.to_dict(), "tokenizer": tokenizer, "tokenizer_hash": tok_hash}
    write_json(model_dir / "config.json", config | {"stage": job.stage, "imported": path.name})
    write_json(model_dir / "tokenizer.json", tokenizer)
    return {"parameters": sum(t.numel() for t in model.parameters()), "head": head, "model": model.config.to_dict()}
