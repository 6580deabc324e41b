"""The checks of Assignment 4's exercises (cnnlab.checks.a4): each passes on a right answer, fails
on the untouched stub (names missing) and fails, with a message that says what is wrong, on a
realistic wrong answer."""

from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from cnnlab import data, plots
from cnnlab.checks import check
from checking import fails, smoke  # noqa: F401 - smoke is an autouse fixture

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
NAMES = data.CLASS_NAMES["cifar10"]



def history(val, train=None, steps=3, loss=None):
    """What ``fit`` returns, as far as the checks read it."""
    train = train if train is not None else [v - 0.05 for v in val]
    loss = loss if loss is not None else [2.0 - v for v in train]
    logs = {"loss": loss, "accuracy": train, "val_loss": [2.1 - v for v in val], "val_accuracy": val}
    return SimpleNamespace(history=logs, params={"steps": steps, "epochs": len(val)})


def normalization():
    return layers.Normalization(mean=MEAN, variance=np.square(STD))


def test_stubs_fail_by_naming_what_is_missing():
    for label in ["a4-images", "a4-normalise", "a4-stats", "a4-split", "a4-first-cnn", "a4-train", "a4-curves",
                  "a4-dropout-rates", "a4-probabilities", "a4-past-improved", "a4-better", "a4-softmax",
                  "a4-momentum", "a4-conv1d", "a4-dropout-modes"]:
        fails(label, {}, "not defined yet")


# --- data ------------------------------------------------------------------------------------------


def test_images():
    x = np.zeros((50_000, 32, 32, 3), np.uint8)  # never written: cheap
    y = np.arange(50_000) % 10
    right = {"x_train_raw": x, "y_train_raw": y, "x_test_raw": np.zeros((10_000, 32, 32, 3), np.uint8),
             "names": NAMES, "fig": plots.image_grid(x[:4], titles=[NAMES[c] for c in y[:4]], ncols=4)}
    assert "4 images titled" in check("a4-images", right)
    fails("a4-images", {**right, "y_train_raw": y.reshape(-1, 1)}, r"shape of `y_train_raw` is \(50000, 1\)")
    fails("a4-images", {**right, "fig": plots.image_grid(x[:4], titles=["0", "1", "2", "3"], ncols=4)},
          "not a class name")


def test_normalise():
    assert "nothing to train" in check("a4-normalise", {"normalize": normalization()})
    swapped = layers.Normalization(mean=MEAN, variance=STD)  # the std where the variance belongs
    fails("a4-normalise", {"normalize": swapped}, "`normalize` applied to pixels differs")
    adapted = layers.BatchNormalization()
    fails("a4-normalise", {"normalize": adapted}, "differs|trainable")


def test_stats():
    raw = np.random.default_rng(0).integers(0, 256, size=(50, 4, 4, 3), dtype=np.uint8)
    pixels = raw.reshape(-1, 3).astype(np.float64) / 255
    right = {"x_train_raw": raw, "computed_mean": pixels.mean(axis=0), "computed_std": pixels.std(axis=0)}
    assert "per-channel" in check("a4-stats", right)
    fails("a4-stats", {**right, "computed_mean": raw.reshape(-1, 3).mean(axis=0)}, "`computed_mean` differs")
    per_image = pixels.reshape(50, -1, 3).std(axis=1).mean(axis=0)  # mean of per-image deviations
    fails("a4-stats", {**right, "computed_std": per_image}, "`computed_std` differs")


