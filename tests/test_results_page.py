"""The table of past figures (cnnlab.past) and the results page written from it."""

import json
import sys
from pathlib import Path

import pytest

from cnnlab import past

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import results_page  # noqa: E402


def test_numbers_are_read_as_typed():
    assert past.numbers("≈ 0.87 after epoch 1, 1,500 steps, −1249.31, Q5 and 9e-4") == [
        0.87, 1.0, 1500.0, -1249.31, 9e-4]
    assert past.numbers("Conv2D, float64, β1, H2") == []


def test_every_entry_names_a_notebook_of_the_book_and_quotes_its_glue_keys():
    for notebook, entry in past.table().items():
        assert (ROOT / "book" / f"{notebook}.md").exists(), f"past.yml names a missing notebook {notebook}"
        for item in entry.get("figures") or []:
            assert {"question", "past", "build"} <= set(item), f"{notebook}: {item}"
            assert results_page.KEY.search(item["build"]), f"{notebook}: {item['build']!r} quotes no glue key"
        for item in entry.get("departures") or []:
            assert set(item) == {"change", "reason"}, f"{notebook}: a departure needs a change and a reason"


def test_figure_reads_the_value_or_the_first_typed_number():
    notebook = next(nb for nb in past.table() if any(past.numbers(f["past"]) for f in past.figures(nb)))
    item = next(f for f in past.figures(notebook) if past.numbers(f["past"]))
    assert past.figure(notebook, item["question"]) == item.get("value", past.numbers(item["past"])[0])
    with pytest.raises(KeyError, match="no entry"):
        past.figures("a9-nothing/here")


def test_results_page_is_written_from_its_sources():
    assert results_page.main(["--check"]) == 0, "run python tools/results_page.py"


def test_a_full_record_fills_its_column(tmp_path, monkeypatch):
    notebook = next(iter(past.table()))
    item = past.figures(notebook)[0]
    keys = results_page.KEY.findall(item["build"])
    values = {key: (0.5 if not fmt.endswith("s") else "x") for key, fmt in keys}
    record = {"values": values, "device": "GPU (Tesla T4)", "date": "2026-12-01", "duration_s": 600,
              "versions": {"tensorflow": "2.21.0"}}
    (tmp_path / notebook).parent.mkdir(parents=True)
    (tmp_path / f"{notebook}.json").write_text(json.dumps(record))
    monkeypatch.setattr(results_page, "RECORDS", tmp_path)
    page = results_page.render()
    assert "GPU (Tesla T4)" in page and "2026-12-01" in page
    assert results_page.recorded(item["build"], values) in page
    assert results_page.recorded(item["build"], None) == "not yet measured"


def test_a_past_curve_is_read_in_order():
    notebook = "a3-cnn-design/training-tuning"
    base = past.curve(notebook, "base model, validation accuracy after each epoch")
    assert len(base) == 20 and base[0] == 0.1322 and max(base) == past.figure(notebook, "base model, best")
    with pytest.raises(KeyError, match="0 figures"):
        past.curve(notebook, "no such question")


def test_a_record_duration_reads_in_seconds_or_minutes():
    assert results_page.duration(27.4) == "27 s"
    assert results_page.duration(1212) == "20 min"
