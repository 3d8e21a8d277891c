"""Each family's model at the shapes a params tree asks for, counted on the meta device (no
memory, no init time), next to the parameter count upstream published.

``ostinato params check --profile gpu`` prints these rows for profiles/gpu.yaml (the upstream
shapes), so a shape typo shows up as a count far from upstream's before any GPU time is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from pipeline.config import sections

GNM_VOCAB = 251  # upstream's reachable dictionary + PAD (specs/gnm.md section 2)


@dataclass
class Row:
    family: str
    model: str
    shape: str
    ours: int
    upstream: int | None  # None: no published count in the references
    source: str


def _meta_count(make: Callable[[], torch.nn.Module]) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in make().parameters())


def aria(sec) -> list[Row]:
    from pipeline.aria.model import ModelConfig, count_parameters

    cfg = ModelConfig.from_name(sec.model, **dict(sec.model_overrides))
    shape = f"{cfg.n_layers} x {cfg.d_model}, {cfg.n_heads} heads, vocab {cfg.vocab_size}"
    return [
        Row(
            "aria",
            f"aria {sec.model}",
            shape,
            count_parameters(cfg),
            650_000_000 if sec.model == "medium" else None,
            "specs/aria-checkpoint.md: about 650M (seed-systems: ~660M by count)",
        )
    ]


def codec(sec) -> list[Row]:
    from pipeline.codec.config import CodecConfig
    from pipeline.codec.model import Codec

    m = sec.model
    cfg = CodecConfig.from_params(m)
    shape = f"{cfg.sample_rate} Hz, {cfg.n_filters} filters, {cfg.dimension}-dim, {cfg.n_q} x {cfg.bins} codes"
    return [
        Row(
            "codec",
            f"codec {m.preset}",
            shape,
            _meta_count(lambda: Codec(cfg)),
            None,
            "no count published in the references",
        )
    ]


def valle(sec) -> list[Row]:
    from pipeline.valle.model import Valle, ValleConfig

    cfg = ValleConfig.from_name(sec.model, **dict(sec.model_overrides))
    return [
        Row(
            "valle",
            f"VALL-E {sec.model}",
            f"{cfg.n_layers} x {cfg.d_model}, {cfg.nhead} heads (AR + NAR)",
            _meta_count(lambda: Valle(cfg)),
            None,
            "no count published in the references",
        )
    ]


def gnm(sec) -> list[Row]:
    from pipeline.gnm.model import GnmConfig, GnmDecoder

    cfg = GnmConfig.from_name("tiny", vocab_size=GNM_VOCAB, **sec.model.model_dump())
    up = 46_000_000 if (cfg.n_layers, cfg.d_model) == (12, 512) else None
    return [
        Row(
            "gnm",
            "GnM mastery",
            f"{cfg.n_layers} x {cfg.d_model}, adapters {list(cfg.adapter_positions)}",
            _meta_count(lambda: GnmDecoder(cfg)),
            up,
            "seed-systems (project page): about 46M",
        )
    ]


NOTAGEN_UPSTREAM = {"small": 110_000_000, "medium": 244_000_000, "large": 516_000_000}


def notagen(sec) -> list[Row]:
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel

    rows = []
    for name in dict.fromkeys([sec.model, *NOTAGEN_UPSTREAM]):  # the profile's model first, then every size
        cfg = NotaGenConfig.from_name(name, **(dict(sec.model_overrides) if name == sec.model else {}))
        rows.append(
            Row(
                "notagen",
                f"NotaGen {name}" + (" (trained)" if name == sec.model else ""),
                f"{cfg.patch_layers} patch + {cfg.char_layers} char layers x {cfg.hidden}, {cfg.patch_length} patches",
                _meta_count(lambda: NotaGenModel(cfg)),  # noqa: B023 (called at once)
                NOTAGEN_UPSTREAM.get(name),
                "seed-systems 4.2 table",
            )
        )
    return rows


def m3(sec) -> list[Row]:
    from pipeline.clamp.model import ClampConfig, M3PatchEncoder

    cfg = ClampConfig.from_name(
        "tiny",
        patch_size=sec.patch_size,
        patch_length=sec.patch_length,
        hidden=sec.hidden,
        layers=sec.layers,
        proj=None,
    )
    return [
        Row(
            "clamp",
            "M3 encoder",
            f"{cfg.layers} x {cfg.hidden}, patch {cfg.patch_size}, {cfg.patch_length} patches",
            _meta_count(lambda: M3PatchEncoder(cfg)),
            None,
            "no count published in the references",
        )
    ]


BUILDERS = {
    "aria_pretrain": aria,
    "codec_train": codec,
    "valle_train": valle,
    "gnm_pretrain": gnm,
    "abc_pretrain": notagen,
    "clamp_train": m3,
}


def count_rows(tree: dict) -> list[Row]:
    """Rows for every training section of ``tree`` (a params.yaml dict) that has a builder."""
    known, rows = sections(), []
    for name, build in BUILDERS.items():
        if name in known and name in tree:
            rows += build(known[name].model_validate(tree.get(name) or {}))
    return rows


def _m(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.1f}M"


def format_rows(rows: list[Row]) -> str:
    lines = [f"{'model':<26} {'shape':<52} {'ours':>9} {'upstream':>9}  ratio  source"]
    for r in rows:
        ratio = f"{r.ours / r.upstream:5.2f}" if r.upstream else "    -"
        lines.append(f"{r.model:<26} {r.shape:<52} {_m(r.ours):>9} {_m(r.upstream):>9}  {ratio}  {r.source}")
    return "\n".join(lines)
