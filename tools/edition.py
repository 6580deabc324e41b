"""The student edition of a MyST notebook, read through Jupytext cells.

A book notebook holds exercises and folded solutions (sphinx-exercise's gated directives):

    ```{exercise-start}          the statement          ```{exercise-end}
    ```{solution-start} label    prose, code cells ...  ```{solution-end}
    check("label")               a code cell, right after the solution (code exercises only)

:func:`parse` walks the notebook's cells once and returns its parts: the cells a student keeps
(with each exercise turned into plain Markdown), the solutions with their code, and the check
cells. :func:`student_notebook` makes the edition: every solution removed, its code replaced by
one empty code cell whose metadata names the exercise (``cell.metadata["cnnlab"]["exercise"]``),
every other cell kept. Markdown that Jupyter and Colab cannot render is rewritten (admonitions
become block quotes, ``{math}`` roles dollar math, cross-references plain text) or refused with
an :class:`EditionError` naming the notebook and line; a ``{glue:...}`` role outside a solution is
always an error, since a student's notebook has nothing to paste there.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat

STUB = "# your code here"
ANSWER = "*Your answer here.*"

FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*?)\s*$")
CODE_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})")
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<text>[^`]*)`")
TARGET = re.compile(r"^\(\s*[\w:.-]+\s*\)=\s*$")

ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
               "error", "seealso", "admonition"}
TITLES = {"seealso": "See also"}


class EditionError(ValueError):
    """A notebook cannot be turned into its student edition; the message names file and line."""


@dataclass
class Exercise:
    label: str
    number: int
    statement: str  # the statement as Markdown a student can read in Jupyter
    source: str  # the statement as written in the book (MyST)
    line: int
    solution_code: list[str] = field(default_factory=list)
    solution_line: int = 0
    check_follows: bool = False  # the first cell after the solution is check("label")


@dataclass
class Parts:
    path: Path
    exercises: list[Exercise]
    # every cell of the notebook in order, with its role: "kept" (set-up, data, shared cells,
    # checks, rewritten Markdown), "solution" (code inside a solution) or "stub" (where a
    # solution stood); kept cells hold their edited source, solution cells their original
    cells: list[tuple[str, nbformat.NotebookNode, str | None, int]]
    metadata: dict

    def exercise(self, label: str) -> Exercise:
        return next(e for e in self.exercises if e.label == label)

    @property
    def checks(self) -> list[str]:
        """The labels of every ``check("...")`` call in the notebook, in order."""
        return [label for role, cell, _, _ in self.cells if role == "kept" and cell.cell_type == "code"
                for label in check_labels(cell.source)]


def check_labels(source: str) -> list[str]:
    """Labels of the ``check("label")`` calls in a code cell."""
    import ast

    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return []
    return [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]


def _python(source: str) -> str:
    """A code cell as plain Python (IPython magics and shell escapes transformed away)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _cell_lines(text: str, cells) -> list[int]:
    """The line of the source file at which each cell's text starts (1-based; 0 if not found)."""
    lines, position = [], 0
    for cell in cells:
        found = text.find(cell.source, position) if cell.source else -1
        if found < 0:
            lines.append(0)
            continue
        lines.append(text.count("\n", 0, found) + 1)
        position = found + len(cell.source)
    return lines


