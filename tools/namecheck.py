"""Static check of a student edition: a kept cell must not read a name only a solution defines.

The student edition drops every solution. A cell it keeps (set-up, data, an experiment shared by
several exercises, a check) that reads a name which only solution code defines fails with a
``NameError`` in the student's notebook, unless the exercise told the student to define that
name: named in backticks in an exercise statement above the cell. A check cell reads the names
its check ``needs`` (``cnnlab.checks.find(label).needs``), and those must be named in the
statement of its own exercise.

Names are found with :mod:`ast` and :mod:`symtable` on each code cell (IPython syntax transformed
away first): a cell reads the free names of its statements that the cell has not assigned before,
including names read inside the functions and comprehensions it defines.
"""

from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass
from pathlib import Path

from edition import Parts, _python, check_labels, parse

BACKTICKS = re.compile(r"`([^`]+)`")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
TIMING = re.compile(r"^[ \t]*%{1,2}(?:time|timeit|prun|capture)\b(?:[ \t]+-\S+)*[ \t]*", re.M)


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    name: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: `{self.name}` {self.why}"


def _scope_reads(table: symtable.SymbolTable) -> set[str]:
    """Names a nested scope (function, lambda, comprehension, class) reads from the cell."""
    names = set()
    for symbol in table.get_symbols():
        if symbol.is_referenced() and symbol.is_global() and not symbol.is_local():
            names.add(symbol.get_name())
    for child in table.get_children():
        names |= _scope_reads(child)
    return names


def _statement_names(statement: ast.stmt) -> tuple[set[str], set[str]]:
    """(reads, writes) of one top-level statement."""
    source = ast.unparse(statement)
    table = symtable.symtable(source, "<cell>", "exec")
    reads, writes = set(), set()
    for symbol in table.get_symbols():
        name = symbol.get_name()
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace():
            writes.add(name)
        elif symbol.is_referenced():
            reads.add(name)
    for child in table.get_children():
        reads |= _scope_reads(child) - writes
    for node in ast.walk(statement):  # `x += 1` reads x before it writes it
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            reads.add(node.target.id)
    return reads, writes


def cell_names(source: str) -> tuple[set[str], set[str]]:
    """(names read from before the cell, names the cell defines) of a code cell."""
    source = TIMING.sub("", source)  # %time / %%timeit ...: the code they time is ordinary code
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return set(), set()
    reads, writes = set(), {"get_ipython"}
    for statement in tree.body:
        r, w = _statement_names(statement)
        reads |= r - writes
        writes |= w
    return reads, writes


def named(statement: str) -> set[str]:
    """Identifiers written in backticks in an exercise statement (`` `model` ``, `` `fit_one(x)` ``)."""
    return {name for span in BACKTICKS.findall(statement) for name in IDENTIFIER.findall(span)}


def needs(label: str) -> tuple[str, ...]:
    from cnnlab.checks import find

    return find(label).needs


def problems(path: Path, parts: Parts | None = None) -> list[Problem]:
    """Every name a kept cell reads that only solution code defines and that no exercise above
    tells the student to define; and every name a check needs that no kept cell above defines and
    neither its exercise nor one above names."""
    parts = parts or parse(path)
    found: list[Problem] = []
    kept_defines: set[str] = set()
    solution_defines: set[str] = set()
    told: set[str] = set()
    for role, cell, label, line in parts.cells:
        if role == "kept" and cell.cell_type == "markdown" and label:  # an exercise statement
            told |= named(parts.exercise(label).source)
            continue
        if cell.cell_type != "code":
            continue
        reads, writes = cell_names(cell.source)
        if role == "solution":
            solution_defines |= writes
            continue
        if role == "stub":
            continue
        for check in check_labels(cell.source):
            try:
                wanted = needs(check)
            except KeyError as error:
                found.append(Problem(path, line, check, f"has no registered check ({error.args[0]})"))
                continue
            statement = named(parts.exercise(check).source) if any(
                e.label == check for e in parts.exercises) else set()
            for name in wanted:  # what a kept cell above defines, or a statement above told, is known
                if name not in statement | kept_defines | told:
                    found.append(Problem(path, line, name, f"is needed by check({check!r}) but neither the "
                                                           f"statement of {check} nor one above names it in "
                                                           f"backticks, and no kept cell above defines it"))
            reads |= set(wanted)
        for name in sorted(reads):
            if name in solution_defines and name not in kept_defines and name not in told:
                found.append(Problem(path, line, name, "is read by a kept cell but only solution code "
                                                       "defines it, and no exercise above names it"))
        kept_defines |= writes
    return found