def split_answer(seed=0):
    raw = np.random.default_rng(1).integers(0, 256, size=(100, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(100) % 10
    order = np.random.default_rng(seed).permutation(100)
    return {"x_train_raw": raw, "y_train_raw": labels, "S": SimpleNamespace(train_images=90, validation_images=10),
            "x_train": raw[order[10:]] / np.float32(255), "y_train": labels[order[10:]],
            "x_val": raw[order[:10]] / np.float32(255), "y_val": labels[order[:10]]}


def test_split():
    assert "every training image once" in check("a4-split", split_answer())
    right = split_answer()
    fails("a4-split", {**right, "y_val": np.roll(right["y_val"], 1)}, "does not belong to its image")
    first = {**right, "x_val": right["x_train_raw"][:10] / np.float32(255), "y_val": right["y_train_raw"][:10]}
    fails("a4-split", first, "first training images")
    overlap = {**right, "x_val": right["x_train"][:10], "y_val": right["y_train"][:10]}
    fails("a4-split", overlap, "appears twice")
    fails("a4-split", {**right, "x_train": right["x_train"] * 255}, r"not scaled to \[0, 1\]")


# --- the first CNN ---------------------------------------------------------------------------------


def first_cnn(padding="valid"):
    return keras.Sequential([
        keras.Input((32, 32, 3)), normalization(),
        layers.Conv2D(32, 3, activation="relu"), layers.Conv2D(32, 3, activation="relu", padding=padding),
        layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"), layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax")])


def test_first_cnn():
    assert "890,410 parameters" in check("a4-first-cnn", {"model": first_cnn()})
    fails("a4-first-cnn", {"model": first_cnn(padding="same")},
          r"layer 3 of `model` is Conv2D\(32, 3×3, relu, same\), expected Conv2D\(32, 3×3, relu, valid\)")
    without = keras.Sequential([keras.Input((32, 32, 3))] + first_cnn().layers[1:])
    fails("a4-first-cnn", {"model": without}, "layer 1 of `model` is Conv2D")


def trained_first_cnn(optimizer=None, every=200, val=0.6):
    model = first_cnn()
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    S = SimpleNamespace(momentum=0.9, epochs=2, batch_size=32, log_every=200)
    log = SimpleNamespace(every=every, steps=pd.DataFrame({"step": range(200, 1201, 200)}))  # 2 * 625 // 200
    return {"model": model, "history": history([0.3, val], steps=625), "log": log,
            "x_train": np.zeros((20_000, 1)), "S": S}


def test_train(monkeypatch):
    assert "a record every 200 steps" in check("a4-train", trained_first_cnn())
    fails("a4-train", trained_first_cnn(optimizer=keras.optimizers.Adam()), "uses the Adam optimizer, expected SGD")
    fails("a4-train", trained_first_cnn(optimizer=keras.optimizers.SGD(0.01)), "momentum = 0.0.*expected 0.9")
    fails("a4-train", trained_first_cnn(every=100), "does not record every 200 steps")
    wrong_batches = trained_first_cnn()
    wrong_batches["history"].params["steps"] = 157  # batches of 128
    fails("a4-train", wrong_batches, "the steps per epoch is 157, expected 625")
    monkeypatch.setenv("CNNLAB_PROFILE", "cpu")
    fails("a4-train", trained_first_cnn(val=0.3), "best validation accuracy is 0.3, expected at least 0.45")


def test_curves():
    logs = history([0.4, 0.5, 0.55]).history
    epochs = pd.DataFrame({"epoch": [1, 2, 3], **logs})
    log = SimpleNamespace(every=200, epochs=epochs, steps=pd.DataFrame(
        {"epoch": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0], "loss": np.linspace(2, 1, 6), "accuracy": np.linspace(0.2, 0.5, 6)}))
    right = {"fig": plots.training_log(log), "history": SimpleNamespace(history=logs)}
    assert "loss and accuracy panels" in check("a4-curves", right)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    for ax, metric in zip(axes, ["loss", "accuracy"]):
        ax.plot(logs[metric])  # training only
        ax.set_title(metric)
    fails("a4-curves", {**right, "fig": fig}, "the loss panel has no line of the validation loss")


# --- dropout ---------------------------------------------------------------------------------------

SMALL = SimpleNamespace(filters=(4, 4, 4, 4, 4, 4), dense_units=8, rates=[0.2, 0.5, 0.8], epochs=2,
                        learning_rate=0.01, momentum=0.9)


