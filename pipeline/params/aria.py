"""Params of the Aria family: tokenize, pretrain, finetune, generate, contrastive, embed, linear_probe."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipeline.params.base import Section
from pipeline.params.data import AcousticCondition
from pipeline.params.train import StageTrainParams


class AriaTokenizerConfig(Section):
    """AbsTokenizer config (pipeline/aria/tokenizer.py); any change changes the vocabulary."""

    time_step_ms: int = Field(10, ge=1)
    abs_time_step_ms: int = Field(5000, ge=1)
    max_dur_ms: int = Field(5000, ge=1)
    velocity_step: int = Field(10, ge=1, le=127)
    include_drums: bool = True
    include_pedal: bool = False
    include_delimiter: bool = False


class AriaTokenizeParams(Section):
    config: AriaTokenizerConfig = AriaTokenizerConfig()
    prefix_metadata: list[Literal["composer", "form", "genre"]] = ["composer"]  # index fields -> prefix tokens


# ModelConfig fields a user may override (vocab_size and max_seq_len come from the data, emb_size from
# aria_contrastive); tests/unit/test_aria_model_config.py keeps the two lists equal
AriaModelKey = Literal["d_model", "n_heads", "n_layers", "ff_mult", "dropout", "rope_base", "grad_checkpoint"]


class LMTrainParams(StageTrainParams):
    """Shared fields of pretrain and finetune (batch_size = rows per process per micro-batch); ``init``:
    a released Aria .safetensors under weights/<stage>/ (its shapes win; pipeline/aria/released.py)."""

    augment: bool = True  # tempo/pitch/velocity augmentation (Aria's); <D> is always inserted


class AriaPretrainParams(LMTrainParams):
    model: Literal["tiny", "small", "medium"] = "tiny"  # pipeline/aria/model_config.py CONFIGS
    model_overrides: dict[AriaModelKey, int | float | bool] = {}  # e.g. {d_model: 128, n_layers: 2}


class AriaFinetuneParams(LMTrainParams):
    filters: dict[str, list[str]] = {}  # label key -> allowed values, e.g. {period: [baroque]}
    pack_mode: Literal["concat", "separate"] = "concat"


class AriaGenerateParams(Section):
    pieces: int = Field(3, ge=1)  # held-out test pieces used as prompts
    filters: dict[str, list[str]] = {}  # which test pieces qualify (label key -> values)
    prompt_duration: float = Field(5.0, ge=0)  # seconds of each piece kept as the prompt
    variations: int = Field(2, ge=1)
    length: int = Field(256, ge=1)  # max new tokens
    temp: float = Field(0.98, ge=0)
    min_p: float | None = Field(0.035, gt=0, le=1)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=1)
    end: bool = False  # force <D> in the last 130 tokens
    backend: Literal["torch", "mlx"] = "torch"
    sample_rate: int = Field(16_000, ge=8_000, le=96_000)
    max_seconds: float = Field(60.0, gt=0)  # audio per sample
    audio: AcousticCondition = AcousticCondition(gain=0.5)
    # also continue the same prompts with models/aria_pretrain, written under pretrain/: the
    # cross-generator table's "aria pretrain" row beside "finetune"
    pretrain_row: bool = True

    @field_validator("top_p")
    @classmethod
    def _one_truncation(cls, v, info):
        if v is not None and info.data.get("min_p") is not None:
            raise ValueError("min_p and top_p are both set; set one of them to null")
        return v


# ---------------------------------------------------------------- Aria embeddings: contrastive / embed / linear_probe
class AriaContrastiveParams(StageTrainParams):
    """SimCSE-style finetune of the pretrained LM into TransformerEMB (pipeline/aria/contrastive.py).
    Upstream: lr 1e-5, 1000 warm-up steps, slices of 100-650 notes, <= 2048 tokens, temperature 0.1/0.5."""

    steps: int = Field(1000, ge=0)  # 0: import init (an embedding checkpoint)
    batch_size: int = Field(32, ge=2)  # pairs per process per step (in-batch negatives)
    lr: float = Field(1e-5, gt=0)
    warmup_steps: int = Field(1000, ge=0)
    final_lr_frac: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, ge=0)
    temperature: float = Field(0.1, gt=0)
    slice_notes: tuple[int, int] = (100, 650)  # [min, max] notes per view, drawn per view
    max_tokens: int = Field(2048, ge=2)  # per view, <E> included; <= the LM's max_seq_len
    augment: bool = False  # Aria's tempo/pitch/velocity augmentation per view (upstream default: off)
    emb_size: int = Field(512, ge=1)
    eval_every: int = Field(100, ge=1)
    checkpoint_every: int = Field(100, ge=1)

    @field_validator("slice_notes")
    @classmethod
    def _notes(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1]:
            raise ValueError(f"slice_notes must be [min, max] with 1 <= min <= max, got {list(v)}")
        return v


class AriaEmbedParams(Section):
    """Global embeddings per piece (pipeline/aria/embed.py): 300-note chunks averaged, as upstream."""

    chunk_notes: int = Field(300, ge=1)
    max_tokens: int = Field(2048, ge=2)  # per chunk, <E> included; capped at the model's max_seq_len
    max_chunks: int | None = Field(None, ge=1)  # per piece; null = every chunk
    splits: list[Literal["train", "val", "test"]] = Field(["train", "val", "test"], min_length=1)
    # clamp: CLaMP 2 / M3 features of the MIDI, the paper's baseline, from the file ``clamp`` names
    embedders: list[Literal["contrastive", "frozen", "handcrafted", "clamp"]] = Field(
        ["contrastive", "frozen", "handcrafted"], min_length=1
    )
    clamp: str | None = None  # released CLaMP 2 / M3 .pth under weights/aria_embed/ (a DVC dependency)
    retrieval_split: Literal["train", "val", "test"] = "test"
    retrieval_notes: int = Field(100, ge=8)  # notes per retrieval slice (at most half the piece)
    batch_tokens: int = Field(16384, ge=1)  # padded tokens per forward pass

    @model_validator(mode="after")
    def _clamp_weights(self):
        if "clamp" in self.embedders and not self.clamp:
            raise ValueError(
                "embedders lists clamp but clamp is unset: name the CLaMP 2 / M3 .pth under weights/aria_embed/"
            )
        return self


class AriaProbeParams(Section):
    """Linear probes on the embeddings (pipeline/aria/probe.py, pipeline/eval/linear_probe.py)."""

    tasks: list[str] = Field(["composer", "period", "genre"], min_length=1)  # label columns
    min_class_count: int = Field(5, ge=2)  # k: classes with fewer pieces are dropped (and reported)
    max_per_class: int | None = Field(None, ge=2)  # cap per class (seeded): class-balanced probe sets
    method: Literal["linear", "logreg"] = "linear"
    epochs: int = Field(50, ge=1)
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    batch_size: int = Field(8, ge=1)
    warmup_steps: int = Field(100, ge=0)
    standardize: bool = True  # z-score features with train statistics before the probe
    split: Literal["auto", "given", "stratified"] = "auto"
    test_fraction: float = Field(0.3, gt=0, lt=1)  # of each class, for the stratified split
    min_test: int = Field(30, ge=1)  # auto: fewer labelled test pieces -> stratified split
    bootstrap: int = Field(1000, ge=0)  # resamples for the 95% CIs (0 = none)
    seed: int = 42
    embedders: list[str] | None = None  # null = every embedder in data/aria_embed
    extra_metadata: str | None = None  # Aria eval-splits metadata.json or CSV/JSONL of labels
