"""What cnnlab declares: every import of the package and of the notebooks (which a student runs
after installing cnnlab) is a declared dependency, and the Python version it claims is the one CI
runs."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import jupytext
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cnnlab"
BOOK = ROOT / "book"

# Imported but deliberately not declared, with the reason.
NOT_DECLARED = {
    "tensorflow": "Colab ships it; installing cnnlab there must not replace it (requirements.txt has it)",
    "keras": "as tensorflow",
    "IPython": "imported only inside a running Jupyter kernel, which always has it",
}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def optional(node: ast.AST, parents: dict) -> bool:
    """An import inside ``try: ... except ImportError`` (the package works without it)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            return True
    return False


def sources() -> dict[str, str]:
    """Python source of every module of cnnlab and of every notebook's code cells (shell and
    magic lines dropped), by path relative to the repository."""
    found = {str(path.relative_to(ROOT)): path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}
    for path in sorted(BOOK.rglob("*.md")):
        notebook = jupytext.read(path)
        if "kernelspec" not in notebook.metadata:
            continue  # a page, not a notebook
        lines = [line for cell in notebook.cells if cell.cell_type == "code"
                 for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        found[str(path.relative_to(ROOT))] = "\n".join(lines)
    return found


def third_party_imports() -> dict[str, str]:
    """Top-level module of every required absolute import in cnnlab and the notebooks -> the
    first file that imports it."""
    found = {}
    for where, text in sources().items():
        tree = ast.parse(text)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("cnnlab", "__future__") or optional(node, parents):
                    continue
                found.setdefault(top, where)
    return found


def test_every_import_of_cnnlab_is_a_declared_dependency():
    declared = {canonicalize_name(Requirement(r).name) for r in pyproject()["project"]["dependencies"]}
    distributions = packages_distributions()
    missing = []
    for module, where in third_party_imports().items():
        if module in NOT_DECLARED:
            continue
        names = {canonicalize_name(d) for d in distributions.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} (imported in {where}; distribution {', '.join(sorted(names))})")
    assert not missing, "add to [project] dependencies in pyproject.toml: " + "; ".join(missing)


def test_the_import_scan_sees_what_it_should():
    imports = third_party_imports()
    assert {"numpy", "pandas", "keras", "threadpoolctl", "yaml", "sklearn"} <= set(imports)
    assert "myst_nb" not in imports, "report.py imports myst_nb only if it is there"


def test_claimed_python_is_the_one_ci_runs():
    """pyproject's requires-python starts at the version CI (and the Pages workflow) runs, and the
    README names it."""
    claimed = SpecifierSet(pyproject()["project"]["requires-python"])
    lowest = re.search(r">=\s*(3\.\d+)", str(claimed)).group(1)
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    versions = {str(step["with"]["python-version"]) for job in workflow["jobs"].values()
                for step in job.get("steps", []) if "setup-python" in step.get("uses", "")}
    assert versions == {lowest}, f"the workflow runs Python {versions}, pyproject claims {claimed}"
    assert f"Python {lowest}" in (ROOT / "README.md").read_text()
    assert f"python-version {lowest}" in (ROOT / "requirements.lock").read_text()
