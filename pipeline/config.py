"""Typed params: one pydantic model per params.yaml section, unknown keys rejected.

Every error names the file and the dotted key, so a typo fails fast instead of being
silently ignored (``ingest.limts`` is an error, not a default).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PARAMS_FILE = "params.yaml"


class ParamsError(ValueError):
    """A params.yaml problem, with the file and key in the message."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- base / runtime
class BaseParams(Section):
    seed: int = 42


class RuntimeParams(Section):
    """Read by every stage, tracked by none: switching engines must not invalidate outputs."""

    task_runner: Literal["threads", "processes", "dask"] = "processes"
    workers: int = Field(2, ge=1)
    shard_size: int = Field(16, ge=1)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    launcher: Literal["python", "torchrun"] = "python"
    nproc_per_node: int = Field(1, ge=1)
    dask_address: str | None = None


# ---------------------------------------------------------------- data stages
class CorpusCollection(Section):
    """One slice of music21's bundled corpus, e.g. the Bach chorales."""

    composer: str
    period: str
    genre: str
    paths: list[str]  # glob patterns relative to music21's corpus dir
    cap: int = Field(ge=0)


class Music21Source(Section):
    kind: Literal["music21"] = "music21"
    collections: dict[str, CorpusCollection]


class MidiDirSource(Section):
    kind: Literal["midi_dir"] = "midi_dir"
    path: str
    metadata: str | None = None  # CSV/JSONL (path + labels), MAESTRO/ATEPP CSV or Aria metadata.json
    metadata_format: Literal["auto", "table", "maestro", "atepp", "aria_eval"] = "auto"
    name: str = "user"


class IngestLimits(Section):
    min_notes: int = Field(8, ge=1)
    max_notes: int = Field(200_000, ge=1)
    max_duration_s: float = Field(3600.0, gt=0)
    min_duration_s: float = Field(1.0, ge=0)
    max_tempo_events: int = Field(5_000, ge=1)
    min_bpm: float = Field(10.0, gt=0)
    max_bpm: float = Field(1_000.0, gt=0)
    max_file_mb: float = Field(20.0, gt=0)


class SplitParams(Section):
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)


class IngestParams(Section):
    sources: list[Music21Source | MidiDirSource] = Field(min_length=1)
    limits: IngestLimits = IngestLimits()
    split: SplitParams = SplitParams()

    @field_validator("split")
    @classmethod
    def _split_sums(cls, v: SplitParams) -> SplitParams:
        if v.val + v.test >= 1:
            raise ValueError("split.val + split.test must be < 1")
        return v


class AcousticCondition(Section):
    """A named recording condition: soundfont x reverb/chorus x gain."""

    soundfont: str = "default"  # "default" = the TimGM6mb.sf2 pretty_midi ships
    gain: float = Field(0.4, gt=0, le=5)
    reverb: float = Field(0.0, ge=0, le=1)  # wet level; 0 turns reverb off
    room_size: float = Field(0.2, ge=0, le=1)
    chorus: bool = False


class RenderParams(Section):
    sample_rate: int = Field(16_000, ge=8_000, le=96_000)
    conditions: dict[str, AcousticCondition] = Field(min_length=1)
    max_seconds: float = Field(60.0, gt=0)
    max_pieces: int | None = Field(None, ge=1)
    real_recordings: str | None = None  # manifest (JSONL/CSV) of real audio paired with MIDI


class SegmentParams(Section):
    min_s: float = Field(15.0, gt=0)
    max_s: float = Field(20.0, gt=0)
    drop_under_s: float = Field(3.0, ge=0)

    @field_validator("max_s")
    @classmethod
    def _range(cls, v: float, info) -> float:
        lo = info.data.get("min_s")
        if lo is not None and v < lo:
            raise ValueError("segment.max_s must be >= segment.min_s")
        return v


