"""Next-token sampling shared by every generator: temperature, min-p, top-p, top-k.

``sample_next(logits[B, V], ...) -> LongTensor[B]``. Two documented orders:

* ``order="aria"`` (Aria, and the min-p paper): divide logits by the temperature, softmax,
  then min-p *or* top-p on the probabilities, then top-k, renormalise, sample.
* ``order="notagen"`` (NotaGen): softmax, top-k, renormalise, top-p, renormalise, then
  temperature on the filtered probabilities (p ** (1/T), renormalised), sample.

``temperature=0`` is greedy (argmax of the logits; filters never remove the argmax).
Options are never silently ignored: ``min_p`` together with ``top_p`` raises
:class:`SamplingError` (upstream Aria's CLI always set min-p and so dropped top-p without a word).
NaN logits and rows where every token is banned (-inf) raise instead of sampling garbage.

Filters take probabilities [B, V] and return renormalised probabilities; zeroed entries are
never sampled.
"""

from __future__ import annotations

import math

import torch

ORDERS = ("aria", "notagen")


class SamplingError(ValueError):
    """Invalid or contradictory sampling options, or logits that cannot be sampled from."""


def renormalize(probs: torch.Tensor) -> torch.Tensor:
    total = probs.sum(dim=-1, keepdim=True)
    if not bool((total > 0).all()) or not bool(torch.isfinite(total).all()):
        raise SamplingError("a row has no probability mass left after filtering")
    return probs / total


def min_p_filter(probs: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep tokens with p >= min_p * max(p) (per row), renormalise."""
    p_max = probs.max(dim=-1, keepdim=True).values
    return renormalize(torch.where(probs >= min_p * p_max, probs, torch.zeros_like(probs)))


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus: keep the smallest set of most likely tokens whose mass reaches top_p, renormalise.

    A token is kept when the mass of the tokens strictly more likely than it (in sorted order)
    is below top_p, so the token that crosses top_p is kept and the top token always is.
    """
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_p.cumsum(dim=-1) - sorted_p
    keep_sorted = mass_before < top_p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return renormalize(torch.where(keep, probs, torch.zeros_like(probs)))


def top_k_filter(probs: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep exactly the k most likely tokens of each row (ties broken by index), renormalise."""
    if top_k >= probs.shape[-1]:
        return probs
    idx = probs.topk(top_k, dim=-1).indices
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, idx, True)
    return renormalize(torch.where(keep, probs, torch.zeros_like(probs)))


def temperature_on_probs(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """p ** (1/T) renormalised (== softmax(log p / T)), computed stably in log space."""
    if temperature == 1.0:
        return probs
    logp = probs.log()
    logp = (logp - logp.max(dim=-1, keepdim=True).values) / temperature
    return renormalize(logp.exp())


def check_options(temperature: float, min_p: float | None, top_p: float | None, top_k: int | None, order: str) -> None:
    if order not in ORDERS:
        raise SamplingError(f"order must be one of {ORDERS}, got {order!r}")
    if temperature is None or not math.isfinite(temperature) or temperature < 0:
        raise SamplingError(f"temperature must be a finite number >= 0, got {temperature}")
    if min_p is not None and top_p is not None:
        raise SamplingError(
            f"min_p={min_p} and top_p={top_p} were both given; they are alternative truncations "
            "and combining them is ambiguous. Set one of them to None."
        )
    if min_p is not None and not 0.0 < min_p <= 1.0:
        raise SamplingError(f"min_p must be in (0, 1], got {min_p}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise SamplingError(f"top_p must be in (0, 1], got {top_p}")
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise SamplingError(f"top_k must be an integer >= 1, got {top_k}")


def filtered_probs(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    min_p: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    order: str = "aria",
) -> torch.Tensor:
    """The distribution ``sample_next`` draws from (temperature > 0), as float32 probs [B, V]."""
    check_options(temperature, min_p, top_p, top_k, order)
    if temperature == 0:
        raise SamplingError("temperature 0 is greedy: there is no distribution to return")
    logits = _checked(logits)
    if order == "aria":
        probs = torch.softmax(logits / temperature, dim=-1)
        if min_p is not None:
            probs = min_p_filter(probs, min_p)
        if top_p is not None:
            probs = top_p_filter(probs, top_p)
        if top_k is not None:
            probs = top_k_filter(probs, int(top_k))
        return probs
    probs = torch.softmax(logits, dim=-1)
    if top_k is not None:
        probs = top_k_filter(probs, int(top_k))
    if top_p is not None:
        probs = top_p_filter(probs, top_p)
    if min_p is not None:
        probs = min_p_filter(probs, min_p)
    return temperature_on_probs(probs, temperature)


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    min_p: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    order: str = "aria",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample one token per row of logits [B, V]; returns LongTensor [B]. See module doc."""
    check_options(temperature, min_p, top_p, top_k, order)
    if temperature == 0:
        return _checked(logits).argmax(dim=-1)
    probs = filtered_probs(logits, temperature=temperature, min_p=min_p, top_p=top_p, top_k=top_k, order=order)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _checked(logits: torch.Tensor) -> torch.Tensor:
    if logits.dim() != 2:
        raise SamplingError(f"logits must be [B, V], got shape {tuple(logits.shape)}")
    logits = logits.float()
    if bool(torch.isnan(logits).any()) or bool(torch.isposinf(logits).any()):
        raise SamplingError("logits contain NaN or +inf")
    dead = (logits == float("-inf")).all(dim=-1)
    if bool(dead.any()):
        rows = dead.nonzero().flatten().tolist()
        raise SamplingError(f"rows {rows} have every token banned (all logits -inf)")
    return logits
