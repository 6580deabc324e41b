"""Exactness of the stacked engine's random and normalising layers: R runs trained stacked must end
with the very weights (and batch-norm statistics, and random-generator states) that R separate
Keras models reach with ``train_on_batch`` in the same batch order. Each twin is built again with
its run's seed, so it starts from the same weights and its dropout and augmentation layers from the
same seeds: identical masks, flips and shifts are then drawn only if every run draws its own."""

from pathlib import Path

import keras
import numpy as np
import pytest

from cnnlab import models, multirun, stacked
from notebook_source import definition

BOOK = Path(__file__).resolve().parents[1] / "book"
from cnnlab.stacked_layers import StackedNetwork

SEED = 7


@pytest.fixture(scope="module")
def images():
    """Random 12x12 RGB images with random labels, and a held-out set: exactness needs no signal."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(192, 12, 12, 3)).astype("float32")
    xt = rng.uniform(0, 1, size=(100, 12, 12, 3)).astype("float32")
    return (x, rng.integers(0, 5, size=192)), (xt, rng.integers(0, 5, size=100))


def compiled(layers, input_shape=(12, 12, 3), optimizer="adam", loss="sparse_categorical_crossentropy"):
    def build():
        model = keras.Sequential([keras.Input(input_shape), *layers()])
        opt = {"adam": keras.optimizers.Adam(0.01), "momentum": keras.optimizers.SGD(0.05, momentum=0.9)}.get(
            optimizer, optimizer
        )
        model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
        return model

    return build


def trained_twins(builds, train, epochs, batch_size):
    """Run r of every build, trained alone with ``train_on_batch`` in the stacked path's batch order."""
    x, y = train
    twins = []
    for build in builds:
        for run in range(len(builds[build])):
            twin = multirun.build_run(builds[build][run], SEED, run)
            rng = np.random.default_rng(multirun.run_seed(SEED, run))
            for _ in range(epochs):
                order = rng.permutation(len(x))
                for start in range(0, len(x), batch_size):
                    twin.train_on_batch(x[order[start : start + batch_size]], y[order[start : start + batch_size]])
            twins.append(twin)
    return twins


def assert_stacked_equals_separate(builds, train, test, epochs=2, batch_size=32, rtol=1e-4, atol=2e-5):
    """``builds``: {setting: [build of run 0, build of run 1, ...]}; all runs stacked in one graph."""
    runs = [multirun.build_run(b, SEED, run) for setting in builds for run, b in enumerate(builds[setting])]
    seeds = [multirun.run_seed(SEED, run) for setting in builds for run in range(len(builds[setting]))]
    assert stacked.unsupported_reason(runs[0]) is None and stacked.mismatch_reason(runs) is None
    frame = stacked.train_stacked(
        runs, train, epochs=epochs, evaluate={"test": test}, batch_size=batch_size, seeds=seeds, verbose=False
    )
    twins = trained_twins(builds, train, epochs, batch_size)
    for run, (model, twin) in enumerate(zip(runs, twins)):
        for ours, theirs, variable in zip(model.get_weights(), twin.get_weights(), twin.weights):
            np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=f"run {run}: {variable.path}")
        for ours, theirs in zip(_seed_states(model), _seed_states(twin)):
            assert np.array_equal(ours, theirs), f"run {run}: random generators advanced differently"
        loss, accuracy = twin.evaluate(*test, verbose=0)
        row = frame.query("run == @run and split == 'test' and epoch == @epochs").set_index("metric").value
        assert row["accuracy"] == pytest.approx(accuracy, abs=1e-6)
        assert row["loss"] == pytest.approx(loss, rel=1e-4, abs=1e-6)
        # the weights copied back give Keras's own evaluation the same numbers
        assert model.evaluate(*test, verbose=0)[1] == pytest.approx(accuracy, abs=1e-6)
    return runs, twins


def _seed_states(model):
    return [g.state.numpy() for layer in stacked.flat_layers(model) for g in getattr(layer, "_seed_generators", [])]


def test_dropout_each_run_draws_its_own_masks(images):
    build = compiled(
        lambda: [
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    assert_stacked_equals_separate({"p": [build] * 3}, *images)


def test_spatial_dropout_drops_each_runs_own_feature_maps(images):
    build = compiled(
        lambda: [
            keras.layers.Conv2D(6, 3, padding="same"),
            keras.layers.LeakyReLU(0.01),
            keras.layers.SpatialDropout2D(0.4),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="softmax"),
        ],
        optimizer="momentum",
    )
    assert_stacked_equals_separate({"p": [build] * 3}, *images)


def test_a_rate_sweep_trains_each_run_with_its_own_rate(images):
    def net(rate):
        return compiled(
            lambda: [
                keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.Dropout(rate),
                keras.layers.Flatten(),
                keras.layers.Dense(5, activation="softmax"),
            ]
        )

    runs, _ = assert_stacked_equals_separate({rate: [net(rate)] * 2 for rate in (0.0, 0.2, 0.7)}, *images)
    assert [models.dropout_rates(m) for m in runs] == [[0.0]] * 2 + [[0.2]] * 2 + [[0.7]] * 2


def test_batch_norm_keeps_each_runs_statistics(images):
    build = compiled(
        lambda: [
            keras.layers.Conv2D(4, 3, use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.Activation("relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(8, use_bias=False),
            keras.layers.BatchNormalization(center=False, epsilon=0.01),
            keras.layers.ReLU(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    runs, twins = assert_stacked_equals_separate({"bn": [build] * 3}, *images)
    means = [m.layers[1].moving_mean.numpy() for m in runs]
    assert not np.allclose(means[0], means[1]), "each run keeps its own moving mean"
    assert not np.allclose(means[0], 0), "the moving statistics were copied back"


def test_augmentation_flips_and_shifts_each_runs_own_batch(images):
    build = compiled(
        lambda: [
            keras.layers.Normalization(mean=[0.5, 0.4, 0.3], variance=[0.1, 0.2, 0.3]),
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomTranslation(0.2, 0.2, fill_mode="reflect"),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.GlobalMaxPooling2D(),
            keras.layers.Dense(5),
        ],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert_stacked_equals_separate({"augmented": [build] * 3}, *images)


def test_the_workbook_networks_with_dropout_and_batch_norm_are_stacked():
    """The networks the notebooks write out (read from their sources) are all supported."""
    a4 = BOOK / "a4-cifar10-lab"
    for model in (
        models.mnist_convnet(),
        definition(a4 / "dropout.md", "dropout_network", "full")(0.5),
        definition(a4 / "improved.md", "past_network", "full")(),
        definition(a4 / "improved.md", "better_network", "full", steps=100)(True),
        definition(BOOK / "a1-keras-basics" / "cifar10-mlp-cnn.md", "past_network", "full")(
            [keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.1, 0.1)]),
        models.gap_cnn(),
    ):
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=model.layers[-1].activation is keras.activations.linear
            ),
        )
        assert stacked.unsupported_reason(model) is None, model.name


def test_an_adapted_normalization_is_applied_once_and_matches_separate_runs(images):
    """Adapted statistics are variables: the engine compares them across runs before tracing."""
    (x, _), _ = images

    def adapted():
        layer = keras.layers.Normalization()
        layer.adapt(x[:64])
        return layer

    build = compiled(
        lambda: [
            adapted(),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5),
        ],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    network = StackedNetwork([multirun.build_run(build, SEED, run) for run in range(2)])
    assert network.steps[0][0] == "same_input"
    assert_stacked_equals_separate({"adapted": [build] * 2}, *images)
