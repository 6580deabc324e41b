"""Checks of the exercises of Assignment 4: a CIFAR-10 lab (labels ``a4-...``).

Each function is registered with :func:`~cnnlab.checks.core.exercise` under its exercise's label
and tested in ``tests/test_checks_a4.py`` on a right answer and on wrong ones. Sizes (images,
epochs, widths) are read from the notebook's settings ``S``, as the exercises state them; accuracy
thresholds depend on the profile and sit below what the book's own solutions reach.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from . import expect
from .core import Wrong, exercise

#: The given statistics of the lab (assignment text), on [0, 1] pixels.
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FIRST_CNN = ["Normalization", "Conv2D(32, 3×3, relu, valid)", "Conv2D(32, 3×3, relu, valid)", "MaxPooling2D(2×2)",
             "Conv2D(64, 3×3, relu, valid)", "Conv2D(64, 3×3, relu, valid)", "MaxPooling2D(2×2)", "Flatten",
             "Dense(512, relu)", "Dense(10, softmax)"]
PAST_IMPROVED = ["Normalization", "Conv2D(32, 3×3, linear, valid)", "BatchNormalization", "LeakyReLU(0.01)",
                 "Conv2D(64, 3×3, linear, valid)", "LeakyReLU(0.01)", "MaxPooling2D(2×2)", "SpatialDropout2D(0.05)",
                 "Conv2D(256, 3×3, linear, valid)", "BatchNormalization", "LeakyReLU(0.01)",
                 "Conv2D(128, 3×3, linear, valid)", "LeakyReLU(0.01)", "MaxPooling2D(2×2)", "SpatialDropout2D(0.05)",
                 "Flatten", "Dense(1024, linear)", "LeakyReLU(0.01)", "Dense(512, linear)", "LeakyReLU(0.01)",
                 "Dense(10, softmax)"]
#: Lowest validation or test accuracy a right answer reaches, per profile (smoke trains too little
#: to promise anything beyond running).
TRAINED = {"first": {"smoke": 0.0, "cpu": 0.45, "full": 0.65}, "dropout": {"smoke": 0.0, "cpu": 0.40, "full": 0.70},
           "past": {"smoke": 0.0, "cpu": 0.40, "full": 0.65}, "better": {"smoke": 0.0, "cpu": 0.55, "full": 0.78}}


def settings(ns):
    return expect.get(ns, "S", what="the settings object from config.setup")


def normalised_like_the_lab(layer, name: str) -> None:
    """``layer`` turns [0, 1] pixels into ``(x - MEAN) / STD`` channel by channel, with nothing to train."""
    pixels = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    try:
        out = np.asarray(layer(pixels))
    except Exception as error:  # noqa: BLE001 - anything that cannot normalise pixels is wrong
        raise Wrong(f"{name} cannot be applied to images of shape (N, H, W, 3): {error}",
                    "a keras.layers.Normalization(mean=..., variance=...) with the given statistics") from None
    expect.close(out, (pixels - np.array(MEAN)) / np.array(STD), atol=1e-4, what=f"{name} applied to pixels")
    if getattr(layer, "trainable_weights", None):
        raise Wrong(f"{name} has trainable weights", "the statistics are given: nothing to learn or adapt")


def history_of(ns, name: str, epochs: int):
    """``ns[name]`` is what ``fit`` returns, with validation, for ``epochs`` epochs."""
    logs = getattr(expect.get(ns, name), "history", None)
    if not isinstance(logs, dict) or "val_accuracy" not in logs:
        raise Wrong(f"`{name}` has no validation accuracy", "keep what model.fit(..., validation_data=(x_val, y_val)) "
                                                              "returns, with metrics=['accuracy']")
    expect.equal(len(logs["val_accuracy"]), epochs, f"the number of epochs in `{name}`",
                 "train for the number of epochs the exercise gives (S.<name>)")
    return logs


def sgd_like_the_lab(model, S, name: str) -> None:
    expect.compiled(model, optimizer="SGD", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    name=name, learning_rate=S.learning_rate, momentum=S.momentum)


@exercise("a4-images", needs=("x_train_raw", "y_train_raw", "x_test_raw", "names", "fig"))
def images(ns):
    x, y, x_test = np.asarray(ns["x_train_raw"]), np.asarray(ns["y_train_raw"]), np.asarray(ns["x_test_raw"])
    expect.equal(x.shape, (50_000, 32, 32, 3), "the shape of `x_train_raw`", "all training images, channels last")
    expect.equal(x_test.shape, (10_000, 32, 32, 3), "the shape of `x_test_raw`")
    expect.equal(y.shape, (50_000,), "the shape of `y_train_raw`", "flatten Keras's (N, 1) labels with .ravel()")
    expect.equal(list(ns["names"]), CLASSES, "`names`", "CIFAR-10's class names in label order")
    shown = [ax for ax in ns["fig"].axes if ax.images]
    if len(shown) < 4:
        raise Wrong(f"`fig` shows {len(shown)} images, expected 4", "one image per axes, e.g. plots.image_grid")
    for ax in shown[:4]:
        if ax.get_title() not in CLASSES:
            raise Wrong(f"an image of `fig` is titled {ax.get_title()!r}, not a class name",
                        "title each image with names[label]")
    return "50,000 training and 10,000 test images of 32×32×3, flat labels, 4 images titled with their classes"


@exercise("a4-normalise", needs=("normalize",))
def normalise(ns):
    normalised_like_the_lab(ns["normalize"], "`normalize`")
    return "`normalize` computes (x - mean) / std per channel with the given statistics, nothing to train"


@exercise("a4-stats", needs=("x_train_raw", "computed_mean", "computed_std"))
def stats(ns):
    pixels = np.asarray(ns["x_train_raw"]).reshape(-1, 3)
    expect.close(ns["computed_mean"], pixels.mean(axis=0, dtype=np.float64) / 255, atol=1e-5,
                 what="`computed_mean`")
    expect.close(ns["computed_std"], pixels.std(axis=0, dtype=np.float64) / 255, atol=1e-5, what="`computed_std`")
    return "per-channel mean and standard deviation over all training pixels, on the [0, 1] scale"


@exercise("a4-split", needs=("x_train_raw", "y_train_raw", "x_train", "y_train", "x_val", "y_val", "S"))
def split(ns):
    S = ns["S"]
    x, xv = np.asarray(ns["x_train"]), np.asarray(ns["x_val"])
    expect.equal((len(x), len(ns["y_train"])), (S.train_images,) * 2, "the sizes of `x_train` and `y_train`")
    expect.equal((len(xv), len(ns["y_val"])), (S.validation_images,) * 2, "the sizes of `x_val` and `y_val`")
    if x.dtype.kind != "f" or max(x.max(), xv.max()) > 1.0:
        raise Wrong("the pixels are not scaled to [0, 1]", "divide the uint8 pixels by 255 (data.scale_pixels)")
    raw = np.asarray(ns["x_train_raw"])
    if np.array_equal(raw[: len(xv)], (xv * 255).round().astype(raw.dtype)):
        raise Wrong("`x_val` is the first training images, not a random choice", "hold out a seeded permutation")
    def keys(images, labels):  # (image, label) pairs, counted: a multiset
        return Counter(zip(map(hash, map(bytes, images)), np.ravel(labels).tolist()))

    training = keys(raw, ns["y_train_raw"])
    parts = [keys((part * 255).round().astype(raw.dtype), labels)
             for part, labels in ((xv, ns["y_val"]), (x, ns["y_train"]))]
    images_of = Counter(image for image, _ in training.elements())
    for (image, label), count in (parts[0] + parts[1]).items():
        if image not in images_of:
            raise Wrong("`x_train` or `x_val` holds an image that is not a training image",
                        "split x_train_raw, not the test set")
        if (image, label) not in training:
            raise Wrong("a label of `y_train` or `y_val` does not belong to its image",
                        "index images and labels with the same rows")
        if count > training[(image, label)]:
            raise Wrong("an image appears twice across `x_train` and `x_val`", "each image goes to one part only")
    return f"{S.train_images:,} + {S.validation_images:,} images, every training image once, labels with their images"


@exercise("a4-first-cnn", needs=("model",))
def first_cnn(ns):
    model = ns["model"]
    expect.input_shape(model, (32, 32, 3))
    expect.same_layers(model, FIRST_CNN)
    normalised_like_the_lab(model.layers[0], "the first layer of `model`")
    flat = model.layers[FIRST_CNN.index("Flatten")].output.shape[-1]
    expect.equal(flat, 1_600, "the width of the flattened vector", "no padding: 32 → 30 → 28 → 14 → 12 → 10 → 5")
    expect.parameters(model, 890_410)
    return "normalisation, 4 valid 3×3 convolutions, 2 poolings, 1,600 features, 890,410 parameters"


@exercise("a4-train", needs=("model", "history", "log", "x_train", "S"))
def train(ns):
    S, model, log = ns["S"], ns["model"], ns["log"]
    expect.compiled(model, optimizer="SGD", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    momentum=S.momentum)
    logs = history_of(ns, "history", S.epochs)
    steps = int(np.ceil(len(ns["x_train"]) / S.batch_size))
    expect.equal(ns["history"].params.get("steps"), steps, "the steps per epoch", f"batches of {S.batch_size}")
    records = getattr(log, "steps", None)
    if records is None or getattr(log, "every", None) != S.log_every:
        raise Wrong(f"`log` does not record every {S.log_every} steps",
                    "log = recorders.TrainingLog(every=S.log_every), passed to fit(callbacks=[log])")
    expect.equal(len(records), steps * S.epochs // S.log_every, "the number of running records in `log`")
    expect.at_least(max(logs["val_accuracy"]), TRAINED["first"], "the best validation accuracy")
    return f"SGD with momentum {S.momentum:g}, {S.epochs} epochs of {steps} steps, a record every {S.log_every} steps"


@exercise("a4-curves", needs=("fig", "history"))
def curves(ns):
    logs = ns["history"].history
    panels = {ax.get_title().lower() + " " + ax.get_ylabel().lower(): ax for ax in ns["fig"].axes}
    for metric in ("loss", "accuracy"):
        ax = next((ax for label, ax in panels.items() if metric in label), None)
        if ax is None:
            raise Wrong(f"`fig` has no panel for the {metric}", "one panel per metric, titled or labelled with it")
        lines = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
        for key, what in ((f"val_{metric}", "validation"), (metric, "training (epoch mean)")):
            if not any(len(y) == len(logs[key]) and np.allclose(y, logs[key]) for y in lines):
                raise Wrong(f"the {metric} panel has no line of the {what} {metric} per epoch",
                            f"plot history.history[{key!r}] against the epoch")
    return "loss and accuracy panels with the training and the validation curves of `history`"


def dropout_layers(S, rate: float) -> list[str]:
    f = S.filters
    convs = [f"Conv2D({n}, 3×3, relu, valid)" for n in f]
    return (["Normalization"] + convs[:4] + ["MaxPooling2D(2×2)", convs[4], "MaxPooling2D(2×2)", f"Dropout({rate:g})",
            convs[5], "MaxPooling2D(2×2)", f"Dropout({rate:g})", "Flatten", f"Dense({S.dense_units}, relu)",
            "Dense(10, softmax)"])


@exercise("a4-dropout-rates", needs=("dropout_network", "trained", "histories", "S"))
def dropout_rates(ns):
    S = ns["S"]
    model = ns["dropout_network"](0.3)
    expect.same_layers(model, dropout_layers(S, 0.3), name="dropout_network(0.3)")
    sgd_like_the_lab(model, S, "dropout_network(0.3)")
    trained, histories = ns["trained"], ns["histories"]
    expect.equal(sorted(trained), sorted(S.rates), "the rates in `trained`", "one network per rate of S.rates")
    expect.equal(sorted(histories), sorted(S.rates), "the rates in `histories`")
    for rate in S.rates:
        have = [layer.rate for layer in trained[rate].layers if type(layer).__name__ == "Dropout"]
        if not np.allclose(have, [rate, rate]):
            raise Wrong(f"`trained[{rate}]` has dropout rates {have}", "build each network with its own rate")
        history_of({"h": histories[rate]}, "h", S.epochs)
    best = max(max(h.history["val_accuracy"]) for h in histories.values())
    expect.at_least(best, TRAINED["dropout"], "the best validation accuracy over the rates")
    return f"one architecture, rates {', '.join(f'{r:g}' for r in S.rates)}, SGD, {S.epochs} epochs each"


@exercise("a4-probabilities", needs=("best_rate", "test_accuracy", "picked", "probabilities", "trained", "histories",
                                     "x_val"))
def probabilities(ns):
    import pandas as pd

    histories = ns["histories"]
    chosen = max(histories, key=lambda rate: histories[rate].history["val_accuracy"][-1])
    expect.equal(ns["best_rate"], chosen, "`best_rate`", "the rate with the best validation accuracy (last epoch)")
    table = expect.get(ns, "probabilities", pd.DataFrame, "a pandas DataFrame")
    expect.equal(list(table.columns), CLASSES, "the columns of `probabilities`", "one column per class name")
    picked = np.asarray(ns["picked"])
    expect.equal(table.shape, (4, 10), "the shape of `probabilities`", "one row per picked image")
    predicted = ns["trained"][chosen].predict(np.asarray(ns["x_val"])[picked], verbose=0)
    expect.close(table.to_numpy(), predicted, atol=1e-4, what="`probabilities`")
    expect.at_least(float(ns["test_accuracy"]), TRAINED["dropout"], "`test_accuracy`")
    return f"p = {chosen:g} chosen on validation, its softmax probabilities of 4 validation images, test accuracy"


@exercise("a4-past-improved", needs=("past_network", "past_model", "past_history", "S"))
def past_improved(ns):
    S = ns["S"]
    model = ns["past_network"]()
    expect.input_shape(model, (32, 32, 3), name="past_network()")
    expect.same_layers(model, PAST_IMPROVED, name="past_network()")
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization" and (abs(layer.momentum - 0.9) > 1e-9
                                                              or abs(layer.epsilon - 1e-5) > 1e-12):
            raise Wrong(f"a batch normalisation has momentum {layer.momentum:g} and epsilon {layer.epsilon:g}",
                        "PyTorch's settings in Keras's convention: momentum=0.9, epsilon=1e-5")
    expect.parameters(model, 4_271_050, name="past_network()")
    sgd_like_the_lab(model, S, "past_network()")
    logs = history_of(ns, "past_history", S.epochs_past)
    expect.at_least(logs["val_accuracy"][-1], TRAINED["past"], "the past network's validation accuracy")
    return f"the past network (4,271,050 parameters), SGD, trained from scratch for {S.epochs_past} epochs"


@exercise("a4-better", needs=("trained", "histories", "chosen", "test_accuracy", "past_model"))
def better(ns):
    from ..config import profile_name

    trained, histories = ns["trained"], ns["histories"]
    if not any(model is ns["past_model"] for model in trained.values()):
        raise Wrong("`trained` does not hold the past network", "compare with it: add past_model to `trained`")
    if len(trained) < 2 or sorted(trained) != sorted(histories):
        raise Wrong("`trained` and `histories` need the same two or more candidates", "one entry per candidate")
    last = {name: h.history["val_accuracy"][-1] for name, h in histories.items()}
    expect.equal(ns["chosen"], max(last, key=last.get), "`chosen`", "the candidate with the best validation accuracy")
    if profile_name() != "smoke" and trained[ns["chosen"]] is ns["past_model"]:
        raise Wrong("no candidate beat the past network on validation", "train longer, augment or widen, and explain")
    expect.at_least(float(ns["test_accuracy"]), TRAINED["better"], "`test_accuracy`")
    return f"{len(trained)} candidates, {ns['chosen']} chosen on validation, tested once"


@exercise("a4-softmax", needs=("logits", "softmax", "sigmoid"))
def softmax(ns):
    import keras

    logits = np.asarray(ns["logits"], dtype="float32")
    expect.close(ns["softmax"], np.asarray(keras.activations.softmax(logits)), atol=1e-5, what="`softmax`")
    expect.close(ns["sigmoid"], np.asarray(keras.activations.sigmoid(logits)), atol=1e-5, what="`sigmoid`")
    return "softmax and independent sigmoids of the same logits; the softmax rows sum to 1"


@exercise("a4-momentum", needs=("descend",))
def momentum(ns):
    curvature, eta, beta = np.array([1.0, 50.0]), 0.035, 0.8
    plain, plain_steps = ns["descend"](0.0)
    heavy, heavy_steps = ns["descend"](beta)
    plain, heavy = np.asarray(plain, dtype=float), np.asarray(heavy, dtype=float)
    start = np.array([-10.0, 1.0])
    expect.close(plain[0], start, atol=1e-6, what="the first point of the path")
    expect.close(plain[1], start - eta * curvature * start, atol=1e-4, what="one plain SGD step from the start")
    second = heavy[1] - eta * curvature * heavy[1] + beta * (heavy[1] - heavy[0])  # w + v, v = βv - ηg
    expect.close(heavy[2], second, atol=1e-4, what="the second step with momentum 0.8")
    for path, steps in ((plain, plain_steps), (heavy, heavy_steps)):
        expect.equal(len(path) - 1, steps, "the number of steps", "count the steps the path took")
        f = 0.5 * (curvature * path**2).sum(axis=1)
        if not f[-1] <= f[0] * 1e-6 < f[-2]:
            raise Wrong("the path does not stop at the first point where f is below a millionth of f(start)",
                        "loop while f(w) > f(start) / 1e6")
    return f"Keras SGD on the quadratic: {plain_steps} steps without momentum, {heavy_steps} with 0.8"


@exercise("a4-conv1d", needs=("conv1d", "conv1d_accuracy"))
def conv1d(ns):
    model = ns["conv1d"]
    if not any(type(layer).__name__ == "Conv1D" for layer in model.layers):
        raise Wrong("`conv1d` has no Conv1D layer", "keras.layers.Conv1D slides its filters along the time axis")
    expect.equal(len(model.input_shape), 3, "the rank of `conv1d`'s input (batch, time steps, channels)")
    expect.at_least(float(ns["conv1d_accuracy"]), 0.8, "`conv1d_accuracy` on held-out signals")
    return "a Conv1D network that finds the spikes in held-out signals"


@exercise("a4-dropout-modes", needs=("modes",))
def dropout_modes(ns):
    modes = ns["modes"]
    for column in ("share set to 0 (training)", "survivors' value"):
        if column not in getattr(modes, "columns", []):
            raise Wrong(f"`modes` has no column {column!r}", "the exercise names the columns")
    for p, row in modes.iterrows():
        p = float(p)
        if abs(float(row["share set to 0 (training)"]) - p) > 0.02:
            raise Wrong(f"for p = {p:g} the share of zeros is {row['share set to 0 (training)']}",
                        "call the layer with training=True on many units and count the zeros")
        expect.close(float(row["survivors' value"]), 1 / (1 - p), atol=1e-4, what=f"the survivors' value for p = {p:g}")
    return "in training a share p of the units is zeroed and the rest scaled by 1/(1 - p)"
