"""One metric table for sets of generated pieces against a held-out reference set.

A row is a set of samples, each decoded (or not) by the caller into notes and a feature; the
table holds, per row: FMD and FMD-Inf on the features, mgeval's relative overlapping area for
each note statistic, and validity, every cell with a 95% percentile bootstrap interval over the
row's pieces (the reference stays fixed, as fadtk's background set); FMD-Inf, a resampling
estimate itself, reports the median and 95% range of repeated runs. No family import here: the
caller turns its files into :class:`Sample`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.data.notes import Piece
from pipeline.eval.frechet import bootstrap_interval, fmd_inf, frechet_distance, gaussian, mean_with_interval
from pipeline.eval.note_stats import STATISTICS, statistics_matrix
from pipeline.eval.overlap import intra_distances, overlap_area, pairwise


@dataclass
class Sample:
    name: str
    piece: Piece | None = None  # the notes (None: did not decode)
    feature: np.ndarray | None = None  # CLaMP feature (None: not computed)
    text: str | None = None  # what the feature extractor reads (MTF or ABC), set by the caller
    problems: list[str] = field(default_factory=list)  # failed checks, each "check: reason"

    @property
    def valid(self) -> bool:
        return self.piece is not None and not self.problems


@dataclass
class Row:
    name: str
    samples: list[Sample]
    note: str = ""  # what the row is, for the table's reader


@dataclass
class TableConfig:
    n_boot: int = 200  # resamples for FMD, statistics and validity
    n_boot_inf: int = 20  # runs of FMD-Inf (each a fit of `inf_steps` FMDs): median and 95% range
    inf_steps: int = 10
    estimator: str = "oas"  # well conditioned when pieces < feature width
    seed: int = 0


def _fmd_cells(ref: np.ndarray, test: np.ndarray, cfg: TableConfig) -> dict:
    if len(test) < 2 or len(ref) < 2:
        na = {"value": None, "ci95": None, "why": f"needs >= 2 pieces on each side ({len(test)} vs {len(ref)})"}
        return {"fmd": na, "fmd_inf": na}

    ref_gauss = gaussian(ref, cfg.estimator)  # fixed: fitted once

    def score(idx):
        return frechet_distance(*ref_gauss, *gaussian(test[idx], cfg.estimator))

    lo, hi = bootstrap_interval(len(test), score, n_boot=cfg.n_boot, seed=cfg.seed)
    out = {"fmd": {"value": score(np.arange(len(test))), "ci95": [lo, hi]}}
    if len(test) < 4:
        out["fmd_inf"] = {"value": None, "ci95": None, "why": f"FMD-Inf needs >= 4 pieces, got {len(test)}"}
        return out
    min_n = max(2, len(test) // 4)
    # The package's FMD-Inf is itself a resampling estimate (its draws are unseeded): one run is one
    # draw of it. Report the median of n_boot_inf independent runs and their 2.5-97.5% range, so the
    # point lies inside its interval by construction. (Bootstrapping pieces around a run resampled
    # twice: each replicate saw fewer distinct pieces and the interval sat above the point, as on
    # micro, 0.0117 vs [0.0133, 0.0553].)
    runs = [
        fmd_inf(ref, test, steps=cfg.inf_steps, min_n=min_n, estimator=cfg.estimator, seed=cfg.seed + k)["fmd_inf"]
        for k in range(cfg.n_boot_inf)
    ]
    lo, hi = np.quantile(runs, [0.025, 0.975])
    out["fmd_inf"] = {
        "value": float(np.median(runs)),
        "ci95": [float(lo), float(hi)],
        "min_n": min_n,
        "runs": len(runs),
    }
    return out


def _overlap_cell(intra: np.ndarray, inter: np.ndarray, cfg: TableConfig) -> dict:
    """OA of the reference's intra-set distances and the inter-set distances [test, ref];
    the bootstrap resamples test pieces (rows of ``inter``)."""
    lo, hi = bootstrap_interval(
        len(inter), lambda idx: overlap_area(intra, inter[idx]), n_boot=cfg.n_boot, seed=cfg.seed
    )
    return {"value": overlap_area(intra, inter), "ci95": [lo, hi]}


def _features(samples: list[Sample]) -> np.ndarray:
    got = [s.feature for s in samples if s.feature is not None]
    return np.stack(got) if got else np.zeros((0, 1))


def score_row(row: Row, reference: list[Sample], cfg: TableConfig) -> dict:
    valid = [s for s in row.samples if s.valid]
    ref = [s for s in reference if s.valid]
    cells = {"validity": mean_with_interval([float(s.valid) for s in row.samples], n_boot=cfg.n_boot, seed=cfg.seed)}
    cells.update(_fmd_cells(_features(ref), _features(valid), cfg))
    if valid:
        test_stats = statistics_matrix([s.piece for s in valid])
        ref_stats = statistics_matrix([s.piece for s in ref])
        for name in STATISTICS:
            cells[name] = _overlap_cell(
                intra_distances(ref_stats[name]), pairwise(test_stats[name], ref_stats[name]), cfg
            )
    else:
        cells.update({name: {"value": None, "ci95": None, "why": "no valid piece"} for name in STATISTICS})
    invalid: dict[str, int] = {}
    for s in row.samples:
        for p in s.problems or ([] if s.piece is not None else ["decode: no notes"]):
            invalid[p.split(":")[0]] = invalid.get(p.split(":")[0], 0) + 1
    return {
        "row": row.name,
        "note": row.note,
        "pieces": len(row.samples),
        "valid": len(valid),
        "invalid_by_check": dict(sorted(invalid.items())),
        "invalid": [{"name": s.name, "problems": s.problems} for s in row.samples if not s.valid],
        "cells": cells,
    }


def split_halves(samples: list[Sample], seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """A seeded split of the reference into (scored half, held half)."""
    order = np.random.default_rng(seed).permutation(len(samples)).tolist()
    half = len(samples) // 2
    return [samples[i] for i in order[:half]], [samples[i] for i in order[half:]]


def build_table(rows: list[Row], reference: list[Sample], cfg: TableConfig, progress=None) -> dict:
    """Score each row against ``reference``; ``progress(row_name)`` is called before each row."""
    if sum(s.valid for s in reference) < 2:
        raise ValueError(f"the reference needs at least 2 valid pieces, has {sum(s.valid for s in reference)}")
    out = []
    for row in rows:
        if progress:
            progress(row.name)
        out.append(score_row(row, reference, cfg))
    return {
        "reference_pieces": len(reference),
        "config": {
            "n_boot": cfg.n_boot,
            "n_boot_inf": cfg.n_boot_inf,
            "inf_steps": cfg.inf_steps,
            "estimator": cfg.estimator,
            "seed": cfg.seed,
        },
        "rows": out,
    }
