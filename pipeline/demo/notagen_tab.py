"""The NotaGen tab: a score for a period-composer-instrumentation the model was fine-tuned on."""

from __future__ import annotations

from pathlib import Path

from pipeline.demo.fields import device_args, seed_args, seed_box

TITLE = "NotaGen: period, composer, instrumentation"
FAMILY = "notagen"
SEP = " / "


def triples(sources) -> list[str]:
    from pipeline.notagen.prompts import find_prompts, read_prompts

    found = find_prompts(sources.models[FAMILY])
    return [SEP.join(t) for t in read_prompts(found)] if found else []


def inputs(gr, sources) -> list:
    choices = triples(sources)
    return [
        gr.Dropdown(
            choices,
            value=choices[0] if choices else None,
            label="period / composer / instrumentation",
            elem_id="notagen-prompt",
        ),
        gr.Number(102400, label="characters (max)", precision=0, minimum=64, elem_id="notagen-chars"),
        gr.Number(1.2, label="temperature", minimum=0.01, elem_id="notagen-temp"),
        seed_box(gr, FAMILY),
    ]


def argv(sources, out: Path, prompt, chars, temp, seed) -> list[str]:
    parts = (prompt or "").split(SEP)
    if len(parts) != 3:
        raise ValueError("choose a period / composer / instrumentation from the list")
    period, composer, instrumentation = parts
    args = ["generate", "--family", "notagen", "--checkpoint", str(sources.models[FAMILY]), "--save-dir", str(out)]
    args += ["--period", period, "--composer", composer, "--instrumentation", instrumentation]
    args += ["--max-chars", str(int(chars)), "--temp", str(temp), "--no-audio"]  # the page renders audio itself
    return args + seed_args(seed) + device_args(sources)


def pieces(out: Path) -> list[tuple[Path, list[Path]]]:
    found = []
    for abc in sorted(p for p in out.glob("*.abc") if not p.name.endswith(".interleaved.abc")):
        extras = [abc, abc.with_suffix(".interleaved.abc"), abc.with_suffix(".musicxml")]
        found.append((abc.with_suffix(".mid"), extras))
    return found
