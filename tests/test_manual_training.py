"""Assignment 3's hand-written training machinery (cnnlab.training), its configurable convnet
(cnnlab.models.gap_cnn) and the Fashion-MNIST pool split."""

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import three_class_problem
import tensorflow as tf

from cnnlab import config, data, handloop, models, plots, tidy


@pytest.fixture(scope="module")
def easy():
    return three_class_problem(240)


def logits_mlp(seed=0):
    config.seed_everything(seed)
    return models.mlp(input_shape=(12,), hidden=[8], classes=3, output_activation=None)


# --- loss, prediction and the step ---------------------------------------------------------------

def test_loss_and_prediction_are_cross_entropy_and_softmax():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]], dtype="float32")
    labels = np.array([0, 2])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(probs[[0, 1], labels]))
    assert float(handloop.mean_cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-6)
    model = logits_mlp()
    x = np.ones((2, 12), dtype="float32")
    assert np.allclose(handloop.predict(model, x), tf.nn.softmax(model(x)), atol=1e-6)
    assert np.allclose(np.asarray(handloop.predict(model, x)).sum(axis=1), 1.0)


def test_manual_sgd_step_is_w_minus_lr_times_gradient(easy):
    x, y = easy[0][:32], easy[1][:32]
    model, lr = logits_mlp(), 0.05
    before = [np.array(v) for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        batch_loss = handloop.loss(model, x, y)
    gradients = [np.array(g) for g in tape.gradient(batch_loss, model.trainable_variables)]
    assert any(np.abs(g).max() > 1e-4 for g in gradients)  # the check below is not vacuous

    step = handloop.make_train_step(model, learning_rate=lr)
    step_loss, correct = step(x, y)
    assert float(step_loss) == pytest.approx(float(batch_loss), rel=1e-6)
    assert 0 <= float(correct) <= 32
    for w, g, v in zip(before, gradients, model.trainable_variables):
        assert np.allclose(np.array(v), w - lr * g, atol=1e-6)


def test_a_few_epochs_reduce_the_loss(easy):
    frame = handloop.train_by_hand(logits_mlp(), easy, easy, epochs=5, batch_size=16, learning_rate=0.1,
                                   verbose=False)
    train_loss = frame.query("split == 'train' and metric == 'loss'").value.to_numpy()
    val = frame.query("split == 'validation' and metric == 'accuracy'").value.to_numpy()
    assert train_loss[-1] < 0.7 * train_loss[0]
    assert val[-1] > 0.9  # an untrained model sits near 1/3


def test_history_is_tidy_timed_and_plottable(easy, capsys):
    frame = handloop.train_by_hand(logits_mlp(), easy, easy, epochs=2, learning_rate=0.1, run="base")
    assert list(frame.columns) == tidy.COLUMNS
    assert set(frame.split) == {"train", "validation"}
    assert set(frame.metric) == {"loss", "accuracy", "seconds"}
    assert frame.run.eq("base").all() and sorted(frame.epoch.unique()) == [1, 2]
    assert (frame.query("metric == 'seconds'").value > 0).all()
    assert len(capsys.readouterr().out.strip().splitlines()) == 2  # one line per epoch
    fig = plots.learning_curves(frame, title="manual loop")
    assert len(fig.axes) == 2


def test_same_seed_same_history_and_another_seed_differs(easy):
    def run(model_seed, seed):
        frame = handloop.train_by_hand(logits_mlp(model_seed), easy, easy, epochs=2, batch_size=16,
                                       learning_rate=0.1, seed=seed, verbose=False)
        return frame.query("metric != 'seconds'").reset_index(drop=True)

    first = run(0, 5)
    pd.testing.assert_frame_equal(first, run(0, 5))
    assert not np.allclose(first.value, run(0, 6).value)  # other batch order
    assert not np.allclose(first.value, run(1, 5).value)  # other initial weights


def test_keras_sgd_through_the_same_loop_matches_manual_sgd(easy):
    manual = handloop.train_by_hand(logits_mlp(), easy, easy, epochs=3, batch_size=16, learning_rate=0.05,
                                    verbose=False)
    by_keras = handloop.train_by_hand(logits_mlp(), easy, easy, epochs=3, batch_size=16,
                                      optimizer=keras.optimizers.SGD(0.05), verbose=False)
    a, b = (f.query("metric != 'seconds'").value.to_numpy() for f in (manual, by_keras))
    assert np.allclose(a, b, atol=1e-5)
    adam = handloop.train_by_hand(logits_mlp(), easy, easy, epochs=3, batch_size=16,
                                  optimizer=keras.optimizers.Adam(0.05), verbose=False)
    assert not np.allclose(a, adam.query("metric != 'seconds'").value.to_numpy(), atol=1e-3)


def test_restore_best_returns_the_model_of_the_best_validation_epoch(easy):
    rng = np.random.default_rng(0)  # random labels: validation accuracy goes up and down
    x, y = rng.normal(size=(200, 12)).astype("float32"), rng.integers(0, 3, size=200)
    val = (x[:50], y[:50])
    model = logits_mlp()
    frame = handloop.train_by_hand(model, (x[50:], y[50:]), val, epochs=6, batch_size=16, learning_rate=0.5,
                                   restore_best=True, verbose=False)
    history = frame.query("split == 'validation' and metric == 'accuracy'").value.to_numpy()
    assert history.argmax() < len(history) - 1 and history.max() > history[-1]  # the last epoch is not the best
    assert handloop.evaluate_by_hand(model, *val)[1] == pytest.approx(history.max())
    with pytest.raises(ValueError, match="needs validation data"):
        handloop.train_by_hand(logits_mlp(), easy, epochs=1, restore_best=True, verbose=False)


def test_compare_by_hand_starts_every_candidate_alike(easy):
    build = lambda: models.mlp(input_shape=(12,), hidden=[8], classes=3, output_activation=None)  # noqa: E731
    frame, trained = handloop.compare_by_hand(
        {"a": {"build": build, "learning_rate": 0.1}, "b": {"build": build, "learning_rate": 0.1},
         "adam": {"build": build, "optimizer": keras.optimizers.Adam(0.01)}},
        easy, easy, epochs=2, seed=3, verbose=False)
    assert list(trained) == ["a", "b", "adam"] and list(frame.run.unique()) == ["a", "b", "adam"]
    values = {name: rows.query("metric != 'seconds'").value.to_numpy() for name, rows in frame.groupby("run")}
    assert np.array_equal(values["a"], values["b"])  # same seed: same weights, same batches
    assert not np.allclose(values["a"], values["adam"])
    with pytest.raises(ValueError, match="'build'"):
        handloop.compare_by_hand({"x": {"learning_rate": 0.1}}, easy, easy, epochs=1)


def test_named_curves_draws_one_line_per_named_run():
    rows = [(name, e, "validation", "accuracy", 0.1 * e + k) for k, name in enumerate(["SGD", "Adam"])
            for e in (1, 2, 3)]
    fig = plots.named_curves(pd.DataFrame(rows, columns=tidy.COLUMNS), legend_title="optimizer")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["SGD", "Adam"]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "validation accuracy" and ax.get_title()
    with pytest.raises(ValueError, match="split='test'"):
        plots.named_curves(pd.DataFrame(rows, columns=tidy.COLUMNS), split="test")


def test_best_epochs_reports_the_best_validation_epoch():
    rows = [("r", e, "validation", "accuracy", a) for e, a in enumerate([0.2, 0.5, 0.5, 0.4], start=1)]
    rows += [("r", e, "train", "seconds", s) for e, s in enumerate([9.0, 1.0, 2.0, 3.0], start=1)]
    table = tidy.best_epochs(pd.DataFrame(rows, columns=tidy.COLUMNS))
    assert table.loc["r", "best validation accuracy"] == 0.5 and table.loc["r", "best epoch"] == 2
    assert table.loc["r", "last validation accuracy"] == 0.4 and table.loc["r", "seconds per epoch"] == 2.5


def test_evaluate_by_hand_matches_keras_evaluate(easy):
    x, y = easy
    model = logits_mlp()
    loss, accuracy = handloop.evaluate_by_hand(model, x, y, batch_size=50)  # 240 = 4 full batches + 40
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    k_loss, k_accuracy = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(k_loss, rel=1e-5) and accuracy == pytest.approx(k_accuracy)


def test_bad_inputs_are_explained(easy):
    x, y = easy
    with pytest.raises(ValueError, match=r"expects inputs of shape \(N, 12\) but x has shape \(240, 5\)"):
        handloop.train_by_hand(logits_mlp(), (x[:, :5], y), epochs=1, verbose=False)
    with pytest.raises(ValueError, match="x has 240 examples but y has 10"):
        handloop.train_by_hand(logits_mlp(), (x, y[:10]), epochs=1, verbose=False)
    with pytest.raises(TypeError, match="keras.optimizers.Optimizer"):
        handloop.make_train_step(logits_mlp(), optimizer="adam")


# --- the configurable convnet --------------------------------------------------------------------

def conv_widths(model):
    return [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_base_model_layers_and_parameter_count():
    base = models.gap_cnn()
    assert base.count_params() == (2 * 2 * 3 * 16 + 16) + (2 * 2 * 16 * 32 + 32) + (32 * 10 + 10) == 2_618
    assert conv_widths(base) == [16, 32] and dense_units(base) == [10]
    assert base.output_shape == (None, 10)
    assert base.layers[-1].activation is keras.activations.linear  # logits
    assert [type(layer).__name__ for layer in base.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "GlobalAveragePooling2D", "Dense"]
    assert all(layer.padding == "same" for layer in base.layers if isinstance(layer, keras.layers.Conv2D))
    pool = base.layers[1]
    assert pool.padding == "valid" and tuple(pool.strides) == (2, 2)
    assert models.gap_cnn(input_shape=(28, 28, 1)).count_params() == 2_490


def test_h1_and_h2_differ_as_specified():
    h1 = models.gap_cnn(conv_layers=2, dense_layers=1, width=32)
    h2 = models.gap_cnn(conv_layers=3, dense_layers=2, width=64)
    assert conv_widths(h1) == [32, 64] and dense_units(h1) == [10]
    assert conv_widths(h2) == [64, 128, 256] and dense_units(h2) == [256, 10]
    assert h2.layers[-4].output.shape == (None, 8, 8, 256)  # 32 -> 16 -> 8 after two pools
    assert h1.count_params() == 9_322 and h2.count_params() == 233_418


def test_fashion_mnist_variant_and_bad_arguments():
    model = models.gap_cnn(input_shape=(28, 28, 1), conv_layers=3, kernel_size=3)
    assert conv_widths(model) == [16, 32, 64]
    assert all(tuple(layer.kernel_size) == (3, 3) for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    with pytest.raises(ValueError, match="at least one convolution"):
        models.gap_cnn(conv_layers=0)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        models.gap_cnn(input_shape=(28, 28))


# --- the Fashion-MNIST pool ----------------------------------------------------------------------

def test_split_pool_fashion_mnist_sizes(data_folder):
    split = data.split_pool("fashion_mnist")
    assert {k: len(v[0]) for k, v in split.items()} == {"train": 56_000, "validation": 7_000, "test": 7_000}
    assert split["train"][0].shape == (56_000, 28, 28) and split["test"][1].shape == (7_000,)
    labels = np.concatenate([y for _, y in split.values()])
    assert np.bincount(labels).tolist() == [7_000] * 10  # the 70,000 pooled images, each used once


def test_weight_change_is_relative_and_skips_zero_tensors():
    from cnnlab import diagnostics

    initial = [np.array([[3.0, 4.0]]), np.zeros(2), np.ones(4)]
    final = [np.array([[3.0, 5.0]]), np.ones(2), np.ones(4) * 1.5]
    # |(0, 1)| / |(3, 4)| = 0.2; the zero bias is skipped; |0.5 * 1_4| / |1_4| = 0.5
    assert np.allclose(diagnostics.weight_change(initial, final), [0.2, 0.5])
    with pytest.raises(ValueError, match="same model"):
        diagnostics.weight_change(initial, final[:2])
    with pytest.raises(ValueError, match="shapes differ"):
        diagnostics.weight_change([np.ones(3)], [np.ones(4)])


def test_epochs_to_reach_gives_the_first_epoch_at_or_above_the_target():
    curves = pd.DataFrame({"fast": [0.2, 0.5, 0.4], "slow": [0.1, 0.3, 0.5], "never": [0.1, 0.2, 0.3]},
                          index=pd.Index([1, 2, 3], name="epoch"))
    reach = tidy.epochs_to_reach(curves, 0.5)
    assert reach["fast"] == 2 and reach["slow"] == 3 and np.isnan(reach["never"])


def test_split_pool_keeps_profile_subsets_of_training_and_validation(data_folder):
    whole = data.split_pool("fashion_mnist")
    small = data.split_pool("fashion_mnist", sizes=(100, 50))
    assert [len(x) for x, _ in small.values()] == [100, 50, 7_000]
    assert np.array_equal(small["test"][1], whole["test"][1])
    x, y = data.sample(100, *whole["train"], seed=0)
    assert np.array_equal(small["train"][0], x) and np.array_equal(small["train"][1], y)


def test_candidates_split_loop_settings_from_builder_arguments():
    made = handloop.candidates(
        {"small": {"learning_rate": 0.1, "width": 4}, "wide": {"learning_rate": 0.2, "width": 8, "batch_size": 16}},
        build=models.gap_cnn, batch_size=32, input_shape=(8, 8, 1))
    assert set(made["small"]) == {"build", "learning_rate", "batch_size"}
    assert made["small"]["learning_rate"] == 0.1 and made["small"]["batch_size"] == 32
    assert made["wide"]["batch_size"] == 16  # a setting's own value beats the common one
    small, wide = made["small"]["build"](), made["wide"]["build"]()
    assert small is not made["small"]["build"]()  # a fresh model every call
    assert small.input_shape == (None, 8, 8, 1) and small.layers[0].filters == 4 and wide.layers[0].filters == 8


def test_the_code_a3_solutions_include_exists():
    """The solutions show cnnlab's code with ``literalinclude``/``:pyobject:``; a renamed function
    or file would only break the strict site build, so check every such directive here."""
    import ast
    import re
    from pathlib import Path

    book = Path(__file__).resolve().parents[1] / "book" / "a3-cnn-design"
    found = 0
    for notebook in book.glob("*.md"):
        for path, name in re.findall(r"```\{literalinclude\} (\S+)\n:pyobject: (\w+)", notebook.read_text()):
            source = (notebook.parent / path).resolve()
            assert source.is_file(), f"{notebook.name} includes {path}, which does not exist"
            defined = {node.name for node in ast.parse(source.read_text()).body
                       if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
            assert name in defined, f"{notebook.name} includes {name} from {path}, which does not define it"
            found += 1
    assert found >= 7  # conv2d; the loss, prediction, update, step, loop and evaluation
