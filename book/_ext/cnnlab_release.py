"""Sphinx extension: the release a site is built from, and the student edition that goes with it.

* The launch buttons (Colab, Binder) open a page's notebook at a git ref: the theme's
  ``repository_branch``. ``book/_config.yml`` names the development branch; a published site is
  built from its release tag, which the Pages workflow passes in ``$CNNLAB_BOOK_REF``, so the
  buttons open the notebook as it was released. (Set here rather than by editing _config.yml.)
* At build time the student edition (``tools/workbook.py``) is written next to the site:
  ``student/<assignment>/<notebook>.ipynb`` and ``student-edition.zip``. A student edition that
  cannot be made (a ``{glue:...}`` outside a solution, MyST Jupyter cannot show) fails the build
  with the notebook and line.
* Every notebook page gets, under its title, a link that opens its student version in Colab (from
  the tag ``v<version>-student``, which the Pages workflow publishes: Colab opens notebooks from
  GitHub only) and links to download it and the whole edition.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

import workbook  # noqa: E402

ZIP = "student-edition.zip"
FOLDER = "student"


def _book(app) -> Path:
    return Path(app.srcdir)


def _notebook_names(app) -> set[str]:
    return {workbook.name_of(path) for path in workbook.notebooks(_book(app))}


def _release_ref(app, config) -> None:
    ref = os.environ.get(workbook.BOOK_REF_ENV, "").strip()
    if ref:
        options = dict(config.html_theme_options or {})
        options["repository_branch"] = ref
        config.html_theme_options = options


def _write_edition(app) -> None:
    if app.builder.format != "html":
        return
    out = Path(app.outdir)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            written = workbook.write_student_edition(Path(tmp) / FOLDER, _book(app))
            for path in written:
                target = out / FOLDER / path.relative_to(Path(tmp) / FOLDER)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
            workbook.zip_edition(Path(tmp) / FOLDER, out / ZIP)
    except ValueError as error:  # EditionError names the notebook and line
        raise ExtensionError(f"student edition: {error}") from error


def student_links(docname: str, book: Path) -> nodes.Element:
    """The paragraph under a notebook page's title."""
    up = "../" * docname.count("/")
    paragraph = nodes.paragraph(classes=["cnnlab-student"])
    paragraph += nodes.strong(text="Student edition: ")
    paragraph += nodes.reference("", "open the student version in Colab",
                                 refuri=workbook.student_colab_url(docname, book), classes=["cnnlab-student-colab"])
    paragraph += nodes.Text(" (this notebook without its solutions, with a check after each exercise), or download ")
    paragraph += nodes.reference("", "this notebook", refuri=f"{up}{FOLDER}/{docname}.ipynb")
    paragraph += nodes.Text(" or ")
    paragraph += nodes.reference("", "all of them (zip)", refuri=f"{up}{ZIP}", classes=["cnnlab-student-zip"])
    paragraph += nodes.Text(".")
    return paragraph


def _add_links(app, doctree, docname) -> None:
    if docname not in _notebook_names(app):
        return
    section = doctree.next_node(nodes.section)
    if section is None:
        return
    position = 1 if section.children and isinstance(section.children[0], nodes.title) else 0
    section.insert(position, student_links(docname, _book(app)))


def setup(app):
    app.connect("config-inited", _release_ref)
    app.connect("builder-inited", _write_edition)
    app.connect("doctree-resolved", _add_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
