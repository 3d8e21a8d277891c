"""The static report: a fake reports/ tree of every kind the stages write (metrics JSON, nested
stats, markdown, a CSV learning curve, DVC plot JSON, a confusion-matrix PNG, WAV + MIDI samples
with an index.json) rendered, then opened in headless Chromium from file:// with no network.

Chromium is optional (``make setup`` installs it when root); without it those checks skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.report import dag
from pipeline.report.collect import scan_reports
from pipeline.report.markdown import to_html
from pipeline.report.site import SiteOptions, build_site

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")

DVC_YAML = {
    "stages": {
        "ingest": {"cmd": "python -m stages.ingest", "deps": ["stages/ingest.py"], "params": ["ingest"],
                   "outs": ["data/ingest", "reports/data"]},
        "tokenize_aria": {"cmd": "python -m stages.aria_tokenize", "deps": ["data/ingest"],
                          "outs": ["data/tokens/aria", "reports/aria_tokenize"]},
        "pretrain": {"cmd": "python -m stages.aria_pretrain", "deps": ["data/ingest"], "params": ["pretrain.lr"],
                     "outs": ["models/aria_pretrain", {"reports/aria_pretrain": {"cache": False}}]},
        "generate": {"cmd": "python -m stages.aria_generate", "deps": ["models/aria_pretrain"], "outs": ["reports/aria_generate"]},
        "linear_probe": {"cmd": "python -m stages.aria_probe", "deps": ["models/aria_pretrain/ckpt", "data/ingest"],
                         "outs": ["reports/aria_probe"]},
        "report": {"cmd": "python -m stages.report", "deps": ["reports/data", "reports/aria_pretrain"],
                   "outs": ["reports/site"]},
    }
}


def write_midi(path: Path, n: int = 24, pitch0: int = 60) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    for i in range(n):
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=pitch0 + (i * 5) % 14, start=i * 0.25, end=i * 0.25 + 0.4))
    pm.instruments.append(inst)
    pm.write(str(path))


def fake_repo(root: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    r = root / "reports"
    for d in ("data", "tokens/aria", "pretrain/plots", "generate", "linear_probe", "site", "scratch"):
        (r / d).mkdir(parents=True, exist_ok=True)
    (r / "data/metrics.json").write_text(json.dumps({"pieces": 213, "hours": 4.739, "rejected": 0}))
    (r / "data/stats.json").write_text(json.dumps({"by_label": {"composer": {
        "bach": {"train": 47, "val": 5, "test": 8}, "mozart": {"train": 4, "val": 0, "test": 0}}}}))
    (r / "data/summary.md").write_text("# Data\n\n- pieces: 213\n- rejected: 0\n\n## composer\n\n"
                                       "| label | train | val | test |\n|---|---|---|---|\n| bach | 47 | 5 | 8 |\n")
    (r / "data/manifest.json").write_text(json.dumps({"stage": "ingest", "params": {"ingest": {"x": 1}}, "seed": 42}))
    steps = np.arange(0, 200, 10)
    (r / "pretrain/plots/loss.csv").write_text(
        "step,train_loss,val_loss\n" + "".join(f"{s},{4 * np.exp(-s / 80) + 1:.4f},{4 * np.exp(-s / 90) + 1.2:.4f}\n"
                                               for s in steps))
    (r / "pretrain/plots/lr.json").write_text(json.dumps([{"step": int(s), "lr": float(min(1, s / 50) * 3e-4)}
                                                         for s in steps]))
    (r / "pretrain/metrics.json").write_text(json.dumps({"val_loss": 1.31, "tokens_per_s": 4012.5}))
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow([[9, 1, 0], [2, 7, 1], [0, 1, 8]], cmap="Blues")
    ax.set_title("confusion: composer")
    fig.savefig(r / "linear_probe/confusion_composer.png", dpi=70)
    plt.close(fig)
    (r / "linear_probe/metrics.json").write_text(json.dumps(
        {"composer": {"accuracy": 0.8, "macro_f1": 0.74}, "period": {"accuracy": 0.9, "macro_f1": 0.88}}))
    (r / "linear_probe/table.md").write_text("| task | acc |\n|---|---|\n| composer | 0.80 |\n| period | 0.90 |\n")
    sr = 16000
    for k in range(2):
        write_midi(r / f"generate/sample_{k}.mid", pitch0=60 + 3 * k)
        t = np.arange(int(0.5 * sr)) / sr
        ext = ("wav", "flac")[k]  # render_audio writes FLAC, other stages may write WAV
        sf.write(str(r / f"generate/sample_{k}.{ext}"), 0.2 * np.sin(2 * np.pi * (440 + 110 * k) * t), sr)
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.plot([0, 1], [60, 67])
    ax.set_title("sample_0 piano roll")
    fig.savefig(r / "generate/sample_0.png", dpi=70)
    plt.close(fig)
    (r / "generate/p1").mkdir()
    write_midi(r / "generate/p1/prompt.mid", n=8)
    (r / "generate/index.json").write_text(json.dumps({"model": "models/aria_finetune", "samples": [
        {"id": "sample_0", "midi": "sample_0.mid", "audio": "sample_0.wav", "roll": "sample_0.png", "temperature": 0.9,
         "prompt_midi": "p1/prompt.mid"},
        {"midi": "sample_1.mid", "audio": "sample_1.flac", "temperature": 1.0}]}))
    (r / "tokens/aria/stats.json").write_text(json.dumps({"pieces": 200, "tokens": 81234, "vocab": 17731}))
    (r / "scratch/notes.md").write_text("an undeclared folder still shows up\n")
    (r / "site/stale.txt").write_text("the site itself is never scanned")
    return root


def test_collect_classifies_files(tmp_path: Path) -> None:
    root = fake_repo(tmp_path)
    reps = {r.name: r for r in scan_reports(root / "reports", dag.report_outs(dag.load_stages(root / "dvc.yaml")))}
    assert list(reps) == ["data", "tokens/aria", "pretrain", "generate", "linear_probe", "scratch"]
    assert reps["tokens/aria"].owner == "tokenize_aria" and reps["scratch"].owner is None
    assert reps["data"].manifests[0][1]["stage"] == "ingest"
    assert {rel for rel, _ in reps["data"].metrics} == {"metrics.json", "stats.json"}
    curves = {c.rel: c for c in reps["pretrain"].curves}
    assert set(curves) == {"plots/loss.csv", "plots/lr.json"}
    assert set(curves["plots/loss.csv"].series) == {"train_loss", "val_loss"} and curves["plots/loss.csv"].x == "step"
    assert reps["linear_probe"].images == ["confusion_composer.png"]
    samples = {s.key: s for s in reps["generate"].samples}
    assert samples["sample_0"].midi == "sample_0.mid" and samples["sample_0"].audio == ["sample_0.wav"]
    assert samples["sample_0"].images == ["sample_0.png"] and samples["sample_0"].info["temperature"] == 0.9
    assert samples["sample_0"].extra_midi == {"prompt_midi": "p1/prompt.mid"}  # not a sample of its own
    assert samples["sample_1"].images == [] and len(samples) == 2  # the site draws sample_1's piano roll


def test_dag_edges_and_report_owners(tmp_path: Path) -> None:
    root = fake_repo(tmp_path)
    stages = dag.load_stages(root / "dvc.yaml")
    es = set(dag.edges(stages))
    assert ("ingest", "pretrain") in es and ("pretrain", "linear_probe") in es  # dep inside an out
    assert ("ingest", "report") in es and ("generate", "report") not in es
    assert dag.report_outs(stages) == [("reports/data", "ingest"), ("reports/aria_tokenize", "tokenize_aria"),
                                       ("reports/aria_pretrain", "pretrain"), ("reports/aria_generate", "generate"),
                                       ("reports/aria_probe", "linear_probe")]
    assert dag.svg(stages).count("<rect") == len(stages)


def test_markdown_escapes_and_terminates() -> None:
    html = to_html("# T\n|x\n#nospace\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | **2** |\n")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>2</strong>" in html and "<h3>T</h3>" in html


def test_report_stage_depends_on_every_reports_out() -> None:
    """Guard for new stages: every reports/<dir> out in dvc.yaml must be a dep of 'report'."""
    stages = {s.name: s for s in dag.load_stages(REPO / "dvc.yaml")}
    if "report" not in stages:
        pytest.skip("no report stage in this checkout")
    outs = {o for n, s in stages.items() if n != "report" for o in s.outs if o.startswith("reports/")}
    missing = sorted(outs - set(stages["report"].deps))
    assert not missing, f"add these to the deps of stage 'report' in dvc.yaml: {missing}"


def render(tmp_path: Path) -> tuple[Path, dict]:
    root = fake_repo(tmp_path / "repo")
    site = tmp_path / "site"
    counts = build_site(root, site, SiteOptions(title="ostinato test report", max_samples=5))
    return site, counts


def test_site_html_and_assets(tmp_path: Path) -> None:
    site, counts = render(tmp_path)
    html = (site / "index.html").read_text()
    assert counts["report_dirs"] == 6 and counts["samples"] == 2 and counts["curves"] == 2 and counts["audio"] == 2
    for anchor in ("pipeline", "report-data", "report-tokens-aria", "report-pretrain", "report-generate",
                   "report-linear_probe", "report-scratch", "interactive-plots"):
        assert f'id="{anchor}"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    for src in re.findall(r'(?:src|href)="([^"#][^"]*)"', html):
        assert (site / src).is_file(), src  # every link resolves inside the site
    assert (site / "rolls/generate/sample_1.mid.png").is_file()  # drawn for the MIDI without an image
    first = (site / "index.html").read_bytes()
    build_site(tmp_path / "repo", site, SiteOptions(title="ostinato test report", max_samples=5))
    assert (site / "index.html").read_bytes() == first  # deterministic


def chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    profile = tmp / "chrome-profile"
    shutil.rmtree(profile, ignore_errors=True)
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}",
           "--window-size=1400,2000", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium not installed (make setup installs it when root: "
                                                  "apt-get install chromium)")
def test_site_renders_in_headless_chromium(tmp_path: Path) -> None:
    site, _ = render(tmp_path)
    page = (site / "index.html").as_uri()
    shot = tmp_path / "report.png"
    r = chromium([f"--screenshot={shot}", page], tmp_path)
    assert shot.is_file() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    dom = chromium(["--dump-dom", page], tmp_path).stdout
    for anchor in ("pipeline", "report-data", "report-pretrain", "report-generate", "report-linear_probe"):
        assert f'id="{anchor}"' in dom
    assert "<h2>Pipeline</h2>" in dom and "reports/aria_probe" in dom
    imgs = re.findall(r"<img [^>]*>", dom)
    assert len(imgs) >= 5
    bad = [i for i in imgs if 'data-ok="1"' not in i]
    assert not bad, f"images that did not load: {bad}"
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert m and m.group(1) == m.group(2)
    audios = re.findall(r"<audio [^>]*>", dom)
    assert len(audios) == 2 and all('data-ok="1"' in a and 'data-duration="0.50"' in a for a in audios), audios
    keep = REPO / ".pytest_cache" / "report-screenshot.png"  # for a human to look at
    keep.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, keep)
