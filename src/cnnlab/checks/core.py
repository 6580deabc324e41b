"""The machinery of the exercise checks: a registry of checks by exercise label, the ``check``
call a notebook makes, and the log the grader reads.

A check is a function registered with :func:`exercise` under the exercise's label. It receives
the notebook's namespace as a mapping, raises :class:`Wrong` with a hint when the answer is wrong
and returns a short sentence saying what it verified when it is right. :func:`check` finds the
function (``a1-...`` labels live in ``cnnlab.checks.a1``, and so on), makes sure the names the
exercise asked for exist, runs it, prints the outcome and, when ``$CNNLAB_CHECK_LOG`` names a file,
appends one JSON line per check to it (what ``tools/workbook.py grade`` counts).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import time
from dataclasses import dataclass
from typing import Callable, Mapping

LOG_ENV = "CNNLAB_CHECK_LOG"

PASS, FAIL = "✔", "✘"


class Wrong(Exception):
    """Raised by a check function: ``problem`` says what is wrong, ``hint`` how to find the fix."""

    def __init__(self, problem: str, hint: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


class CheckFailed(AssertionError):
    """An exercise's answer failed its check. In a notebook only the message is shown."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [str(self)]


@dataclass(frozen=True)
class Exercise:
    label: str
    needs: tuple[str, ...]
    run: Callable[[Mapping], str]
    points: int = 1


_REGISTRY: dict[str, Exercise] = {}


def exercise(label: str, *, needs: tuple[str, ...] | list[str] = (), points: int = 1):
    """Register the decorated function as the check of exercise ``label``.

    ``needs`` are the names the exercise tells the student to define; the function is called
    only when all exist, with the notebook's namespace.
    """

    def register(function: Callable[[Mapping], str]) -> Callable[[Mapping], str]:
        if label in _REGISTRY and _REGISTRY[label].run.__qualname__ != function.__qualname__:
            raise ValueError(f"two checks registered for exercise {label!r}")
        _REGISTRY[label] = Exercise(label, tuple(needs), function, points)
        return function

    return register


def find(label: str) -> Exercise:
    """The registered check of exercise ``label`` (importing its assignment's module)."""
    assignment = label.split("-", 1)[0]
    try:
        importlib.import_module(f"cnnlab.checks.{assignment}")
    except ModuleNotFoundError:
        pass
    if label not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"no check for exercise {label!r} (checks known so far: {known})")
    return _REGISTRY[label]


def _user_namespace(depth: int = 2) -> Mapping:
    """The namespace the student works in: IPython's user namespace, or the caller's globals."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython comes with every notebook
        shell = None
    if shell is not None:
        return shell.user_ns
    frame = inspect.currentframe()
    for _ in range(depth):
        frame = frame.f_back
    return frame.f_globals


def _log(label: str, passed: bool, message: str, points: int) -> None:
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps({"label": label, "passed": passed, "points": points, "message": message,
                              "time": time.time()}) + "\n")


def run(label: str, namespace: Mapping) -> tuple[bool, str, str]:
    """Run the check of ``label`` on ``namespace``: ``(passed, message, hint)``; never raises for a
    wrong answer."""
    item = find(label)
    missing = [name for name in item.needs if name not in namespace]
    if missing:
        names = ", ".join(f"`{name}`" for name in missing)
        return False, f"{names} not defined yet", "the exercise says what to define: write it in the cell above, run that cell, then this one"
    try:
        return True, item.run(namespace), ""
    except Wrong as wrong:
        return False, wrong.problem, wrong.hint
    except Exception as error:  # noqa: BLE001 - a broken answer must fail its check, not the checker
        return False, f"running your answer raised {type(error).__name__}: {error}", "run your cell on its own first and read the error"


class Verified(str):
    """What a passed check verified. A notebook does not display it as the cell's value (the
    check has printed it already), so the line shows once."""

    def _ipython_display_(self) -> None:
        pass


def check(label: str, namespace: Mapping | None = None) -> Verified:
    """Check the answer to exercise ``label``: print ``✔`` and what was verified (and return it),
    or raise :class:`CheckFailed` saying what is wrong, with a hint."""
    passed, message, hint = run(label, namespace if namespace is not None else _user_namespace())
    _log(label, passed, message, find(label).points)
    if passed:
        print(f"{PASS} {label}: {message}")
        return Verified(message)
    raise CheckFailed(f"{FAIL} {label}: {message}" + (f"\n  Hint: {hint}" if hint else ""))
