"""Assignment 4's helpers: CIFAR-10 statistics and split, the lab's models, the training log and
the probability panels."""

import keras
import numpy as np
import pandas as pd
import pytest

from cnnlab import data, models, plots, recorders


# --- data ------------------------------------------------------------------------------------------


def test_normalization_layer_uses_the_given_statistics():
    layer = data.cifar10_normalization()
    x = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    expected = (x - np.array(data.CIFAR10_MEAN)) / np.array(data.CIFAR10_STD)
    assert np.allclose(np.asarray(layer(x)), expected, atol=1e-5)
    assert not layer.trainable_weights


def test_lab_split_sizes_labels_and_reproducibility(data_folder):
    split = data.cifar10_lab_split()
    (x, y), (xv, yv), (xt, yt) = split["train"], split["validation"], split["test"]
    assert x.shape == (49_000, 32, 32, 3) and xv.shape == (1_000, 32, 32, 3) and xt.shape == (10_000, 32, 32, 3)
    assert y.shape == (49_000,) and yv.shape == (1_000,) and yt.shape == (10_000,)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    # training and validation parts together are exactly CIFAR-10's training images, each once
    assert np.bincount(np.concatenate([y, yv])).tolist() == [5_000] * 10
    (original, _), _ = data.load("cifar10")

    def keys(images):
        return sorted(image.tobytes() for image in images)

    parts = np.concatenate([x, xv]) * 255
    assert keys(parts.round().astype(np.uint8)) == keys(original)
    again = data.cifar10_lab_split(train_images=500, validation_images=100, test_images=200)
    once_more = data.cifar10_lab_split(train_images=500, validation_images=100, test_images=200)
    assert again["train"][0].shape == (500, 32, 32, 3) and again["validation"][1].shape == (100,)
    assert again["test"][0].shape == (200, 32, 32, 3)
    for part in again:
        assert np.array_equal(again[part][0], once_more[part][0]) and np.array_equal(again[part][1], once_more[part][1])
    other = data.cifar10_lab_split(validation_images=100, train_images=500, test_images=200, seed=1)
    assert not np.array_equal(other["validation"][1], again["validation"][1])


# --- models ----------------------------------------------------------------------------------------


# --- the training log ------------------------------------------------------------------------------




