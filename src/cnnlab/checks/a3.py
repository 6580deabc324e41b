"""Checks of the exercises of Assignment 3: designing and tuning a CNN (labels ``a3-...``).

Each function is registered with :func:`~cnnlab.checks.core.exercise` under its exercise's label
and tested in ``tests/test_checks_a3.py`` on a right answer and on wrong ones. Hand-written layers
and training steps are compared with Keras computing the same thing (``keras.layers.Conv2D``,
``keras.layers.Dense``, ``keras.losses``, an independent ``tf.GradientTape``), never with cnnlab's
own versions; trained models are checked by what they are and by re-evaluating them, never by
training inside a check.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from . import expect
from .core import Wrong, exercise

BASE_LAYERS = ["Conv2D(16, 2×2, relu, same)", "MaxPooling2D(2×2)", "Conv2D(32, 2×2, relu, same)",
               "GlobalAveragePooling2D", "Dense(10, linear)"]

#: Best validation accuracy a trained base model must reach: above chance under ``smoke`` (a few
#: hundred steps), and a little short of what the book's own runs reach under ``cpu`` and ``full``.
BASE_CIFAR = {"smoke": 0.05, "cpu": 0.12, "full": 0.15}
FASHION_SCALED = {"smoke": 0.05, "cpu": 0.15, "full": 0.15}  # plain SGD 9e-4 crawls on [0, 1] pixels
FASHION_RAW = {"smoke": 0.05, "cpu": 0.7, "full": 0.7}


def _keras():
    import keras

    return keras


def _seeded_array(shape, seed: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype("float32")


def _accuracy(model, x, y) -> float:
    """Accuracy of a logits (or probabilities) model, computed with Keras's ``predict``."""
    scores = np.asarray(model.predict(x, batch_size=1000, verbose=0))
    return float(np.mean(scores.argmax(axis=-1) == np.asarray(y).reshape(-1)))


def curves(history, run=None) -> "pd.DataFrame":  # noqa: F821 - pandas is imported inside
    """One run's history as a frame indexed by epoch with columns ``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy``: from a Keras ``History`` or dict of per-epoch lists, or from a
    tidy frame (``run, epoch, split, metric, value``, as :mod:`cnnlab.handloop` returns)."""
    import pandas as pd

    from ..tidy import history_frame

    logs = getattr(history, "history", history)
    if isinstance(logs, Mapping):
        logs = history_frame(logs)
    if not (isinstance(logs, pd.DataFrame) and {"run", "split", "metric", "value"} <= set(logs.columns)):
        raise Wrong(f"a history should be a dict of per-epoch lists or a tidy frame, got {type(logs).__name__}",
                    "return {'loss': [...], 'accuracy': [...], 'val_loss': [...], 'val_accuracy': [...]}")
    rows = logs if run is None else logs[logs["run"] == run]
    if rows["run"].nunique() > 1:
        raise Wrong(f"the history holds several runs ({', '.join(map(str, rows['run'].unique()))}): "
                    f"expected the history of one model")
    rows = rows[rows.metric.isin(["loss", "accuracy"])]
    names = np.where(rows.split == "train", rows.metric, "val_" + rows.metric)
    frame = rows.assign(name=names).pivot_table(index="epoch", columns="name", values="value")
    missing = [key for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key not in frame]
    if missing:
        raise Wrong(f"the history has no {', '.join(missing)}",
                    "record the training loss and accuracy and the validation loss and accuracy every epoch")
    return frame


