"""Reading a notebook's source without running it: its settings table (the ``config.setup`` call)."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext

from cnnlab import config


def setup_call(path: Path) -> ast.Call | None:
    for cell in jupytext.read(path).cells:
        if cell.cell_type == "code" and "config.setup(" in cell.source:
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "setup":
                    return node
    return None


def settings(path: Path) -> dict[str, config.Size]:
    """The notebook's declared settings, every one as a :class:`config.Size` (constants assigned
    before the call in the same cell are known)."""
    call = setup_call(path)
    assert call is not None, f"{path.name}: no config.setup(...) call"
    cell = next(c.source for c in jupytext.read(path).cells if c.cell_type == "code" and "config.setup(" in c.source)
    namespace = {"config": config}
    for statement in ast.parse(cell).body:
        value = getattr(statement, "value", None)
        sized = isinstance(value, ast.Call) and getattr(value.func, "attr", "") == "by_profile"
        if (isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) for t in statement.targets)
                and (sized or not any(isinstance(n, ast.Call) for n in ast.walk(value)))):
            try:  # constants and config.by_profile(...) sizes named before the call
                value = eval(compile(ast.Expression(statement.value), path.name, "eval"), dict(namespace))  # noqa: S307
            except Exception:  # noqa: BLE001 - anything that needs the notebook's state is not a setting
                continue
            namespace.update({target.id: value for target in statement.targets})
    found = {}
    for keyword in call.keywords:
        if keyword.arg in (None, "seed", "profile", "show"):
            continue
        value = eval(compile(ast.Expression(keyword.value), path.name, "eval"), namespace)  # noqa: S307
        found[keyword.arg] = value if isinstance(value, config.Size) else config.Size(value, value, value)
    return found


def full_settings(path: Path) -> dict:
    """The value of every declared setting under the ``full`` profile, the assignment as written."""
    return {name: size.full for name, size in settings(path).items()}