class _Markdown:
    """Rewrites the MyST Markdown a student keeps into Markdown that Jupyter renders."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, line: int, message: str) -> EditionError:
        return EditionError(f"{self.path}:{line}: {message}")

    def roles(self, text: str, line: int) -> str:
        def replace(match: re.Match) -> str:
            name, body = match.group("name"), match.group("text")
            if name.startswith("glue"):
                raise self.error(line, f"{{{name}}}`{body}` outside a solution: a student's notebook "
                                       "has no glued value to show; move the sentence into the solution")
            if name == "math":
                return f"${body}$"
            if name in ("ref", "doc", "numref", "eq", "term", "prf:ref", "download", "any", "external"):
                label = re.match(r"^(.*?)\s*<[^>]*>$", body)
                return label.group(1) if label else body
            if name in ("code", "literal", "file", "samp", "kbd", "command", "envvar", "program"):
                return f"`{body}`"
            if name in ("sub", "sup"):
                return f"<{name}>{body}</{name}>"
            if name in ("abbr",):
                return re.sub(r"\s*\([^)]*\)$", "", body)
            raise self.error(line, f"the role {{{name}}} cannot be shown in Jupyter or Colab: write plain "
                                   "Markdown, or teach tools/edition.py to rewrite it")

        return ROLE.sub(replace, text)

    def convert(self, text: str, first_line: int) -> str:
        """``text`` (lines of MyST starting at ``first_line`` of the file) as plain Markdown."""
        lines = text.split("\n")
        out: list[str] = []
        i = 0
        while i < len(lines):
            line, number = lines[i], first_line + i
            directive = FENCE.match(line)
            if directive:
                end = self._closing(lines, i, directive.group("fence"), number)
                body = lines[i + 1:end]
                out.extend(self.directive(directive.group("name"), directive.group("argument"), body, number))
                i = end + 1
                continue
            code = CODE_FENCE.match(line)
            if code:  # a plain code block: kept as written
                end = self._closing(lines, i, code.group("fence"), number)
                out.extend(lines[i:end + 1])
                i = end + 1
                continue
            if TARGET.match(line) or line.startswith("% "):  # labels and MyST comments
                i += 1
                continue
            out.append(self.roles(line, number))
            i += 1
        return "\n".join(out)

    def _closing(self, lines: list[str], start: int, fence: str, number: int) -> int:
        char = fence[0]
        for j in range(start + 1, len(lines)):
            stripped = lines[j].strip()
            if stripped and set(stripped) == {char} and len(stripped) >= len(fence):
                return j
        raise self.error(number, f"unclosed {fence} block")

    def directive(self, name: str, argument: str, body: list[str], number: int) -> list[str]:
        options = 0
        while options < len(body) and re.match(r"^:[\w-]+:", body[options]):
            options += 1
        content = "\n".join(body[options:]).strip("\n")
        inner = self.convert(content, number + 1 + options)
        if name in ADMONITIONS:
            title = argument if name == "admonition" else TITLES.get(name, name.capitalize())
            quoted = [f"> **{self.roles(title, number)}**", ">"] + [f"> {x}".rstrip() for x in inner.split("\n")]
            return quoted
        if name == "math":
            return ["$$", content, "$$"]
        if name in ("code-block", "code", "sourcecode"):
            return [f"```{argument}", content, "```"]
        if name.startswith("glue"):
            raise self.error(number, f"{{{name}}} outside a solution: a student's notebook has no glued "
                                     "value to show; move it into the solution")
        raise self.error(number, f"the directive {{{name}}} cannot be shown in Jupyter or Colab: write "
                                 "plain Markdown, or teach tools/edition.py to rewrite it")


def _option(lines: list[str], name: str) -> str | None:
    for line in lines:
        match = re.match(rf"^:{name}:\s*(.*?)\s*$", line)
        if match:
            return match.group(1)
    return None


def parse(path: Path) -> Parts:
    """Read a MyST notebook with Jupytext and split it into the parts of the student edition."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="md:myst")
    starts = _cell_lines(text, notebook.cells)
    markdown = _Markdown(path)
    exercises: list[Exercise] = []
    cells: list[tuple[str, nbformat.NotebookNode, str | None, int]] = []
    state = "out"  # "out", "exercise" or "solution"
    current: Exercise | None = None
    solution: Exercise | None = None
    awaiting_check: Exercise | None = None
    statement: list[str] = []

    def keep_markdown(lines: list[str], first: int, original) -> None:
        source = "\n".join(lines).strip("\n")
        if source.strip():
            cell = copy.deepcopy(original)
            cell.source = markdown.convert(source, first)
            cells.append(("kept", cell, None, first))

    for cell, start in zip(notebook.cells, starts):
        if cell.cell_type != "markdown":
            if awaiting_check is not None:
                awaiting_check.check_follows = cell.cell_type == "code" and cell.source.strip() == \
                    f'check("{awaiting_check.label}")'
                awaiting_check = None
            if state == "solution":
                solution.solution_code.append(cell.source)
                cells.append(("solution", cell, solution.label, start))
            elif state == "exercise":  # code inside a statement stays, between its Markdown parts
                _flush_statement(current, statement, cells, markdown, start)
                statement = []
                cells.append(("kept", copy.deepcopy(cell), None, start))
            else:
                cells.append(("kept", copy.deepcopy(cell), None, start))
            continue
        lines = cell.source.split("\n")
        pending: list[str] = []  # Markdown kept outside any block, and where it started
        pending_start = start
        i = 0
        while i < len(lines):
            line, number = lines[i], start + i
            directive = FENCE.match(line)
            name = directive.group("name") if directive else None
            if state == "out" and name == "exercise-start":
                keep_markdown(pending, pending_start, cell)
                pending = []
                end = markdown._closing(lines, i, directive.group("fence"), number)
                label = _option(lines[i + 1:end], "label")
                if not label:
                    raise markdown.error(number, "an exercise without a :label:")
                current = Exercise(label, len(exercises) + 1, "", "", number)
                exercises.append(current)
                awaiting_check = None
                state, statement = "exercise", []
                i = end + 1
                continue
            if state == "exercise" and name == "exercise-end":
                end = markdown._closing(lines, i, directive.group("fence"), number)
                _flush_statement(current, statement, cells, markdown, number, final=True)
                state, statement = "out", []
                i = end + 1
                pending_start = start + i
                continue
            if state == "out" and name == "solution-start":
                keep_markdown(pending, pending_start, cell)
                pending = []
                end = markdown._closing(lines, i, directive.group("fence"), number)
                label = directive.group("argument").strip()
                matching = [e for e in exercises if e.label == label]
                if not matching:
                    raise markdown.error(number, f"a solution of {label!r}, which is not an exercise above it")
                solution = matching[-1]
                solution.solution_line = number
                awaiting_check = None
                state = "solution"
                i = end + 1
                continue
            if state == "solution" and name == "solution-end":
                end = markdown._closing(lines, i, directive.group("fence"), number)
                if solution.solution_code:
                    stub = nbformat.v4.new_code_cell(STUB, metadata={"cnnlab": {"exercise": solution.label}})
                else:
                    stub = nbformat.v4.new_markdown_cell(ANSWER, metadata={"cnnlab": {"exercise": solution.label}})
                cells.append(("stub", stub, solution.label, number))
                if solution.solution_code:
                    awaiting_check = solution
                state = "out"
                i = end + 1
                pending_start = start + i
                continue
            if name in ("exercise-start", "exercise-end", "solution-start", "solution-end"):
                raise markdown.error(number, f"{{{name}}} here breaks the exercise/solution order")
            if state == "exercise":
                statement.append((line, number))
            elif state == "out":
                if not pending:
                    pending_start = number
                pending.append(line)
            i += 1
        if state == "out":
            if awaiting_check is not None and "\n".join(pending).strip():
                awaiting_check.check_follows = False  # prose between the solution and its check
                awaiting_check = None
            keep_markdown(pending, pending_start, cell)
        elif state == "exercise" and statement:
            pass  # the statement goes on in the next cell
    if state != "out":
        raise EditionError(f"{path}: the notebook ends inside an {state}")
    metadata = copy.deepcopy(dict(notebook.metadata))
    return Parts(path, exercises, cells, metadata)


