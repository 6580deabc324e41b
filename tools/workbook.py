"""Maintenance commands for the book's notebooks.

    python tools/workbook.py colab-cell      rewrite every notebook's Colab set-up cell from
                                             book/_config.yml (the one place the URL is kept)
    python tools/workbook.py check           exit 1 if a Colab cell is stale
    python tools/workbook.py student [DIR]   write the student edition (default: student/):
                                             every notebook without its solutions

After editing, pair the notebooks again: jupytext --sync book/*/*.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB_TAG = "remove-cell"
COLAB_MARK = "# Set-up for Google Colab"


def repository() -> tuple[str, str]:
    """(url, branch) of the repository, from book/_config.yml."""
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def version() -> str:
    """cnnlab's version, from pyproject.toml (the one place it is kept)."""
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def release_tag() -> str:
    """The git tag of this version's release, ``v<version>``: the book published from it installs
    cnnlab from it, so a notebook always gets the package it was written for."""
    return f"v{version()}"


def colab_source() -> str:
    """The code of the first cell of every notebook: installs cnnlab in Colab only."""
    url, _ = repository()
    return (
        f"{COLAB_MARK} (skipped elsewhere): install cnnlab {release_tag()}, the\n"
        "# release this notebook belongs to. Colab's own TensorFlow and Keras are kept.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    package = "cnnlab @ git+{url}@{release_tag()}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)'
    )


def notebooks() -> list[Path]:
    """Every MyST notebook source of the book (a .md with a Jupytext header)."""
    return sorted(p for p in BOOK.glob("*/*.md") if "jupytext:" in p.read_text()[:300])


CELL = re.compile(r"```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n\n" + re.escape(COLAB_MARK) + r".*?\n```",
                  re.S)


def colab_cell_block() -> str:
    return "```{code-cell} ipython3\n:tags: [remove-cell]\n\n" + colab_source() + "\n```"


def stale_colab_cells() -> list[Path]:
    """Notebooks whose first code cell is not the current Colab cell."""
    stale = []
    for path in notebooks():
        text = path.read_text()
        first = text.find("```{code-cell}")
        if first < 0 or not text[first:].startswith(colab_cell_block()):
            stale.append(path)
    return stale


def write_colab_cells() -> None:
    for path in notebooks():
        text = path.read_text()
        new, count = CELL.subn(colab_cell_block().replace("\\", "\\\\"), text, count=1)
        if count == 0:
            raise SystemExit(f"{path}: no Colab set-up cell found to rewrite")
        if new != text:
            path.write_text(new)
            print(f"updated {path.relative_to(ROOT)}")


# --- student edition ---------------------------------------------------------------------------

SOLUTION = re.compile(r"```\{solution-start\}[^\n]*\n.*?```\{solution-end\}\n```\n?", re.S)
EXERCISE = re.compile(r"```\{exercise-start\}[^\n]*\n:label: ([\w-]+)\n(?::[^\n]*\n)*```\n(.*?)```\{exercise-end\}\n```",
                      re.S)
STUB = "# your code here"


def _stub(match: re.Match) -> str:
    """A removed solution leaves a code cell to write the answer in, if it held code."""
    if "```{code-cell}" in match.group(0):
        return "```{code-cell} ipython3\n" + STUB + "\n```\n"
    return ""


def student_source(text: str) -> str:
    """The MyST source of a notebook with every solution removed and every exercise turned into
    plain Markdown (readable in Jupyter and Colab, which do not know the exercise directive)."""
    counter = iter(range(1, 1000))
    text = SOLUTION.sub(_stub, text)
    text = EXERCISE.sub(lambda m: f"**Exercise {next(counter)}** ({m.group(1)})\n\n{m.group(2).strip()}\n", text)
    return text


def write_student_edition(out: Path) -> list[Path]:
    """Write ``out/<assignment>/<notebook>.ipynb`` for every notebook; return the paths."""
    import jupytext

    written = []
    for path in notebooks():
        notebook = jupytext.reads(student_source(path.read_text()), fmt="md:myst")
        notebook.metadata.pop("jupytext", None)
        target = out / path.parent.name / f"{path.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(notebook, target, fmt="ipynb")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "colab-cell":
        write_colab_cells()
        return 0
    if command == "student":
        out = Path(argv[2]) if len(argv) > 2 else ROOT / "student"
        for path in write_student_edition(out):
            print(f"wrote {path}")
        return 0
    if command == "check":
        stale = stale_colab_cells()
        for path in stale:
            print(f"stale Colab cell: {path.relative_to(ROOT)}")
        return 1 if stale else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
