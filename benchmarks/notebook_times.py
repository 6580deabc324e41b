"""Execute notebooks of the book under a profile and print seconds per notebook as a markdown table.

    python benchmarks/notebook_times.py --profile smoke            # every notebook
    python benchmarks/notebook_times.py --profile cpu book/a1-keras-basics/mnist-mlp.md

Notebooks run one after another in a fresh kernel each, in their own folder, from their MyST
source (read with Jupytext), exactly as the book build runs them. ``CNNLAB_DATA`` is passed on.
Use ``--save DIR`` to keep the executed notebooks (with outputs) for inspection.

Besides wall-clock seconds the table gives the CPU seconds the kernel used (user + system, all
threads). On a machine shared with other work the wall time grows but the CPU time barely does:
divided by the number of cores TensorFlow keeps busy (2 here) it estimates the wall time on an
idle machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from workbook import notebooks  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(path: Path, timeout: int, save: Path | None) -> tuple[float, float, str]:
    notebook = jupytext.read(path)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start, cpu = time.perf_counter(), children_cpu()
    status = "ok"
    try:
        client.execute()
    except CellExecutionError as error:
        status = "FAILED: " + str(error).strip().splitlines()[-1][:120]
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu  # the kernel has exited
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, save / f"{path.parent.name}--{path.stem}.ipynb")
    return seconds, cpu, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True, choices=["smoke", "cpu", "full"])
    parser.add_argument("--timeout", type=int, default=14400, help="seconds per cell")
    parser.add_argument("--save", type=Path, help="folder for the executed notebooks")
    parser.add_argument("paths", nargs="*", type=Path, help="notebook sources (default: all)")
    args = parser.parse_args()
    os.environ["CNNLAB_PROFILE"] = args.profile
    if os.environ.get("CNNLAB_DATA"):
        os.environ["CNNLAB_DATA"] = str(Path(os.environ["CNNLAB_DATA"]).resolve())
    paths = [p.resolve() for p in args.paths] or notebooks()
    print(f"profile {args.profile}, {os.cpu_count()} CPU cores\n", flush=True)
    print("| notebook | seconds | CPU seconds | status |\n| --- | ---: | ---: | --- |", flush=True)
    total, total_cpu, failed = 0.0, 0.0, 0
    for path in paths:
        seconds, cpu, status = run(path, args.timeout, args.save)
        total, total_cpu = total + seconds, total_cpu + cpu
        failed += status != "ok"
        print(f"| {path.parent.name}/{path.stem} | {seconds:.1f} | {cpu:.1f} | {status} |", flush=True)
    print(f"| **total** | **{total:.1f}** | **{total_cpu:.1f}** | {len(paths) - failed} of {len(paths)} ok |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