def _trained_by_the_loop(model, history, x_val, y_val, epochs: int, name: str, threshold) -> str:
    """A model trained with the hand-written loop: its history covers ``epochs`` epochs, its
    recorded validation accuracy is what the model really scores (at the last or, when the best
    weights were put back, the best epoch), and the best is above ``threshold``."""
    frame = curves(history)
    expect.equal(len(frame), epochs, f"the number of epochs in the history of `{name}`",
                 "train for the number of epochs the exercise gives (S.epochs)")
    val = frame["val_accuracy"].to_numpy()
    if not np.all((val >= 0) & (val <= 1)):
        raise Wrong(f"the validation accuracies of `{name}` are not shares between 0 and 1: {val.round(3)}",
                    "divide the number of correct predictions by the number of validation images")
    measured = _accuracy(model, x_val, y_val)
    if not (np.isclose(measured, val[-1], atol=1e-4) or np.isclose(measured, val.max(), atol=1e-4)):
        raise Wrong(f"`{name}` scores {measured:.4f} on the validation images, but its history says "
                    f"{val[-1]:.4f} after the last epoch (best {val.max():.4f})",
                    "count correct predictions over every validation batch, weighting by batch size, "
                    "and validate the model you trained")
    expect.at_least(float(val.max()), threshold, f"the best validation accuracy of `{name}`")
    return f"{len(frame)} epochs, best validation accuracy {val.max():.3f}, recorded as the model scores"


def _tested_once(namespace, x_name: str = "x_test", y_name: str = "y_test") -> tuple[str, float]:
    """``test_accuracy`` is the accuracy of ``chosen_model`` on the test images."""
    model, accuracy = namespace["chosen_model"], float(namespace["test_accuracy"])
    measured = _accuracy(model, namespace[x_name], namespace[y_name])
    if not np.isclose(measured, accuracy, atol=1e-4):
        raise Wrong(f"`chosen_model` scores {measured:.4f} on the test images, but `test_accuracy` is {accuracy:.4f}",
                    "evaluate the chosen, trained model itself on x_test, y_test (not the validation set, "
                    "not a freshly built model)")
    return str(namespace["chosen"]), measured


# --- building: a CNN taken apart ----------------------------------------------------------------


@exercise("a3-iterations", needs=("iterations_per_epoch", "iterations_total"))
def iterations(ns):
    settings, images = ns["S"], len(ns["x_train"])
    per_epoch = math.ceil(images / settings.batch_size)
    expect.equal(int(ns["iterations_per_epoch"]), per_epoch, "`iterations_per_epoch`",
                 f"one iteration is one batch: {images:,} training images in batches of {settings.batch_size}")
    expect.equal(int(ns["iterations_total"]), settings.epochs * per_epoch, "`iterations_total`",
                 f"every one of the {settings.epochs} epochs takes iterations_per_epoch iterations")
    return f"{per_epoch:,} iterations per epoch, {settings.epochs * per_epoch:,} in {settings.epochs} epochs"


@exercise("a3-base-model", needs=("base",))
def base_model(ns):
    base = expect.get(ns, "base", _keras().Model, "a Keras model")
    expect.input_shape(base, (32, 32, 3), "base")
    expect.same_layers(base, BASE_LAYERS, "base")
    expect.parameters(base, 2_618, "base")
    return "Conv2D(16) → MaxPooling2D → Conv2D(32) → global average pooling → Dense(10) logits, 2,618 parameters"


@exercise("a3-manual-conv", needs=("conv2d",))
def manual_conv(ns):
    keras, conv2d = _keras(), ns["conv2d"]
    images = _seeded_array((2, 7, 6, 3), seed=1)
    cases = [(1, 1, 2), (3, 1, 4), (3, 2, 4), (2, 3, 5)]  # (kernel size, stride, output channels)
    for size, stride, filters in cases:
        layer = keras.layers.Conv2D(filters, size, strides=stride, padding="valid", use_bias=False)
        expected = np.asarray(layer(images))
        (kernel,) = layer.get_weights()
        what = f"conv2d(images, kernel, stride={stride}) with a {size}×{size} kernel, 3 → {filters} channels"
        expect.close(conv2d(images, kernel, stride=stride), expected, atol=1e-5, what=what)
    return "equals keras.layers.Conv2D (VALID, no bias) for 1×1, 2×2 and 3×3 kernels, strides 1 to 3"


