"""Samplers (temperature, min-p, top-p, top-k), logits processors and KV-cache generation, shared
by every generator."""

from pipeline.sample.generate import generate
from pipeline.sample.processors import (
    AllowedNext,
    BanTokens,
    ClassifierFreeGuidance,
    ForceTokenAfter,
    GenerationState,
    LogitsProcessor,
)
from pipeline.sample.sampling import (
    ORDERS,
    SamplingError,
    filtered_probs,
    min_p_filter,
    sample_next,
    temperature_on_probs,
    top_k_filter,
    top_p_filter,
)

__all__ = [
    "AllowedNext",
    "BanTokens",
    "ClassifierFreeGuidance",
    "ForceTokenAfter",
    "GenerationState",
    "LogitsProcessor",
    "ORDERS",
    "SamplingError",
    "filtered_probs",
    "generate",
    "min_p_filter",
    "sample_next",
    "temperature_on_probs",
    "top_k_filter",
    "top_p_filter",
]
