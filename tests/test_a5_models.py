import keras
import numpy as np
import pandas as pd
import pytest

from cnnlab import diagnostics, models, plots


def test_per_class_accuracy_from_labels_and_from_scores():
    names = ["a", "b", "c"]
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    acc = diagnostics.per_class_accuracy(y_true, y_pred, names)
    assert isinstance(acc, pd.Series) and list(acc.index) == names
    assert acc.tolist() == pytest.approx([0.5, 2 / 3, 0.0])
    scores = np.eye(3)[y_pred] + 0.1  # logits or probabilities: the arg-max is the prediction
    assert diagnostics.per_class_accuracy(y_true.reshape(-1, 1), scores, names).equals(acc)
    with pytest.raises(ValueError, match="6 labels but 5 predictions"):
        diagnostics.per_class_accuracy(y_true, y_pred[:5], names)


def test_per_class_accuracy_of_a_model_matches_evaluate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = rng.integers(0, 3, size=60)
    model = models.mlp(input_shape=(4,), hidden=(), classes=3, output_activation=None)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    logits = model.predict(x, verbose=0)
    acc = diagnostics.per_class_accuracy(y, logits, ["x", "y", "z"])
    overall = model.evaluate(x, y, verbose=0)[1]
    counts = np.bincount(y, minlength=3)
    assert np.dot(acc.to_numpy(), counts) / counts.sum() == pytest.approx(overall, abs=1e-6)


def test_per_class_plot_draws_grouped_bars():
    table = pd.DataFrame({"CNN": [0.5, 0.6, 0.7], "MLP": [0.4, 0.5, 0.3]}, index=["a", "b", "c"])
    fig = plots.per_class_accuracy(table, title="test")
    ax = fig.axes[0]
    assert len(ax.patches) >= 6 and ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "test"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"CNN", "MLP"}
    with pytest.raises(ValueError, match="one column per model"):
        plots.per_class_accuracy(pd.Series([0.1, 0.2]))


def test_sweep_curves_draws_every_value_and_the_final_errors():
    rows = [(i, split, k, (1.0 if split == "train" else 2.0) / k + 1 / i)
            for k in (2, 8) for split in ("train", "test") for i in (1, 2, 3)]
    frame = pd.DataFrame(rows, columns=["iteration", "split", "K", "mse"])
    fig = plots.sweep_curves(frame, by="K", log_base=2, ylabel="MSE", title="sweep")
    curves, finals = fig.axes
    assert len([line for line in curves.get_lines() if len(line.get_xdata()) == 3]) == 4  # 2 K x 2 splits
    assert curves.get_yscale() == "log" and finals.get_xscale() == "log"
    assert [t.get_text() for t in finals.get_xticklabels()] == ["2", "8"]
    # the right panel holds the last iteration's value of every split at every K
    drawn = {round(float(y), 6) for line in finals.get_lines() for y in line.get_ydata()}
    last = frame[frame.iteration == 3]
    assert {round(v, 6) for v in last.mse} <= drawn
    assert finals.get_title() == "Final MSE against K" and fig._suptitle.get_text() == "sweep"
