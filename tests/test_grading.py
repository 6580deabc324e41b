"""The grading command (tools/workbook.py grade, tools/grading.py).

On the tiny synthetic book (tests/tiny_book.py): the edition with the solutions pasted in scores
100%, the untouched edition 0%, one wrong answer loses exactly its exercise, a deleted check cell
scores 0 as "did not run", and a broken submission (not a notebook, a dying kernel, an endless
cell) still gets its table.

On the book, under smoke: every notebook that has checks runs end to end with each stub replaced
by its solution's code and must score 100% (this also proves that the edition runs). The two
other cases cost a whole notebook run each, so they run on a few notebooks only, chosen among the
fastest under smoke (README, Performance): the untouched edition on UNTOUCHED, one wrong answer
on WRONG.
"""

import ast
import csv
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import edition  # noqa: E402
import grading  # noqa: E402
import tiny_book  # noqa: E402
import workbook  # noqa: E402

NOTEBOOKS = workbook.notebooks()
IDS = [workbook.name_of(p) for p in NOTEBOOKS]
UNTOUCHED = ["a5-mixtures-factorization/mixture", "a3-cnn-design/building", "a4-cifar10-lab/questions"]
WRONG = ["a3-cnn-design/building"]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    path = tiny_book.make(tmp_path)
    tiny_book.register(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "checks"))
    return path


def tiny_edition(path):
    return edition.student_notebook(path, "t1-tiny/tiny", "0.0.0")


def run(tmp_path, notebook, source, timeout=60, name="t1-tiny/tiny"):
    submission = tmp_path / "submission.ipynb"
    nbformat.write(notebook, str(submission))
    return grading.grade(submission, source, name, profile="smoke", timeout=timeout)


def outcome(result):
    return [(row.label, row.score, row.points, row.passed) for row in result.rows]


def test_solved_edition_scores_everything(tiny, tmp_path):
    result = run(tmp_path, edition.solved(tiny_edition(tiny), edition.parse(tiny)), tiny)
    assert outcome(result) == [("t1-square", 1, 1, True), ("t1-widths", 2, 2, True)]
    assert (result.score, result.total, result.note) == (3, 3, "")
    assert "Score: 3 / 3 (100%)" in result.table()


def test_untouched_edition_scores_nothing_and_says_why(tiny, tmp_path):
    result = run(tmp_path, tiny_edition(tiny), tiny)
    assert outcome(result) == [("t1-square", 0, 1, False), ("t1-widths", 0, 2, False)]
    assert [row.message for row in result.rows] == ["`square` not defined yet", "`widths` not defined yet"]
    assert "Score: 0 / 3 (0%)" in result.table()


def test_one_wrong_answer_loses_exactly_its_exercise(tiny, tmp_path):
    notebook = edition.solved(tiny_edition(tiny), edition.parse(tiny), {"t1-widths": "widths = [32, 16, 11]"})
    result = run(tmp_path, notebook, tiny)
    assert outcome(result) == [("t1-square", 1, 1, True), ("t1-widths", 0, 2, False)]
    assert "expected [32, 16, 10]" in result.rows[1].message


def test_a_deleted_check_cell_scores_zero_as_not_run(tiny, tmp_path):
    notebook = edition.solved(tiny_edition(tiny), edition.parse(tiny))
    notebook.cells = [c for c in notebook.cells if c.source != 'check("t1-widths")']
    result = run(tmp_path, notebook, tiny)
    assert outcome(result) == [("t1-square", 1, 1, True), ("t1-widths", 0, 2, False)]
    assert result.rows[1].message == grading.DID_NOT_RUN


def test_a_submission_that_is_not_a_notebook_gets_its_table(tiny, tmp_path):
    submission = tmp_path / "broken.ipynb"
    submission.write_text("{ not json")
    result = grading.grade(submission, tiny, "t1-tiny/tiny", profile="smoke")
    assert outcome(result) == [("t1-square", 0, 1, False), ("t1-widths", 0, 2, False)]
    assert result.note.startswith("could not read the submission")


def test_a_dying_kernel_ends_the_run_not_the_grading(tiny, tmp_path):
    notebook = edition.solved(tiny_edition(tiny), edition.parse(tiny), {"t1-widths": "import os\nos._exit(1)"})
    result = run(tmp_path, notebook, tiny)
    assert outcome(result) == [("t1-square", 1, 1, True), ("t1-widths", 0, 2, False)]
    assert result.rows[1].message == grading.DID_NOT_RUN and "DeadKernelError" in result.note


