"""The checks of assignment 1's exercises (cnnlab.checks.a1): each passes on a right answer, fails on
the untouched student edition (names missing) and fails on realistic wrong answers, with a message
that says what is wrong. Nothing here trains a network: tables of runs are made up, models built."""

from types import SimpleNamespace

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cnnlab import plots
from cnnlab.checks import check
from checking import fails, smoke  # noqa: F401 - smoke is an autouse fixture
from cnnlab.checks.a1 import PAST_NETWORK, mlp_parameters

S = SimpleNamespace(runs=3, q1_epochs=2, epochs=3, first_epochs=2, q6_widths=[2, 8], q6_runs=2,
                    q8_widths=[32, 256], q8_runs=2, q8_epochs=2, q9_runs=2, q9_epochs=2)




def runs(n_runs, epochs, splits=("train", "test"), final=0.9, spread=0.01):
    """A made-up table of repeated runs: accuracy and loss per run, epoch and split."""
    rows = []
    for run in range(n_runs):
        for epoch in range(1, epochs + 1):
            for split in splits:
                value = final * epoch / epochs - spread * run
                rows += [(run, epoch, split, "accuracy", value), (run, epoch, split, "loss", 1 - value)]
    return pd.DataFrame(rows, columns=["run", "epoch", "split", "metric", "value"])


def dense_stack(input_shape, hidden, output="softmax", optimizer="adam", loss="sparse_categorical_crossentropy"):
    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten()]
                             + [keras.layers.Dense(u, activation="relu") for u in hidden]
                             + [keras.layers.Dense(10, activation=output)])
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def first_model(optimizer=None, output="relu"):
    return dense_stack((28, 28), [32], output, optimizer or keras.optimizers.SGD(0.1), "mean_squared_error")


def softmax_model(hidden=(32,)):
    return dense_stack((28, 28), hidden)


# --- images, one-hot targets, first model -----------------------------------------------------


def digits_ns():
    rng = np.random.default_rng(0)
    return {"x_train_all": rng.integers(0, 256, size=(12, 28, 28)), "y_train_all": rng.integers(0, 10, size=12)}


def test_the_image_grid_check_compares_images_and_titles():
    ns = digits_ns()
    titles = [f"label {y}" for y in ns["y_train_all"][:10]]
    ns["fig_images"] = plots.image_grid(ns["x_train_all"][:10], titles=titles)
    assert "training images" in check("a1-images", ns)
    fails("a1-images", {**digits_ns()}, "`fig_images` not defined yet")
    shifted = plots.image_grid(ns["x_train_all"][1:11], titles=titles)
    fails("a1-images", {**ns, "fig_images": shifted}, "image 1 of `fig_images` is not training image 1")
    untitled = plots.image_grid(ns["x_train_all"][:10])
    fails("a1-images", {**ns, "fig_images": untitled}, "image 1 of `fig_images` is titled ''")
    fails("a1-images", {**ns, "fig_images": plt.figure()}, "shows 0 images, expected 10")


def test_one_hot_targets_are_compared_with_keras():
    y_train, y_test = np.array([5, 0, 9, 3]), np.array([1, 7])
    ns = {"y_train": y_train, "y_test": y_test, "Y_train": np.eye(10)[y_train], "Y_test": np.eye(10)[y_test]}
    assert "to_categorical" in check("a1-onehot", ns)
    fails("a1-onehot", {"y_train": y_train, "y_test": y_test}, "`Y_train`, `Y_test` not defined yet")
    fails("a1-onehot", {**ns, "Y_test": np.eye(10)[y_test - 1]}, r"(?s)`Y_test` differs .*Hint: row k of np.eye")
    fails("a1-onehot", {**ns, "Y_train": np.eye(10)[y_train][:, :9]}, r"`Y_train` has shape \(4, 9\)")


