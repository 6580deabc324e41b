"""Assignment 2 helpers: the MNIST convnet and its dropout variants, pixel permutations as the
notebooks use them, and the evaluation callbacks."""

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import three_class_problem

from cnnlab import config, data, models, recorders, tidy

# --- the convnet and its dropout variants ------------------------------------------------------


def test_mnist_convnet_has_the_reference_architecture():
    model = models.mnist_convnet()
    assert model.count_params() == 1_625_866
    assert model.output_shape == (None, 10)
    flatten = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    assert flatten.output.shape[1] == 14 * 14 * 64 == 12_544
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.padding) for c in convs] == [(32, (3, 3), "same"), (64, (3, 3), "same")]
    assert models.dropout_rates(model) == [0.25, 0.5]


def test_the_three_dropout_variants_are_really_different_models():
    built = {name: models.mnist_convnet(dropout=rates) for name, rates in models.MNIST_CONVNET_DROPOUT.items()}
    rates = {name: models.dropout_rates(model) for name, model in built.items()}
    assert rates == {"none": [0.0, 0.0], "reference": [0.25, 0.5], "high": [0.6, 0.8]}
    assert len({tuple(r) for r in rates.values()}) == 3, "two variants share their dropout rates"
    assert len({model.name for model in built.values()}) == 3
    # same layers and parameters otherwise: they differ only in dropout
    assert {model.count_params() for model in built.values()} == {1_625_866}
    assert len({len(model.layers) for model in built.values()}) == 1


def test_dropout_acts_only_in_training_mode_and_only_when_the_rate_is_positive():
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    none = models.mnist_convnet(dropout=(0.0, 0.0))
    reference = models.mnist_convnet(dropout=(0.25, 0.5))
    assert np.allclose(none(x, training=True), none(x, training=False))
    assert not np.allclose(reference(x, training=True), reference(x, training=False))


def test_same_seed_gives_the_variants_the_same_initial_weights():
    weights = []
    for rates in models.MNIST_CONVNET_DROPOUT.values():
        config.seed_everything(5)
        weights.append(models.mnist_convnet(dropout=rates).get_weights())
    for other in weights[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(weights[0], other))


def test_dropout_masks_follow_the_seed():
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")

    def dropped(seed):
        config.seed_everything(seed)
        return np.asarray(models.mnist_convnet()(x, training=True))

    assert np.array_equal(dropped(1), dropped(1))
    assert not np.allclose(dropped(1), dropped(2))


def test_mnist_convnet_compiles_with_the_named_optimizer_and_its_settings():
    assert not models.mnist_convnet().compiled
    model = models.mnist_convnet(optimizer="adadelta", learning_rate=1.0, rho=0.9)
    config = model.optimizer.get_config()
    assert type(model.optimizer).__name__ == "Adadelta"
    assert config["learning_rate"] == pytest.approx(1.0) and config["rho"] == pytest.approx(0.9)
    assert model.loss == "sparse_categorical_crossentropy"
    other = models.mnist_convnet(optimizer="adadelta", learning_rate=1.0, rho=0.9)
    assert other.optimizer is not model.optimizer  # every model gets its own optimizer state
    x, y = np.zeros((4, 28, 28, 1), "float32"), np.arange(4)
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "accuracy"}


def test_mnist_convnet_refuses_settings_without_an_optimizer():
    with pytest.raises(ValueError, match="without an optimizer"):
        models.mnist_convnet(learning_rate=1.0)
    with pytest.raises(ValueError, match="optimizer identifier"):
        models.mnist_convnet(optimizer="adadeltaa")


@pytest.mark.parametrize("bad", [0.5, (0.5,), (0.2, 1.0), (-0.1, 0.5), "high"])
def test_mnist_convnet_rejects_bad_dropout(bad):
    with pytest.raises(ValueError, match="dropout"):
        models.mnist_convnet(dropout=bad)


# --- pixel permutations as the notebooks use them ----------------------------------------------


def test_permutation_is_seeded():
    assert np.array_equal(data.pixel_permutation((28, 28), seed=3), data.pixel_permutation((28, 28), seed=3))
    assert not np.array_equal(data.pixel_permutation((28, 28), seed=3), data.pixel_permutation((28, 28), seed=4))


