"""The full-profile record (benchmarks/record_full.py), on a tiny synthetic notebook under smoke."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import record_full  # noqa: E402
import results_page  # noqa: E402
from tiny_book import HEADER  # noqa: E402

NOTEBOOK = HEADER + """
# Glues things

```{code-cell} ipython3
import os

import numpy as np
import pandas as pd

from cnnlab import glue

glue("accuracy", np.float64(0.98125))
glue("runs", 3)
glue("verdict", "beyond")
glue("per_run", [0.5, 0.25])
glue("shown", 7, display=True)
glue("profile_seen", os.environ["CNNLAB_PROFILE"])
glue("table", pd.DataFrame({"a": [1, 2]}))
```
"""


def make(folder: Path, text: str = NOTEBOOK) -> Path:
    (folder / "book" / "t1-tiny").mkdir(parents=True)
    (folder / "book" / "t1-tiny" / "glues.md").write_text(text)
    return folder / "book"


def test_values_are_read_back_from_their_text():
    assert record_full.value("np.float64(0.98)") == 0.98
    assert record_full.value("3") == 3 and record_full.value("'beyond'") == "beyond"
    assert record_full.value("(1, 2.5)") == [1, 2.5]
    assert record_full.value("   a  b\\n0  1") == "a  b\\n0  1"
    assert record_full.value("nan") == "nan"


def test_a_notebook_is_recorded_with_its_glued_values(tmp_path):
    book = make(tmp_path)
    out = tmp_path / "records"
    assert record_full.main(["t1-tiny/glues", "--profile", "smoke", "--book", str(book), "--out", str(out)]) == 0
    record = json.loads((out / "t1-tiny" / "glues.json").read_text())
    values = record["values"]
    assert values["accuracy"] == 0.98125 and values["runs"] == 3 and values["verdict"] == "beyond"
    assert values["per_run"] == [0.5, 0.25] and values["shown"] == 7
    assert values["profile_seen"] == "smoke" and record["profile"] == "smoke"
    assert isinstance(values["table"], str) and "a" in values["table"]
    assert record["device"].startswith(("CPU", "GPU")) and record["duration_s"] > 0
    assert set(record["versions"]) == {"python", "tensorflow", "keras", "cnnlab"}
    assert len(record["date"]) == 10
    # the results page fills its full-profile column from such a record
    assert results_page.recorded("{accuracy:.3f} over {runs:d} runs", values) == "0.981 over 3 runs"


def test_a_failing_notebook_records_nothing(tmp_path, capsys):
    book = make(tmp_path, NOTEBOOK.replace('glue("runs", 3)', "1 / 0"))
    out = tmp_path / "records"
    assert record_full.main(["t1-tiny/glues", "--profile", "smoke", "--book", str(book), "--out", str(out)]) == 1
    assert not out.exists() and "ZeroDivisionError" in capsys.readouterr().err