def test_the_first_model_check_reads_layers_and_compile_settings():
    ns = {"first_model": first_model, "model": first_model()}
    assert "784-32-10" in check("a1-first-model", ns)
    fails("a1-first-model", {}, "`first_model`, `model` not defined yet")
    softmax_out = {**ns, "first_model": lambda optimizer=None: first_model(optimizer, output="softmax")}
    fails("a1-first-model", softmax_out, r"layer 3 of `first_model\(\)` is Dense\(10, softmax\), expected Dense\(10, relu\)")
    fast = {**ns, "first_model": lambda optimizer=None: first_model(optimizer or keras.optimizers.SGD(0.5))}
    fails("a1-first-model", fast, "optimizer has learning_rate = 0.5")
    ignores = {**ns, "first_model": lambda optimizer=None: first_model()}
    fails("a1-first-model", ignores, "uses the SGD optimizer, expected Adam")


def history(epochs, accuracy, validation=True):
    logs = {"accuracy": [accuracy] * epochs, "loss": [0.1] * epochs}
    if validation:
        logs |= {"val_accuracy": [accuracy] * epochs, "val_loss": [0.1] * epochs}
    return SimpleNamespace(history=logs)


def test_training_the_first_model_needs_the_epochs_and_the_test_set():
    ns = {"S": S, "history": history(S.first_epochs, 0.8)}
    assert "test accuracy 0.800" in check("a1-train-first", ns)
    fails("a1-train-first", {"S": S}, "`history` not defined yet")
    fails("a1-train-first", {"S": S, "history": history(S.first_epochs, 0.8, validation=False)},
          "(?s)no test accuracy .*Hint: pass validation_data")
    fails("a1-train-first", {"S": S, "history": history(S.first_epochs + 1, 0.8)}, "the number of epochs in `history` is 3")
    fails("a1-train-first", {"S": S, "history": history(S.first_epochs, 0.12)}, "the last test accuracy is 0.12")


def test_predicted_classes_are_the_arg_max_of_the_outputs():
    keras.utils.set_random_seed(0)
    model = first_model(output="softmax")
    x = np.random.default_rng(0).random((50, 28, 28)).astype("float32")
    y_pred = model.predict(x, verbose=0).argmax(axis=1)
    ns = {"model": model, "x_test": x, "y_pred": y_pred}
    assert "50 test images" in check("a1-confusion", ns)
    fails("a1-confusion", {"model": model, "x_test": x}, "`y_pred` not defined yet")
    fails("a1-confusion", {**ns, "y_pred": model.predict(x, verbose=0).argmax(axis=0)}, "has shape")
    fails("a1-confusion", {**ns, "y_pred": (y_pred + 1) % 10}, "differs from the arg-max .* for 50 images")


# --- Q1-Q7 ------------------------------------------------------------------------------------


def test_q1_needs_every_run_and_two_identical_reruns():
    rerun = runs(1, 1, ("train",))
    ns = {"S": S, "q1": runs(S.runs, S.q1_epochs, ("train",)), "rerun_a": rerun, "rerun_b": rerun.copy()}
    assert "two runs with one seed are identical" in check("a1-q1", ns)
    fails("a1-q1", {"S": S}, "`q1`, `rerun_a`, `rerun_b` not defined yet")
    fails("a1-q1", {**ns, "q1": runs(S.runs - 1, S.q1_epochs, ("train",))}, "the number of runs in `q1` is 2, expected 3")
    fails("a1-q1", {**ns, "q1": runs(S.runs, S.q1_epochs, ("train",), spread=0)}, "every run of `q1` ends with the same")
    other = rerun.assign(value=rerun.value + 0.01)
    fails("a1-q1", {**ns, "rerun_b": other}, "`rerun_a` and `rerun_b` differ")


@pytest.mark.parametrize("label, optimizer", [("a1-q2", keras.optimizers.SGD(0.1)),
                                              ("a1-q3", keras.optimizers.SGD(0.01)),
                                              ("a1-q4", keras.optimizers.Adam())])
