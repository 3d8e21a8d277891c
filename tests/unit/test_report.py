"""The static report: a fake repo (dvc.yaml + reports/ of every kind the stages write: headline.json
of three families, metrics and stats JSON, markdown, a loss.csv learning curve, DVC plot JSON,
a confusion PNG, WAV/FLAC + MIDI samples with an index.json) rendered, its DOM checked (results
first, family sections in order, real tables, audio players, links to the stages page), then
opened in headless Chromium from file:// with no network.

Chromium is optional (``make setup`` installs it when root); without it those checks skip.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.params.report import ReportParams
from pipeline.report import dag
from pipeline.report.collect import scan_reports
from pipeline.report.families import group_families
from pipeline.report.headline import HeadlineError, ci, parse_headline, write_headline
from pipeline.report.markdown import to_html
from pipeline.report.site import build_site
from pipeline.report.tables import fmt_num

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")

DVC_YAML = {
    "stages": {
        "ingest": {
            "cmd": "python -m stages.ingest",
            "deps": ["stages/ingest.py", "pipeline/data/ingest.py"],
            "params": ["ingest"],
            "outs": ["data/ingest", "reports/data"],
        },
        "aria_tokenize": {
            "cmd": "python -m stages.aria_tokenize",
            "deps": ["data/ingest", "pipeline/aria/tokenizer.py"],
            "outs": ["data/tokens/aria", "reports/aria_tokenize"],
        },
        "aria_pretrain": {
            "cmd": "python -m stages.aria_pretrain",
            "deps": ["data/ingest"],
            "params": ["aria_pretrain.lr"],
            "outs": ["models/aria_pretrain", {"reports/aria_pretrain": {"cache": False}}],
        },
        "aria_generate": {
            "cmd": "python -m stages.aria_generate",
            "deps": ["models/aria_pretrain"],
            "outs": ["reports/aria_generate"],
        },
        "aria_probe": {
            "cmd": "python -m stages.aria_probe",
            "deps": ["models/aria_pretrain/ckpt", "data/ingest"],
            "outs": ["reports/aria_probe"],
        },
        "abc_tokenize": {
            "cmd": "python -m stages.abc_tokenize",
            "deps": ["data/ingest", "pipeline/notagen/abc.py", "pipeline/data/token_store.py"],
            "outs": ["reports/abc_tokenize"],
        },
        "codec_tokenize": {
            "cmd": "python -m stages.codec_tokenize",
            "deps": ["data/ingest"],
            "outs": ["reports/codec_tokenize"],
        },
        "codec_train": {
            "cmd": "python -m stages.codec_train",
            "deps": ["data/ingest"],
            "outs": ["reports/codec_train"],
        },
        "report": {
            "cmd": "python -m stages.report",
            "deps": ["reports/data", "reports/aria_pretrain"],
            "outs": ["reports/site"],
        },
    },
    "metrics": ["reports/data/metrics.json", "reports/aria_tokenize/stats.json", "reports/aria_pretrain/metrics.json"],
}


def write_midi(path: Path, n: int = 24, pitch0: int = 60) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    for i in range(n):
        inst.notes.append(
            pretty_midi.Note(velocity=90, pitch=pitch0 + (i * 5) % 14, start=i * 0.25, end=i * 0.25 + 0.4)
        )
    pm.instruments.append(inst)
    pm.write(str(path))


def write_png(path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow([[9, 1, 0], [2, 7, 1], [0, 1, 8]], cmap="Blues")
    ax.set_title(title)
    fig.savefig(path, dpi=70)
    plt.close(fig)


def loss_csv(path: Path, scale: float = 4.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = np.arange(0, 200, 10)
    path.write_text(
        "step,train_loss,val_loss,lr\n"
        + "".join(
            f"{s},{scale * np.exp(-s / 80) + 1:.4f},{scale * np.exp(-s / 90) + 1.2:.4f},{min(1, s / 50) * 3e-4:.6f}\n"
            for s in steps
        )
    )


def fake_repo(root: Path) -> Path:
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    r = root / "reports"
    for d in (
        "data",
        "aria_tokenize",
        "aria_pretrain/plots",
        "aria_generate",
        "aria_probe",
        "abc_tokenize",
        "codec_tokenize",
        "codec_train",
        "site",
        "scratch",
    ):
        (r / d).mkdir(parents=True, exist_ok=True)
    # data (ingest): no headline, a markdown summary
    (r / "data/metrics.json").write_text(json.dumps({"pieces": 213, "hours": 4.739, "rejected": 0}))
    (r / "data/stats.json").write_text(
        json.dumps(
            {
                "by_label": {
                    "composer": {
                        "bach": {"train": 47, "val": 5, "test": 8},
                        "mozart": {"train": 4, "val": 0, "test": 0},
                    }
                }
            }
        )
    )
    (r / "data/summary.md").write_text(
        "# Data\n\n- pieces: 213\n- rejected: 0\n\n## composer\n\n"
        "| label | train | val | test |\n|---|---|---|---|\n| bach | 47 | 5 | 8 |\n"
    )
    (r / "data/manifest.json").write_text(json.dumps({"stage": "ingest", "params": {"ingest": {"x": 1}}, "seed": 42}))
    (r / "data/environment.json").write_text(json.dumps({"python": "3.11.7", "timings": {"wall_s": 12.5}}))
    (r / "aria_tokenize/stats.json").write_text(json.dumps({"pieces": 200, "tokens": 81234, "vocab": 17731}))
    # aria_pretrain: a training stage (metrics.json + plots/loss.csv) without a headline
    loss_csv(r / "aria_pretrain/plots/loss.csv")
    (r / "aria_pretrain/plots/lr.json").write_text(
        json.dumps([{"step": s, "lr": min(1, s / 50) * 3e-4} for s in range(0, 200, 10)])
    )
    (r / "aria_pretrain/metrics.json").write_text(
        json.dumps({"val_loss": 1.3123, "tokens_per_s": 4012.5, "train_loss": 1.25})
    )
    # aria_probe: the probe table with CIs and a confusion figure
    write_png(r / "aria_probe/confusion/composer__contrastive.png", "confusion: composer")
    (r / "aria_probe/metrics.json").write_text(
        json.dumps(
            {
                "composer": {"contrastive": {"accuracy": 0.8, "macro_f1": 0.74}},
                "retrieval": {"contrastive": {"top1": 0.5}},
            }
        )
    )
    (r / "aria_probe/table.md").write_text("| task | acc |\n|---|---|\n| composer | 0.80 |\n")
    write_headline(
        r / "aria_probe",
        {
            "family": "aria",
            "family_title": "Aria",
            "title": "Linear probes",
            "order": 10,
            "text": "Embeddings from `data/aria_embed` (30 pieces).",
            "tables": [
                {
                    "caption": "probe accuracy [95% CI]",
                    "columns": ["task", "metric", "contrastive", "majority"],
                    "rows": [
                        ["composer", "accuracy", ci(0.8, 0.61, 0.93), 0.4],
                        ["", "macro-F1", ci(0.74, 0.5, 0.9), None],
                    ],
                    "digits": 2,
                }
            ],
            "figures": ["confusion/composer__contrastive.png"],
        },
    )
    # aria_generate: samples (WAV and FLAC, MIDI, one with a piano-roll PNG) + index.json
    sr = 16000
    for k in range(2):
        write_midi(r / f"aria_generate/sample_{k}.mid", pitch0=60 + 3 * k)
        t = np.arange(int(0.5 * sr)) / sr
        ext = ("wav", "flac")[k]  # render_audio writes FLAC, other stages may write WAV
        sf.write(str(r / f"aria_generate/sample_{k}.{ext}"), 0.2 * np.sin(2 * np.pi * (440 + 110 * k) * t), sr)
    write_png(r / "aria_generate/sample_0.png", "sample_0 piano roll")
    (r / "aria_generate/p1").mkdir()
    write_midi(r / "aria_generate/p1/prompt.mid", n=8)
    (r / "aria_generate/index.json").write_text(
        json.dumps(
            {
                "model": "models/aria_finetune",
                "samples": [
                    {
                        "id": "sample_0",
                        "midi": "sample_0.mid",
                        "audio": "sample_0.wav",
                        "roll": "sample_0.png",
                        "temperature": 0.9,
                        "prompt_midi": "p1/prompt.mid",
                    },
                    {"midi": "sample_1.mid", "audio": "sample_1.flac", "temperature": 1.0},
                ],
            }
        )
    )
    (r / "aria_generate/metrics.json").write_text(json.dumps({"samples": 2, "mean_new_tokens": 812.5}))
    write_headline(
        r / "aria_generate",
        {
            "family": "aria",
            "title": "Prompt continuations",
            "order": 20,
            "tables": [
                {
                    "caption": "each continuation",
                    "columns": ["piece", "new tokens", "ended"],
                    "rows": [["sample_0", 1234, True], ["sample_1", 391, False]],
                }
            ],
            "samples": [
                {
                    "name": "sample_0",
                    "caption": "bach",
                    "audio": ["sample_0.wav"],
                    "midi": ["sample_0.mid", "p1/prompt.mid"],
                    "image": ["sample_0.png"],
                },
                {"name": "sample_1", "audio": "sample_1.flac", "midi": ["sample_1.mid"]},
            ],
        },
    )
    # valle: a headline from codec_train (order 5: its family comes first); codec_tokenize joins it by prefix
    loss_csv(r / "codec_train/plots/loss.csv", scale=2.0)
    (r / "codec_train/metrics.json").write_text(json.dumps({"val_loss": 0.91, "fad": 3.21}))
    write_headline(
        r / "codec_train",
        {
            "family": "valle",
            "family_title": "MIDI-VALLE",
            "title": "Audio quality",
            "order": 5,
            "tables": [
                {
                    "caption": "FAD (lower is better)",
                    "columns": ["system", "FAD"],
                    "rows": [["codec", 3.2104], ["ground truth", 0.0]],
                }
            ],
        },
    )
    (r / "codec_tokenize/stats.json").write_text(json.dumps({"items": 12}))
    (r / "abc_tokenize/stats.json").write_text(json.dumps({"tunes": 40}))  # notagen, from its code deps
    (r / "abc_tokenize/headline.json").write_text('{"family": "notagen", "tables": [')  # broken: listed, not fatal
    (r / "scratch/notes.md").write_text("an undeclared folder still shows up\n")
    (r / "site/stale.txt").write_text("the site itself is never scanned")
    return root


# ----------------------------------------------------------------------------- a small DOM
VOID = {"img", "meta", "br", "hr", "input", "source", "link", "col", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: "Node | None"):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, attrs, parent, [], ""

    def iter(self, tag: str | None = None):
        for c in self.children:
            if tag is None or c.tag == tag:
                yield c
            yield from c.iter(tag)

    def find(self, tag: str, **attrs) -> "Node | None":
        return next((n for n in self.iter(tag) if all(n.attrs.get(k) == v for k, v in attrs.items())), None)

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class DomParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.root = self.cur = Node("#doc", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text += data


def dom(html: str) -> Node:
    p = DomParser()
    p.feed(html)
    return p.root


def headings(root: Node) -> list[Node]:
    return [n for n in root.iter() if re.fullmatch(r"h[1-6]", n.tag)]


# ----------------------------------------------------------------------------- collect, families, contract
def test_collect_classifies_files(tmp_path: Path) -> None:
    root = fake_repo(tmp_path)
    reps = {r.name: r for r in scan_reports(root / "reports", dag.report_outs(dag.load_stages(root / "dvc.yaml")))}
    assert list(reps)[0] == "data" and list(reps)[-1] == "scratch"  # DAG order, undeclared folders last
    assert list(reps).index("aria_pretrain") < list(reps).index("aria_probe")
    assert reps["aria_tokenize"].owner == "aria_tokenize" and reps["scratch"].owner is None
    assert reps["data"].manifests[0][1]["stage"] == "ingest"
    assert {rel for rel, _ in reps["data"].metrics} == {"metrics.json", "stats.json"}  # not environment.json:
    assert "environment.json" not in reps["data"].other  # its timings would make the site differ run to run
    assert dict(reps["aria_pretrain"].metrics)["metrics.json"] == {"val_loss": 1.3123, "train_loss": 1.25}  # no speed
    curves = {c.rel: c for c in reps["aria_pretrain"].curves}
    assert set(curves) == {"plots/loss.csv", "plots/lr.json"}
    assert (
        set(curves["plots/loss.csv"].series) == {"train_loss", "val_loss", "lr"}
        and curves["plots/loss.csv"].x == "step"
    )
    assert reps["aria_probe"].images == ["confusion/composer__contrastive.png"]
    assert reps["aria_probe"].headline.tables[0].rows[0][2] == {"value": 0.8, "ci95": [0.61, 0.93]}
    assert "headline.json" not in {rel for rel, _ in reps["aria_probe"].metrics}  # not dumped as metrics
    samples = {s.key: s for s in reps["aria_generate"].samples}
    assert samples["sample_0"].midi == "sample_0.mid" and samples["sample_0"].audio == ["sample_0.wav"]
    assert samples["sample_0"].images == ["sample_0.png"] and samples["sample_0"].info["temperature"] == 0.9
    assert samples["sample_0"].extra_midi == {"prompt_midi": "p1/prompt.mid"}  # not a sample of its own
    assert samples["sample_1"].images == [] and len(samples) == 2  # the site draws sample_1's piano roll


def test_families_grouped_and_ordered(tmp_path: Path) -> None:
    root = fake_repo(tmp_path)
    stages = dag.load_stages(root / "dvc.yaml")
    fams = group_families(scan_reports(root / "reports", dag.report_outs(stages)), stages)
    got = {f.key: [r.name for r in f.reports] for f in fams}
    assert [f.key for f in fams] == ["valle", "aria", "data", "notagen", "other"]  # headline order, then DAG
    assert got["valle"] == ["codec_tokenize", "codec_train"]  # the prefix follows codec_train's headline
    assert got["aria"] == ["aria_tokenize", "aria_pretrain", "aria_generate", "aria_probe"]
    assert got["data"] == ["data"] and got["notagen"] == ["abc_tokenize"]  # ingest; code deps -> notagen
    assert [f.title for f in fams][:2] == ["MIDI-VALLE", "Aria"]
    assert [r.name for r in fams[1].headlined] == ["aria_probe", "aria_generate"]  # by headline order


def test_headline_contract(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    ok = {
        "family": "gnm",
        "title": "Style accuracy",
        "figures": ["a.png"],
        "tables": [{"columns": ["style", "acc"], "rows": [["bach", ci(0.7, 0.6, 0.8)], ["mozart", None]]}],
    }
    write_headline(tmp_path, ok)
    assert json.loads((tmp_path / "headline.json").read_text()) == ok
    bad = [
        ({**ok, "figures": ["missing.png"]}, "does not exist"),
        ({**ok, "figures": ["../a.png"]}, "escapes"),
        ({**ok, "family": ""}, "family"),
        ({**ok, "tables": [{"columns": ["a", "b"], "rows": [[1]]}]}, "1 cells for 2 columns"),
        ({**ok, "tables": [{"columns": ["a"], "rows": [[{"mean": 1}]]}]}, "not a number"),
        ({**ok, "samples": [{"name": "x", "audio": ["/etc/passwd"]}]}, "escapes"),
        ({**ok, "colour": "red"}, "unknown keys"),
    ]
    for data, why in bad:
        with pytest.raises(HeadlineError, match=re.escape(why)):
            write_headline(tmp_path, data)
    h, problems = parse_headline({**ok, "figures": ["a.png", "missing.png"]}, tmp_path)
    assert h.figures == ["a.png"] and problems == ["figures: 'missing.png' does not exist"]  # lenient read


def test_numbers_are_formatted() -> None:
    assert [fmt_num(v) for v in (1234567, 0.81234, 4012.5, 1.3123, 12.345, 3.2e-5, 0.0, float("nan"))] == [
        "1,234,567",
        "0.812",
        "4,012",
        "1.31",
        "12.3",
        "3.2e-05",
        "0",
        "nan",
    ]
    assert fmt_num(0.8, 2) == "0.80" and fmt_num(12, 2) == "12"


def test_report_layer_imports_no_family() -> None:
    """pipeline/report is generic: it reads headline.json files, it never imports a family package."""
    generic = {"report", "data", "train", "sample", "eval", "orchestration", "params", "commands", "config"}
    for f in sorted((REPO / "pipeline/report").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module
                else []
            )
            for n in names:
                parts = n.split(".")
                assert parts[0] != "pipeline" or len(parts) < 2 or parts[1] in generic, f"{f.name} imports {n}"


def test_dag_edges_and_report_owners(tmp_path: Path) -> None:
    root = fake_repo(tmp_path)
    stages = dag.load_stages(root / "dvc.yaml")
    es = set(dag.edges(stages))
    assert ("ingest", "aria_pretrain") in es and ("aria_pretrain", "aria_probe") in es  # dep inside an out
    assert ("ingest", "report") in es and ("aria_generate", "report") not in es
    assert dag.report_outs(stages)[:3] == [
        ("reports/data", "ingest"),
        ("reports/aria_tokenize", "aria_tokenize"),
        ("reports/aria_pretrain", "aria_pretrain"),
    ]
    assert dag.svg(stages).count("<rect") == len(stages)
    assert dag.declared_metrics(root / "dvc.yaml")[1] == "reports/aria_tokenize/stats.json"


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


# ----------------------------------------------------------------------------- the site
def render(tmp_path: Path) -> tuple[Path, dict]:
    root = fake_repo(tmp_path / "repo")
    site = tmp_path / "site"
    counts = build_site(root, site, ReportParams(title="ostinato test report", max_samples=5))
    return site, counts


def test_index_leads_with_family_results(tmp_path: Path) -> None:
    site, counts = render(tmp_path)
    assert counts["families"] == 5 and counts["headlines"] == 3 and counts["report_dirs"] == 9
    doc = dom((site / "index.html").read_text())
    hs = headings(doc)
    assert hs[0].tag == "h1" and hs[1].tag == "h2" and hs[1].parent.attrs.get("class") == "family"
    sections = [s.attrs["id"] for s in doc.iter("section")]
    assert sections == [
        "family-valle",
        "family-aria",
        "family-data",
        "family-notagen",
        "family-other",
        "metrics",
        "everything",
    ]
    aria = doc.find("section", id="family-aria")
    assert [h.all_text() for h in aria.iter("h3")] == ["Linear probes", "Prompt continuations", "Learning curves"]
    probe = aria.find("div", id="headline-aria_probe")
    table = probe.find("table")
    assert [th.all_text() for th in table.iter("th")] == ["task", "metric", "contrastive", "majority"]
    cells = [[td.all_text() for td in tr.iter("td")] for tr in table.find("tbody").iter("tr")]
    assert cells == [["composer", "accuracy", "0.80 [0.61, 0.93]", "0.40"], ["", "macro-F1", "0.74 [0.50, 0.90]", ""]]
    assert probe.find("img") is not None  # the confusion figure
    gen = aria.find("div", id="headline-aria_generate")
    rows = [[td.all_text() for td in tr.iter("td")] for tr in gen.find("tbody").iter("tr")]
    assert rows == [["sample_0", "1,234", "yes"], ["sample_1", "391", "no"]]
    audios = [a.attrs["src"] for a in gen.iter("audio")]
    assert audios == ["assets/aria_generate/sample_0.wav", "assets/aria_generate/sample_1.flac"]
    midi = [a.attrs["href"] for a in gen.iter("a") if "download" in a.attrs]
    assert midi == [
        "assets/aria_generate/sample_0.mid",
        "assets/aria_generate/p1/prompt.mid",
        "assets/aria_generate/sample_1.mid",
    ]
    assert len(list(gen.iter("img"))) == 2  # sample_0's own PNG, sample_1's piano roll drawn from its MIDI
    curves = [i.attrs["src"] for i in aria.iter("img") if i.attrs["src"].startswith("plots/")]
    assert curves == ["plots/aria_pretrain/plots__loss.csv.png"]  # loss.csv only; lr.json stays on stages page
    notagen = doc.find("section", id="family-notagen")
    assert "tunes" in notagen.find("table").all_text()  # no headline: its scalar stats
    assert "headline.json: unreadable" in notagen.find("ul", **{"class": "problems"}).all_text()
    data = doc.find("section", id="family-data")
    assert data.find("table") is not None and "213" in data.all_text()  # ingest's summary.md
    metrics = doc.find("section", id="metrics").find("table")
    header = [th.all_text() for th in metrics.iter("th")]
    assert header[:3] == ["stage", "family", "val_loss"]  # the most shared key first
    stages_in_table = [tr.find("td").all_text() for tr in metrics.find("tbody").iter("tr")]
    assert stages_in_table == ["codec_train", "aria_tokenize", "aria_pretrain", "aria_generate", "aria_probe", "ingest"]
    links = {a.attrs.get("href") for a in doc.iter("a")}
    assert "stages.html" in links and "stages.html#report-aria_probe" in links


def test_stages_page_and_links(tmp_path: Path) -> None:
    site, _ = render(tmp_path)
    stages = (site / "stages.html").read_text()
    for anchor in (
        "pipeline",
        "report-data",
        "report-aria_tokenize",
        "report-aria_pretrain",
        "report-aria_generate",
        "report-aria_probe",
        "report-scratch",
        "interactive-plots",
    ):
        assert f'id="{anchor}"' in stages
    assert 'href="index.html#headline-aria_probe"' in stages and "plots__lr.json.png" in stages
    for page in ("index.html", "stages.html"):
        html = (site / page).read_text()
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
        ids = set(re.findall(r'id="([^"]+)"', (site / "index.html").read_text() + (site / "stages.html").read_text()))
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            path, _, frag = ref.partition("#")
            assert not path or (site / path).is_file(), ref  # every link resolves inside the site
            assert not frag or frag in ids, ref
    first = [(site / p).read_bytes() for p in ("index.html", "stages.html")]
    build_site(tmp_path / "repo", site, ReportParams(title="ostinato test report", max_samples=5))
    assert [(site / p).read_bytes() for p in ("index.html", "stages.html")] == first  # deterministic


def test_aria_probe_header_names_the_weights_each_embedding_used(tmp_path: Path) -> None:
    """aria_embed records each embedder's model dir and, from its manifest, the imported file and
    its hash; the probe's header (table.md and the report's headline text) names them."""
    from pipeline.aria.embed import model_weights
    from pipeline.aria.probe import embedder_weights, probe_header
    from pipeline.eval.linear_probe import ProbeConfig

    init = {"path": "weights/aria_contrastive/model.safetensors", "hash": "4bf278de36a22dd9"}
    (tmp_path / "models/aria_contrastive").mkdir(parents=True)
    (tmp_path / "models/aria_contrastive/manifest.json").write_text(json.dumps({"init": init, "metrics": {"steps": 0}}))
    (tmp_path / "models/aria_pretrain").mkdir(parents=True)
    (tmp_path / "models/aria_pretrain/manifest.json").write_text(json.dumps({"metrics": {"steps": 4}}))
    stats = {
        "contrastive": {"weights": model_weights(tmp_path / "models/aria_contrastive")},
        "frozen_mean": {"weights": model_weights(tmp_path / "models/aria_pretrain")},
        "handcrafted": {"weights": model_weights(None)},
    }
    assert stats["contrastive"]["weights"] == {"model": "models/aria_contrastive", "init": init, "steps": 0}
    (tmp_path / "embed").mkdir()
    (tmp_path / "embed/stats.json").write_text(json.dumps({"embeddings": stats}))
    weights = embedder_weights(tmp_path / "embed", ["contrastive", "frozen_mean", "handcrafted"])
    header = probe_header("data/aria_embed", 8, ProbeConfig(), weights)
    assert header.endswith(
        "Weights: contrastive: `models/aria_contrastive`, imported from "
        "`weights/aria_contrastive/model.safetensors` (hash 4bf278de36a22dd9); frozen_mean: "
        "`models/aria_pretrain`, trained 4 steps here; handcrafted: features, no weights."
    )
    assert "Weights" not in probe_header("data/aria_embed", 8, ProbeConfig(), embedder_weights(tmp_path, ["x"]))


def test_aria_headlines_follow_the_contract(tmp_path: Path) -> None:
    """The two Aria stages' headline builders write what the report reads, without problems."""
    from pipeline.aria.generate import generation_headline
    from pipeline.aria.probe import probe_headline

    res = {
        "accuracy": 0.8,
        "macro_f1": 0.7,
        "ci95": {"accuracy": [0.6, 0.9], "macro_f1": [0.5, 0.8]},
        "classes": ["bach", "mozart"],
        "n_train": 20,
        "n_test": 10,
        "majority_accuracy": 0.5,
    }
    results = {
        "composer": {"contrastive": res, "handcrafted": {**res, "macro_f1": 0.75}},
        "form": {"contrastive": {"skipped": "fewer than 2 classes"}},
    }
    write_png(tmp_path / "probe/confusion/composer__handcrafted.png", "x")
    h = probe_headline(
        results,
        {"contrastive": {"n": 10, "top1": 0.5, "top5": 0.9, "chance_top1": 0.1, "chance_top5": 0.5, "mean_rank": 2.1}},
        "header",
    )
    write_headline(tmp_path / "probe", h)
    assert h["tables"][0]["rows"][0][2] == {"value": 0.8, "ci95": [0.6, 0.9]} and h["figures"] == [
        "confusion/composer__handcrafted.png"
    ]  # the best macro-F1's confusion matrix
    assert h["tables"][0]["rows"][2][1:3] == ["skipped", "skipped"]
    d = tmp_path / "gen"
    (d / "p").mkdir(parents=True)
    for f in ("p/var0.mid", "p/var0.png", "p/var0.wav", "p/prompt.mid"):
        (d / f).write_bytes(b"x")
    entry = {
        "piece": "p",
        "composer": "bach",
        "period": None,
        "variation": 0,
        "prompt_tokens": 40,
        "new_tokens": 300,
        "notes": 90,
        "seconds": 12.5,
        "ended": True,
        "midi": "p/var0.mid",
        "png": "p/var0.png",
        "audio": "p/var0.wav",
        "prompt_midi": "p/prompt.mid",
    }
    g = generation_headline([entry], 6.0, {"temp": 0.95, "min_p": 0.035, "top_p": None, "top_k": None})
    write_headline(d, g)
    assert g["samples"][0]["midi"] == ["p/var0.mid", "p/prompt.mid"] and "temp 0.95" in g["text"]


def chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    profile = tmp / "chrome-profile"
    shutil.rmtree(profile, ignore_errors=True)
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={profile}",
        "--window-size=1400,2000",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium not installed (make setup installs it when root: apt-get install chromium)"
)
def test_site_renders_in_headless_chromium(tmp_path: Path) -> None:
    site, _ = render(tmp_path)
    page = (site / "index.html").as_uri()
    shot = tmp_path / "report.png"
    r = chromium([f"--screenshot={shot}", page], tmp_path)
    assert shot.is_file() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    html = chromium(["--dump-dom", page], tmp_path).stdout
    doc = dom(html)
    hs = headings(doc)
    assert hs[0].tag == "h1" and hs[1].tag == "h2" and hs[1].parent.attrs.get("class") == "family", (
        "the first heading after the title must open a family's results, not a JSON dump"
    )
    assert hs[1].all_text() == "MIDI-VALLE" and doc.find("section", id="family-aria") is not None
    imgs = list(doc.iter("img"))
    assert len(imgs) >= 5
    bad = [i.attrs for i in imgs if i.attrs.get("data-ok") != "1"]
    assert not bad, f"images that did not load: {bad}"
    m = re.search(r'data-images="(\d+)/(\d+)"', html)
    assert m and m.group(1) == m.group(2)
    audios = [a.attrs for a in doc.iter("audio")]
    assert len(audios) == 2 and all(a.get("data-ok") == "1" and a.get("data-duration") == "0.50" for a in audios), (
        audios
    )
    assert any(a.attrs.get("href") == "stages.html" for a in doc.iter("a"))
    keep = REPO / ".pytest_cache" / "report-screenshot.png"  # for a human to look at
    keep.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, keep)
    stages_page = (site / "stages.html").as_uri()
    dump = chromium(["--dump-dom", stages_page], tmp_path).stdout
    assert 'id="report-aria_probe"' in dump and "<h2>Pipeline</h2>" in dump