@exercise("a3-gap", needs=("feature_maps", "pooled"))
def global_average(ns):
    keras = _keras()
    maps = np.asarray(ns["feature_maps"])
    expect.equal(maps.shape, (1, 32, 32, 2), "the shape of `feature_maps`",
                 "apply the 1×1 convolution with 2 output channels to the first image as a batch of one")
    expect.close(ns["pooled"], keras.layers.GlobalAveragePooling2D()(maps), what="`pooled`")
    return "one average per channel, shape (1, 2), as keras.layers.GlobalAveragePooling2D"


@exercise("a3-manual-dense", needs=("dense",))
def manual_dense(ns):
    keras, dense = _keras(), ns["dense"]
    x = _seeded_array((4, 5), seed=2)
    layer = keras.layers.Dense(3, bias_initializer="random_normal")
    expected = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    expect.close(dense(x, kernel, bias), expected, what="dense(x, kernel, bias) for 4 inputs of 5 features")
    return "x @ W + b equals keras.layers.Dense with a non-zero bias"


# --- training-tuning: the loop written by hand ----------------------------------------------------


def _tiny_model(seed: int = 0):
    keras = _keras()
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                             keras.layers.Dense(3)])


@exercise("a3-machinery", needs=("mean_cross_entropy", "predict", "make_train_step"))
def machinery(ns):
    import tensorflow as tf

    keras = _keras()
    logits, labels = _seeded_array((8, 3), seed=3, low=-3, high=3), np.arange(8) % 3
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expect.close(ns["mean_cross_entropy"](logits, labels), keras_loss(labels, logits), atol=1e-5,
                 what="mean_cross_entropy(logits, labels)")

    model, x = _tiny_model(), _seeded_array((8, 5), seed=4)
    expect.close(ns["predict"](model, x), keras.activations.softmax(model(x)), atol=1e-6,
                 what="predict(model, x)")

    rate = 0.1
    with tf.GradientTape() as tape:
        batch_loss = keras_loss(labels, model(x))
    gradients = tape.gradient(batch_loss, model.trainable_variables)
    expected = [v.numpy() - rate * g.numpy() for v, g in zip(model.trainable_variables, gradients)]
    correct = int(np.sum(np.asarray(model(x)).argmax(axis=1) == labels))
    result = ns["make_train_step"](model, learning_rate=rate)(x, labels)
    for i, (variable, want) in enumerate(zip(model.trainable_variables, expected)):
        expect.close(variable.numpy(), want, atol=1e-5,
                     what=f"weight tensor {i} ({variable.path}) after one step at learning rate {rate}")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Wrong("step(x, y) should return the batch's mean loss and its number of correct predictions",
                    "return batch_loss, correct from the compiled step")
    expect.close(result[0], batch_loss, atol=1e-5, what="the loss step(x, y) returns")
    expect.equal(int(round(float(result[1]))), correct, "the number of correct predictions step(x, y) returns",
                 "count the predictions (argmax of the logits, before the update) that equal the labels")
    return "loss, softmax and one SGD step w − η∇L agree with Keras and an independent GradientTape"


@exercise("a3-base-training", needs=("train_by_hand", "base", "base_history"))
def base_training(ns):
    settings = ns["S"]
    expect.same_layers(ns["base"], BASE_LAYERS, "base")
    return _trained_by_the_loop(ns["base"], ns["base_history"], ns["x_val"], ns["y_val"], settings.epochs,
                                "base", BASE_CIFAR)


