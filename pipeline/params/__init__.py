"""Section models, one module per family, so adding a family's params does not touch the
code every data stage depends on (DVC would rerun the whole DAG)."""

from pipeline.config import BaseParams, RuntimeParams, Section
from pipeline.params.aria import (
    ContrastiveParams, EmbedParams, FinetuneParams, GenerateParams, LinearProbeParams, PretrainParams,
)
from pipeline.params.data import IngestParams, RenderParams, SegmentParams
from pipeline.params.report import ReportParams
from pipeline.params.tokens import PackParams, TokenizeAbcParams, TokenizeAriaParams, TokenizeRemiParams

SECTIONS: dict[str, type[Section]] = {
    "base": BaseParams,
    "runtime": RuntimeParams,
    "ingest": IngestParams,
    "render_audio": RenderParams,
    "segment": SegmentParams,
    "tokenize_aria": TokenizeAriaParams,
    "tokenize_remi": TokenizeRemiParams,
    "tokenize_abc": TokenizeAbcParams,
    "pack": PackParams,
    "pretrain": PretrainParams,
    "finetune": FinetuneParams,
    "generate": GenerateParams,
    "contrastive": ContrastiveParams,
    "embed": EmbedParams,
    "linear_probe": LinearProbeParams,
    "report": ReportParams,
}
