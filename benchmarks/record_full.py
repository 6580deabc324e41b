"""Run a notebook under the ``full`` profile and record every value it glued.

    python benchmarks/record_full.py a2-mnist-convnet/replicate            # writes results/full/...
    python benchmarks/record_full.py a5-mixtures-factorization/mixture --profile smoke --out /tmp/rec

The notebook runs from its MyST source (read with Jupytext), in its own folder, in a fresh kernel
(nbclient), exactly as the book build runs it, with ``CNNLAB_PROFILE`` set (``full`` unless
``--profile`` says otherwise; ``CNNLAB_DATA`` is passed on). Every value it glued (myst-nb's glue
outputs carry ``metadata["scrapbook"]["name"]``) is read back from its ``text/plain`` form into a
number, string or list where possible, and written with the device, library versions, date,
duration and profile to ``results/<profile>/<assignment>/<notebook>.json``, the file
``tools/results_page.py`` puts on the results page. A notebook that fails writes nothing.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMPY_SCALAR = re.compile(r"^np\.\w+\((.*)\)$", re.S)


def value(text: str):
    """A glued value's ``text/plain`` form read back: numbers, strings, lists and tuples of them
    (NumPy scalars such as ``np.float64(0.98)`` included); anything else stays text."""
    text = text.strip()
    scalar = NUMPY_SCALAR.match(text)
    if scalar:
        text = scalar.group(1)
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(parsed, tuple):
        parsed = list(parsed)
    try:
        json.dumps(parsed, allow_nan=False)
    except (TypeError, ValueError):
        return text
    return parsed


def glued(notebook) -> dict:
    """Every glued key of an executed notebook with its value (the last one if glued twice)."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if not scrapbook or "name" not in scrapbook:
                continue
            text = output.get("data", {}).get(scrapbook.get("mime_prefix", "") + "text/plain")
            if text is not None:
                values[scrapbook["name"]] = value(text if isinstance(text, str) else "".join(text))
    return values


def device() -> str:
    """What TensorFlow runs on here, e.g. ``CPU (2 cores)`` or ``GPU (/physical_device:GPU:0)``."""
    from cnnlab.config import device_report

    report = device_report()
    found = re.match(r"Device: (.*?);", report)
    name = found.group(1) if found else report
    if name.startswith("CPU") and Path("/proc/cpuinfo").exists():
        model = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if model:
            name = f"{name[:-1]}, {model.group(1).strip()})" if name.endswith(")") else name
    return name


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "cnnlab"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def record(source: Path, profile: str, timeout: int) -> dict:
    """Execute ``source`` under ``profile``; the record (raises if a cell fails)."""
    import jupytext
    from nbclient import NotebookClient

    saved = dict(os.environ)
    os.environ["CNNLAB_PROFILE"] = profile  # the kernel inherits the environment
    if os.environ.get("CNNLAB_DATA"):
        os.environ["CNNLAB_DATA"] = str(Path(os.environ["CNNLAB_DATA"]).resolve())
    notebook = jupytext.read(source)
    start = time.perf_counter()
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(source.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    duration = time.perf_counter() - start
    return {"values": glued(notebook), "device": device(), "versions": versions(),
            "date": datetime.date.today().isoformat(), "duration_s": round(duration, 1), "profile": profile}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", help="<assignment>/<notebook>, e.g. a2-mnist-convnet/replicate")
    parser.add_argument("--profile", default="full", choices=["smoke", "cpu", "full"])
    parser.add_argument("--book", type=Path, default=ROOT / "book")
    parser.add_argument("--out", type=Path, help="folder of the records (default: results/<profile>)")
    parser.add_argument("--timeout", type=int, default=4 * 3600, help="seconds per cell")
    args = parser.parse_args(argv)
    name = args.notebook.removesuffix(".md").removeprefix("book/")
    source = args.book / f"{name}.md"
    if not source.exists():
        print(f"no notebook {source}", file=sys.stderr)
        return 2
    from nbclient.exceptions import CellExecutionError

    try:
        result = record(source, args.profile, args.timeout)
    except CellExecutionError as error:
        print(f"{name} failed under {args.profile}; nothing recorded:\n{error}", file=sys.stderr)
        return 1
    target = (args.out or ROOT / "results" / args.profile) / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {target} ({len(result['values'])} values, {result['duration_s'] / 60:.1f} min on {result['device']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