def test_q2_to_q4_check_the_runs_and_each_run_optimizer(label, optimizer):
    name = label[-2:]
    trained = [first_model(type(optimizer).from_config(optimizer.get_config())) for _ in range(S.runs)]
    ns = {"S": S, name: runs(S.runs, S.epochs), f"{name}_models": trained}
    assert f"{S.runs} runs of the first model" in check(label, ns)
    fails(label, {"S": S}, f"`{name}`, `{name}_models` not defined yet")
    fails(label, {**ns, name: runs(S.runs, S.epochs, ("train",))}, f"`{name}` has no 'test' split")
    fails(label, {**ns, name: runs(S.runs, S.epochs, final=0.1)}, "the best run's final test accuracy")
    wrong = keras.optimizers.SGD(0.05) if name != "q4" else keras.optimizers.SGD(0.1)
    fails(label, {**ns, f"{name}_models": [first_model(wrong) for _ in range(S.runs)]},
          "optimizer has learning_rate = 0.05" if name != "q4" else "uses the SGD optimizer, expected Adam")


def test_q5_checks_the_softmax_model_and_its_runs():
    ns = {"S": S, "softmax_model": softmax_model, "q5": runs(S.runs, S.epochs),
          "q5_models": [softmax_model() for _ in range(S.runs)]}
    assert "softmax output" in check("a1-q5", ns)
    fails("a1-q5", {"S": S}, "`softmax_model`, `q5`, `q5_models` not defined yet")
    one_layer_only = {**ns, "softmax_model": lambda hidden=(32,): softmax_model((32,))}
    fails("a1-q5", one_layer_only, r"layer 2 of `softmax_model\(\(64, 32\)\)` is Dense\(32, relu\), expected Dense\(64")
    sgd = {**ns, "softmax_model": lambda hidden=(32,): dense_stack((28, 28), hidden, optimizer="sgd")}
    fails("a1-q5", sgd, "uses the SGD optimizer, expected Adam")


def width_table(widths, n_runs, accuracy=0.9):
    return pd.DataFrame([{"width": w, "run": r, "split": s, "accuracy": accuracy}
                         for w in widths for r in range(n_runs) for s in ("train", "test")])


def test_q6_needs_every_width_and_run():
    assert "2 widths x 2 runs" in check("a1-q6", {"S": S, "q6": width_table(S.q6_widths, S.q6_runs)})
    fails("a1-q6", {"S": S}, "`q6` not defined yet")
    fails("a1-q6", {"S": S, "q6": width_table(S.q6_widths[:1], S.q6_runs)}, r"the widths in `q6` is \[2\]")
    fails("a1-q6", {"S": S, "q6": width_table(S.q6_widths, 1)}, "should hold 2 runs of every width")
    fails("a1-q6", {"S": S, "q6": width_table(S.q6_widths, S.q6_runs).drop(columns="split")}, "lacks the columns")


def test_mlp_parameters_agree_with_keras():
    for hidden in [(), (32,), (64, 32, 16)]:
        assert mlp_parameters(784, hidden) == softmax_model(hidden).count_params()


def test_q7_needs_the_named_architectures_with_their_parameters():
    hidden = [(), (32,), (64, 32), (64, 32, 16)]
    table = pd.DataFrame({"hidden": hidden, "parameters": [mlp_parameters(784, h) for h in hidden],
                          "validation": [0.90, 0.95, 0.97, 0.96], "test": [0.9, 0.95, 0.97, 0.96]})
    assert "chosen on validation: (64, 32)" in check("a1-q7", {"q7": table})
    fails("a1-q7", {}, "`q7` not defined yet")
    fails("a1-q7", {"q7": table.iloc[:3]}, r"no row for the hidden layers \(64, 32, 16\)")
    off_by_biases = table.assign(parameters=[784 * 10, 784 * 32 + 320, 784 * 64 + 64 * 32 + 320, 53_018])
    fails("a1-q7", {"q7": off_by_biases}, r"the parameters of \(\) in `q7` is 7840, expected 7850")


# --- CIFAR-10 ---------------------------------------------------------------------------------


def cifar_mlp(width):
    return dense_stack((32, 32, 3), [width])


