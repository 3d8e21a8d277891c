"""DVC stage ``aria_embed``: one global embedding per piece of the probe splits, from every embedder
(``contrastive`` from ``models/aria_contrastive``, ``frozen`` from ``models/aria_pretrain``,
``handcrafted``, ``clamp`` from the released CLaMP 2 / M3 file ``aria_embed.clamp`` names under
``weights/aria_embed/``), plus the retrieval slices; the work is ``pipeline/aria/embed.py``.
Outputs ``data/aria_embed/<name>/`` per embedding, ``stats.json`` and ``rejected.jsonl``.
"""

from __future__ import annotations

import json

from prefect import flow

from pipeline.aria.embed import embed_corpus
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.config import load_section, repo_root
from pipeline.data.guards import require_pieces
from pipeline.data.jsonl import read_jsonl
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.train.released import resolve_init

OUT, INGEST, PRETRAIN, CONTRASTIVE = "data/aria_embed", "data/ingest", "models/aria_pretrain", "models/aria_contrastive"


@flow(name="aria_embed")
def embed() -> None:
    base, p, root = load_section("base"), load_section("aria_embed"), repo_root()
    tok = AbsTokenizer(**json.loads((root / PRETRAIN / "tokenizer.json").read_text())["config"])
    rows = [r for r in read_jsonl(root / INGEST / "index.jsonl") if r.get("split") in p.splits]
    require_pieces(f"{INGEST}/index.jsonl splits {list(p.splits)}", len(rows))
    models = {"contrastive": CONTRASTIVE, "frozen": PRETRAIN}
    if p.clamp:  # a set but unused file is still checked: a typo should not wait for the day it is used
        models["clamp"] = resolve_init("aria_embed", p.clamp, root, key="clamp")
    with StageOutputs("aria_embed", [OUT]) as out:
        seconds = embed_corpus(
            out[OUT], root / INGEST, rows, tok, p, {k: root / m for k, m in models.items()}, base.seed
        )
        inputs = [INGEST] + [models[k] for k in ("frozen", "contrastive", "clamp") if k in p.embedders]
        out.commit(params_dump("base", "aria_embed"), inputs=inputs, seed=base.seed, extra={"wall_s": seconds})


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(embed)
