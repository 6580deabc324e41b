"""Checks of the exercises of Assignment 3: designing and tuning a CNN (labels ``a3-...``).

Each function is registered with :func:`~cnnlab.checks.core.exercise` under its exercise's label
and tested in ``tests/test_checks_a3.py`` on a right answer and on wrong ones.
"""

from __future__ import annotations

from . import expect  # noqa: F401
from .core import Wrong, exercise  # noqa: F401
