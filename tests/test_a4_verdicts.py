"""cnnlab.verdicts (the words the A4 notebooks quote about their curves and predictions) and
tidy.summary."""

import numpy as np
import pandas as pd
import pytest

from cnnlab import tidy, verdicts


def curves(val, train, val_loss=None):
    epochs = np.arange(1, len(val) + 1)
    val_loss = val_loss if val_loss is not None else np.linspace(1.5, 1.0, len(val))
    return pd.DataFrame({"epoch": epochs, "loss": np.linspace(2.0, 0.5, len(val)), "accuracy": train,
                         "val_loss": val_loss, "val_accuracy": val})


def test_a_falling_validation_accuracy_is_overfitting():
    reading = verdicts.learning_curves(curves([0.50, 0.70, 0.72, 0.62], [0.45, 0.72, 0.85, 0.95]),
                                       n_train=20_000, n_validation=1_000)
    assert reading["stage"] == "overfitting" and reading["last_vs_best"] == "below"
    assert reading["best_epoch"] == 3 and reading["val_best"] == 0.72
    assert "fell from its best, 0.720 after epoch 3, to 0.620" in reading["verdict"]
    assert reading["gap_first"] == pytest.approx(-0.05) and reading["gap_last"] == pytest.approx(0.33)


def test_a_flat_validation_accuracy_with_a_rising_training_one_is_past_its_best():
    val_loss = [1.4, 1.0, 0.9, 1.1, 1.3]
    reading = verdicts.learning_curves(curves([0.50, 0.68, 0.71, 0.70, 0.705], [0.45, 0.70, 0.80, 0.88, 0.93],
                                              val_loss), n_train=20_000, n_validation=1_000)
    assert reading["stage"] == "past its best" and reading["last_vs_best"] == "within noise of"
    # 0.68 after epoch 2 is already within noise of the best (0.71): the plateau starts there
    assert reading["plateau_epoch"] == 2 and reading["verdict"].startswith("from epoch 2 on")
    assert reading["train_rise"] == pytest.approx(0.23) and reading["train_rise_words"] == "rose"
    assert reading["loss_words"] == "was lowest after epoch 3 and ended 0.400 above that minimum"


def test_a_validation_accuracy_still_at_its_best_is_still_learning():
    reading = verdicts.learning_curves(curves([0.30, 0.40, 0.50], [0.25, 0.38, 0.47]), n_train=2_000,
                                       n_validation=1_000)
    assert reading["stage"] == "still learning" and reading["best_epoch"] == 3
    assert reading["loss_words"] == "was lowest after the last epoch"
    assert reading["verdict"].startswith("the validation accuracy was highest after the last epoch, 0.500")
    flat = verdicts.learning_curves(curves([0.30, 0.50, 0.49], [0.25, 0.50, 0.505]), n_train=2_000,
                                    n_validation=1_000)
    assert flat["stage"] == "still learning" and "no clear sign of overfitting" in flat["verdict"]


def test_a_small_drop_on_few_validation_images_is_not_overfitting():
    # 0.72 -> 0.69 on 200 images is within noise (margin about 0.09); on 20,000 it would not be
    few = verdicts.learning_curves(curves([0.5, 0.72, 0.69], [0.5, 0.8, 0.9]), n_train=20_000, n_validation=200)
    many = verdicts.learning_curves(curves([0.5, 0.72, 0.69], [0.5, 0.8, 0.9]), n_train=20_000,
                                    n_validation=20_000)
    assert few["stage"] == "past its best" and many["stage"] == "overfitting"


def test_curves_without_validation_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="validation_data"):
        verdicts.learning_curves(curves([0.5], [0.5]).drop(columns="val_loss"), n_train=10, n_validation=10)


def test_a_prediction_in_words():
    p = pd.Series([0.05, 0.80, 0.15], index=["cat", "dog", "frog"])
    assert verdicts.prediction(p, "dog") == "0.80 for dog, right, with frog second at 0.15"
    assert verdicts.prediction(p, "cat") == "0.80 for dog, wrong (it is a cat), with frog second at 0.15"
    with pytest.raises(ValueError, match="not among the classes"):
        verdicts.prediction(p, "ship")


def test_confusions_count_both_directions_of_a_pair():
    names = ["cat", "dog", "frog", "ship"]
    y_true = [0, 0, 0, 1, 1, 2, 2, 3]
    y_pred = [1, 1, 0, 0, 1, 3, 2, 2]  # cat->dog twice, dog->cat once; frog->ship, ship->frog
    assert verdicts.confusions(y_true, y_pred, names, top=2) == "cat and dog (3), frog and ship (2)"
    assert verdicts.confusions([0, 1], [0, 1], names) == "no pair of classes (every prediction is right)"


def test_summary_gives_last_and_best_of_each_named_run():
    history = {"loss": [1.0, 0.8, 0.7], "accuracy": [0.5, 0.6, 0.7], "val_loss": [1.1, 0.9, 1.0],
               "val_accuracy": [0.45, 0.58, 0.55]}
    other = {key: [v + 0.1 for v in values] for key, values in history.items()}
    table = tidy.summary({"a": tidy.history_frame(history), "b": tidy.history_frame(other)})
    assert list(table.index) == ["a", "b"]
    assert table.loc["a"].to_dict() == pytest.approx({"train accuracy": 0.7, "validation accuracy": 0.55,
                                                      "best validation accuracy": 0.58, "best epoch": 2})
    assert table.loc["b", "validation accuracy"] == pytest.approx(0.65)
    two_runs = pd.concat([tidy.history_frame(history, run=0), tidy.history_frame(history, run=1)])
    with pytest.raises(ValueError, match="one run per name"):
        tidy.summary({"both": two_runs})
    with pytest.raises(ValueError, match="validation data"):
        tidy.summary({"a": tidy.history_frame({"accuracy": [0.5]})})
