"""The student edition (tools/workbook.py student, tools/edition.py): every notebook without its
solutions, its exercises as plain Markdown, one empty code cell per solution with code, every
check cell kept; and the static check that a kept cell reads no name only a solution defines.

The tiny synthetic book of ``tests/tiny_book.py`` tests the tooling on its own; the parametrized
tests apply it to every notebook of the book.
"""

import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import edition  # noqa: E402
import namecheck  # noqa: E402
import tiny_book  # noqa: E402
import workbook  # noqa: E402

NOTEBOOKS = workbook.notebooks()
IDS = [workbook.name_of(p) for p in NOTEBOOKS]



def has_checks(path: Path) -> bool:
    return bool(edition.parse(path).checks)


@pytest.fixture(scope="module")
def edition_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    written = workbook.write_student_edition(out)
    assert len(written) == len(NOTEBOOKS)
    return out


def student(folder, source: Path):
    return nbformat.read(folder / source.parent.name / f"{source.stem}.ipynb", as_version=4)


def solution_code(source: Path) -> list[str]:
    """Source of every code cell inside a solution block of the original notebook (read
    independently of tools/edition.py: a line scan of Jupytext's cells)."""
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


# --- the tooling, on the tiny synthetic notebook -----------------------------------------------


@pytest.fixture
def tiny(tmp_path):
    path = tiny_book.make(tmp_path)
    tiny_book.register(tmp_path)
    return path


def test_tiny_edition_turns_exercises_into_markdown_and_solutions_into_stubs(tiny):
    notebook = edition.student_notebook(tiny, "t1-tiny/tiny", "9.9.9")
    nbformat.validate(notebook)
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [m.split("\n")[0] for m in markdown if m.startswith("**Exercise")] == [
        "**Exercise 1** (t1-square)", "**Exercise 2** (t1-widths)", "**Exercise 3** (t1-why)"]
    first = next(m for m in markdown if m.startswith("**Exercise 1**"))
    assert "Write a function `square(x)`" in first
    # the admonition became a block quote, the roles plain Markdown
    assert "> **Note**" in first and "$x^2$" in first and "see the set-up." in first
    text = "\n".join(c.source for c in notebook.cells)
    for mark in ("{exercise", "{solution", "{note}", "{glue", "{math}", "{ref}", "x * x", "Multiply", "summarises"):
        assert mark not in text, mark
    stubs = [c for c in code if c.source == workbook.STUB]
    assert [c.metadata["cnnlab"]["exercise"] for c in stubs] == ["t1-square", "t1-widths"]
    assert [c.source for c in code if "check(" in c.source] == ['check("t1-square")', 'check("t1-widths")']
    assert any("sum(widths)" in c.source for c in code), "a shared cell was dropped"
    assert code[0].metadata["tags"] == ["remove-cell"] and "Colab" in code[0].source
    answers = [c for c in notebook.cells if c.cell_type == "markdown" and c.source == edition.ANSWER]
    assert [c.metadata["cnnlab"]["exercise"] for c in answers] == ["t1-why"]
    assert notebook.metadata["cnnlab"] == {"notebook": "t1-tiny/tiny", "edition": "student", "version": "9.9.9"}
    assert "jupytext" not in notebook.metadata


def test_tiny_parts_know_solutions_and_checks(tiny):
    parts = edition.parse(tiny)
    assert parts.checks == ["t1-square", "t1-widths"]
    assert [(e.label, bool(e.solution_code), e.check_follows) for e in parts.exercises] == [
        ("t1-square", True, True), ("t1-widths", True, True), ("t1-why", False, False)]
    assert "def square" in parts.exercise("t1-square").solution_code[0]


def test_a_glue_role_outside_a_solution_is_an_error_naming_file_and_line(tmp_path):
    text = tiny_book.NOTEBOOK.replace("Set-up: the checks", "Set-up ({glue:text}`squared`): the checks")
    path = tiny_book.make(tmp_path, text)
    line = text.splitlines().index(next(x for x in text.splitlines() if "{glue:text}`squared`): the" in x)) + 1
    with pytest.raises(edition.EditionError, match=rf"tiny.md:{line}: .*glue:text.*outside a solution"):
        edition.student_notebook(path, "t1-tiny/tiny", "0")


def test_markdown_jupyter_cannot_render_is_refused(tmp_path):
    text = tiny_book.NOTEBOOK.replace("Set-up: the checks", "```{figure} x.png\nA figure\n```\n\nSet-up: the checks")
    path = tiny_book.make(tmp_path, text)
    with pytest.raises(edition.EditionError, match=r"tiny.md:\d+: the directive \{figure\} cannot be shown"):
        edition.student_notebook(path, "t1-tiny/tiny", "0")


