"""Checks of the exercises of Assignment 4: a CIFAR-10 lab (labels ``a4-...``).

Each function is registered with :func:`~cnnlab.checks.core.exercise` under its exercise's label
and tested in ``tests/test_checks_a4.py`` on a right answer and on wrong ones.
"""

from __future__ import annotations

from . import expect  # noqa: F401
from .core import Wrong, exercise  # noqa: F401