def test_permutation_with_a_channel_axis_matches_the_flat_images():
    rng = np.random.default_rng(1)
    images = rng.random((6, 28, 28)).astype("float32")
    perm = data.pixel_permutation((28, 28), seed=2)
    with_channel = data.permute_pixels(images[..., None], perm)
    assert with_channel.shape == (6, 28, 28, 1)
    assert np.array_equal(with_channel[..., 0], data.permute_pixels(images, perm))
    assert np.array_equal(data.permute_pixels(with_channel, data.inverse_permutation(perm)), images[..., None])


def test_a_dense_layer_with_permuted_weights_sees_permuted_images_as_the_originals():
    """The MLP argument of the pixel-shuffling notebook: rows of the first kernel follow the pixels."""
    rng = np.random.default_rng(2)
    images = rng.random((5, 28, 28)).astype("float32")
    kernel = rng.normal(size=(784, 7)).astype("float32")
    perm = data.pixel_permutation((28, 28), seed=9)
    original = images.reshape(5, -1) @ kernel
    shuffled = data.permute_pixels(images, perm).reshape(5, -1) @ kernel[perm]
    assert np.allclose(original, shuffled, atol=1e-5)
    assert not np.allclose(original, data.permute_pixels(images, perm).reshape(5, -1) @ kernel, atol=1e-3)


def test_permute_each_image_is_a_bijection_per_image_and_seeded():
    images = np.tile(np.arange(784, dtype=float).reshape(1, 28, 28), (4, 1, 1))
    out = data.permute_each_image(images, seed=0)
    for image in out:
        assert sorted(image.ravel().tolist()) == list(range(784))
    assert len({image.tobytes() for image in out}) == 4  # every image has its own permutation
    assert np.array_equal(out, data.permute_each_image(images, seed=0))
    assert not np.array_equal(out, data.permute_each_image(images, seed=1))


# --- callbacks ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    return three_class_problem(400)


def build(learning_rate=0.05):
    config.seed_everything(0)
    model = models.mlp(input_shape=(12,), hidden=[8], classes=3)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_batch_callback_records_one_point_per_batch(tiny):
    x, y = tiny
    callback = recorders.EvaluateEveryNBatches(x[:100], y[:100])
    build().fit(x, y, batch_size=40, epochs=2, verbose=0, callbacks=[callback])
    frame = callback.frame(model="tiny")
    assert callback.batches == 2 * 10 and callback.stopped_at is None
    assert sorted(frame.batch.unique()) == list(range(0, 21))  # before training, then after each batch
    assert len(frame) == 21 * 2 and set(frame.metric) == {"loss", "accuracy"} and set(frame.model) == {"tiny"}
    accuracy = frame[frame.metric == "accuracy"].set_index("batch").value
    assert accuracy.loc[20] > accuracy.loc[0]


def test_batch_callback_every_n_batches(tiny):
    x, y = tiny
    callback = recorders.EvaluateEveryNBatches(x[:100], y[:100], every=3, at_start=False)
    build().fit(x, y, batch_size=40, epochs=1, verbose=0, callbacks=[callback])
    assert sorted(callback.frame().batch.unique()) == [3, 6, 9]


def test_batch_callback_agrees_with_evaluate(tiny):
    x, y = tiny
    model = build()
    callback = recorders.EvaluateEveryNBatches(x, y, batch_size=64)
    model.fit(x, y, batch_size=40, epochs=1, verbose=0, callbacks=[callback])
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert callback.evaluate() == pytest.approx((loss, accuracy), abs=1e-5)
    last = callback.frame().query("batch == 10").set_index("metric").value
    assert last["loss"] == pytest.approx(loss, abs=1e-5) and last["accuracy"] == pytest.approx(accuracy)