@exercise("a3-q2-5", needs=("build_cnn",))
def builder(ns):
    build = ns["build_cnn"]
    settings = ns["S"]
    architecture = {key: value for key, value in settings.h2.items() if key != "learning_rate"}
    expect.same_layers(build(conv_layers=2, dense_layers=1, width=16), BASE_LAYERS,
                       "build_cnn(conv_layers=2, dense_layers=1, width=16)")
    h1 = build(**{key: value for key, value in settings.h1.items() if key != "learning_rate"})
    expect.parameters(h1, 9_322, "H1")
    h2 = build(**architecture)
    expect.same_layers(h2, ["Conv2D(64, 2×2, relu, same)", "MaxPooling2D(2×2)", "Conv2D(128, 2×2, relu, same)",
                            "MaxPooling2D(2×2)", "Conv2D(256, 2×2, relu, same)", "GlobalAveragePooling2D",
                            "Dense(128, relu)", "Dense(10, linear)"], "H2")
    expect.parameters(h2, 199_242, "H2")
    fashion = build(conv_layers=3, dense_layers=1, width=16, kernel_size=3, input_shape=(28, 28, 1))
    expect.input_shape(fashion, (28, 28, 1), "build_cnn(..., input_shape=(28, 28, 1))")
    expect.equal(expect.layers(fashion)[0], "Conv2D(16, 3×3, relu, same)", "the first layer with kernel_size=3")
    return "base (2,618 parameters), H1 (9,322) and H2 (199,242, a ReLU hidden layer of 128) from one builder"


@exercise("a3-q2-7", needs=("chosen", "chosen_model", "test_accuracy"))
def chose_and_tested(ns):
    expect.equal(ns["chosen"] in ("base", "H1", "H2"), True, "`chosen` is one of 'base', 'H1', 'H2'",
                 "name the chosen setting")
    name, accuracy = _tested_once(ns)
    return f"{name}, tested once: {accuracy:.3f} on {len(ns['x_test']):,} test images"


# --- new-dataset: Fashion-MNIST -----------------------------------------------------------------


@exercise("a3-fashion-data", needs=("x_train", "x_val", "x_test", "raw_train", "raw_val"))
def fashion_data(ns):
    settings = ns["S"]
    sizes = {"x_train": settings.train_images, "x_val": settings.validation_images, "x_test": settings.test_images}
    for name, size in sizes.items():
        x = np.asarray(ns[name])
        expect.equal(x.shape, (size, 28, 28, 1), f"the shape of `{name}`",
                     "split_pool, then the profile's subset, then a channel axis: x[..., np.newaxis]")
        if x.min() < 0 or x.max() > 1:
            raise Wrong(f"`{name}` holds values from {x.min():g} to {x.max():g}", "scale the pixels to [0, 1]")
    for name, scaled in (("raw_train", "x_train"), ("raw_val", "x_val")):
        raw = np.asarray(ns[name], dtype="float64")
        expect.close(raw.reshape(ns[scaled].shape) / 255.0, ns[scaled], atol=1e-6,
                     what=f"`{name}` / 255 (the raw pixels of `{scaled}`)")
    return f"{', '.join(f'{n:,}' for n in sizes.values())} images, scaled with a channel axis, raw pixels kept"


@exercise("a3-fashion-base", needs=("base", "base_history", "raw_base", "raw_history"))
def fashion_base(ns):
    settings = ns["S"]
    for name in ("base", "raw_base"):
        expect.input_shape(ns[name], (28, 28, 1), name)
        expect.same_layers(ns[name], BASE_LAYERS, name)
        expect.parameters(ns[name], 2_490, name)
    scaled = _trained_by_the_loop(ns["base"], ns["base_history"], ns["x_val"], ns["y_val"], settings.epochs,
                                  "base", FASHION_SCALED)
    raw_val = np.asarray(ns["raw_val"], dtype="float32").reshape(ns["x_val"].shape)
    raw = _trained_by_the_loop(ns["raw_base"], ns["raw_history"], raw_val, ns["y_val"], settings.epochs,
                               "raw_base", FASHION_RAW)
    return f"scaled: {scaled}; raw pixels: {raw}"


@exercise("a3-fashion-tuning", needs=("chosen", "chosen_model", "test_accuracy"))
def fashion_tuned(ns):
    expect.input_shape(ns["chosen_model"], (28, 28, 1), "chosen_model")
    name, accuracy = _tested_once(ns)
    return f"{name}, tested once: {accuracy:.3f} on {len(ns['x_test']):,} test images"


