"""Checks of the notebook sources themselves (the notebooks are executed by nbval, see the README)."""

import json
import re
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import workbook  # noqa: E402

NOTEBOOKS = workbook.notebooks()
IDS = [f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]


def code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def glued_keys(notebook):
    """Patterns of the keys a notebook glues; ``glue(f"q8_{width}", ...)`` matches any
    ``q8_<word>``. ``config.setup`` glues ``profile`` in every notebook, and a comparison's
    ``.glue("key", ...)`` (:meth:`cnnlab.noise.Comparison.glue`) four keys."""
    code = "\n".join(c.source for c in code_cells(notebook))
    glued = re.findall(r"glue\(\s*[f]?[\"']([\w{}]+)[\"']", code) + ["profile"]
    # noise.Comparison.glue("key", ...) also glues key_diff, key_margin and key_noise
    compared = re.findall(r"\.glue\(\s*[f]?[\"']([\w{}]+)[\"']", code)
    glued += [f"{key}_{part}" for key in compared for part in ("diff", "margin", "noise")]
    return [re.compile("^" + re.sub(r"\{[^}]*\}", r"\\w+", g) + "$") for g in glued]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_is_in_sync_and_has_no_outputs(path):
    paired = path.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} missing: run jupytext --sync {path.relative_to(ROOT)}"
    source, ipynb = jupytext.read(path), jupytext.read(paired)
    assert [(c.cell_type, c.source) for c in source.cells] == [(c.cell_type, c.source) for c in ipynb.cells], (
        f"{path.name} and {paired.name} differ: run jupytext --sync {path.relative_to(ROOT)}")
    raw = json.loads(paired.read_text())
    for cell in raw["cells"]:
        assert not cell.get("outputs") and cell.get("execution_count") is None, (
            f"{paired.name} holds outputs: commit notebooks without them")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_cell_is_the_current_colab_set_up(path):
    cells = code_cells(jupytext.read(path))
    assert cells[0].source == workbook.colab_source(), (
        "stale Colab cell: run python tools/workbook.py colab-cell")
    assert "remove-cell" in cells[0].metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_profile_banner_follows_the_imports(path):
    second = code_cells(jupytext.read(path))[1].source
    assert "import cnnlab" in second or "from cnnlab import" in second
    assert "config.setup(" in second, "the cell after the Colab cell must import and call config.setup"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_quoted_number_is_glued_in_the_notebook(path):
    notebook = jupytext.read(path)
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    quoted = set(re.findall(r"\{glue:\w+\}`([\w]+)(?::[^`]*)?`", text))
    patterns = glued_keys(notebook)
    missing = sorted(q for q in quoted if not any(p.match(q) for p in patterns))
    assert not missing, f"quoted but never glued: {missing}"


def test_every_notebook_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = set()

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.add(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    for path in NOTEBOOKS:
        assert str(path.relative_to(ROOT / "book").with_suffix("")) in files
    for entry in files:
        assert (ROOT / "book" / f"{entry}.md").exists(), f"_toc.yml names a missing file: {entry}"


def test_exercises_and_solutions_are_balanced():
    for path in NOTEBOOKS:
        text = path.read_text()
        labels = re.findall(r"```\{exercise-start\}\n:label: ([\w-]+)", text)
        solved = re.findall(r"```\{solution-start\} ([\w-]+)", text)
        assert labels and labels == solved, f"{path.name}: every exercise needs one solution, in order"
        for start, end in [("exercise-start", "exercise-end"), ("solution-start", "solution-end")]:
            assert text.count("{" + start + "}") == text.count("{" + end + "}"), f"{path.name}: unbalanced {start}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_fits_the_page(path):
    """Code cells stay within 88 columns, the width the book shows without scrolling
    (format with: jupytext --pipe "black -l 88 -" <notebook>.md)."""
    wide = [
        line
        for cell in code_cells(jupytext.read(path))
        for line in cell.source.splitlines()
        if len(line) > 88
    ]
    assert not wide, f"{len(wide)} code lines wider than 88 columns, e.g. {wide[0]!r}"


def test_results_page_quotes_existing_keys_with_a_format():
    """``{glue:text}`path.md::key:fmt``` on the results page: myst-nb reads the last ``:`` as
    the start of the format, so a reference without one loses its key; every key must exist."""
    text = (ROOT / "book" / "results.md").read_text()
    references = re.findall(r"\{glue:\w+\}`([^`]*::[^`]*)`", text)
    assert references, "the results page quotes no notebook"
    for reference in references:
        path, _, rest = reference.partition("::")
        key, colon, spec = rest.partition(":")
        assert colon and spec, f"{reference}: add a format after the key, e.g. {key}:s"
        notebook = ROOT / "book" / path
        assert notebook.exists(), f"{reference}: no notebook {path}"
        assert any(p.match(key) for p in glued_keys(jupytext.read(notebook))), f"{reference}: {path} never glues {key}"


def test_colab_cell_command_rewrites_only_the_first_code_cell(tmp_path, monkeypatch):
    """``tools/workbook.py colab-cell`` (through Jupytext): after a change of the repository URL,
    every notebook's first code cell is rewritten, in the .md and its paired .ipynb, and nothing
    else changes."""
    import shutil

    book = tmp_path / "book"
    source = NOTEBOOKS[0]
    (book / source.parent.name).mkdir(parents=True)
    config = (ROOT / "book" / "_config.yml").read_text().replace(
        "https://github.com/cnnlab/cnnlab", "https://github.com/someone/fork")
    (book / "_config.yml").write_text(config)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for suffix in (".md", ".ipynb"):
        shutil.copy(source.with_suffix(suffix), book / source.parent.name / source.with_suffix(suffix).name)
    monkeypatch.setattr(workbook, "BOOK", book)
    monkeypatch.setattr(workbook, "ROOT", tmp_path)
    copy = book / source.parent.name / source.name
    assert workbook.stale_colab_cells() == [copy]
    workbook.write_colab_cells()
    assert workbook.stale_colab_cells() == []
    before, after = jupytext.read(source), jupytext.read(copy)
    first = next(i for i, c in enumerate(after.cells) if c.cell_type == "code")
    assert "git+https://github.com/someone/fork@v" in after.cells[first].source
    assert [c.source for i, c in enumerate(before.cells) if i != first] == [
        c.source for i, c in enumerate(after.cells) if i != first]
    paired = jupytext.read(copy.with_suffix(".ipynb"))
    assert [c.source for c in paired.cells] == [c.source for c in after.cells]