def test_batch_callback_stops_training_at_the_threshold(tiny):
    x, y = tiny
    callback = recorders.EvaluateEveryNBatches(x, y, stop_at_accuracy=0.9)
    build(learning_rate=0.5).fit(x, y, batch_size=20, epochs=3, verbose=0, callbacks=[callback])
    accuracy = callback.frame().query("metric == 'accuracy'").set_index("batch").value
    assert callback.stopped_at is not None and callback.stopped_at < 3 * 20
    assert callback.batches == callback.stopped_at  # no batch was trained after the stop
    assert accuracy.index.max() == callback.stopped_at and accuracy.iloc[-1] >= 0.9
    assert (accuracy.iloc[:-1] < 0.9).all()


def test_batch_callback_explains_bad_input(tiny):
    x, y = tiny
    with pytest.raises(ValueError, match="integer class labels"):
        recorders.EvaluateEveryNBatches(x, np.eye(3)[y])
    with pytest.raises(ValueError, match="400 examples but y has 10"):
        recorders.EvaluateEveryNBatches(x, y[:10])
    with pytest.raises(ValueError, match="stop_at_accuracy"):
        recorders.EvaluateEveryNBatches(x, y, stop_at_accuracy=95)
    model = build()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", steps_per_execution=5)
    with pytest.raises(ValueError, match="steps_per_execution=1"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[recorders.EvaluateEveryNBatches(x, y)])


def test_evaluate_each_epoch_prints_only_when_verbose(tiny, capsys):
    x, y = tiny
    quiet = recorders.EvaluateEachEpoch({"test": (x[:50], y[:50])})
    build().fit(x, y, epochs=2, verbose=0, callbacks=[quiet])
    assert capsys.readouterr().out == ""
    loud = recorders.EvaluateEachEpoch({"test": (x[:50], y[:50])}, verbose=True)
    build().fit(x, y, epochs=2, verbose=0, callbacks=[loud])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1:") and lines[1].startswith("epoch 2:")
    last = {metric: value for epoch, split, metric, value in loud.rows if epoch == 2}
    assert "train loss" in lines[1] and f"test loss {last['loss']:.4f}, accuracy {last['accuracy']:.4f}" in lines[1]
    assert len(quiet.rows) == len(loud.rows) == 2 * 2


# --- overfitting read from learning curves --------------------------------------------------------


def curves(run, train_loss, val_loss, train_acc, val_acc):
    rows = []
    for split, metric, values in [("train", "loss", train_loss), ("validation", "loss", val_loss),
                                  ("train", "accuracy", train_acc), ("validation", "accuracy", val_acc)]:
        rows += [(run, epoch, split, metric, value) for epoch, value in enumerate(values, start=1)]
    return pd.DataFrame(rows, columns=tidy.COLUMNS)


def test_overfitting_reads_the_turn_and_the_gaps_of_every_run():
    frame = pd.concat([
        # run 0 overfits: validation loss lowest at epoch 2, then rises
        curves(0, [0.5, 0.2, 0.1, 0.05], [0.4, 0.3, 0.35, 0.45], [0.85, 0.94, 0.97, 0.99], [0.88, 0.91, 0.91, 0.90]),
        # run 1 is still improving at the end; a tie keeps the earliest epoch
        curves(1, [0.6, 0.4, 0.3, 0.25], [0.5, 0.4, 0.3, 0.3], [0.80, 0.88, 0.91, 0.92], [0.84, 0.88, 0.90, 0.91]),
    ])
    table = tidy.overfitting(frame.sample(frac=1.0, random_state=0))  # row order does not matter
    assert list(table.index) == [0, 1]
    assert list(table["best epoch"]) == [2, 3]
    assert table.loc[0, "rise after best"] == pytest.approx(0.15) and table.loc[1, "rise after best"] == 0.0
    assert table.loc[0, "loss gap"] == pytest.approx(0.45 - 0.05)
    assert table.loc[1, "accuracy gap"] == pytest.approx(0.92 - 0.91)
    assert table.loc[0, "final validation accuracy"] == pytest.approx(0.90)


def test_overfitting_needs_both_splits_measured():
    frame = curves(0, [0.5], [0.4], [0.8], [0.8])
    with pytest.raises(ValueError, match="evaluate both splits"):
        tidy.overfitting(frame[frame.split != "train"])