# --- optimizers -----------------------------------------------------------------------------------

ADAM_DEFAULTS = {"beta_1": 0.9, "beta_2": 0.999}


@exercise("a3-update-rules", needs=("first_step",))
def first_adam_step(ns):
    settings, first_step = ns["S"], ns["first_step"]
    adams = {name: options for name, (kind, options) in settings.optimizers.items() if kind == "Adam"}
    expect.equal(sorted(first_step), sorted(adams), "the names in `first_step`",
                 "one entry per Adam setting of S.optimizers")
    for name, options in adams.items():
        betas = {**ADAM_DEFAULTS, **options}
        want = (1 - betas["beta_1"]) / math.sqrt(1 - betas["beta_2"])
        expect.close(first_step[name], want, rtol=1e-4, what=f"first_step[{name!r}]")
    return "the uncorrected first Adam step, (1 − β1)/√(1 − β2) times the learning rate, for every Adam setting"


@exercise("a3-optimizer-comparison", needs=("optimizers", "history", "trained"))
def optimizer_comparison(ns):
    settings, optimizers = ns["S"], ns["optimizers"]
    expect.equal(sorted(optimizers), sorted(settings.optimizers), "the names in `optimizers`",
                 "one optimizer per entry of S.optimizers")
    for name, (kind, options) in settings.optimizers.items():
        optimizer = optimizers[name]
        expect.equal(type(optimizer).__name__, kind, f"the class of optimizers[{name!r}]")
        config = optimizer.get_config()
        for key, value in {"learning_rate": settings.learning_rate, **options}.items():
            if not np.isclose(float(config.get(key, np.nan)), float(value)):
                raise Wrong(f"optimizers[{name!r}] has {key} = {config.get(key)}, expected {value}",
                            f"pass {key}={value} to keras.optimizers.{kind}")
    for name in settings.optimizers:
        expect.equal(len(curves(ns["history"], run=name)), settings.epochs, f"the epochs of {name!r} in `history`")
        expect.parameters(ns["trained"][name], 9_322, f"trained[{name!r}] (H1)")
    return f"{len(optimizers)} optimizers with the stated settings, each trained {settings.epochs} epochs on H1"


@exercise("a3-momentum-claim", needs=("history", "epochs_to_reach"))
def epochs_to_reach(ns):
    history, reach = ns["history"], ns["epochs_to_reach"]
    target = curves(history, run="SGD")["val_accuracy"].max()
    for name in ("SGD", "momentum 0.9"):
        val = curves(history, run=name)["val_accuracy"]
        hits = val.index[val >= target - 1e-12]
        want = float(hits[0]) if len(hits) else float("nan")
        have = float(reach[name])
        if not (have == want or (math.isnan(have) and math.isnan(want))):
            raise Wrong(f"epochs_to_reach[{name!r}] is {have:g}, but its validation accuracy first reaches plain "
                        f"SGD's best ({target:.4f}) at epoch {want:g}",
                        "the first epoch whose validation accuracy is at least the target; NaN if never")
    return f"epochs to reach plain SGD's best validation accuracy ({target:.3f}) read off the curves"


@exercise("a3-optimizer-test", needs=("chosen", "chosen_model", "test_accuracy", "history", "trained"))
def optimizer_test(ns):
    history, trained = ns["history"], ns["trained"]
    best = {name: curves(history, run=name)["val_accuracy"].max() for name in trained}
    top = max(best, key=best.get)
    expect.equal(best[ns["chosen"]], best[top], f"the best validation accuracy of `chosen` ({ns['chosen']!r})",
                 f"choose by the highest validation accuracy: {top!r} reached {best[top]:.4f}")
    if ns["chosen_model"] is not trained[ns["chosen"]]:
        raise Wrong("`chosen_model` is not the model trained with the chosen optimizer",
                    "take it from the models the comparison trained: trained[chosen]")
    name, accuracy = _tested_once(ns)
    return f"{name}, the trained model itself, tested once: {accuracy:.3f}"
