"""Files the site's pages point at: report files copied under ``assets/``, curves drawn under
``plots/`` and piano rolls under ``rolls/``, each made once per build however many pages use it.
Also the sample card both pages show (image or piano roll, audio players, MIDI downloads)."""

from __future__ import annotations

import shutil
from collections import Counter
from html import escape
from pathlib import Path

from pipeline.report import figures
from pipeline.report.collect import Curve, StageReport
from pipeline.report.html import audio_tag, img_tag, url


def _safe(rel: str) -> str:
    return rel.replace("/", "__")


class Assets:
    def __init__(self, site: Path):
        self.site = site
        self.counts: Counter = Counter()
        self._drawn: dict[Path, bool] = {}

    def copy(self, rep: StageReport, rel: str) -> str:
        """Copy a report file next to the pages; returns its site-relative path."""
        dest = self.site / "assets" / rep.name / rel
        if dest not in self._drawn:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(rep.path / rel, dest)
            self._drawn[dest] = True
        return f"assets/{rep.name}/{rel}"

    def curve(self, rep: StageReport, c: Curve) -> str:
        dest = self.site / "plots" / rep.name / f"{_safe(c.rel)}.png"
        if dest not in self._drawn:
            figures.plot_curve(c, dest, f"{rep.owner or rep.name}: {c.rel}")
            self._drawn[dest] = True
            self.counts["curves"] += 1
        return dest.relative_to(self.site).as_posix()

    def roll(self, rep: StageReport, midi_rel: str, title: str) -> str | None:
        """A piano roll drawn from a MIDI file; None when it cannot be drawn."""
        dest = self.site / "rolls" / rep.name / f"{_safe(midi_rel)}.png"
        if dest not in self._drawn:
            self._drawn[dest] = figures.plot_piano_roll(rep.path / midi_rel, dest, title) is not None
        return dest.relative_to(self.site).as_posix() if self._drawn[dest] else None

    def image(self, src: str, alt: str) -> str:
        self.counts["images"] += 1
        return img_tag(src, alt)

    def sample_card(
        self,
        rep: StageReport,
        name: str,
        caption_html: str,
        images: list[str],
        audio: list[str],
        midi: list[tuple[str, str]],
    ) -> str:
        """``midi``: (label, path relative to the stage dir); the first is drawn when no image."""
        parts = [f"<h4>{escape(name)}</h4>", caption_html]
        for rel in images:
            parts.append(self.image(self.copy(rep, rel), f"{name} {rel}"))
        if not images and midi:
            src = self.roll(rep, midi[0][1], f"{name} (piano roll)")
            parts.append(
                self.image(src, f"{name} piano roll")
                if src
                else '<p class="muted">MIDI could not be drawn (empty or unreadable)</p>'
            )
        for rel in audio:
            parts.append(audio_tag(self.copy(rep, rel)))
            self.counts["audio"] += 1
        if midi:
            links = [
                f'<a href="{escape(url(self.copy(rep, rel)))}" download>{escape(label)}</a>' for label, rel in midi
            ]
            parts.append('<p class="midi">MIDI: ' + " · ".join(links) + "</p>")
        self.counts["samples"] += 1
        return '<div class="card sample">' + "".join(parts) + "</div>"
