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