def dropout_network(rate, second_dropout=True, padding="valid"):
    f = SMALL.filters
    stack = [keras.Input((32, 32, 3)), normalization()]
    stack += [layers.Conv2D(n, 3, activation="relu", padding=padding if i == 3 else "valid")
              for i, n in enumerate(f[:4])]
    stack += [layers.MaxPooling2D(2), layers.Conv2D(f[4], 3, activation="relu"), layers.MaxPooling2D(2),
              layers.Dropout(rate), layers.Conv2D(f[5], 3, activation="relu"), layers.MaxPooling2D(2)]
    stack += [layers.Dropout(rate)] if second_dropout else []
    stack += [layers.Flatten(), layers.Dense(SMALL.dense_units, activation="relu"),
              layers.Dense(10, activation="softmax")]
    model = keras.Sequential(stack)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def rates_answer():
    keras.utils.set_random_seed(0)
    trained = {rate: dropout_network(rate) for rate in SMALL.rates}
    histories = {0.2: history([0.4, 0.55]), 0.5: history([0.4, 0.6]), 0.8: history([0.2, 0.3])}
    return {"dropout_network": dropout_network, "trained": trained, "histories": histories, "S": SMALL}


def test_dropout_rates(rates_answer, monkeypatch):
    assert "rates 0.2, 0.5, 0.8" in check("a4-dropout-rates", rates_answer)
    one = {**rates_answer, "dropout_network": lambda rate: dropout_network(rate, second_dropout=False)}
    fails("a4-dropout-rates", one, r"layer 12 of `dropout_network\(0.3\)` is Flatten, expected Dropout\(0.3\)")
    padded = {**rates_answer, "dropout_network": lambda rate: dropout_network(rate, padding="same")}
    fails("a4-dropout-rates", padded, "layer 5 .* is Conv2D\\(4, 3×3, relu, same\\)")
    mixed = {**rates_answer, "trained": {**rates_answer["trained"], 0.5: rates_answer["trained"][0.2]}}
    fails("a4-dropout-rates", mixed, r"`trained\[0.5\]` has dropout rates \[0.2, 0.2\]")
    monkeypatch.setenv("CNNLAB_PROFILE", "full")
    fails("a4-dropout-rates", rates_answer, "best validation accuracy over the rates is 0.6, expected at least 0.7")


def test_probabilities(rates_answer):
    x_val = np.random.default_rng(0).random((20, 32, 32, 3)).astype("float32")
    picked = np.array([3, 7, 11, 19])
    table = pd.DataFrame(rates_answer["trained"][0.5].predict(x_val[picked], verbose=0), columns=NAMES)
    right = {**rates_answer, "x_val": x_val, "picked": picked, "probabilities": table, "best_rate": 0.5,
             "test_accuracy": 0.5}
    assert "p = 0.5 chosen on validation" in check("a4-probabilities", right)
    fails("a4-probabilities", {**right, "best_rate": 0.2}, "`best_rate` is 0.2, expected 0.5")
    fails("a4-probabilities", {**right, "probabilities": table[NAMES[::-1]]}, "columns of `probabilities`")
    fails("a4-probabilities", {**right, "picked": picked[::-1]}, "`probabilities` differs")


# --- the improved model ----------------------------------------------------------------------------