def compiled(learning_rate=0.1):
    keras.utils.set_random_seed(0)
    model = models.mlp(input_shape=(12,), hidden=[8], classes=3)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_training_log_records_every_n_steps_and_every_epoch(tiny, capsys):
    x, y = tiny
    log = recorders.TrainingLog(every=20)
    compiled().fit(x[:270], y[:270], batch_size=10, epochs=3, validation_data=(x[270:], y[270:]), verbose=0,
                   callbacks=[log])
    # 27 steps per epoch, 81 in all: records at steps 20, 40, 60 and 80
    assert log.steps.step.tolist() == [20, 40, 60, 80]
    assert np.allclose(log.steps.epoch, [20 / 27, 40 / 27, 60 / 27, 80 / 27])
    assert log.epochs.epoch.tolist() == [1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(log.epochs.columns)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("validation accuracy" in line for line in lines)
    tidy = log.frame()
    assert set(tidy.split) == {"train", "validation"} and len(tidy) == 3 * 2 * 2


def test_training_log_window_means_are_the_mean_of_the_batches(tiny):
    """With a learning rate of 0 the weights never move, so each batch's loss can be recomputed."""
    x, y = tiny
    model = compiled(learning_rate=0.0)
    log = recorders.TrainingLog(every=5, verbose=0)
    model.fit(x[:200], y[:200], batch_size=10, epochs=2, shuffle=False, verbose=0, callbacks=[log])
    losses = keras.losses.sparse_categorical_crossentropy(y[:200], model.predict(x[:200], verbose=0))
    per_batch = np.asarray(losses).reshape(20, 10).mean(axis=1)
    correct = (model.predict(x[:200], verbose=0).argmax(axis=1) == y[:200]).reshape(20, 10).mean(axis=1)
    expected_loss = np.tile(per_batch, 2).reshape(8, 5).mean(axis=1)  # 40 steps, a record every 5
    expected_accuracy = np.tile(correct, 2).reshape(8, 5).mean(axis=1)
    assert len(log.steps) == 8
    assert np.allclose(log.steps.loss, expected_loss, atol=1e-4)
    assert np.allclose(log.steps.accuracy, expected_accuracy, atol=1e-4)


def test_training_log_explains_a_missing_metric(tiny):
    x, y = tiny
    model = models.mlp(input_shape=(12,), hidden=[8], classes=3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="accuracy"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[recorders.TrainingLog(every=5, verbose=0)])
    with pytest.raises(ValueError, match="positive"):
        recorders.TrainingLog(every=0)


# --- the probability panels ------------------------------------------------------------------------


def test_probability_panels_have_labelled_bar_axes():
    names = data.CLASS_NAMES["cifar10"]
    probabilities = np.full((4, 10), 0.05)
    probabilities[np.arange(4), [3, 5, 0, 9]] = 0.55
    frame = pd.DataFrame(probabilities, columns=names)
    fig = plots.probability_panels(np.zeros((4, 32, 32, 3)), frame, names, labels=[3, 3, 0, 1], title="t")
    bars = fig.axes[1::2]
    assert len(fig.axes) == 8
    assert all(ax.get_xlabel() == "probability" and ax.get_ylabel() == "class" for ax in bars)
    assert [t.get_text() for t in bars[0].get_yticklabels()] == names
    assert [ax.get_title() for ax in bars] == ["predicted: cat (0.55)", "predicted: dog (0.55)",
                                               "predicted: airplane (0.55)", "predicted: truck (0.55)"]
    assert fig.axes[0].get_title() == "true: cat" and fig.axes[6].get_title() == "true: automobile"
    bold = [[t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"] for ax in bars]
    assert bold == [["cat"], ["cat"], ["airplane"], ["automobile"]]
    assert [round(p.get_width(), 2) for p in bars[1].patches] == list(probabilities[1].round(2))


def test_probability_panels_check_shapes():
    names = data.CLASS_NAMES["cifar10"]
    with pytest.raises(ValueError, match=r"\(N, classes\) = \(2, 10\)"):
        plots.probability_panels(np.zeros((2, 32, 32, 3)), np.zeros((2, 9)), names)
    with pytest.raises(ValueError, match="labels"):
        plots.probability_panels(np.zeros((2, 32, 32, 3)), np.zeros((2, 10)), names, labels=[1])


def test_training_log_plot_draws_running_epoch_and_validation_lines(tiny):
    x, y = tiny
    log = recorders.TrainingLog(every=5, verbose=0)
    compiled().fit(x[:200], y[:200], batch_size=10, epochs=2, validation_data=(x[200:], y[200:]), verbose=0,
                   callbacks=[log])
    fig = plots.training_log(log, title="t")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    for ax, metric in zip(fig.axes, ["loss", "accuracy"]):
        running, epoch_means, validation = ax.get_lines()
        assert list(running.get_ydata()) == list(log.steps[metric])  # 40 steps, a record every 5
        assert len(running.get_xdata()) == 8 and list(epoch_means.get_xdata()) == [1, 2]
        assert list(validation.get_ydata()) == list(log.epochs[f"val_{metric}"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][0] == "training, every 5 steps"
    without_validation = recorders.TrainingLog(every=5, verbose=0)
    compiled().fit(x[:50], y[:50], batch_size=10, epochs=1, verbose=0, callbacks=[without_validation])
    with pytest.raises(ValueError, match="validation_data"):
        plots.training_log(without_validation)
    with pytest.raises(ValueError, match="train first"):
        plots.training_log(recorders.TrainingLog(verbose=0))