def test_q8_checks_both_widths():
    ns = {"S": S, "cifar_mlp": cifar_mlp, "q8": {w: runs(S.q8_runs, S.q8_epochs, final=0.4) for w in S.q8_widths}}
    assert "32 and 256 hidden units" in check("a1-q8", ns)
    fails("a1-q8", {"S": S}, "`cifar_mlp`, `q8` not defined yet")
    grey = {**ns, "cifar_mlp": lambda width: dense_stack((32, 32), [width])}
    fails("a1-q8", grey, r"takes inputs of shape \(32, 32\), expected \(32, 32, 3\)")
    fails("a1-q8", {**ns, "q8": {32: ns["q8"][32]}}, r"the widths in `q8` is \[32\]")
    sgd = {**ns, "cifar_mlp": lambda width: dense_stack((32, 32, 3), [width], optimizer="sgd")}
    fails("a1-q8", sgd, "uses the SGD optimizer, expected Adam")


def convnet(last_filters=64, padding="valid"):
    model = keras.Sequential([
        keras.Input((32, 32, 3)), keras.layers.Conv2D(32, 3, activation="relu", padding=padding),
        keras.layers.MaxPooling2D(2), keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(last_filters, 3, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_q9_checks_the_convnet_layer_by_layer():
    ns = {"S": S, "convnet": convnet, "q9": runs(S.q9_runs, S.q9_epochs, final=0.5)}
    assert "122,570 parameters" in check("a1-q9", ns)
    fails("a1-q9", {"S": S}, "`convnet`, `q9` not defined yet")
    fails("a1-q9", {**ns, "convnet": lambda: convnet(padding="same")},
          r"layer 1 of `convnet\(\)` is Conv2D\(32, 3×3, relu, same\), expected Conv2D\(32, 3×3, relu, valid\)")
    fails("a1-q9", {**ns, "convnet": lambda: convnet(last_filters=128)}, "layer 5 of `convnet()`".replace("(", r"\(")
          .replace(")", r"\)"))
    fails("a1-q9", {**ns, "q9": runs(S.q9_runs, S.q9_epochs + 1, final=0.5)}, "the number of epochs in `q9` is 3")


def past_network(dropout=0.2):
    stack = [keras.Input((32, 32, 3))]
    for signature in PAST_NETWORK:
        name, _, args = signature.partition("(")
        if name == "Conv2D":
            filters = int(args.split(",")[0])
            stack.append(keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                             use_bias="no bias" not in args))
        elif name == "Dropout":
            stack.append(keras.layers.Dropout(dropout))
        elif name == "BatchNormalization":
            stack.append(keras.layers.BatchNormalization())
        elif name == "MaxPooling2D":
            stack.append(keras.layers.MaxPooling2D(2))
        elif name == "Flatten":
            stack.append(keras.layers.Flatten())
        else:
            units, activation = args.rstrip(")").split(", ")
            stack.append(keras.layers.Dense(int(units), activation=activation))
    model = keras.Sequential(stack)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_the_past_network_has_the_past_parameter_count():
    assert past_network().count_params() == 346_858


def test_q10_checks_the_past_network_and_the_choice_on_validation():
    trained = past_network()
    table = pd.DataFrame({"parameters": [trained.count_params(), 10], "validation accuracy": [0.7, 0.6]},
                         index=["past network", "+ something"])
    candidates = {"past network": past_network, "+ something": past_network}
    ns = {"candidates": candidates, "q10": table, "q10_model": trained, "q10_test": 0.7}
    assert "chosen on validation: past network" in check("a1-q10", ns)
    fails("a1-q10", {}, "`candidates`, `q10`, `q10_model`, `q10_test` not defined yet")
    fails("a1-q10", {**ns, "candidates": {"past": lambda: past_network(dropout=0.5)}},
          r"layer 2 of `the first candidate` is Dropout\(0.5\), expected Dropout\(0.2\)")
    chosen_by_test = {**ns, "q10": table.assign(**{"validation accuracy": [0.6, 0.7]})}
    fails("a1-q10", chosen_by_test, "the parameters of `q10_model` is 346858, expected 10")
    fails("a1-q10", {**ns, "q10": table.iloc[:1]}, "one row per candidate")