def past_network(slope=0.01, epsilon=1e-5):
    def leaky():
        return layers.LeakyReLU(negative_slope=slope)

    model = keras.Sequential([
        keras.Input((32, 32, 3)), normalization(),
        layers.Conv2D(32, 3), layers.BatchNormalization(momentum=0.9, epsilon=epsilon), leaky(),
        layers.Conv2D(64, 3), leaky(), layers.MaxPooling2D(2), layers.SpatialDropout2D(0.05),
        layers.Conv2D(256, 3), layers.BatchNormalization(momentum=0.9, epsilon=epsilon), leaky(),
        layers.Conv2D(128, 3), leaky(), layers.MaxPooling2D(2), layers.SpatialDropout2D(0.05),
        layers.Flatten(), layers.Dense(1024), leaky(), layers.Dense(512), leaky(),
        layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_past_improved():
    S = SimpleNamespace(epochs_past=2, learning_rate=0.01, momentum=0.9)
    right = {"past_network": past_network, "past_model": None, "past_history": history([0.4, 0.5]), "S": S}
    assert "4,271,050 parameters" in check("a4-past-improved", right)
    fails("a4-past-improved", {**right, "past_network": lambda: past_network(slope=0.3)},
          r"is LeakyReLU\(0.3\), expected LeakyReLU\(0.01\)")
    fails("a4-past-improved", {**right, "past_network": lambda: past_network(epsilon=1e-3)},
          "(?s)epsilon 0.001.*epsilon=1e-5")
    fails("a4-past-improved", {**right, "past_history": history([0.4])}, "number of epochs in `past_history` is 1")


def test_better(monkeypatch):
    past, better = object(), object()
    right = {"trained": {"past": past, "vgg": better}, "past_model": past, "chosen": "vgg", "test_accuracy": 0.8,
             "histories": {"past": history([0.5, 0.6]), "vgg": history([0.5, 0.7])}}
    assert "vgg chosen on validation" in check("a4-better", right)
    fails("a4-better", {**right, "chosen": "past"}, "`chosen` is 'past', expected 'vgg'")
    fails("a4-better", {**right, "trained": {"vgg": better, "other": object()}}, "does not hold the past network")
    losing = {**right, "chosen": "past", "histories": {"past": history([0.7]), "vgg": history([0.6])}}
    assert "past chosen" in check("a4-better", losing)  # under smoke a short run may not beat it
    monkeypatch.setenv("CNNLAB_PROFILE", "cpu")
    fails("a4-better", losing, "no candidate beat the past network")
    fails("a4-better", {**right, "test_accuracy": 0.4}, "`test_accuracy` is 0.4, expected at least 0.55")


# --- the questions ---------------------------------------------------------------------------------


def test_softmax():
    logits = np.random.default_rng(0).normal(0, 2, size=(4, 5)).astype("float32")
    right = {"logits": logits, "softmax": np.asarray(keras.activations.softmax(logits)),
             "sigmoid": 1 / (1 + np.exp(-logits))}
    assert "sum to 1" in check("a4-softmax", right)
    by_column = np.exp(logits) / np.exp(logits).sum(axis=0)  # normalised over examples, not classes
    fails("a4-softmax", {**right, "softmax": by_column}, "`softmax` differs")


def descend(momentum, learning_rate=0.035, start=(-10.0, 1.0), max_steps=1_000, off_by_one=False):
    curvature = np.array([1.0, 50.0], dtype="float32")

    def f(w):
        return 0.5 * float(np.sum(curvature * w**2))

    w = keras.Variable(np.array(start, dtype="float32"))
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    path = [np.array(start, dtype="float32")]
    while f(path[-1]) > f(path[0]) * 1e-6 and len(path) <= max_steps:
        optimizer.apply_gradients([(w * curvature, w)])
        path.append(np.asarray(w).copy())
    return np.array(path), len(path) - (0 if off_by_one else 1)


def test_momentum():
    assert "without momentum" in check("a4-momentum", {"descend": descend})
    fails("a4-momentum", {"descend": lambda m: descend(m, off_by_one=True)}, "the number of steps is")
    fails("a4-momentum", {"descend": lambda m: descend(0.0)}, "the second step with momentum 0.8 differs")
    fails("a4-momentum", {"descend": lambda m: descend(m, learning_rate=0.02)}, "one plain SGD step")


def test_conv1d(monkeypatch):
    model = keras.Sequential([keras.Input((50, 1)), layers.Conv1D(4, 5, activation="relu"),
                              layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])
    assert "Conv1D network" in check("a4-conv1d", {"conv1d": model, "conv1d_accuracy": 0.97})
    dense = keras.Sequential([keras.Input((50,)), layers.Dense(1, activation="sigmoid")])
    fails("a4-conv1d", {"conv1d": dense, "conv1d_accuracy": 0.97}, "has no Conv1D layer")
    fails("a4-conv1d", {"conv1d": model, "conv1d_accuracy": 0.52}, "is 0.52, expected at least 0.8")


def test_dropout_modes():
    rows = {p: {"share set to 0 (training)": p + 0.003, "survivors' value": 1 / (1 - p)} for p in (0.2, 0.5, 0.8)}
    right = pd.DataFrame(rows).T
    assert "scaled by 1/(1 - p)" in check("a4-dropout-modes", {"modes": right})
    classic = right.assign(**{"survivors' value": 1.0})  # no scaling in training
    fails("a4-dropout-modes", {"modes": classic}, "survivors' value for p = 0.2 differs")
    kept = right.assign(**{"share set to 0 (training)": [0.8, 0.5, 0.2]})  # the keep share
    fails("a4-dropout-modes", {"modes": kept}, "for p = 0.2 the share of zeros is 0.8")
