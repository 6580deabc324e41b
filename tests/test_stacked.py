"""The stacked path of multirun.repeated_runs: R runs trained together must behave like R separate
runs of the same models."""

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from cnnlab import models, multirun, stacked, tidy
from notebook_source import definition


def a4_dropout_network(rate=0.5):
    """Assignment 4's dropout network as its notebook writes it, at the assignment's widths."""
    path = Path(__file__).resolve().parents[1] / "book" / "a4-cifar10-lab" / "dropout.md"
    return definition(path, "dropout_network", "full")(rate)


@pytest.fixture(scope="module")
def digits():
    """A 3,000-image MNIST subset (the real task the stacked path is for)."""
    from cnnlab import data

    (x, y), (xt, yt) = data.load("mnist")
    x, y = data.sample(3000, data.scale_pixels(x), y, seed=0)
    xt, yt = data.sample(1000, data.scale_pixels(xt), yt, seed=0)
    return (x, y), (xt, yt)


def softmax_mlp(optimizer="sgd"):
    model = models.mlp(hidden=[16])
    opt = {
        "sgd": keras.optimizers.SGD(0.1),
        "adam": keras.optimizers.Adam(),
        "momentum": keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    }[optimizer]
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def relu_mse_mlp():
    model = models.mlp(hidden=[16], output_activation="relu")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mean_squared_error", metrics=["accuracy"])
    return model


def small_convnet(optimizer="adam"):
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(6, 3, padding="same"),
            keras.layers.ReLU(),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def dropout_convnet():
    model = models.mnist_convnet(dropout=(0.25, 0.5))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def batchnorm_net():
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def regularized_mlp():
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu", kernel_regularizer="l2"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_supported_models_and_the_automatic_choice():
    assert stacked.unsupported_reason(softmax_mlp()) is None
    assert stacked.preferred(softmax_mlp(), runs=1) and stacked.preferred(softmax_mlp(), runs=10)
    assert stacked.unsupported_reason(relu_mse_mlp()) is None
    # convnets are stacked when there are runs to stack (measured 1.4-1.5x faster on a CPU);
    # a single convnet run gains nothing and keeps model.fit
    assert stacked.unsupported_reason(small_convnet()) is None
    assert stacked.preferred(small_convnet(), runs=3) and not stacked.preferred(small_convnet(), runs=1)
    # dropout and batch norm are stacked too (tests/test_stacked_layers.py); regularizers are not
    assert stacked.unsupported_reason(batchnorm_net()) is None
    assert stacked.unsupported_reason(dropout_convnet()) is None
    assert "regularizer" in stacked.unsupported_reason(regularized_mlp())
    assert not stacked.preferred(regularized_mlp(), runs=3)
    # A2's convnet (16M multiply-adds per image) is stacked, A4's dropout network (103M) keeps fit:
    # its steps are bound by arithmetic, and stacking measured no faster
    assert stacked.preferred(dropout_convnet(), runs=3) and stacked.forward_macs(dropout_convnet()) == 16_283_392
    a4 = a4_dropout_network()
    a4.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert stacked.unsupported_reason(a4) is None and not stacked.preferred(a4, runs=5)
    assert "bound by its arithmetic" in stacked.not_preferred_reason(a4, runs=5)
    clipped = models.mlp(hidden=[8])
    clipped.compile(optimizer=keras.optimizers.SGD(0.1, clipnorm=1.0), loss="sparse_categorical_crossentropy")
    assert "clipnorm" in stacked.unsupported_reason(clipped)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum"])