def test_an_endless_cell_is_interrupted_and_the_rest_runs(tiny, tmp_path):
    endless = "import time\n\ntime.sleep(600)\n\ndef square(x):\n    return x * x"
    notebook = edition.solved(tiny_edition(tiny), edition.parse(tiny), {"t1-square": endless})
    result = run(tmp_path, notebook, tiny, timeout=5)
    assert outcome(result) == [("t1-square", 0, 1, False), ("t1-widths", 2, 2, True)]


def test_the_command_names_the_notebook_from_the_edition_and_writes_csv(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(workbook, "BOOK", tiny.parents[1])
    submission = tmp_path / "mine.ipynb"  # a file name that says nothing: the metadata says which notebook
    nbformat.write(edition.solved(tiny_edition(tiny), edition.parse(tiny), {"t1-square": "square = abs"}),
                   str(submission))
    out = tmp_path / "grades.csv"
    assert workbook.main(["workbook.py", "grade", str(submission), "--profile", "smoke", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Grading t1-tiny/tiny" in printed and "Score: 2 / 3 (67%)" in printed
    rows = list(csv.DictReader(out.open()))
    assert [(r["exercise"], r["score"], r["points"], r["passed"]) for r in rows] == [
        ("t1-square", "0", "1", "False"), ("t1-widths", "2", "2", "True")]
    assert rows[0]["message"] == "square(3) is 3, expected 9"
    assert workbook.main(["workbook.py", "grade", str(tmp_path / "nowhere.ipynb")]) == 2


# --- the book, end to end under smoke ---------------------------------------------------------


def checked(source):
    parts = edition.parse(source)
    if not parts.checks:
        pytest.skip("checks not added yet")
    return parts


def grade_book_notebook(tmp_path, source, notebook):
    return run(tmp_path, notebook, source, timeout=900, name=workbook.name_of(source))


def student_edition(source):
    return edition.student_notebook(source, workbook.name_of(source), workbook.version())


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_book_edition_with_the_solutions_pasted_in_scores_100(source, tmp_path):
    parts = checked(source)
    result = grade_book_notebook(tmp_path, source, edition.solved(student_edition(source), parts))
    assert result.score == result.total > 0, result.table()


@pytest.mark.parametrize("name", UNTOUCHED)
def test_book_edition_untouched_scores_0(name, tmp_path):
    source = workbook.BOOK / f"{name}.md"
    checked(source)
    result = grade_book_notebook(tmp_path, source, student_edition(source))
    assert result.score == 0 and result.total > 0, result.table()
    assert not result.note, result.note


def one_layer_changed(code: str) -> str | None:
    """``code`` with the width of its first Dense/Conv layer (an integer literal) one larger."""
    for node in ast.walk(ast.parse(code)):
        name = getattr(node.func, "attr", getattr(node.func, "id", "")) if isinstance(node, ast.Call) else ""
        if name in ("Dense", "Conv2D", "Conv1D") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, int):
            lines = code.split("\n")
            arg = node.args[0]
            line = lines[arg.lineno - 1]
            lines[arg.lineno - 1] = line[:arg.col_offset] + str(arg.value + 1) + line[arg.end_col_offset:]
            return "\n".join(lines)
    return None


def test_one_layer_changed_changes_one_width():
    code = "model = keras.Sequential([\n    layers.Conv2D(32, 3),\n    layers.Dense(10)])"
    assert one_layer_changed(code) == code.replace("Conv2D(32", "Conv2D(33")


@pytest.mark.parametrize("name", WRONG)
def test_book_one_wrong_model_loses_exactly_its_exercise(name, tmp_path):
    source = workbook.BOOK / f"{name}.md"
    parts = checked(source)
    target = next(((e.label, wrong) for e in reversed(parts.exercises) if e.label in parts.checks
                   for wrong in [one_layer_changed("\n\n".join(e.solution_code))] if wrong), None)
    if target is None:
        pytest.skip(f"{name}: no checked exercise builds a Dense/Conv layer to change")
    label, wrong = target
    result = grade_book_notebook(tmp_path, source, edition.solved(student_edition(source), parts, {label: wrong}))
    failed = [row.label for row in result.rows if not row.passed]
    assert failed == [label], result.table()