def test_a_missing_or_displaced_check_cell_is_seen(tmp_path):
    text = tiny_book.NOTEBOOK.replace('```{code-cell} ipython3\ncheck("t1-widths")\n```\n', "")
    text = text.replace('```{solution-end}\n```\n\n```{code-cell} ipython3\ncheck("t1-square")',
                        '```{solution-end}\n```\n\nProse first.\n\n```{code-cell} ipython3\ncheck("t1-square")')
    parts = edition.parse(tiny_book.make(tmp_path, text))
    assert [e.check_follows for e in parts.exercises] == [False, False, False]


def test_names_a_kept_cell_reads_from_a_solution_are_found(tiny, tmp_path):
    assert namecheck.problems(tiny) == []
    # the statement no longer names `widths`: the shared cell and the check now read a name only
    # the solution defines (what pixel-shuffle's Summary cell did with acc_original on main)
    text = tiny_book.NOTEBOOK.replace("Make a list `widths` of", "Make a list of")
    path = tiny_book.make(tmp_path / "defect", text)
    found = [(p.name, "check(" in p.why) for p in namecheck.problems(path)]
    assert ("widths", True) in found and ("widths", False) in found
    # a kept cell reading a solution's helper name
    text = tiny_book.NOTEBOOK.replace('print("total width", sum(widths))', 'print(glued + sum(widths))')
    path = tiny_book.make(tmp_path / "helper", text)
    assert [p.name for p in namecheck.problems(path)] == ["glued"]


def test_cell_names_follow_python_scoping():
    reads, writes = namecheck.cell_names(
        "import numpy as np\n"
        "def f(a):\n    b = a + offset\n    return [b * k for k in range(n)]\n"
        "total = f(x)\n"
        "total += extra\n"
        "counter += 1\n"
        "%time y = np.sum(z)\n"
        "with open(p) as handle:\n    pass\n")
    assert reads == {"offset", "n", "x", "extra", "counter", "z", "p", "open", "range"}
    assert {"np", "f", "total", "y", "handle", "counter"} <= writes


# --- the edition of every notebook of the book -------------------------------------------------


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_student_notebook_is_valid_and_keeps_every_exercise(edition_folder, source):
    notebook = student(edition_folder, source)
    nbformat.validate(notebook)
    labels = re.findall(r"```\{exercise-start\}\n:label: ([\w-]+)", source.read_text())
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert labels and [f"({label})" for label in labels] == re.findall(r"\*\*Exercise \d+\*\* (\([\w-]+\))", markdown)
    assert "{exercise-start}" not in markdown
    assert notebook.metadata["cnnlab"]["notebook"] == workbook.name_of(source)


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_student_notebook_holds_no_solution(edition_folder, source):
    notebook = student(edition_folder, source)
    text = "\n".join(c.source for c in notebook.cells)
    assert "solution-start" not in text and "solution-end" not in text and "{glue:" not in text
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    hidden = solution_code(source)
    assert hidden, "every notebook has solutions with code"
    assert not [cell for cell in hidden if cell in code], "a solution's code cell survived"
    stubs = [c for c in notebook.cells if c.cell_type == "code" and c.source == workbook.STUB]
    labels = [e.label for e in edition.parse(source).exercises if e.solution_code]
    assert [c.metadata["cnnlab"]["exercise"] for c in stubs] == labels


def computes(code: str) -> bool:
    """Whether solution code does more than glue values for the solution's prose (a discussion
    exercise may glue a number it quotes; it has nothing to check)."""
    glue_only = all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                    and getattr(s.value.func, "id", "") == "glue" for s in ast.parse(code).body)
    return not glue_only


def test_a_solution_that_only_glues_computes_nothing():
    assert not computes('glue("n", f"{base.count_params():,}")\nglue("m", 3)')
    assert computes('glue("n", 1)\nmodel = keras.Sequential([])')
    assert computes("model.fit(x, y)")


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_every_code_exercise_is_followed_by_its_check(source):
    parts = edition.parse(source)
    if not parts.checks:
        pytest.skip("checks not added yet")
    missing = [e.label for e in parts.exercises if any(map(computes, e.solution_code)) and not e.check_follows]
    assert not missing, f'add a cell check("<label>") right after the solution of: {", ".join(missing)}'
    for label in parts.checks:
        assert label in [e.label for e in parts.exercises], f"check({label!r}) names no exercise"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_kept_cells_read_no_name_only_a_solution_defines(source):
    problems = namecheck.problems(source)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_student_set_up_cells_run(edition_folder, source):
    """The cells before the first exercise (Colab set-up, imports and banner, data) run as given.
    A notebook with checks is run whole, solved, by tests/test_grading_book.py instead."""
    if has_checks(source):
        pytest.skip("run end to end by tests/test_grading_book.py")
    notebook = student(edition_folder, source)
    first = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and "**Exercise 1**" in c.source)
    notebook.cells = notebook.cells[:first]
    assert sum(c.cell_type == "code" for c in notebook.cells) >= 2
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    outputs = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "Profile: smoke" in outputs
