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


def build_with(
    layers=None,
    optimizer=None,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    prepare=None,
    **compile_options,
):
    """A builder of a small compiled convnet on 8x8x3 images; ``layers()`` replaces its layers,
    ``prepare(model)`` changes the built model before it is compiled."""

    def build():
        stack = (
            layers()
            if layers
            else [
                keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.Flatten(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model = keras.Sequential([keras.Input((8, 8, 3)), *stack])
        if prepare:
            model = prepare(model) or model
        model.compile(
            optimizer=optimizer() if optimizer else keras.optimizers.SGD(0.1),
            loss=loss,
            metrics=list(metrics),
            **compile_options,
        )
        return model

    return build


def convnet_with(*middle, head=None, **conv):
    """Layers Conv2D(4, 3, **conv), ``middle``, Flatten, Dense(3, softmax) (``head`` replaces the
    last two)."""

    def layers():
        return [
            keras.layers.Conv2D(4, 3, **conv),
            *[make() for make in middle],
            *(head() if head else [keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]),
        ]

    return layers


def functional(model):
    return keras.Model(model.inputs, model.outputs)


def frozen(model):
    model.trainable = False


def with_lora(model):
    model.layers[-1].enable_lora(2)


REFUSED = {
    "label smoothing": (build_with(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1)), "label smoothing"),
    "Adafactor": (build_with(optimizer=keras.optimizers.Adafactor), "optimizer Adafactor is not stacked"),
    "Lamb": (build_with(optimizer=keras.optimizers.Lamb), "optimizer Lamb is not stacked"),
    "Muon": (build_with(optimizer=keras.optimizers.Muon), "optimizer Muon is not stacked"),
    "clipnorm": (build_with(optimizer=lambda: keras.optimizers.SGD(0.1, clipnorm=1.0)), "clipnorm=1.0 would couple"),
    "softmax in a hidden convolution": (
        build_with(convnet_with(activation="softmax")),
        "activation softmax acts across channels",
    ),
    "frozen layer": (
        build_with(convnet_with(trainable=False)),
        r"frozen \(trainable=False\)",
    ),
    "regularizer": (
        build_with(convnet_with(kernel_regularizer="l2")),
        "regularizer or constraint",
    ),
    "augmentation after a weighted layer": (
        build_with(convnet_with(lambda: keras.layers.RandomFlip("horizontal"))),
        "stacked only at the input",
    ),
    "an unknown layer": (
        build_with(convnet_with(keras.layers.PReLU)),
        r"\(PReLU\) is not stacked",
    ),
    "an activation not known to be element-wise": (
        build_with(convnet_with(activation=lambda t: t * 0.5)),
        "activation <lambda> is not known to act element by element",
    ),
    "mixed precision": (
        build_with(convnet_with(dtype="mixed_float16")),
        "computes in float16",
    ),
    "channels-first": (
        build_with(
            convnet_with(
                head=lambda: [
                    keras.layers.GlobalAveragePooling2D(data_format="channels_first"),
                    keras.layers.Dense(3, activation="softmax"),
                ]
            )
        ),
        "is channels-first",
    ),
    "inverted Normalization": (
        build_with(lambda: [keras.layers.Normalization(mean=0.5, variance=0.1, invert=True), *convnet_with()()]),
        "an inverted Normalization is not stacked",
    ),
    "dilated convolution": (
        build_with(convnet_with(dilation_rate=2)),
        "only ungrouped, undilated Conv2D",
    ),
    "LoRA": (build_with(prepare=with_lora), "uses LoRA"),
    "Dense on image input": (
        build_with(
            lambda: [keras.layers.Dense(4), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
        ),
        r"needs flat input: add a Flatten before it",
    ),
    "global pooling keeping its dimensions": (
        build_with(convnet_with(lambda: keras.layers.GlobalAveragePooling2D(keepdims=True))),
        "needs image input and keepdims=False",
    ),
    "Dropout with a noise_shape": (
        build_with(convnet_with(lambda: keras.layers.Dropout(0.5, noise_shape=(None, 1, 1, 4)))),
        "Dropout with a noise_shape is not stacked",
    ),
    "BatchNormalization over another axis": (
        build_with(convnet_with(lambda: keras.layers.BatchNormalization(axis=1))),
        "only BatchNormalization over the last axis, without renorm",
    ),
    "BatchNormalization with renorm": (
        build_with(convnet_with(lambda: keras.layers.BatchNormalization(renorm=True))),
        "only BatchNormalization over the last axis, without renorm",
    ),
    "Softmax layer on images": (build_with(convnet_with(keras.layers.Softmax)), "Softmax acts across channels"),
    "loss summed over the batch": (
        build_with(loss=keras.losses.SparseCategoricalCrossentropy(reduction="sum")),
        "loss reduction 'sum'",
    ),
    "loss with ignore_class": (
        build_with(loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0)),
        "ignore_class is not stacked",
    ),
    "loss over another axis": (
        build_with(loss=keras.losses.CategoricalCrossentropy(axis=1)),
        "another axis than the last",
    ),
    "another loss": (build_with(loss="categorical_hinge"), r"loss 'categorical_hinge' is not one of"),
    "another metric": (
        build_with(metrics=["accuracy", "sparse_top_k_categorical_accuracy"]),
        "only 'accuracy' is supported",
    ),
    "loss weights": (build_with(loss_weights=[2.0]), "loss weights are not supported"),
    "optimizer with EMA": (
        build_with(optimizer=lambda: keras.optimizers.SGD(0.1, use_ema=True)),
        "use_ema=True would couple",
    ),
    "gradient accumulation": (
        build_with(optimizer=lambda: keras.optimizers.SGD(0.1, gradient_accumulation_steps=2)),
        "gradient_accumulation_steps=2 would couple",
    ),
    "functional model": (build_with(prepare=functional), "only keras.Sequential models are stacked"),
    "frozen model": (build_with(prepare=frozen), r"the model is frozen \(trainable=False\)"),
}
ONE_HOT = {"label smoothing", "loss over another axis", "another loss"}
# refused, and not trained with fit in these tests (the grouped convolution has no CPU kernel in
# TensorFlow, the others have other inputs or nothing to train): only the reason is checked
REFUSED_ONLY = {
    "grouped convolution": (
        lambda: keras.Sequential(
            [keras.Input((8, 8, 4)), keras.layers.Conv2D(4, 3, groups=2), keras.layers.Flatten(), keras.layers.Dense(3)]
        ),
        "only ungrouped, undilated Conv2D",
    ),
    "volume input": (
        lambda: keras.Sequential([keras.Input((4, 4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]),
        "is neither flat nor an image",
    ),
    "no weighted layer": (
        lambda: keras.Sequential([keras.Input((12,)), keras.layers.Softmax()]),
        "no Dense or Conv2D layer to train",
    ),
    "not compiled": (
        lambda: keras.Sequential([keras.Input((12,)), keras.layers.Dense(3)]),
        "the model is not compiled",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_ONLY))
def test_models_fit_cannot_train_here_either_are_refused_with_a_reason(case):
    make, reason = REFUSED_ONLY[case]
    model = make()
    if case != "not compiled":
        model.compile(optimizer="sgd", loss="mean_squared_error")
    assert re.search(reason, stacked.unsupported_reason(model))


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_forcing_the_stacked_path_raises_with_the_reason(case):
    build, reason = REFUSED[case]
    x, y = images()
    if case in ONE_HOT:
        y = np.eye(3, dtype="float32")[y]
    assert re.search(reason, stacked.unsupported_reason(build()))
    with pytest.raises(ValueError, match="cannot train these runs stacked: .*" + reason):
        multirun.repeated_runs(build, (x, y), runs=2, epochs=1, method="stacked", verbose=False)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_automatic_choice_falls_back_to_fit_and_says_why(case, capsys):
    build, reason = REFUSED[case]
    x, y = images()
    if case in ONE_HOT:
        y = np.eye(3, dtype="float32")[y]
    frame = multirun.repeated_runs(build, (x, y), runs=2, epochs=1, evaluate={"test": (x[:20], y[:20])})
    out = capsys.readouterr().out
    assert frame.attrs["method"] == "sequential"
    assert re.search(reason, frame.attrs["reason"])
    assert "training run after run with model.fit: " in out and frame.attrs["reason"] in out
    assert list(frame.columns) == tidy.COLUMNS
    assert len(frame[frame.metric.isin(["loss", "accuracy"])]) == 2 * 2 * 2  # runs x splits x metrics


def test_runs_that_differ_in_more_than_their_rates_are_not_stacked(capsys):
    x, y = images()
    narrow = build_with()
    wide = build_with(
        lambda: [
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    faster = build_with(optimizer=lambda: keras.optimizers.SGD(0.5))
    with pytest.raises(ValueError, match="run 2 differs from run 0 in its layers"):
        multirun.compare_runs(
            {"narrow": narrow, "wide": wide}, (x, y), runs=2, epochs=1, method="stacked", verbose=False
        )
    frames = multirun.compare_runs({"slow": narrow, "fast": faster}, (x, y), runs=1, epochs=1)
    assert "differs from run 0 in its optimizer settings" in capsys.readouterr().out
    assert {f.attrs["method"] for f in frames.values()} == {"sequential"}


def test_a_single_convnet_run_keeps_fit_without_a_warning(capsys):
    x, y = images()
    frame = multirun.repeated_runs(build_with(), (x, y), runs=1, epochs=1)
    assert frame.attrs["method"] == "sequential" and "single convnet run" in frame.attrs["reason"]
    assert "training run after run" not in capsys.readouterr().out
