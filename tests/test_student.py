"""The student edition: every notebook without its solutions (tools/workbook.py student)."""

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import workbook  # noqa: E402

NOTEBOOKS = workbook.notebooks()
IDS = [f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    written = workbook.write_student_edition(out)
    assert len(written) == len(NOTEBOOKS)
    return out


def student(edition, source: Path):
    return nbformat.read(edition / source.parent.name / f"{source.stem}.ipynb", as_version=4)


def solution_code(source: Path) -> list[str]:
    """Source of every code cell inside a solution block of the original notebook."""
    inside, cells = False, []
    for cell in jupytext.read(source).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("```{solution-start}"):
                    inside = True
                elif line.startswith("```{solution-end}"):
                    inside = False
        elif inside:
            cells.append(cell.source)
    return cells


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_student_notebook_is_valid_and_keeps_every_exercise(edition, source):
    notebook = student(edition, source)
    nbformat.validate(notebook)
    labels = re.findall(r"```\{exercise-start\}\n:label: ([\w-]+)", source.read_text())
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert labels and [f"({label})" for label in labels] == re.findall(r"\*\*Exercise \d+\*\* (\([\w-]+\))", markdown)
    assert "{exercise-start}" not in markdown


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_student_notebook_holds_no_solution(edition, source):
    notebook = student(edition, source)
    text = "\n".join(c.source for c in notebook.cells)
    assert "solution-start" not in text and "solution-end" not in text and "{glue:" not in text
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    hidden = solution_code(source)
    assert hidden, "every notebook has solutions with code"
    assert not [cell for cell in hidden if cell in code], "a solution's code cell survived"
    assert code.count(workbook.STUB) >= 1


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_student_set_up_cells_run(edition, source):
    """The cells before the first exercise (Colab set-up, imports and banner, data) run as given."""
    notebook = student(edition, source)
    first = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and "**Exercise 1**" in c.source)
    notebook.cells = notebook.cells[:first]
    assert sum(c.cell_type == "code" for c in notebook.cells) >= 2
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    outputs = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "Profile: smoke" in outputs