def test_stacked_training_equals_train_on_batch_with_the_same_batch_order(digits, optimizer):
    (x, y), _ = digits
    x, y = x[:640], y[:640]
    seeds = [multirun.run_seed(3, r) for r in range(2)]
    runs = [multirun.build_run(lambda: softmax_mlp(optimizer), 3, r) for r in range(2)]
    # separate copies of the same initial models, trained batch by batch with Keras
    references = []
    for model, seed in zip(runs, seeds):
        twin = softmax_mlp(optimizer)
        twin.set_weights(model.get_weights())
        rng = np.random.default_rng(seed)
        for _ in range(2):  # epochs
            order = rng.permutation(len(x))
            for start in range(0, len(x), 64):
                idx = order[start : start + 64]
                twin.train_on_batch(x[idx], y[idx])
        references.append(twin)
    stacked.train_stacked(runs, (x, y), epochs=2, evaluate={}, batch_size=64, seeds=seeds, verbose=False)
    for model, twin in zip(runs, references):
        for ours, theirs in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_runs_start_and_end_with_different_weights(digits):
    (x, y), _ = digits
    built = [multirun.build_run(softmax_mlp, 0, r) for r in range(3)]
    start = [m.layers[1].kernel.numpy().copy() for m in built]
    assert not np.allclose(start[0], start[1]) and not np.allclose(start[1], start[2])
    frame, trained = multirun.repeated_runs(softmax_mlp, (x, y), runs=3, epochs=1, seed=0, verbose=False, models=True)
    assert frame.attrs["method"] == "stacked"
    end = [m.layers[1].kernel.numpy() for m in trained]
    assert not np.allclose(end[0], end[1]) and not np.allclose(end[1], end[2])
    for before, after in zip(start, end):  # each run started from its own seeded weights
        assert not np.allclose(before, after)
    # the same per-run initialisation as the sequential path: rebuilding run 1 gives start[1]
    assert np.array_equal(multirun.build_run(softmax_mlp, 0, 1).layers[1].kernel.numpy(), start[1])


@pytest.mark.parametrize("build, one_hot", [(softmax_mlp, False), (relu_mse_mlp, True)])
def test_final_accuracy_lies_in_the_range_of_separate_fit_calls(digits, build, one_hot):
    (x, y), (xt, yt) = digits
    if one_hot:
        y, yt = np.eye(10, dtype="float32")[y], np.eye(10, dtype="float32")[yt]
    kwargs = dict(runs=5, epochs=3, evaluate={"test": (xt, yt)}, seed=1, verbose=False)
    together = tidy.final(multirun.repeated_runs(build, (x, y), method="stacked", **kwargs))["test"]
    apart = tidy.final(multirun.repeated_runs(build, (x, y), method="sequential", **kwargs))["test"]
    slack = 0.03
    assert (
        together.min() >= apart.min() - slack and together.max() <= apart.max() + slack
    ), f"stacked {together.round(3).tolist()} vs separate fits {apart.round(3).tolist()}"
    assert abs(together.mean() - apart.mean()) < 0.05


def test_a_single_run_works_and_is_reproducible(digits):
    (x, y), (xt, yt) = digits
    one = multirun.repeated_runs(softmax_mlp, (x, y), runs=1, epochs=2, evaluate={"test": (xt, yt)}, verbose=False)
    again = multirun.repeated_runs(softmax_mlp, (x, y), runs=1, epochs=2, evaluate={"test": (xt, yt)}, verbose=False)
    assert one.attrs["method"] == "stacked" and one.run.unique().tolist() == [0]
    pd.testing.assert_frame_equal(one, again)


@pytest.mark.parametrize(
    "build, runs, method",
    [
        (regularized_mlp, 2, "sequential"),  # unsupported layer option
        (batchnorm_net, 2, "stacked"),
        (dropout_convnet, 2, "stacked"),
        (small_convnet, 1, "sequential"),  # nothing to stack
        (small_convnet, 2, "stacked"),
    ],
)
def test_the_automatic_choice_returns_the_same_columns_on_either_path(digits, build, runs, method):
    (x, y), (xt, yt) = digits
    images = build not in (batchnorm_net, regularized_mlp)
    x, xt = (x[:300, ..., None], xt[:100, ..., None]) if images else (x[:300], xt[:100])
    frame = multirun.repeated_runs(
        build, (x, y[:300]), runs=runs, epochs=1, evaluate={"test": (xt, yt[:100])}, verbose=False
    )
    assert frame.attrs["method"] == method
    assert list(frame.columns) == tidy.COLUMNS
    assert set(frame.split) == {"train", "test"} and set(frame.metric) == {"loss", "accuracy"}
    assert len(frame) == runs * 1 * 2 * 2
    assert sorted(frame.run.unique()) == list(range(runs))


