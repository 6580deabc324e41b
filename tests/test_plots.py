import numpy as np
import pandas as pd
import pytest

from cnnlab import plots, tidy


@pytest.fixture
def curves():
    rows = []
    for run in range(3):
        for epoch in (1, 2, 3):
            for split in ("train", "test"):
                rows.append((run, epoch, split, "accuracy", 0.5 + 0.1 * epoch + 0.01 * run))
                rows.append((run, epoch, split, "loss", 1.0 / epoch + 0.01 * run))
    return pd.DataFrame(rows, columns=tidy.COLUMNS)


def labelled(ax):
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_run_curves_draws_one_line_per_run(curves):
    fig = plots.run_curves(curves, "accuracy", "train")
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and labelled(ax) and ax.get_title()


def test_run_curves_explains_a_missing_split(curves):
    with pytest.raises(ValueError, match="validation"):
        plots.run_curves(curves, "accuracy", "validation")


def test_runs_grid_and_learning_curves(curves):
    fig = plots.runs_grid(curves, metrics=["accuracy", "loss"], splits=["train", "test"])
    assert len(fig.axes) == 4 and all(labelled(ax) for ax in fig.axes)
    fig = plots.learning_curves(curves)
    assert len(fig.axes) == 2 and all(labelled(ax) for ax in fig.axes)
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"train", "test"}


def test_sweep_uses_a_log2_axis():
    frame = pd.DataFrame({"width": [2, 2, 8, 8], "accuracy": [0.3, 0.4, 0.8, 0.9], "split": ["test"] * 4})
    fig = plots.sweep(frame, x="width", y="accuracy", log2=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and labelled(ax)


def test_image_grid_titles_and_shape_check():
    fig = plots.image_grid(np.zeros((10, 28, 28)), titles=[str(i) for i in range(10)])
    assert [ax.get_title() for ax in fig.axes] == [str(i) for i in range(10)]
    with pytest.raises(ValueError, match="titles"):
        plots.image_grid(np.zeros((3, 28, 28)), titles=["a"])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        plots.image_grid(np.zeros((28, 28)))


def test_confusion_matrix_counts_and_axes():
    """Each count sits in its cell: row = true class, column = predicted class (a transposed
    matrix has the same counts in other cells, so the test reads each annotation's position)."""
    fig = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    cells = {}
    for text in ax.texts:  # seaborn writes the count of cell (row, column) at (column + 0.5, row + 0.5)
        x, y = text.get_position()
        cells[(int(y), int(x))] = int(text.get_text())
    assert cells == {(0, 0): 1, (0, 1): 1, (0, 2): 0,
                     (1, 0): 0, (1, 1): 1, (1, 2): 0,
                     (2, 0): 1, (2, 1): 0, (2, 2): 2}
    assert ax.yaxis_inverted(), "the first true class is the top row"
