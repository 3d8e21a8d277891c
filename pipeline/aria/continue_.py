"""Sampling continuations of a prompt (shared by ``ostinato generate`` and the aria_generate stage).

As upstream (seed-systems 1.5): the token budget is ``min(max_seq_len - len(prompt), length)``;
sampling is temperature then min-p (default 0.035) or top-p -- never both, never one silently
dropped; ``end=True`` forces ``<D>`` in the last 130 positions (:mod:`pipeline.aria.force_end`);
a row stops after ``<E>``. Every bad input is a ``ValueError`` naming the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.aria import mlx_backend
from pipeline.aria.force_end import END_WINDOW, ForceEnd
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.sample.generate import generate
from pipeline.sample.sampling import SamplingError, check_options

DEFAULT_TEMP, DEFAULT_MIN_P = 0.98, 0.035


@dataclass(frozen=True)
class Sampling:
    temp: float = DEFAULT_TEMP
    min_p: float | None = None
    top_p: float | None = None
    top_k: int | None = None

    def resolved(self) -> "Sampling":
        """min-p defaults to 0.035 only when top-p is not given; both given is an error."""
        if self.min_p is not None and self.top_p is not None:
            raise SamplingError(f"--min-p {self.min_p} and --top-p {self.top_p} conflict: give one of them")
        min_p = DEFAULT_MIN_P if self.min_p is None and self.top_p is None else self.min_p
        out = Sampling(self.temp, min_p, self.top_p, self.top_k)
        check_options(out.temp, out.min_p, out.top_p, out.top_k, "aria")
        return out


def continue_prompt(
    model,
    tok: AbsTokenizer,
    prompt: list,
    *,
    variations: int = 1,
    length: int = 2048,
    sampling: Sampling = Sampling(),
    end: bool = False,
    seed: int | None = None,
    backend: str = "torch",
    progress: bool = False,
) -> list[list[int]]:
    """``variations`` continuations (prompt included, ids) of ``prompt`` (tokens)."""
    s = sampling.resolved()
    if variations < 1 or length < 1:
        raise ValueError(f"variations and length must be >= 1, got {variations} and {length}")
    ids = tok.encode(prompt)
    max_len = int(model.config.max_seq_len)
    if len(ids) >= max_len:
        raise ValueError(
            f"the prompt is {len(ids)} tokens, longer than the model context "
            f"(max_seq_len {max_len}) leaves room for: shorten --prompt-duration"
        )
    budget = min(max_len - len(ids), length)
    if end and budget <= END_WINDOW:
        raise ValueError(
            f"--end needs more than {END_WINDOW} new tokens, only {budget} fit "
            f"(length {length}, context {max_len}, prompt {len(ids)} tokens)"
        )
    if backend == "mlx":
        model = mlx_backend.port().TorchAdapter(model)
    processors = [ForceEnd(tok, len(ids) + budget - END_WINDOW)] if end else []
    return generate(
        model,
        [ids] * variations,
        max_new_tokens=budget,
        eos_id=tok.eos_id,
        pad_id=tok.pad_id,
        seed=seed,
        temperature=s.temp,
        min_p=s.min_p,
        top_p=s.top_p,
        top_k=s.top_k,
        processors=processors,
        progress=progress,
    )
