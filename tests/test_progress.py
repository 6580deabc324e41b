"""The live progress line of long trainings: updated in place in a notebook (so the built book keeps
one final line), rewritten in a terminal, silent elsewhere; it never changes the numbers."""

import keras
import pandas as pd
import pytest

from cnnlab import models, multirun, progress


class FakeHandle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, data, raw=False):
        self.shown.append(data["text/plain"])


@pytest.fixture
def notebook(monkeypatch):
    """Pretend to run in a Jupyter kernel: record what the display shows."""
    shown = []

    def display(data, raw=False, display_id=False):
        shown.append(data["text/plain"])
        return FakeHandle(shown)

    monkeypatch.setattr(progress, "_kernel_display", lambda: display)
    return shown


def build():
    model = models.mlp(input_shape=(12,), hidden=[8], classes=3)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_stacked_training_updates_one_line_and_leaves_its_summary(tiny, notebook, capsys, monkeypatch):
    monkeypatch.setattr(progress.Progress, "update", _every_update(progress.Progress.update))
    live = multirun.repeated_runs(build, tiny, runs=3, epochs=2, batch_size=16, seed=4)
    out = capsys.readouterr().out
    assert notebook[0] == "3 runs stacked: starting"
    assert any("epoch 2/2, step" in line for line in notebook[1:-1])
    assert notebook[-1].startswith("(3 runs trained together in one graph: 2 epochs")
    assert "trained together" not in out and out.count("run ") == 3  # the per-run lines only
    quiet = multirun.repeated_runs(build, tiny, runs=3, epochs=2, batch_size=16, seed=4, verbose=False)
    pd.testing.assert_frame_equal(live, quiet)  # training in 20 calls per epoch changed no number


def test_sequential_runs_show_progress_too(tiny, notebook, capsys):
    multirun.repeated_runs(build, tiny, runs=2, epochs=1, method="sequential")
    assert notebook[0] == "run 1/2: starting" and notebook[-1].startswith("run 2/2: train accuracy")
    assert capsys.readouterr().out == ""


def test_a_terminal_gets_carriage_returns_and_a_pipe_gets_plain_lines(tiny, capsys, monkeypatch):
    monkeypatch.setattr(progress, "_kernel_display", lambda: None)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    multirun.repeated_runs(build, tiny, runs=2, epochs=1)
    assert "\r(2 runs trained together" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdout.isatty", lambda: False, raising=False)
    multirun.repeated_runs(build, tiny, runs=2, epochs=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "(2 runs trained together in one graph: 1 epochs" in out


def _every_update(update):
    """Progress.update without its half-second rate limit, so a short test sees updates."""

    def every(self, epoch, step):
        self._last = -1e9
        return update(self, epoch, step)

    return every


@pytest.mark.parametrize("method", ["stacked", "sequential"])
def test_the_full_profile_shows_progress_even_when_not_verbose(tiny, notebook, capsys, monkeypatch, method):
    monkeypatch.setenv("CNNLAB_PROFILE", "cpu")
    multirun.repeated_runs(build, tiny, runs=2, epochs=1, verbose=False, method=method)
    assert notebook == []  # a quiet call under cpu shows nothing
    monkeypatch.setenv("CNNLAB_PROFILE", "full")
    multirun.repeated_runs(build, tiny, runs=2, epochs=1, verbose=False, method=method)
    first = "2 runs stacked" if method == "stacked" else "run 1/2"
    assert notebook[0] == f"{first}: starting" and len(notebook) >= 2
    assert notebook[-1].startswith("(2 runs trained together" if method == "stacked" else "run 2/2: train accuracy")
    assert capsys.readouterr().out == ""  # the live line only: nothing printed
    shown = len(notebook)
    multirun.repeated_runs(build, tiny, runs=2, epochs=1, verbose=False, method=method, progress=False)
    assert len(notebook) == shown  # progress=False turns it off under full too
