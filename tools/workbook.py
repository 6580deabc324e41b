"""Maintenance commands for the book's notebooks.

    python tools/workbook.py colab-cell           rewrite every notebook's Colab set-up cell from
                                                  book/_config.yml and pyproject.toml
    python tools/workbook.py check                exit 1 if a Colab cell is stale
    python tools/workbook.py student [DIR]        write the student edition (default: student/):
                                                  every notebook without its solutions
    python tools/workbook.py grade SUBMISSION.ipynb [--notebook A/N] [--profile P] [--csv OUT]
                                                  execute a student's notebook and score its checks
    python tools/workbook.py extract-code DIR     every notebook's code cells as DIR/<a>/<n>.py
                                                  (for duplicates and linters)
    python tools/workbook.py check-tag TAG        exit 1 unless TAG is v<version of pyproject.toml>

Notebooks are read through Jupytext (cells), never as raw text. After editing a notebook's .md,
pair it again: jupytext --sync book/<assignment>/<notebook>.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import edition  # noqa: E402
from edition import STUB  # noqa: E402,F401

COLAB_TAG = "remove-cell"
COLAB_MARK = "# Set-up for Google Colab"
COLAB = "https://colab.research.google.com/github"
BOOK_REF_ENV = "CNNLAB_BOOK_REF"  # the git ref the site is built from (the launch buttons' branch)


def config(book: Path | None = None) -> dict:
    return yaml.safe_load(((book or BOOK) / "_config.yml").read_text(encoding="utf-8"))


def repository(book: Path | None = None) -> tuple[str, str]:
    """(url, branch) of the repository, from book/_config.yml."""
    repo = config(book)["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def version(root: Path | None = None) -> str:
    """cnnlab's version, from pyproject.toml (the one place it is kept)."""
    import tomllib

    return tomllib.loads(((root or ROOT) / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def release_tag(root: Path | None = None) -> str:
    """The git tag of this version's release, ``v<version>``: the book published from it installs
    cnnlab from it, so a notebook always gets the package it was written for."""
    return f"v{version(root)}"


def student_tag(root: Path | None = None) -> str:
    """The git tag that holds this version's student edition (``v<version>-student``)."""
    return f"{release_tag(root)}-student"


def colab_url(path: str, ref: str, book: Path | None = None) -> str:
    """The Colab address of ``path`` (a file in the repository at git ``ref``)."""
    url, _ = repository(book)
    owner_repo = url.removeprefix("https://github.com/").removesuffix(".git")
    return f"{COLAB}/{owner_repo}/blob/{ref}/{path}"


def student_colab_url(name: str, book: Path | None = None, root: Path | None = None) -> str:
    """Where Colab opens the student edition of notebook ``name`` (``<assignment>/<notebook>``):
    the edition is published at the tag :func:`student_tag`, one ``<name>.ipynb`` per notebook."""
    return colab_url(f"{name}.ipynb", student_tag(root), book)


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


def notebooks(book: Path | None = None) -> list[Path]:
    """Every MyST notebook source of the book (a .md with a Jupytext header)."""
    return sorted(p for p in (book or BOOK).glob("*/*.md") if "jupytext:" in p.read_text(encoding="utf-8")[:300])


def name_of(path: Path) -> str:
    """``<assignment>/<notebook>`` of a notebook source."""
    return f"{path.parent.name}/{path.stem}"


def notebook_name(submission: Path, book: Path | None = None) -> str | None:
    """Which book notebook a submission answers: from the metadata the student edition carries,
    else from its folder and file name (``.../<assignment>/<notebook>.ipynb``)."""
    import json

    book = book or BOOK
    try:
        name = json.loads(Path(submission).read_text(encoding="utf-8"))["metadata"]["cnnlab"]["notebook"]
        if (book / f"{name}.md").exists():
            return name
    except Exception:  # noqa: BLE001 - a broken submission is named by its path
        pass
    submission = Path(submission)
    name = f"{submission.parent.name}/{submission.stem}"
    return name if (book / f"{name}.md").exists() else None


def _colab_index(notebook) -> int:
    return next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")


def stale_colab_cells() -> list[Path]:
    """Notebooks whose first code cell is not the current Colab cell."""
    import jupytext

    stale = []
    for path in notebooks():
        notebook = jupytext.read(path)
        cell = notebook.cells[_colab_index(notebook)]
        if cell.source != colab_source() or COLAB_TAG not in cell.metadata.get("tags", []):
            stale.append(path)
    return stale


def write_colab_cells() -> None:
    """Rewrite the first code cell of every stale notebook (it must be the Colab cell already),
    then pair the notebook again."""
    import jupytext
    from jupytext.cli import jupytext as jupytext_cli

    for path in stale_colab_cells():
        notebook = jupytext.read(path)
        cell = notebook.cells[_colab_index(notebook)]
        if COLAB_MARK not in cell.source:
            raise SystemExit(f"{path}: the first code cell is not a Colab set-up cell ({COLAB_MARK!r})")
        cell.source = colab_source()
        cell.metadata["tags"] = [COLAB_TAG]
        jupytext.write(notebook, path, fmt="md:myst")
        jupytext_cli(["--sync", "--quiet", str(path)])
        print(f"updated {path.relative_to(ROOT)}")


# --- student edition ---------------------------------------------------------------------------


def write_student_edition(out: Path, book: Path | None = None) -> list[Path]:
    """Write ``out/<assignment>/<notebook>.ipynb`` for every notebook; return the paths."""
    import nbformat

    written = []
    for path in notebooks(book):
        notebook = edition.student_notebook(path, name_of(path), version())
        target = Path(out) / path.parent.name / f"{path.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(target))
        written.append(target)
    return written


def zip_edition(folder: Path, target: Path) -> Path:
    """A zip of a written edition (``<assignment>/<notebook>.ipynb`` under ``cnnlab-student/``),
    with fixed timestamps so the same edition gives the same bytes."""
    import zipfile

    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(f"cnnlab-student/{path.relative_to(folder).as_posix()}", (2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return target


def extract_code(out: Path, book: Path | None = None) -> list[Path]:
    """Write every notebook's code cells to ``out/<assignment>/<notebook>.py``."""
    written = []
    for path in notebooks(book):
        target = Path(out) / path.parent.name / f"{path.stem}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(edition.extract_code(path), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tools/workbook.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("colab-cell", help="rewrite the Colab set-up cells")
    commands.add_parser("check", help="exit 1 if a Colab cell is stale")
    student = commands.add_parser("student", help="write the student edition")
    student.add_argument("out", nargs="?", type=Path, default=ROOT / "student")
    student.add_argument("--zip", type=Path, help="also write a zip of the edition here")
    grade = commands.add_parser("grade", help="score a submitted student notebook")
    grade.add_argument("submission", type=Path)
    grade.add_argument("--notebook", help="<assignment>/<notebook> it answers (default: from the submission)")
    grade.add_argument("--profile", choices=["smoke", "cpu", "full"],
                       help="profile to run it under (default: $CNNLAB_PROFILE, else full with a GPU, cpu without)")
    grade.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    grade.add_argument("--csv", type=Path, help="write the per-exercise table here")
    extract = commands.add_parser("extract-code", help="write every notebook's code cells to .py files")
    extract.add_argument("out", type=Path)
    tag = commands.add_parser("check-tag", help="exit 1 unless TAG is the release tag of pyproject's version")
    tag.add_argument("tag")
    args = parser.parse_args(argv[1:])

    if args.command == "colab-cell":
        write_colab_cells()
        return 0
    if args.command == "check":
        stale = stale_colab_cells()
        for path in stale:
            print(f"stale Colab cell: {path.relative_to(ROOT)}")
        return 1 if stale else 0
    if args.command == "student":
        for path in write_student_edition(args.out):
            print(f"wrote {path}")
        if args.zip:
            print(f"wrote {zip_edition(args.out, args.zip)}")
        return 0
    if args.command == "grade":
        import grading

        if args.profile is None:
            from cnnlab.config import profile_name

            args.profile = profile_name()
        return grading.main(args, BOOK)
    if args.command == "extract-code":
        written = extract_code(args.out)
        print(f"wrote {len(written)} files under {args.out}")
        return 0
    if args.command == "check-tag":
        expected = release_tag()
        if args.tag != expected:
            print(f"tag {args.tag!r} does not match the version in pyproject.toml: expected {expected!r} "
                  "(bump the version there, run python tools/workbook.py colab-cell, commit, then tag)")
            return 1
        print(f"tag {args.tag} matches version {version()}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