def _flush_statement(exercise: Exercise, statement: list[tuple[str, int]], cells, markdown: _Markdown,
                     line: int, final: bool = False) -> None:
    """Emit the statement collected so far as a Markdown cell (the heading with its first part)."""
    text = "\n".join(s for s, _ in statement).strip("\n")
    first = statement[0][1] if statement else line
    converted = markdown.convert(text, first) if text.strip() else ""
    exercise.source = (exercise.source + "\n" + text).strip("\n")
    exercise.statement = (exercise.statement + "\n\n" + converted).strip("\n")
    heading = not any(role == "kept" and c.get("metadata", {}).get("cnnlab", {}).get("statement") == exercise.label
                      for role, c, _, _ in cells)
    if heading:
        converted = f"**Exercise {exercise.number}** ({exercise.label})" + (f"\n\n{converted}" if converted else "")
    if converted.strip():
        cell = nbformat.v4.new_markdown_cell(converted, metadata={"cnnlab": {"statement": exercise.label}})
        cells.append(("kept", cell, exercise.label, first))


def student_notebook(path: Path, name: str, version: str) -> nbformat.NotebookNode:
    """The student edition of notebook ``path`` (``name`` = ``<assignment>/<notebook>``)."""
    parts = parse(path)
    notebook = nbformat.v4.new_notebook()
    metadata = {k: v for k, v in parts.metadata.items() if k != "jupytext"}
    metadata["cnnlab"] = {"notebook": name, "edition": "student", "version": version}
    notebook.metadata.update(metadata)
    intro = nbformat.v4.new_markdown_cell(
        f"*Student edition (cnnlab {version}).* Write each answer in the empty cell after its exercise "
        f"(`{STUB}`). Where a cell `check(\"...\")` follows, run it: it says whether your answer is "
        "right, or what is wrong with a hint.", metadata={"cnnlab": {"intro": True}})
    placed = False
    for role, cell, _, _ in parts.cells:
        if role == "solution":
            continue
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        notebook.cells.append(cell)
        if not placed and cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            notebook.cells.append(intro)
            placed = True
    if not placed:
        notebook.cells.insert(0, intro)
    for i, cell in enumerate(notebook.cells):  # unique ids, the same in every build of the edition
        cell["id"] = f"cell-{i:03d}"
    return notebook


def solved(notebook: nbformat.NotebookNode, parts: Parts, answers: dict[str, str] | None = None):
    """A copy of a student notebook with each stub filled: ``answers[label]`` if given, else the
    book's solution code (its code cells joined)."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        label = cell.get("metadata", {}).get("cnnlab", {}).get("exercise")
        if cell.cell_type == "code" and label:
            code = (answers or {}).get(label)
            cell.source = code if code is not None else "\n\n".join(parts.exercise(label).solution_code)
    return notebook


def extract_code(path: Path) -> str:
    """Every code cell of a notebook as one ``py:percent`` script (magics commented out)."""
    notebook = jupytext.read(path)
    notebook.cells = [c for c in notebook.cells if c.cell_type == "code"]
    notebook.metadata = {"jupytext": {"notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}}
    return jupytext.writes(notebook, fmt="py:percent")
