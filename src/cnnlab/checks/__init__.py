"""Automatic checks of the exercises: after each code exercise a notebook runs ``check("label")``.

A check reads the names the exercise asked the student to define (``model``, ``history``, a
function ...) from the notebook's namespace, tests them (a model's layers and compile settings,
a function against a library computation, an accuracy against a threshold that depends on the
profile) and prints ``✔ label: ...``; when something is wrong it raises :class:`CheckFailed`
with what is wrong and a hint. The book runs every check on its own solutions, the student
edition keeps the check cells, and ``tools/workbook.py grade`` scores a notebook by them.

``core`` holds the machinery, ``expect`` the reusable tests; ``a1`` ... ``a5`` define the checks
of each assignment's exercises with :func:`exercise`. Import only :func:`check` in a notebook.
"""

from .core import CheckFailed, Wrong, check, exercise, find

__all__ = ["CheckFailed", "Wrong", "check", "exercise", "find"]