# ---------------------------------------------------------------- tokenize / pack stages
class AriaTokenizerConfig(Section):
    """AbsTokenizer config (pipeline/tokenizers/aria.py); any change changes the vocabulary."""

    time_step_ms: int = Field(10, ge=1)
    abs_time_step_ms: int = Field(5000, ge=1)
    max_dur_ms: int = Field(5000, ge=1)
    velocity_step: int = Field(10, ge=1, le=127)
    include_drums: bool = True
    include_pedal: bool = False
    include_delimiter: bool = False


class TokenizeAriaParams(Section):
    config: AriaTokenizerConfig = AriaTokenizerConfig()
    prefix_metadata: list[Literal["composer", "form", "genre"]] = ["composer"]  # index fields -> prefix tokens


class TokenizeRemiParams(Section):
    """GnM-style REMI (pipeline/tokenizers/remi.py); composers not listed get Composer_None."""

    beat_res: dict[str, int] = {"0_4": 8, "4_12": 4}
    num_velocities: int = Field(1, ge=1, le=127)
    use_time_signatures: bool = True
    use_tempos: bool = False
    pitch_range: tuple[int, int] = (21, 109)  # high end excluded
    composers: list[str] = []
    use_bos: bool = True
    out_of_range: Literal["reject", "drop_notes"] = "reject"


class TokenizeAbcParams(Section):
    """Interleaved ABC with NotaGen's %period / %composer / %instrumentation prompt lines."""

    patch_size: int = Field(16, ge=2)
    prompt: bool = True
    check: bool = True  # validate_interleaved every text; failures are quarantined
    from_midi: bool = False  # pieces without a score file: transcribe the MIDI with music21
    composer_names: dict[str, str] = {}  # index composer -> prompt name; default: title case
    instrumentation: dict[str, str] = {}  # index genre -> prompt label; default: from n_parts


class PackParams(Section):
    tokenizer: Literal["aria"] = "aria"
    seq_len: int = Field(1024, ge=2)
    mode: Literal["concat", "separate"] = "concat"


# ---------------------------------------------------------------- report
class ReportParams(Section):
    """The static HTML site over every reports/<stage>/ (stages/report.py)."""

    title: str = "ostinato report"
    max_samples: int = Field(8, ge=0)  # generated samples shown per report folder
    max_table_rows: int = Field(60, ge=1)


# ---------------------------------------------------------------- Aria LM: pretrain / finetune / generate
ARIA_MODEL_KEYS = ("d_model", "n_heads", "n_layers", "ff_mult", "dropout", "rope_base", "grad_checkpoint")


class LMTrainParams(Section):
    """One training run of pipeline/train/loop.py (shared fields of pretrain and finetune)."""

    steps: int = Field(300, ge=1)
    batch_size: int = Field(8, ge=1)  # rows per process per micro-batch
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(3e-4, gt=0)
    warmup_steps: int = Field(200, ge=0)
    final_lr_frac: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, ge=0)  # 0 = no clipping
    eval_every: int = Field(50, ge=1)
    eval_batches: int | None = Field(None, ge=1)  # cap per validation pass; null = whole val split
    checkpoint_every: int = Field(50, ge=1)
    augment: bool = True  # tempo/pitch/velocity augmentation (Aria's); <D> is always inserted
    compile: bool = False  # torch.compile, CUDA only
    bf16: bool = True  # autocast, CUDA only

    @field_validator("warmup_steps")
    @classmethod
    def _warmup(cls, v: int, info) -> int:
        steps = info.data.get("steps")
        if steps is not None and v > steps:
            raise ValueError(f"warmup_steps ({v}) must be <= steps ({steps})")
        return v


class PretrainParams(LMTrainParams):
    model: Literal["tiny", "small", "medium"] = "tiny"  # pipeline/nn/aria.py CONFIGS
    model_overrides: dict[str, int | float | bool] = {}  # e.g. {d_model: 128, n_layers: 2}

    @field_validator("model_overrides")
    @classmethod
    def _overrides(cls, v: dict) -> dict:
        bad = sorted(set(v) - set(ARIA_MODEL_KEYS))
        if bad:
            raise ValueError(f"unknown model keys {bad}; allowed: {list(ARIA_MODEL_KEYS)} "
                             "(vocab_size and max_seq_len come from the data)")
        return v


