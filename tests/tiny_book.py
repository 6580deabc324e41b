"""A tiny synthetic book for testing the tooling independently of the real notebooks.

:func:`make` writes ``<folder>/book/_config.yml``, one notebook ``t1-tiny/tiny.md`` with three
exercises (two code exercises with checks, one discussion) and ``<folder>/checks/tiny_checks.py``,
which registers the two checks (``t1-square``, 1 point; ``t1-widths``, 2 points). The notebook's
set-up cell imports ``tiny_checks``, so the kernel that runs it needs ``<folder>/checks`` on
``PYTHONPATH``; the test process imports it with :func:`register`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HEADER = """\
---
jupytext:
  formats: ipynb,md:myst
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
    jupytext_version: 1.19.6
kernelspec:
  display_name: Python 3 (ipykernel)
  language: python
  name: python3
---
"""

NOTEBOOK = HEADER + """
# A tiny notebook

```{code-cell} ipython3
:tags: [remove-cell]

# Set-up for Google Colab (skipped elsewhere)
import sys
```

Set-up: the checks, and a number every exercise may use.

```{code-cell} ipython3
import tiny_checks  # noqa: F401
from cnnlab.checks import check

BASE = 3
```

```{exercise-start}
:label: t1-square
```
Write a function `square(x)` that returns `x` times itself.

```{note}
Use {math}`x^2`, see {ref}`the set-up <setup>`.
```
```{exercise-end}
```

```{solution-start} t1-square
:class: dropdown
```

Multiply the number by itself; the square of `BASE` is {glue:text}`squared`.

```{code-cell} ipython3
def square(x):
    return x * x


glued = square(BASE)
```

```{solution-end}
```

```{code-cell} ipython3
check("t1-square")
```

```{exercise-start}
:label: t1-widths
```
Make a list `widths` of the three layer widths 32, 16 and 10, in order.
```{exercise-end}
```

```{solution-start} t1-widths
:class: dropdown
```

```{code-cell} ipython3
widths = [32, 16, 10]
```

```{solution-end}
```

```{code-cell} ipython3
check("t1-widths")
```

A shared cell the edition keeps: it reads `widths`, which the exercise told the student to define.

```{code-cell} ipython3
print("total width", sum(widths))
```

```{exercise-start}
:label: t1-why
```
Why are the widths decreasing?
```{exercise-end}
```

```{solution-start} t1-why
:class: dropdown
```
Each layer summarises the one before.
```{solution-end}
```
"""

CHECKS = '''\
"""Checks of the tiny synthetic notebook (tests only)."""

from cnnlab.checks import Wrong, exercise


@exercise("t1-square", needs=("square",))
def square(ns):
    for x in (0, 3, -2):
        if ns["square"](x) != x * x:
            raise Wrong(f"square({x}) is {ns['square'](x)}, expected {x * x}", "multiply x by itself")
    return "square is right on 0, 3 and -2"


@exercise("t1-widths", needs=("widths",), points=2)
def widths(ns):
    if list(ns["widths"]) != [32, 16, 10]:
        raise Wrong(f"`widths` is {ns['widths']}, expected [32, 16, 10]", "the widths in order")
    return "three widths, in order"
'''

LABELS = ["t1-square", "t1-widths"]
POINTS = {"t1-square": 1, "t1-widths": 2}


def make(folder: Path, notebook: str = NOTEBOOK) -> Path:
    """Write the tiny book under ``folder``; return the notebook's path."""
    book = folder / "book"
    (book / "t1-tiny").mkdir(parents=True, exist_ok=True)
    (book / "_config.yml").write_text("title: tiny\nrepository:\n  url: https://github.com/someone/tiny\n"
                                      "  branch: main\n")
    path = book / "t1-tiny" / "tiny.md"
    path.write_text(notebook)
    (folder / "checks").mkdir(exist_ok=True)
    (folder / "checks" / "tiny_checks.py").write_text(CHECKS)
    return path


def register(folder: Path) -> None:
    """Import the tiny checks in this process (as the kernel's set-up cell does in its own)."""
    sys.path.insert(0, str(folder / "checks"))
    if "tiny_checks" in sys.modules:
        importlib.reload(sys.modules["tiny_checks"])
    else:
        importlib.import_module("tiny_checks")
