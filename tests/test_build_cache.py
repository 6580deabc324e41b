"""The build's execution cache follows the code notebooks import (book/_ext/cnnlab_profile.py).

jupyter-cache keys on a notebook's own code, so after a change to a cnnlab function a rebuild
would show stale outputs. The extension puts a hash of the package (and the lock) in the cache
folder's name. A tiny synthetic book in a temporary folder, whose notebook prints what a function
of a small package returns, shows both sides: with the package hashed, changing the function makes
the rebuild execute the notebook again; without it (the old behaviour) the page keeps the stale
output.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_book import HEADER  # noqa: E402

NOTEBOOK = HEADER + """
# Uses a package

```{code-cell} ipython3
import tinypkg

print("value is", tinypkg.value())
```
"""


def make_book(folder: Path, hashed: list[str]) -> Path:
    book = folder / "book"
    book.mkdir(parents=True)
    (book / "_config.yml").write_text(
        "title: tiny\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n"
        "sphinx:\n  local_extensions:\n    cnnlab_profile: " + str(ROOT / "book" / "_ext") + "\n"
        "  config:\n    cnnlab_cache_inputs: [" + ", ".join(f'"{p}"' for p in hashed) + "]\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: uses\n")
    (book / "intro.md").write_text("# Intro\n\nA tiny book.\n")
    (book / "uses.md").write_text(NOTEBOOK)
    return book


def set_value(package: Path, value: int) -> None:
    package.mkdir(exist_ok=True)
    (package / "tinypkg.py").write_text(f"def value():\n    return {value}\n")


def build(book: Path, package: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(package), "CNNLAB_PROFILE": "smoke"}
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (book / "_build" / "html" / "uses.html").read_text()
    return re.search(r"value is (\d+)", html).group(1)


@pytest.mark.parametrize("hashed", [True, False], ids=["package hashed", "package not hashed"])
def test_a_changed_package_function_runs_the_notebook_again(tmp_path, hashed):
    package = tmp_path / "pkg"
    set_value(package, 1)
    book = make_book(tmp_path, [str(package)] if hashed else [])
    assert build(book, package) == "1"
    set_value(package, 2)
    if hashed:
        assert build(book, package) == "2", "the notebook did not run again after the package changed"
        caches = sorted(p.name for p in (book / "_build").glob(".jupyter_cache-smoke-*"))
        assert len(caches) == 2, caches
    else:
        assert build(book, package) == "1", "without the hash the cache shows the stale output"