class FinetuneParams(LMTrainParams):
    filters: dict[str, list[str]] = {}  # label key -> allowed values, e.g. {period: [baroque]}
    pack_mode: Literal["concat", "separate"] = "concat"


class GenerateParams(Section):
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

    @field_validator("top_p")
    @classmethod
    def _one_truncation(cls, v, info):
        if v is not None and info.data.get("min_p") is not None:
            raise ValueError("min_p and top_p are both set; set one of them to null")
        return v


# ---------------------------------------------------------------- Aria embeddings: contrastive / embed / linear_probe
class ContrastiveParams(Section):
    """SimCSE-style finetune of the pretrained LM into TransformerEMB (stages/contrastive.py).
    Upstream: lr 1e-5, 1000 warm-up steps, slices of 100-650 notes, <= 2048 tokens, temperature 0.1/0.5."""

    steps: int = Field(1000, ge=1)
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

    @field_validator("warmup_steps")
    @classmethod
    def _warmup(cls, v: int, info) -> int:
        steps = info.data.get("steps")
        if steps is not None and v > steps:
            raise ValueError(f"warmup_steps ({v}) must be <= steps ({steps})")
        return v


class EmbedParams(Section):
    """Global embeddings per piece (stages/embed.py): 300-note chunks averaged, as upstream."""

    chunk_notes: int = Field(300, ge=1)
    max_tokens: int = Field(2048, ge=2)  # per chunk, <E> included; capped at the model's max_seq_len
    max_chunks: int | None = Field(None, ge=1)  # per piece; null = every chunk
    splits: list[Literal["train", "val", "test"]] = Field(["train", "val", "test"], min_length=1)
    embedders: list[Literal["contrastive", "frozen", "handcrafted"]] = Field(
        ["contrastive", "frozen", "handcrafted"], min_length=1)
    retrieval_split: Literal["train", "val", "test"] = "test"
    retrieval_notes: int = Field(100, ge=8)  # notes per retrieval slice (at most half the piece)
    batch_tokens: int = Field(16384, ge=1)  # padded tokens per forward pass


class LinearProbeParams(Section):
    """Linear probes on the embeddings (stages/linear_probe.py, pipeline/eval/linear_probe.py)."""

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
    embedders: list[str] | None = None  # null = every embedder in data/embed
    extra_metadata: str | None = None  # Aria eval-splits metadata.json or CSV/JSONL of labels


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
    "report": ReportParams,
    "pretrain": PretrainParams,
    "finetune": FinetuneParams,
    "generate": GenerateParams,
    "contrastive": ContrastiveParams,
    "embed": EmbedParams,
    "linear_probe": LinearProbeParams,
}


# ---------------------------------------------------------------- loading
def repo_root() -> Path:
    """The project root: $OSTINATO_ROOT, else the nearest parent holding params.yaml."""
    env = os.environ.get("OSTINATO_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / PARAMS_FILE).exists():
            return d
    return here


def read_params_file(path: Path | None = None) -> tuple[Path, dict[str, Any]]:
    path = Path(path) if path else repo_root() / PARAMS_FILE
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections")
    return path, raw


def _format_errors(path: Path, section: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in (section, *e["loc"]) if not str(p).startswith(("Music21Source", "MidiDirSource")))
        if e["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key '{loc}'")
        else:
            lines.append(f"{path}: {loc}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def load_section(name: str, path: Path | None = None) -> Any:
    """Validate and return one section. Also rejects unknown top-level sections."""
    path, raw = read_params_file(path)
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ParamsError(f"{path}: unknown section(s) {unknown}; known: {sorted(SECTIONS)}")
    if name not in SECTIONS:
        raise ParamsError(f"no params model registered for section '{name}'")
    try:
        return SECTIONS[name].model_validate(raw.get(name) or {})
    except ValidationError as e:
        raise ParamsError(_format_errors(path, name, e)) from None


def validate_all(path: Path | None = None) -> dict[str, Any]:
    """Validate every section (``ostinato params check``)."""
    _, raw = read_params_file(path)
    return {name: load_section(name, path) for name in raw}


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
