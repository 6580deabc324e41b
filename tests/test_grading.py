"""The grading command (tools/workbook.py grade, tools/grading.py).

On the tiny synthetic book (tests/tiny_book.py): the edition with the solutions pasted in scores
100%, the untouched edition 0%, one wrong answer loses exactly its exercise, a deleted check cell
scores 0 as "did not run", and a broken submission (not a notebook, a dying kernel, an endless
cell) still gets its table. The book's notebooks are graded in tests/test_grading_book.py.
"""

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