def test_forcing_the_stacked_path_on_an_unsupported_model_says_why(digits):
    (x, y), _ = digits
    with pytest.raises(ValueError, match="regularizer"):
        multirun.repeated_runs(regularized_mlp, (x[:100], y[:100]), runs=1, epochs=1, method="stacked")


def test_stacked_convnet_equals_train_on_batch_with_the_same_batch_order(digits):
    (x, y), (xt, yt) = digits
    x, y = x[:256, ..., None], y[:256]
    seeds = [multirun.run_seed(5, r) for r in range(3)]
    runs = [multirun.build_run(small_convnet, 5, r) for r in range(3)]
    references = []
    for model, seed in zip(runs, seeds):
        twin = small_convnet()
        twin.set_weights(model.get_weights())
        order = np.random.default_rng(seed).permutation(len(x))
        for start in range(0, len(x), 32):
            twin.train_on_batch(x[order[start : start + 32]], y[order[start : start + 32]])
        references.append(twin)
    frame = stacked.train_stacked(
        runs,
        (x, y),
        epochs=1,
        evaluate={"test": (xt[:200, ..., None], yt[:200])},
        batch_size=32,
        seeds=seeds,
        verbose=False,
    )
    for run, (model, twin) in enumerate(zip(runs, references)):
        for ours, theirs in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
        loss, accuracy = twin.evaluate(xt[:200, ..., None], yt[:200], verbose=0)
        row = frame.query("run == @run and split == 'test'").set_index("metric").value
        assert row["accuracy"] == pytest.approx(accuracy, abs=1e-6) and row["loss"] == pytest.approx(loss, rel=1e-4)


def test_evaluation_matches_keras_evaluate(digits):
    (x, y), (xt, yt) = digits
    frame, trained = multirun.repeated_runs(
        softmax_mlp, (x, y), runs=2, epochs=1, evaluate={"test": (xt, yt)}, verbose=False, models=True
    )
    for run, model in enumerate(trained):
        loss, accuracy = model.evaluate(xt, yt, verbose=0)
        row = frame.query("run == @run and split == 'test'").set_index("metric").value
        assert row["accuracy"] == pytest.approx(accuracy, abs=1e-6)
        assert row["loss"] == pytest.approx(loss, rel=1e-4)


def _compiled(model, loss="sparse_categorical_crossentropy"):
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss=loss, metrics=["accuracy"])
    return model


def test_the_automatic_choice_stacks_the_kinds_measured_faster():
    """The rule of cnnlab.stacked's docstring, from benchmarks/stacked_results.md: perceptrons always,
    the small convnets (A3 base and H1, A2) with more than one run, not A4's dropout network."""
    logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    stacked_kinds = {
        "A1 perceptron": (
            lambda: _compiled(models.mlp(hidden=[32], output_activation="relu"), loss="mean_squared_error"),
            0.025,
        ),
        "A3 base": (lambda: _compiled(models.gap_cnn(), loss=logits), 0.7),
        "A3 H1": (lambda: _compiled(models.gap_cnn(width=32), loss=logits), 2.5),
        "A2 convnet": (lambda: _compiled(models.mnist_convnet()), 16.3),
    }
    for kind, (build, millions) in stacked_kinds.items():
        model = build()
        assert stacked.forward_macs(model) == pytest.approx(millions * 1e6, rel=0.05), kind
        for runs in (3, 5):
            assert stacked.preferred(model, runs=runs), kind
    assert stacked.preferred(stacked_kinds["A1 perceptron"][0](), runs=1)
    assert not stacked.preferred(stacked_kinds["A3 base"][0](), runs=1)
    a4 = _compiled(a4_dropout_network())
    assert stacked.forward_macs(a4) > stacked.STACKED_MACS_LIMIT > 70e6
    for runs in (3, 5):
        assert not stacked.preferred(a4, runs=runs)
        assert "measured no faster above 80M" in stacked.not_preferred_reason(a4, runs=runs)
