"""The reference figures of the past solutions, and the workbook's deliberate departures.

One table, ``past.yml`` beside this module, holds for every notebook the figures a past solution
of its assignment reported (with the glue keys of the number this build sets beside each) and
every deliberate departure from the assignment as written, with its reason. The notebooks read it
here; ``tools/workbook.py results`` writes the book's results page from it; the prose test allows
a typed number in a notebook only when it is one of that notebook's past figures (or glued).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


@cache
def table() -> dict:
    """Every notebook's entry: ``{notebook: {"figures": [...], "departures": [...]}}``."""
    import yaml

    text = resources.files("cnnlab").joinpath("past.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def entry(notebook: str) -> dict:
    """The entry of one notebook, named ``<assignment>/<notebook>`` (e.g. ``a2-mnist-convnet/replicate``)."""
    entries = table()
    if notebook not in entries:
        raise KeyError(f"no entry for {notebook!r} in cnnlab/past.yml; known: {', '.join(entries)}")
    return entries[notebook]


def figures(notebook: str) -> list[dict]:
    """The notebook's figures: dicts with ``question``, ``past``, ``build`` (and maybe ``value``)."""
    return list(entry(notebook).get("figures") or [])


def departures(notebook: str) -> list[dict]:
    """The notebook's deliberate departures: dicts with ``change`` and ``reason``."""
    return list(entry(notebook).get("departures") or [])


def parse_number(text: str) -> float:
    """A number as typed in prose: ``"1,500"``, ``"−1249.31"`` (Unicode minus), ``"9e-4"``."""
    return float(text.replace(",", "").replace("−", "-"))


def numbers(text: str) -> list[float]:
    """Every number typed in ``text``, in order (digits inside words, like ``Q5``, are skipped)."""
    return [parse_number(match) for match in NUMBER.findall(text)]


def figure(notebook: str, question: str) -> float:
    """The past figure of the entry whose question starts with ``question``, as a number: its
    ``value`` field if it has one, else the first number typed in ``past``."""
    matches = [f for f in figures(notebook) if f["question"].startswith(question)]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} figures of {notebook} have a question starting with {question!r}")
    found = matches[0]
    if "value" in found:
        return float(found["value"])
    typed = numbers(str(found.get("past", "")))
    if not typed:
        raise ValueError(f"{notebook}: the past figure of {question!r} is not a number: {found.get('past')!r}")
    return typed[0]


def typed_numbers(notebook: str) -> set[float]:
    """Every number of the notebook's past figures: a notebook may type these in its prose."""
    found = set()
    for item in figures(notebook):
        found.update(numbers(str(item.get("past", ""))))
        if "value" in item:
            found.add(float(item["value"]))
    return found


def curve(notebook: str, question: str) -> list[float]:
    """A per-epoch curve of a past solution: every number typed in the ``past`` text of the one
    figure whose question starts with ``question`` (``"0.13, 0.14, ..."``), in order."""
    matches = [f for f in figures(notebook) if f["question"].startswith(question)]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} figures of {notebook} have a question starting with {question!r}")
    return numbers(str(matches[0].get("past", "")))
