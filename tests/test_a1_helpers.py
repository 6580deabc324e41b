"""Helpers written for assignment 1's notebooks: run summaries, layer outputs without retracing."""

import logging

import keras
import numpy as np
import pandas as pd
import pytest

from cnnlab import diagnostics, models, tidy


def test_run_summary_reads_the_first_and_last_epoch_of_every_run():
    rows = [(run, epoch, "test", "accuracy", value)
            for run, curve in enumerate([[0.5, 0.7, 0.8], [0.4, 0.6, 0.9], [0.1, 0.1, 0.1]])
            for epoch, value in enumerate(curve, start=1)]
    rows.append((0, 1, "train", "accuracy", 0.99))
    frame = pd.DataFrame(rows, columns=tidy.COLUMNS)
    summary = tidy.run_summary(frame)
    assert summary["first"] == pytest.approx(1.0 / 3)
    assert summary["last"] == pytest.approx(0.6)
    assert (summary["worst"], summary["best"], summary["runs"]) == (0.1, 0.9, 3)
    assert "dead_runs" not in summary
    assert tidy.run_summary(frame, dead=[0, 2, 1])["dead_runs"] == 2
    with pytest.raises(ValueError, match="2 dead-unit counts for 3 runs"):
        tidy.run_summary(frame, dead=[0, 2])
    with pytest.raises(ValueError, match="no loss on split 'test'"):
        tidy.run_summary(frame, metric="loss")
    assert tidy.per_run(frame).tolist() == [0.8, 0.9, 0.1]
    assert tidy.per_run(frame, epoch=1).tolist() == [0.5, 0.4, 0.1]
    assert tidy.per_run(frame, split="train").tolist() == [0.99]
    with pytest.raises(ValueError, match="no epoch 4 in the frame: epochs run from 1 to 3"):
        tidy.per_run(frame, epoch=4)


def test_layer_outputs_match_predict_in_batches():
    keras.utils.set_random_seed(0)
    model = models.mlp(input_shape=(6,), hidden=[5], classes=3)
    x = np.random.default_rng(0).normal(size=(2_500, 6)).astype("float32")
    hidden = diagnostics.layer_outputs(model, x, layer=1, batch_size=1_000)
    assert hidden.shape == (2_500, 5)
    part = keras.Model(model.inputs, model.layers[1].output)
    np.testing.assert_allclose(hidden, part.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_measuring_many_models_does_not_retrace(caplog):
    """TensorFlow warns "triggered tf.function retracing" when each of many models gets its own
    ``predict`` function; the A1 CIFAR-10 page printed it while counting dead units."""
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    trained = [models.mlp(input_shape=(8,), hidden=[4], classes=2) for _ in range(8)]
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for model in trained:
            diagnostics.dead_units(model, x, layer=1)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
