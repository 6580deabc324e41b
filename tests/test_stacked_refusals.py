"""What the stacked engine cannot reproduce exactly: forcing ``method="stacked"`` raises with the
reason, and ``method="auto"`` trains with ``fit`` instead, prints why and records it in
``frame.attrs``."""

import re

import keras
import numpy as np
import pytest

from cnnlab import multirun, stacked, tidy


def images(size=64):
    rng = np.random.default_rng(1)
    return rng.uniform(0, 1, size=(size, 8, 8, 3)).astype("float32"), rng.integers(0, 3, size=size)


def build_with(layers=None, optimizer=None, loss="sparse_categorical_crossentropy"):
    def build():
        stack = layers() if layers else [keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten(),
                                          keras.layers.Dense(3, activation="softmax")]
        model = keras.Sequential([keras.Input((8, 8, 3)), *stack])
        model.compile(optimizer=optimizer() if optimizer else keras.optimizers.SGD(0.1), loss=loss,
                      metrics=["accuracy"])
        return model
    return build


REFUSED = {
    "label smoothing": (build_with(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1)), "label smoothing"),
    "Adafactor": (build_with(optimizer=keras.optimizers.Adafactor), "optimizer Adafactor is not stacked"),
    "Lamb": (build_with(optimizer=keras.optimizers.Lamb), "optimizer Lamb is not stacked"),
    "Muon": (build_with(optimizer=keras.optimizers.Muon), "optimizer Muon is not stacked"),
    "clipnorm": (build_with(optimizer=lambda: keras.optimizers.SGD(0.1, clipnorm=1.0)), "clipnorm=1.0 would couple"),
    "softmax in a hidden convolution": (
        build_with(lambda: [keras.layers.Conv2D(4, 3, activation="softmax"), keras.layers.Flatten(),
                            keras.layers.Dense(3, activation="softmax")]), "activation softmax acts across channels"),
    "frozen layer": (
        build_with(lambda: [keras.layers.Conv2D(4, 3, trainable=False), keras.layers.Flatten(),
                            keras.layers.Dense(3, activation="softmax")]), r"frozen \(trainable=False\)"),
    "regularizer": (
        build_with(lambda: [keras.layers.Conv2D(4, 3, kernel_regularizer="l2"), keras.layers.Flatten(),
                            keras.layers.Dense(3, activation="softmax")]), "regularizer or constraint"),
    "augmentation after a weighted layer": (
        build_with(lambda: [keras.layers.Conv2D(4, 3), keras.layers.RandomFlip("horizontal"),
                            keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]),
        "stacked only at the input"),
    "an unknown layer": (
        build_with(lambda: [keras.layers.Conv2D(4, 3), keras.layers.PReLU(), keras.layers.Flatten(),
                            keras.layers.Dense(3, activation="softmax")]), r"\(PReLU\) is not stacked"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_forcing_the_stacked_path_raises_with_the_reason(case):
    build, reason = REFUSED[case]
    x, y = images()
    if "label smoothing" in case:
        y = np.eye(3, dtype="float32")[y]
    assert stacked.unsupported_reason(build()) is not None
    with pytest.raises(ValueError, match="cannot train these runs stacked: .*" + reason):
        multirun.repeated_runs(build, (x, y), runs=2, epochs=1, method="stacked", verbose=False)


@pytest.mark.parametrize("case", ["label smoothing", "Adafactor", "frozen layer", "regularizer"])
def test_the_automatic_choice_falls_back_to_fit_and_says_why(case, capsys):
    build, reason = REFUSED[case]
    x, y = images()
    if "label smoothing" in case:
        y = np.eye(3, dtype="float32")[y]
    frame = multirun.repeated_runs(build, (x, y), runs=2, epochs=1, evaluate={"test": (x[:20], y[:20])})
    out = capsys.readouterr().out
    assert frame.attrs["method"] == "sequential"
    assert re.search(reason, frame.attrs["reason"])
    assert "training run after run with model.fit: " in out and frame.attrs["reason"] in out
    assert list(frame.columns) == tidy.COLUMNS and len(frame) == 2 * 2 * 2


def test_runs_that_differ_in_more_than_their_rates_are_not_stacked(capsys):
    x, y = images()
    narrow = build_with()
    wide = build_with(lambda: [keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.Flatten(),
                               keras.layers.Dense(3, activation="softmax")])
    faster = build_with(optimizer=lambda: keras.optimizers.SGD(0.5))
    with pytest.raises(ValueError, match="run 2 differs from run 0 in its layers"):
        multirun.compare_runs({"narrow": narrow, "wide": wide}, (x, y), runs=2, epochs=1, method="stacked",
                              verbose=False)
    frames = multirun.compare_runs({"slow": narrow, "fast": faster}, (x, y), runs=1, epochs=1)
    assert "differs from run 0 in its optimizer settings" in capsys.readouterr().out
    assert {f.attrs["method"] for f in frames.values()} == {"sequential"}


def test_a_single_convnet_run_keeps_fit_without_a_warning(capsys):
    x, y = images()
    frame = multirun.repeated_runs(build_with(), (x, y), runs=1, epochs=1)
    assert frame.attrs["method"] == "sequential" and "single convnet run" in frame.attrs["reason"]
    assert "training run after run" not in capsys.readouterr().out
