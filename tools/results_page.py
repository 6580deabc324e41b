"""Write the book's results page from the table of past figures and the full-profile records.

    python tools/results_page.py           write book/results.md
    python tools/results_page.py --check   exit 1 if book/results.md is not what this writes

Sources: ``src/cnnlab/past.yml`` (every reference figure of the past solutions, the glue keys of
this build's numbers, and the deliberate departures) and ``results/full/<assignment>/<notebook>.json``
(the figures a run under the ``full`` profile recorded, with its device and date). The page is
committed so that it can be read in the repository; a test keeps it in step with its sources.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
RECORDS = ROOT / "results" / "full"
PAGE = BOOK / "results.md"
sys.path.insert(0, str(ROOT / "src"))

from cnnlab import past  # noqa: E402

KEY = re.compile(r"\{(\w+):([^}]+)\}")

INTRO = """\
# Results at a glance

Every reference figure of the assignments, beside the number this build of the book computed and
the number a run under the `full` profile recorded.

* **past solution**: the figure a past solution of the assignment reported (full data; see the
  notebook for what exactly it measured);
* **this build**: the number the notebook computed when this site was built, pasted with
  myst-nb's `glue`; the profile it ran under is named above each table. Under `cpu` or `smoke` the
  notebooks train on subsets for fewer epochs and runs, so their numbers are expected to fall
  short of the references;
* **full profile**: the number recorded by a run of the notebook under `full`, the assignment as
  written (`python benchmarks/record_full.py <notebook>`), with the device and date of that run
  below the table, or "not yet measured".

A difference between columns is only worth reading when it is larger than the noise the
notebooks report beside their own numbers.
"""


def title(path: Path) -> str:
    """The first level-1 heading of a Markdown file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise ValueError(f"{path} has no level-1 heading")


def glued(notebook: str, template: str) -> str:
    """``{key:fmt}`` fields of ``template`` as cross-document glue references to ``notebook``."""
    return KEY.sub(lambda m: f"{{glue:text}}`{notebook}.md::{m.group(1)}:{m.group(2)}`", template)


def record(notebook: str) -> dict | None:
    path = RECORDS / f"{notebook}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def recorded(template: str, values: dict | None) -> str:
    """``template`` filled with a full-profile record's values, or "not yet measured"."""
    if values is None:
        return "not yet measured"
    try:
        return KEY.sub(lambda m: format(values[m.group(1)], m.group(2)), template)
    except KeyError as missing:
        return f"not recorded ({missing.args[0]})"


def duration(seconds: float) -> str:
    """``42 s`` under a minute, ``20 min`` above."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render() -> str:
    entries = past.table()
    parts = [INTRO]
    assignments: dict[str, list[str]] = {}
    for notebook in entries:
        assignments.setdefault(notebook.split("/")[0], []).append(notebook)
    for assignment, notebooks in assignments.items():
        parts.append(f"## {title(BOOK / assignment / 'index.md')}\n")
        profiles = ", ".join(
            f"{{glue:text}}`{nb}.md::profile:s` ({title(BOOK / f'{nb}.md')})" for nb in notebooks)
        parts.append(f"Profile of this build: {profiles}.\n")
        rows = ["| question | past solution | this build | full profile |", "| --- | --- | --- | --- |"]
        notes = []
        for notebook in notebooks:
            full = record(notebook)
            values = full.get("values") if full else None
            for item in past.figures(notebook):
                rows.append(f"| {cell(glued(notebook, item['question']))} | {cell(item.get('past', '—'))} | "
                            f"{cell(glued(notebook, item['build']))} | {cell(recorded(item['build'], values))} |")
            if full:
                notes.append(f"{title(BOOK / f'{notebook}.md')}: full profile recorded on {full['date']} "
                             f"on {full['device']} in {duration(full['duration_s'])} "
                             f"(TensorFlow {full.get('versions', {}).get('tensorflow', '?')}).")
        if len(rows) > 2:
            parts.append("\n".join(rows) + "\n")
        if notes:
            parts.append("\n".join(f"* {n}" for n in notes) + "\n")
    departures = [(nb, d) for nb in entries for d in past.departures(nb)]
    parts.append("## Deliberate departures\n")
    parts.append("Where the `full` profile is not exactly the assignment as written, or does not do what a "
                 "past solution did, the notebook says so; every such change is listed here with its "
                 "reason.\n")
    if departures:
        rows = ["| notebook | change | reason |", "| --- | --- | --- |"]
        rows += [f"| [{cell(title(BOOK / f'{nb}.md'))}]({nb}) | {cell(d['change'])} | {cell(d['reason'])} |"
                 for nb, d in departures]
        parts.append("\n".join(rows) + "\n")
    else:
        parts.append("None.\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run python tools/results_page.py")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
