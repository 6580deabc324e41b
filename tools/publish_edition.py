"""Publish the student edition to a git tag, where Colab can open it.

    python tools/publish_edition.py [--repo .] [--remote origin] [--force]

Colab opens notebooks from GitHub only (``colab.research.google.com/github/<owner>/<repo>/blob/
<ref>/<path>``), so the edition the site links to must live at a git ref. This writes the edition
of every notebook (``<assignment>/<notebook>.ipynb``) and a README into a commit whose parent is
the release commit (``HEAD``), without touching the working tree or the index, and pushes it to
``refs/tags/v<version>-student`` of the remote. The Pages workflow runs it when it publishes a
release; ``tools/workbook.py`` builds the links (``student_colab_url``).

Publishing the same edition again does nothing. A tag that already holds a different edition is
refused (a released edition should not change under the students' feet) unless ``--force``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workbook  # noqa: E402

README = """\
# cnnlab {version}: student edition

Every notebook of the cnnlab workbook without its solutions. Each exercise is followed by an
empty code cell (`# your code here`) and, for code exercises, a cell `check("...")` that says
whether your answer is right. Open a notebook in Colab with

    https://colab.research.google.com/github/{owner_repo}/blob/{tag}/<assignment>/<notebook>.ipynb

or download the whole edition from the book's site (student-edition.zip).
"""


class PublishError(RuntimeError):
    pass


def git(repo: Path, *args: str, env: dict | None = None, check: bool = True, cwd: Path | None = None) -> str:
    """``git -C repo args`` (or, with ``cwd``, ``git args`` run there); its output."""
    command = ["git", *args] if cwd else ["git", "-C", str(repo), *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def edition_tree(repo: Path, book: Path | None = None) -> str:
    """Write the edition into ``repo``'s object store; return its tree's id."""
    url, _ = workbook.repository(book)
    owner_repo = url.removeprefix("https://github.com/")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "edition"
        workbook.write_student_edition(folder, book)
        (folder / "README.md").write_text(README.format(version=workbook.version(), owner_repo=owner_repo,
                                                        tag=workbook.student_tag()), encoding="utf-8")
        # a temporary index and the edition's folder as work tree: the repository's own working
        # tree and index are not touched
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_DIR": git(repo, "rev-parse", "--absolute-git-dir"),
               "GIT_WORK_TREE": str(folder)}
        git(repo, "add", "--all", ".", env=env, cwd=folder)
        return git(repo, "write-tree", env=env, cwd=folder)


def remote_tree(repo: Path, remote: str, tag: str) -> str | None:
    """The tree the remote's ``tag`` holds, or None if the remote has no such tag."""
    if not git(repo, "ls-remote", "--tags", remote, f"refs/tags/{tag}"):
        return None
    git(repo, "fetch", "--quiet", "--no-tags", remote, f"refs/tags/{tag}")
    return git(repo, "rev-parse", "FETCH_HEAD^{tree}")


def publish(repo: Path, remote: str = "origin", force: bool = False, book: Path | None = None) -> str:
    """Push the edition to ``refs/tags/v<version>-student`` of ``remote``; return what happened."""
    tag = workbook.student_tag()
    tree = edition_tree(repo, book)
    existing = remote_tree(repo, remote, tag)
    if existing == tree:
        return f"{tag} already holds this edition: nothing to do"
    if existing is not None and not force:
        raise PublishError(f"{remote} already has {tag} with a different edition: a released edition should "
                           f"not change; bump the version in pyproject.toml, or pass --force to replace it")
    version = workbook.version()
    commit = git(repo, "commit-tree", tree, "-p", "HEAD", "-m",
                 f"Student edition of cnnlab {version}\n\nEvery notebook without its solutions, written by "
                 f"tools/publish_edition.py from the release commit (the parent).")
    git(repo, "push", "--quiet", *(["--force"] if force else []), remote, f"{commit}:refs/tags/{tag}")
    return f"pushed {tag} ({commit[:12]}) to {remote}: {workbook.student_colab_url('<assignment>/<notebook>', book)}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=workbook.ROOT, help="the git repository (default: this one)")
    parser.add_argument("--remote", default="origin")
    parser.add_argument("--force", action="store_true", help="replace a tag that holds a different edition")
    args = parser.parse_args(argv)
    try:
        print(publish(args.repo, args.remote, args.force))
    except PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
