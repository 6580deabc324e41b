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


def definition(path: Path, name: str, profile: str = "cpu", **names):
    """The function ``name`` as the notebook defines it (a model builder written out in a solution,
    say), executed on its own with the notebook's settings ``S`` under ``profile``, Keras, its
    ``layers``, NumPy and cnnlab's ``data``; ``names`` supplies anything else it reads. Tests and
    benchmarks use the notebook's own network instead of a copy that could drift from it."""
    from types import SimpleNamespace

    import keras
    import numpy as np

    from cnnlab import data

    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code" or f"def {name}(" not in cell.source:
            continue
        tree = ast.parse(cell.source)
        node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
        S = SimpleNamespace(**{key: size.pick(profile) for key, size in settings(path).items()})
        namespace = {"keras": keras, "layers": keras.layers, "np": np, "data": data, "S": S, **names}
        exec(compile(ast.Module([node], []), f"{path.name}:{name}", "exec"), namespace)  # noqa: S102
        return namespace[name]
    raise LookupError(f"{path.name} defines no function {name}()")
