"""Section models, one module per family, so adding a family's params does not touch the
code every data stage depends on (DVC would rerun the whole DAG)."""

from pipeline.params.aria import (
    AriaContrastiveParams,
    AriaEmbedParams,
    AriaFinetuneParams,
    AriaGenerateParams,
    AriaPretrainParams,
    AriaProbeParams,
    AriaTokenizeParams,
)
from pipeline.params.base import BaseParams, RuntimeParams, Section
from pipeline.params.clamp import AbcDpoParams, AbcScoreTableParams, ClampTrainParams
from pipeline.params.codec import CodecTokenizeParams, CodecTrainParams
from pipeline.params.data import IngestParams, RenderAudioParams, SegmentParams
from pipeline.params.eval import EvalGeneratorsParams, ValleRenderGeneratorsParams
from pipeline.params.gnm import (
    GnmClassifierParams,
    GnmEvalParams,
    GnmFinetuneParams,
    GnmGenerateParams,
    GnmPretrainParams,
    GnmScratchParams,
    GnmTokenizeParams,
)
from pipeline.params.notagen import AbcFinetuneParams, AbcPretrainParams, AbcTokenizeParams
from pipeline.params.pack import PackParams
from pipeline.params.report import ReportParams
from pipeline.params.valle import ValleEvalParams, ValleSynthesizeParams, ValleTrainParams

SECTIONS: dict[str, type[Section]] = {
    "base": BaseParams,
    "runtime": RuntimeParams,
    "ingest": IngestParams,
    "render_audio": RenderAudioParams,
    "segment": SegmentParams,
    "pack": PackParams,
    "report": ReportParams,
    # Aria
    "aria_tokenize": AriaTokenizeParams,
    "aria_pretrain": AriaPretrainParams,
    "aria_finetune": AriaFinetuneParams,
    "aria_generate": AriaGenerateParams,
    "aria_contrastive": AriaContrastiveParams,
    "aria_embed": AriaEmbedParams,
    "aria_probe": AriaProbeParams,
    # Generality-to-Mastery
    "gnm_tokenize": GnmTokenizeParams,
    "gnm_pretrain": GnmPretrainParams,
    "gnm_finetune": GnmFinetuneParams,
    "gnm_scratch": GnmScratchParams,
    "gnm_generate": GnmGenerateParams,
    "gnm_classifier": GnmClassifierParams,
    "gnm_eval": GnmEvalParams,
    # NotaGen
    "abc_tokenize": AbcTokenizeParams,
    "abc_pretrain": AbcPretrainParams,
    "abc_finetune": AbcFinetuneParams,
    # CLaMP scorer and CLaMP-DPO (NotaGen family)
    "clamp_train": ClampTrainParams,
    "abc_dpo": AbcDpoParams,
    "abc_score_table": AbcScoreTableParams,
    # VALL-E (MIDI-VALLE family)
    "valle_train": ValleTrainParams,
    "valle_synthesize": ValleSynthesizeParams,
    "valle_eval": ValleEvalParams,
    # Codec (MIDI-VALLE family)
    "codec_train": CodecTrainParams,
    "codec_tokenize": CodecTokenizeParams,
    # cross-generator evaluation (generic eval layer)
    "eval_generators": EvalGeneratorsParams,
    "valle_render_generators": ValleRenderGeneratorsParams,
}
