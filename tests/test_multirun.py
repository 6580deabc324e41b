import keras
import numpy as np
import pandas as pd
import pytest

from cnnlab import diagnostics, models, multirun, tidy


def build():
    model = models.mlp(input_shape=(12,), hidden=[8], classes=3)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_repeated_runs_returns_tidy_curves(tiny):
    x, y = tiny
    frame = multirun.repeated_runs(build, (x, y), evaluate={"test": (x[:50], y[:50])}, runs=3, epochs=2, verbose=False)
    assert list(frame.columns) == tidy.COLUMNS
    assert sorted(frame.run.unique()) == [0, 1, 2] and sorted(frame.epoch.unique()) == [1, 2]
    assert set(frame.split) == {"train", "test"} and set(frame.metric) == {"loss", "accuracy"}
    assert len(frame) == 3 * 2 * 2 * 2
    assert frame.attrs["seconds"] > 0
    # independently initialised runs do not produce the same curves
    losses = frame.query("split == 'train' and metric == 'loss'").pivot(index="epoch", columns="run", values="value")
    assert losses[0].ne(losses[1]).any() and losses[1].ne(losses[2]).any()


def test_same_seed_reproduces_every_number(tiny):
    first = multirun.repeated_runs(build, tiny, runs=2, epochs=1, seed=11, verbose=False)
    again = multirun.repeated_runs(build, tiny, runs=2, epochs=1, seed=11, verbose=False)
    other = multirun.repeated_runs(build, tiny, runs=2, epochs=1, seed=12, verbose=False)
    pd.testing.assert_frame_equal(first, again)
    assert not first.value.equals(other.value)


def test_models_are_returned_trained_and_distinct(tiny):
    x, y = tiny
    frame, trained = multirun.repeated_runs(build, tiny, runs=2, epochs=3, verbose=False, models=True)
    assert len(trained) == 2
    w0, w1 = (m.layers[-1].get_weights()[0] for m in trained)
    assert not np.allclose(w0, w1)
    accuracy = trained[0].evaluate(x, y, verbose=0)[1]
    assert accuracy > 0.8  # the task is easy; an untrained model sits near 1/3


def test_history_frame_and_final():
    logs = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.7], "val_accuracy": [0.4, 0.7]}
    frame = tidy.history_frame(logs, run=4, validation_label="test")
    assert set(frame.split) == {"train", "test"} and frame.run.eq(4).all()
    last = tidy.final(frame)
    assert last.loc[4, "train"] == 0.8 and last.loc[4, "test"] == 0.7


def test_bad_arguments_are_explained(tiny):
    x, y = tiny
    with pytest.raises(ValueError, match="runs and epochs"):
        multirun.repeated_runs(build, tiny, runs=0, epochs=1)
    with pytest.raises(ValueError, match="x has 300 examples but y has 10"):
        multirun.repeated_runs(build, (x, y[:10]), runs=1, epochs=1)
    with pytest.raises(ValueError, match="compiled"):
        multirun.repeated_runs(lambda: models.mlp(input_shape=(12,), classes=3), tiny, runs=1, epochs=1, verbose=False)


def test_dead_units_finds_units_that_never_fire():
    model = models.mlp(input_shape=(4,), hidden=[3], classes=2, output_activation="relu")
    hidden, output = model.layers[1], model.layers[2]
    hidden.set_weights([np.array([[1.0, -1.0, 0.5]] * 4), np.array([0.0, -1.0, 0.0])])
    output.set_weights([np.ones((3, 2)), np.array([0.0, -100.0])])
    x = np.abs(np.random.default_rng(0).normal(size=(20, 4))).astype("float32")
    assert diagnostics.dead_units(model, x, layer=1).tolist() == [1]  # negative weights, negative bias
    assert diagnostics.dead_units(model, x).tolist() == [1]  # the output unit pushed below zero


def dropout_mlp(rate):
    def build():
        model = keras.Sequential(
            [
                keras.Input((12,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dropout(rate),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build


@pytest.mark.parametrize("method", ["stacked", "sequential"])
def test_compare_runs_gives_each_setting_the_frame_repeated_runs_gives_it(tiny, method):
    x, y = tiny
    kwargs = dict(runs=2, epochs=2, evaluate={"test": (x[:60], y[:60])}, seed=3, verbose=False, method=method)
    frames = multirun.compare_runs({rate: dropout_mlp(rate) for rate in (0.1, 0.6)}, tiny, **kwargs)
    assert list(frames) == [0.1, 0.6]
    for rate, frame in frames.items():
        alone = multirun.repeated_runs(dropout_mlp(rate), tiny, **kwargs)
        assert frame.attrs["method"] == method and list(frame.columns) == tidy.COLUMNS
        pd.testing.assert_frame_equal(frame, alone, check_exact=False, rtol=1e-5, atol=1e-6)
    # the rates matter: the two settings trained differently
    assert not np.allclose(frames[0.1].value, frames[0.6].value)
