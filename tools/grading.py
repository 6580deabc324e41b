"""Score a submitted student notebook by its exercise checks.

    python tools/workbook.py grade SUBMISSION.ipynb [--notebook <assignment>/<name>]
                                   [--profile smoke|cpu|full] [--timeout S] [--csv OUT]

The submission runs from top to bottom in a fresh kernel (nbclient, errors allowed, a time limit
per cell: a cell that runs out of time is interrupted and the next one runs) in a temporary
folder, with ``CNNLAB_PROFILE`` set and ``CNNLAB_CHECK_LOG`` naming a temporary file, where every
``check("label")`` call writes its outcome. The exercises that count are the ``check("...")``
labels of the book's own notebook, not of the submission: a check cell the student deleted, or one
that never ran (the kernel died, the notebook was cut short), scores 0 as "did not run". A broken
submission (not a notebook, a kernel that dies, an endless cell) still gets its table.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edition import parse

DID_NOT_RUN = "did not run"


@dataclass
class Row:
    label: str
    points: int
    passed: bool
    message: str

    @property
    def score(self) -> int:
        return self.points if self.passed else 0


@dataclass
class Result:
    notebook: str
    rows: list[Row]
    note: str = ""  # what went wrong with the run as a whole, if anything

    @property
    def score(self) -> int:
        return sum(row.score for row in self.rows)

    @property
    def total(self) -> int:
        return sum(row.points for row in self.rows)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.total if self.total else 0.0

    def table(self) -> str:
        width = max([len("exercise")] + [len(r.label) for r in self.rows])
        lines = [f"Grading {self.notebook}" + (f" ({self.note})" if self.note else ""), "",
                 f"{'exercise':<{width}}  points  passed  message", f"{'-' * width}  ------  ------  -------"]
        for row in self.rows:
            message = row.message.splitlines()[0] if row.message else ""
            lines.append(f"{row.label:<{width}}  {row.score:>2} / {row.points:<2} {'yes' if row.passed else 'no':<6}  "
                         f"{message}")
        lines += ["", f"Score: {self.score} / {self.total} ({self.percent:.0f}%)"]
        return "\n".join(lines)

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["notebook", "exercise", "points", "score", "passed", "message"])
            for row in self.rows:
                writer.writerow([self.notebook, row.label, row.points, row.score, row.passed, row.message])


def points(label: str) -> int:
    """The points of exercise ``label`` from its registered check (1 when it has none)."""
    try:
        from cnnlab.checks import find

        return find(label).points
    except Exception:  # noqa: BLE001 - an unknown label still gets a row
        return 1


@contextlib.contextmanager
def environment(**values: str | None):
    """Set (or, with None, remove) environment variables for the duration of the block."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(notebook, folder: Path, timeout: int) -> str:
    """Run ``notebook`` in ``folder``; return "" or what stopped the run early (never raises)."""
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, record_timing=False,
                            error_on_timeout={"ename": "CellTimeoutError", "evalue": f"cell ran over {timeout} s",
                                              "traceback": [f"cell ran over {timeout} s: interrupted"]},
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except Exception as error:  # noqa: BLE001 - a dead kernel or a broken notebook ends the run, not the grading
        return f"the run stopped early: {type(error).__name__}: {str(error).strip().splitlines()[0][:200] if str(error).strip() else ''}"
    return ""


def read_log(path: Path) -> dict[str, dict]:
    """The last outcome of each label in a check log (JSON lines; broken lines are skipped)."""
    outcomes: dict[str, dict] = {}
    if not path.exists():
        return outcomes
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
            outcomes[str(entry["label"])] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return outcomes


def grade(submission: Path, source: Path, name: str, profile: str = "smoke", timeout: int = 600) -> Result:
    """Execute ``submission`` under ``profile`` and score it against the checks of the book's
    notebook ``source`` (``name`` = ``<assignment>/<notebook>``)."""
    import nbformat

    labels = parse(source).checks
    note = ""
    with tempfile.TemporaryDirectory(prefix="cnnlab-grade-") as tmp:
        folder, log = Path(tmp) / "work", Path(tmp) / "checks.jsonl"
        folder.mkdir()
        try:
            notebook = nbformat.read(str(submission), as_version=4)
        except Exception as error:  # noqa: BLE001 - not a notebook: every exercise scores 0
            notebook, note = None, f"could not read the submission: {type(error).__name__}: {error}"
        if notebook is not None:
            with environment(CNNLAB_CHECK_LOG=str(log), CNNLAB_PROFILE=profile):
                note = execute(notebook, folder, timeout)
        outcomes = read_log(log)
    rows = []
    for label in labels:
        outcome = outcomes.get(label)
        if outcome is None:
            rows.append(Row(label, points(label), False, DID_NOT_RUN))
        else:
            rows.append(Row(label, int(outcome.get("points", points(label))), bool(outcome.get("passed")),
                            str(outcome.get("message", ""))))
    return Result(name, rows, note)


def main(args, book: Path) -> int:
    from workbook import notebook_name

    submission = Path(args.submission)
    name = args.notebook or notebook_name(submission)
    if name is None:
        print(f"cannot tell which notebook {submission} answers: give --notebook <assignment>/<name>",
              file=sys.stderr)
        return 2
    source = book / f"{name}.md"
    if not source.exists():
        print(f"no notebook {name} in {book} (expected {source})", file=sys.stderr)
        return 2
    result = grade(submission, source, name, profile=args.profile, timeout=args.timeout)
    print(result.table())
    if args.csv:
        result.write_csv(Path(args.csv))
        print(f"wrote {args.csv}")
    return 0
