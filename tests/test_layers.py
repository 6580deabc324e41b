"""The package's shape: no import cycle between cnnlab modules (deferred imports inside functions
count too), and every module small enough to have one job."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cnnlab"
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "__init__"


def imports(path: Path, package: tuple[str, ...] = ()) -> set[str]:
    """The cnnlab modules a file imports anywhere in its body (relative or absolute imports);
    ``package`` is the file's subpackage inside cnnlab (``()`` for the top level)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
            elif node.module and node.module.split(".")[0] == "cnnlab":
                base = []
            else:
                continue
            module = (node.module or "").removeprefix("cnnlab").lstrip(".")
            prefix = ".".join(base + ([module] if module else []))
            if not module:
                found.update(".".join(filter(None, [prefix, a.name])) for a in node.names)
            else:
                found.add(prefix)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("cnnlab.") for a in node.names if a.name.startswith("cnnlab."))
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in files.items():
        package = path.relative_to(PACKAGE).parent.parts
        edges[name] = {m for m in imports(path, package) if m in files and m != name}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A list of modules that import each other in a circle, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"runs": {"stacked"}, "stacked": {"frames", "runs"}, "frames": set()}) == [
        "runs", "stacked", "runs"]
    assert find_cycle({"runs": {"stacked"}, "stacked": {"frames"}, "frames": set()}) is None


def test_the_import_reader_sees_deferred_imports(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from .training import COLUMNS\n    from . import stacked\n")
    assert imports(source) >= {"training", "stacked"}


def test_cnnlab_has_no_import_cycle():
    edges = graph()
    assert {"multirun", "stacked", "tidy", "handloop", "recorders"} <= set(edges)
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges))}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_module_is_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by job (at most {MAX_LINES})"


def test_the_package_docstring_names_every_module():
    """The layering in cnnlab's docstring is where a reader learns each module's job: a new module
    must be added there (checked: removing a name from it fails this test)."""
    import cnnlab

    documented = set(re.findall(r"``(\w+)``", cnnlab.__doc__))
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"} | {"checks"}
    assert not modules - documented, f"add to the docstring of cnnlab/__init__.py: {sorted(modules - documented)}"
