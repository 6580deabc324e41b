"""No typed results in the notebooks' prose.

A number in a notebook's text is either computed and glued (``{glue:text}`key:.3f```), or it is
one of these, which may be typed:

* a setting: it appears as a number in the notebook's code (a learning rate, a layer width, a
  seed), outside the profile-dependent sizes of ``config.setup``;
* a reference figure of the past solution, declared in ``cnnlab/past.yml`` for this notebook;
* a small integer (at most :data:`SMALL`: counts, kernel sizes, question numbers);
* a fact listed for the notebook in :data:`ALLOWED`, with the reason it is not a result.

The exercise statements (the assignment's text) may type settings freely, but no text may type a
profile-dependent size (``20 epochs``, ``10 runs``, ``60,000 training images``): under another
profile it is false. Those come from the settings object or glue.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext
import pytest

from cnnlab import past

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import workbook  # noqa: E402
from notebook_source import settings  # noqa: E402

NOTEBOOKS = workbook.notebooks()
IDS = [f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]

SMALL = 12

#: Numbers a notebook may type that are neither settings nor results, with the reason.
ALLOWED: dict[str, dict[float, str]] = {
    "a2-mnist-convnet/replicate": {2012: "the year of the Adadelta paper (Zeiler, 2012)"},
    "a4-cifar10-lab/improved": {0.5: "the dropout rate the past text names, which its printed network contradicts"},
    "a5-mixtures-factorization/mixture": {
        1074: "the smallest subnormal float64 is 2**-1074 (IEEE 754), a property of the format",
        1075: "half of it, 2**-1075, below which exp() rounds to 0.0",
    },
}


NUMBER = re.compile(r"(?<![\w.\d])([-−]?\d(?:[\d,]*\d)?(?:\.\d+)?(?:[eE][-+]?\d+)?)(\s*%)?(?![\w\d])")
SIZE = re.compile(r"(?<![\w.\d])(\d(?:[\d,]*\d)?)\s+(?:[A-Za-z-]+\s+){0,2}?"
                  r"(epoch|run|image|example|iteration|step|sample|seed|permutation|rating)s?\b")
STRIP = [
    re.compile(r"\{glue:\w+\}`[^`]*`"),  # glued values
    re.compile(r"\{(?!math)\w+\}`[^`]*`"),  # other roles ({ref}, {doc}, ...)
    re.compile(r"``[^`]*``|`[^`]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # HTML tags
]


def split_prose(path: Path) -> tuple[str, str]:
    """(exercise statements, every other line of text) of a notebook's Markdown cells, without
    directive lines, directive options and fenced code (the body of a directive is text)."""
    exercise, other = [], []
    inside_exercise = False
    fences: list[str] = []  # open fences, innermost last: "code" or "directive"
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                if stripped.startswith("```{exercise-start}"):
                    inside_exercise = True
                elif stripped.startswith("```{exercise-end}"):
                    inside_exercise = False
                if stripped == "```" and fences:
                    fences.pop()
                else:
                    fences.append("directive" if stripped.startswith("```{") else "code")
            elif "code" in fences or re.match(r"^:\w[\w-]*:", stripped):
                continue
            else:
                (exercise if inside_exercise else other).append(line)
    return "\n".join(exercise), "\n".join(other)


def clean(text: str) -> str:
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    return text


def flat(value) -> list:
    return [v for item in value for v in flat(item)] if isinstance(value, (list, tuple)) else [value]


def varying(path: Path) -> dict[str, set[float]]:
    """Profile-dependent settings: name -> every numeric value it takes under any profile."""
    found = {}
    for name, size in settings(path).items():
        values = [size.full, size.cpu, size.smoke]
        if any(v != values[0] for v in values):
            found[name] = {float(v) for v in flat(values) if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return found


def code_numbers(path: Path) -> set[float]:
    """Numeric literals of the code cells, except the profile-dependent sizes of config.setup."""
    found = set()
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics
            continue
        sizes = {id(inner) for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "by_profile"
                 for inner in ast.walk(node)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
                    and not isinstance(node.value, bool) and id(node) not in sizes):
                found.add(abs(float(node.value)))
    return found


def key(value: float) -> float:
    return float(f"{abs(value):.10g}")


def typed_results(path: Path) -> list[str]:
    """Numbers in the notebook's prose (outside exercise statements) that nothing allows."""
    notebook = f"{path.parent.name}/{path.stem}"
    declared = past.typed_numbers(notebook) if notebook in past.table() else set()
    allowed = {key(v) for v in code_numbers(path) | declared}
    allowed |= {key(v) for v in ALLOWED.get(notebook, {})}
    _, other = split_prose(path)
    bad = []
    for line in clean(other).splitlines():
        for match in NUMBER.finditer(line):
            value = past.parse_number(match.group(1))
            candidates = {key(value)} | ({key(value / 100)} if match.group(2) else set())
            if float(value).is_integer() and abs(value) <= SMALL and not match.group(2):
                continue
            if not candidates & allowed:
                bad.append(f"{match.group(0).strip()!r} in: {line.strip()[:100]}")
    return bad


def typed_sizes(path: Path) -> list[str]:
    """Profile-dependent sizes typed anywhere in the notebook's text, e.g. '20 epochs'."""
    sizes = varying(path)
    exercise, other = split_prose(path)
    bad = []
    for line in clean(exercise + "\n" + other).splitlines():
        for match in SIZE.finditer(line):
            number, noun = past.parse_number(match.group(1)), match.group(2)
            related = [name for name in sizes if noun in name or (noun in ("example", "sample") and "image" in name)]
            if any(number in sizes[name] for name in related):
                bad.append(f"{match.group(0)!r} ({', '.join(related)} depend on the profile) in: {line.strip()[:100]}")
    return bad


def test_the_scanner_finds_typed_results(tmp_path):
    notebook = tmp_path / "a9-example" / "demo.md"
    notebook.parent.mkdir()
    notebook.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
        "```{code-cell} ipython3\nfrom cnnlab import config\n"
        "S = config.setup(epochs=config.by_profile(full=20, cpu=5, smoke=1), learning_rate=0.1)\n"
        "model = make(units=32, rate=0.25)\n```\n\n"
        "```{exercise-start}\n:label: a9-x\n```\nTrain for 20 epochs at learning rate 0.1 and 0.37 dropout.\n"
        "```{exercise-end}\n```\n\n"
        "The model reached 0.913 after {glue:text}`epochs` epochs, better than 87% (learning rate 0.1,\n"
        "32 units, dropout 0.25, `x = 0.5`, {glue:text}`acc:.3f`), in 3 steps and 20 epochs.\n")
    # 0.1, 32 and 0.25 are settings in the code, 3 is small; "0.5" is code, the glue is glued
    assert [found.split(" in: ")[0] for found in typed_results(notebook)] == ["'0.913'", "'87%'", "'20'"]
    sizes = typed_sizes(notebook)
    assert len(sizes) == 2 and all("'20 epochs'" in s for s in sizes)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_prose_types_no_result(path):
    bad = typed_results(path)
    assert not bad, "typed numbers that are neither glued, settings nor past figures:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_text_types_no_profile_dependent_size(path):
    bad = typed_sizes(path)
    assert not bad, "sizes that another profile contradicts (use S.<name> or glue):\n" + "\n".join(bad)
