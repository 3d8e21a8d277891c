"""Group report folders into families (one results section each), without importing any family.

A folder's family, first rule that applies:
1. its ``headline.json`` says ``"family"``;
2. its stage's name prefix (``aria_probe`` -> ``aria``) when that prefix is a family prefix: a
   headline of a stage with that prefix names the family (``codec_train`` says ``valle``, so
   ``codec_tokenize`` joins ``valle``), two stages share the prefix, or ``pipeline/<prefix>/`` is
   a package in some stage's code deps;
3. the one family package among its stage's code deps in dvc.yaml (``abc_tokenize`` imports
   ``pipeline/notagen/`` -> ``notagen``);
4. ``data``: the shared stages (ingest, render_audio, segment, pack); ``other`` for a folder
   no stage declares as an out.

Families are ordered by their smallest headline ``order`` (families without a headline last),
then by the build order of their first stage.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pipeline.report.collect import StageReport
from pipeline.report.dag import Stage

DATA, OTHER = "data", "other"
# The house's generic layers (pipeline/<layer>/): never a family.
GENERIC_LAYERS = frozenset({"data", "train", "sample", "eval", "report", "orchestration", "params", "commands"})
NO_HEADLINE_ORDER = 10_000.0


@dataclass
class Family:
    key: str
    title: str
    reports: list[StageReport] = field(default_factory=list)  # in build order

    @property
    def headlined(self) -> list[StageReport]:
        return sorted(
            (r for r in self.reports if r.headline is not None), key=lambda r: (r.headline.order, self.reports.index(r))
        )

    @property
    def order(self) -> float:
        return min((r.headline.order for r in self.headlined), default=NO_HEADLINE_ORDER)


def _prefix(name: str) -> str | None:
    head, sep, _ = name.partition("_")
    return head if sep and head else None


def code_packages(stage: Stage) -> set[str]:
    """Family packages among a stage's code deps (``pipeline/<pkg>/<module>.py``)."""
    found = set()
    for d in stage.deps:
        parts = PurePosixPath(d).parts
        if len(parts) >= 3 and parts[0] == "pipeline" and d.endswith(".py") and parts[1] not in GENERIC_LAYERS:
            found.add(parts[1])
    return found


def title_of(key: str) -> str:
    return key[:1].upper() + key[1:]


def group_families(reports: list[StageReport], stages: list[Stage]) -> list[Family]:
    by_name = {s.name: s for s in stages}
    packages = set().union(*(code_packages(s) for s in stages)) if stages else set()
    stage_of = {r.name: (r.owner or r.name.split("/")[0]) for r in reports}
    counts = Counter(p for p in (_prefix(s.name) for s in stages) if p)
    declared: dict[str, str] = {}  # prefix -> family named by a headline of a stage with that prefix
    for r in reports:
        if r.headline is not None and r.headline.family and (p := _prefix(stage_of[r.name])):
            declared.setdefault(p, r.headline.family)

    def family_key(r: StageReport) -> str:
        if r.headline is not None and r.headline.family:
            return r.headline.family
        name = stage_of[r.name]
        p = _prefix(name)
        if p and p in declared:
            return declared[p]
        if p and (counts[p] >= 2 or p in packages) and p not in GENERIC_LAYERS:
            return p
        if r.owner is None:
            return OTHER
        own = code_packages(by_name[name]) if name in by_name else set()
        return next(iter(own)) if len(own) == 1 else DATA

    families: dict[str, Family] = {}
    titles: dict[str, str] = {}
    for r in reports:
        key = family_key(r)
        families.setdefault(key, Family(key, title_of(key))).reports.append(r)
        if r.headline is not None and r.headline_family_title:
            titles.setdefault(key, r.headline_family_title)
    for key, title in titles.items():
        families[key].title = title
    first = {k: i for i, k in enumerate(families)}
    return sorted(families.values(), key=lambda f: (f.order, first[f.key]))
