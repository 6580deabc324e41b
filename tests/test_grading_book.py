"""The grading command on the book's notebooks, end to end under smoke (a separate file from
tests/test_grading.py so that pytest-xdist can run the two on different workers).

Every notebook that has checks runs with each stub of its student edition replaced by its
solution's code and must score 100% (this also proves that the edition runs). The two other cases
cost a whole notebook run each, so they run on a few notebooks only, chosen among the fastest under
smoke (README, Performance): the untouched edition on UNTOUCHED (must score 0% without crashing),
one wrong answer (a model with one layer's width changed) on the first notebook of WRONG that has a
checked model exercise no later cell builds on (must lose exactly that exercise).
"""

import ast
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import edition  # noqa: E402
import grading  # noqa: E402
import namecheck  # noqa: E402
import workbook  # noqa: E402

NOTEBOOKS = workbook.notebooks()
IDS = [workbook.name_of(p) for p in NOTEBOOKS]
UNTOUCHED = ["a5-mixtures-factorization/mixture", "a3-cnn-design/building", "a4-cifar10-lab/questions"]
# tried in this order; the first that has a checked model exercise no later cell builds on runs
WRONG = ["a3-cnn-design/building", "a5-mixtures-factorization/cnn-vs-mlp", "a2-mnist-convnet/replicate",
         "a1-keras-basics/cifar10-mlp-cnn"]


def run(tmp_path, notebook, source):
    submission = tmp_path / "submission.ipynb"
    nbformat.write(notebook, str(submission))
    return grading.grade(submission, source, workbook.name_of(source), profile="smoke", timeout=900)


def checked(source):
    parts = edition.parse(source)
    if not parts.checks:
        pytest.skip("checks not added yet")
    return parts


def student_edition(source):
    return edition.student_notebook(source, workbook.name_of(source), workbook.version())


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_book_edition_with_the_solutions_pasted_in_scores_100(source, tmp_path):
    parts = checked(source)
    result = run(tmp_path, edition.solved(student_edition(source), parts), source)
    assert result.score == result.total > 0, result.table()


@pytest.mark.parametrize("name", UNTOUCHED)
def test_book_edition_untouched_scores_0(name, tmp_path):
    source = workbook.BOOK / f"{name}.md"
    checked(source)
    result = run(tmp_path, student_edition(source), source)
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


def independent_wrong_answer(parts):
    """(label, code): the solution of the last checked exercise that builds a model (a
    ``Sequential`` or functional ``Model``) with a Dense/Conv layer of literal width and whose names no later cell or check reads, with that width changed.
    (An exercise that later ones build on would make them fail too: in a1 mnist-mlp, Q7 reuses
    Q5's ``softmax_model``.)"""
    for index, exercise in reversed(list(enumerate(parts.exercises))):
        code = "\n\n".join(exercise.solution_code)
        builds_model = "Sequential(" in code or "Model(" in code  # a lone layer may have any width
        wrong = one_layer_changed(code) if exercise.label in parts.checks and builds_model else None
        if wrong is None:
            continue
        defined = set().union(*(namecheck.cell_names(code)[1] for code in exercise.solution_code))
        later = [cell for role, cell, label, _ in parts.cells
                 if cell.cell_type == "code" and role != "stub" and label != exercise.label]
        start = next(i for i, (_, _, label, _) in enumerate(parts.cells) if label == exercise.label)
        position = {id(cell): i for i, (_, cell, _, _) in enumerate(parts.cells)}
        read = set()
        for cell in later:
            if position[id(cell)] > start:
                read |= namecheck.cell_names(cell.source)[0]
                read |= {n for check in edition.check_labels(cell.source) if check != exercise.label
                         for n in namecheck.needs(check)}
        if not defined & read:
            return exercise.label, wrong
    return None


def test_book_one_wrong_model_loses_exactly_its_exercise(tmp_path):
    for name in WRONG:
        source = workbook.BOOK / f"{name}.md"
        parts = edition.parse(source)
        target = independent_wrong_answer(parts) if parts.checks else None
        if target is not None:
            break
    else:
        pytest.skip("checks not added yet (or no checked model exercise that no later cell builds on)")
    label, wrong = target
    result = run(tmp_path, edition.solved(student_edition(source), parts, {label: wrong}), source)
    failed = [row.label for row in result.rows if not row.passed]
    assert failed == [label], result.table()
