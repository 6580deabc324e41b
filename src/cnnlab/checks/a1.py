"""Checks of the exercises of Assignment 1: neural networks with Keras (labels ``a1-...``).

Each function is registered with :func:`~cnnlab.checks.core.exercise` under its exercise's label
and tested in ``tests/test_checks_a1.py`` on a right answer and on wrong ones. Sizes (runs,
epochs, widths) are read from the notebook's settings ``S``, as the exercises state them; accuracy
thresholds depend on the profile and sit well below what the book's own solutions reach.
"""

from __future__ import annotations

import re

import numpy as np

from . import expect
from .core import Wrong, exercise

FIRST_LAYERS = ["Flatten", "Dense(32, relu)", "Dense(10, relu)"]
CONVNET_LAYERS = ["Conv2D(32, 3×3, relu, valid)", "MaxPooling2D(2×2)", "Conv2D(64, 3×3, relu, valid)",
                  "MaxPooling2D(2×2)", "Conv2D(64, 3×3, relu, valid)", "Flatten", "Dense(64, relu)",
                  "Dense(10, softmax)"]
PAST_NETWORK = ["Conv2D(32, 3×3, relu, same, no bias)", "Dropout(0.2)", "BatchNormalization", "MaxPooling2D(2×2)",
                "Conv2D(64, 3×3, relu, same)", "BatchNormalization", "MaxPooling2D(2×2)",
                "Conv2D(64, 3×3, relu, same)", "BatchNormalization", "MaxPooling2D(2×2)", "Dropout(0.2)",
                "Conv2D(128, 3×3, relu, same)", "BatchNormalization", "MaxPooling2D(2×2)",
                "Conv2D(128, 3×3, relu, same)", "BatchNormalization", "Dropout(0.2)", "Flatten", "Dense(128, relu)",
                "BatchNormalization", "Dense(10, softmax)"]
RUN_COLUMNS = ["run", "epoch", "split", "metric", "value"]


def softmax_layers(hidden) -> list[str]:
    return ["Flatten"] + [f"Dense({units}, relu)" for units in hidden] + ["Dense(10, softmax)"]


def mlp_parameters(inputs: int, hidden, classes: int = 10) -> int:
    """Weights and biases of a dense stack: ``inputs`` -> ``hidden`` ... -> ``classes``."""
    sizes = [inputs, *hidden, classes]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def image_grid(ns, name: str, images, titles: list[str]) -> str:
    """``ns[name]`` is a figure showing ``images`` in order, each titled with its label."""
    from matplotlib.figure import Figure

    fig = expect.get(ns, name, Figure, "a matplotlib Figure")
    shown = [ax for ax in fig.axes if ax.images]
    if len(shown) < len(images):
        raise Wrong(f"`{name}` shows {len(shown)} images, expected {len(images)}",
                    "one image per axes, e.g. plots.image_grid(images, titles=...)")
    for i, (ax, image, title) in enumerate(zip(shown, images, titles), start=1):
        have = np.asarray(ax.images[0].get_array(), dtype=float).squeeze()
        want = np.asarray(image, dtype=float).squeeze()
        same = have.shape == want.shape and np.allclose(have / max(have.max(), 1e-9),
                                                        want / max(want.max(), 1e-9), atol=1e-3)
        if not same:
            raise Wrong(f"image {i} of `{name}` is not training image {i}",
                        "show the first images of the training set, in order")
        if not re.search(rf"(?<![\w]){re.escape(title)}(?![\w])", ax.get_title()):
            raise Wrong(f"image {i} of `{name}` is titled {ax.get_title()!r}, which does not name its label "
                        f"{title!r}", "title each image with its label")
    return f"the first {len(images)} training images, titled {', '.join(titles)}"


def runs_table(ns, name: str, runs: int, epochs: int, splits=("train",)):
    """``ns[name]`` is a tidy table of ``runs`` runs of ``epochs`` epochs with every split of ``splits``."""
    import pandas as pd

    frame = expect.get(ns, name, pd.DataFrame, "the table multirun.repeated_runs returns")
    if list(frame.columns) != RUN_COLUMNS:
        raise Wrong(f"`{name}` has the columns {list(frame.columns)}, expected {RUN_COLUMNS}",
                    "keep the table multirun.repeated_runs returns (with models=True it returns (table, models))")
    expect.equal(frame.run.nunique(), runs, f"the number of runs in `{name}`", "runs=... as the exercise says")
    expect.equal(int(frame.epoch.max()), epochs, f"the number of epochs in `{name}`",
                 "epochs=... as the exercise says")
    missing = [s for s in splits if s not in set(frame.split)]
    if missing:
        raise Wrong(f"`{name}` has no {', '.join(map(repr, missing))} split",
                    'pass the test set to be evaluated after every epoch: evaluate={"test": (x_test, ...)}')
    return frame


def final(frame, split: str = "test"):
    rows = frame[(frame.metric == "accuracy") & (frame.split == split) & (frame.epoch == frame.epoch.max())]
    return rows.value.to_numpy()


def trained_models(ns, name: str, runs: int) -> list:
    trained = expect.get(ns, name, (list, tuple), "the list of trained models")
    expect.equal(len(trained), runs, f"the number of models in `{name}`", "repeated_runs(..., models=True)")
    return list(trained)


# --- MNIST ------------------------------------------------------------------------------------


@exercise("a1-images", needs=("fig_images",))
def images(ns):
    labels = ns["y_train_all"][:10]
    return image_grid(ns, "fig_images", ns["x_train_all"][:10], [str(int(y)) for y in labels])


@exercise("a1-onehot", needs=("Y_train", "Y_test"))
def onehot(ns):
    import keras

    for name, labels in (("Y_train", "y_train"), ("Y_test", "y_test")):
        try:
            expect.close(expect.get(ns, name), keras.utils.to_categorical(ns[labels], 10), what=f"`{name}`")
        except Wrong as wrong:
            raise Wrong(wrong.problem, f"row k of np.eye(10) is the vector of class k: index it with `{labels}`") \
                from None
    return "Y_train and Y_test agree with keras.utils.to_categorical"


@exercise("a1-first-model", needs=("first_model", "model"))
def first_model(ns):
    import keras

    build = ns["first_model"]
    built = build()
    if build() is built:
        raise Wrong("first_model() returns the same model twice", "build a new keras.Sequential inside the function")
    expect.input_shape(built, (28, 28), name="first_model()")
    expect.same_layers(built, FIRST_LAYERS, name="first_model()")
    expect.compiled(built, optimizer="SGD", loss="mean_squared_error", metrics=["accuracy"], learning_rate=0.1,
                    momentum=0.0, name="first_model()")
    expect.compiled(build(keras.optimizers.Adam()), optimizer="Adam", name="first_model(keras.optimizers.Adam())")
    expect.same_layers(ns["model"], FIRST_LAYERS, name="model")
    return "784-32-10 perceptron with a ReLU output, squared error, plain SGD 0.1 unless told otherwise"


@exercise("a1-train-first", needs=("history",))
def train_first(ns):
    logs = getattr(expect.get(ns, "history"), "history", None)
    if not isinstance(logs, dict):
        raise Wrong("`history` is not what model.fit returns", "history = model.fit(...)")
    if "val_accuracy" not in logs:
        raise Wrong("`history` has no test accuracy (val_accuracy)", "pass validation_data=(x_test, Y_test) to fit")
    expect.equal(len(logs["val_accuracy"]), ns["S"].first_epochs, "the number of epochs in `history`",
                 "fit(..., epochs=S.first_epochs)")
    expect.at_least(logs["val_accuracy"][-1], {"smoke": 0.3, "cpu": 0.7, "full": 0.75}, "the last test accuracy",
                    "train the model of the exercise before (SGD 0.1, squared error) on x_train, Y_train")
    return f"trained {len(logs['val_accuracy'])} epochs, test accuracy {logs['val_accuracy'][-1]:.3f}"


@exercise("a1-confusion", needs=("y_pred",))
def confusion(ns):
    y_pred = np.asarray(expect.get(ns, "y_pred"))
    want = np.asarray(ns["model"].predict(ns["x_test"], verbose=0)).argmax(axis=1)
    if y_pred.shape != want.shape:
        raise Wrong(f"`y_pred` has shape {y_pred.shape}, expected {want.shape}: one class per test image",
                    "the arg-max of model.predict(x_test) along axis 1")
    wrong = int((y_pred != want).sum())
    if wrong:
        raise Wrong(f"`y_pred` differs from the arg-max of model.predict(x_test) for {wrong} images",
                    "the predicted class is the index of the largest output: .argmax(axis=1)")
    return f"y_pred is the model's class for each of the {len(want):,} test images"


@exercise("a1-q1", needs=("q1", "rerun_a", "rerun_b"))
def q1(ns):
    import pandas as pd

    S = ns["S"]
    frame = runs_table(ns, "q1", S.runs, S.q1_epochs)
    if len(set(final(frame, "train"))) < 2:
        raise Wrong("every run of `q1` ends with the same training accuracy", "each run needs its own seed")
    a, b = expect.get(ns, "rerun_a", pd.DataFrame), expect.get(ns, "rerun_b", pd.DataFrame)
    if a.empty or not a.equals(b):
        raise Wrong("`rerun_a` and `rerun_b` differ", "run the same experiment twice with the same seed=...")
    return f"{S.runs} runs of {S.q1_epochs} epochs; two runs with one seed are identical"


def first_model_runs(ns, name: str, optimizer: str, **settings) -> str:
    S = ns["S"]
    frame = runs_table(ns, name, S.runs, S.epochs, splits=("train", "test"))
    for model in trained_models(ns, f"{name}_models", S.runs):
        expect.same_layers(model, FIRST_LAYERS, name=f"a model of {name}_models")
        expect.compiled(model, optimizer=optimizer, loss="mean_squared_error", name=f"a model of {name}_models",
                        **settings)
    expect.at_least(final(frame).max(), {"smoke": 0.15, "cpu": 0.8, "full": 0.85},
                    f"the best run's final test accuracy in `{name}`")
    return f"{S.runs} runs of the first model, {optimizer} {settings}, {S.epochs} epochs"


@exercise("a1-q2", needs=("q2", "q2_models"))
def q2(ns):
    return first_model_runs(ns, "q2", "SGD", learning_rate=0.1)


@exercise("a1-q3", needs=("q3", "q3_models"))
def q3(ns):
    return first_model_runs(ns, "q3", "SGD", learning_rate=0.01)


@exercise("a1-q4", needs=("q4", "q4_models"))
def q4(ns):
    return first_model_runs(ns, "q4", "Adam", learning_rate=0.001)


@exercise("a1-q5", needs=("softmax_model", "q5", "q5_models"))
def q5(ns):
    S, build = ns["S"], ns["softmax_model"]
    for hidden in ((32,), (64, 32), ()):
        model = build(hidden) if hidden != (32,) else build()
        call = "softmax_model()" if hidden == (32,) else f"softmax_model({hidden})"
        expect.input_shape(model, (28, 28), name=call)
        expect.same_layers(model, softmax_layers(hidden), name=call)
    expect.compiled(build(), optimizer="Adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    learning_rate=0.001, name="softmax_model()")
    frame = runs_table(ns, "q5", S.runs, S.epochs, splits=("train", "test"))
    trained_models(ns, "q5_models", S.runs)
    expect.at_least(final(frame).max(), {"smoke": 0.3, "cpu": 0.9, "full": 0.94},
                    "the best run's final test accuracy in `q5`")
    return f"softmax output, cross-entropy, Adam; {S.runs} runs of {S.epochs} epochs"


@exercise("a1-q6", needs=("q6",))
def q6(ns):
    import pandas as pd

    S = ns["S"]
    table = expect.get(ns, "q6", pd.DataFrame)
    missing = [c for c in ("width", "run", "split", "accuracy") if c not in table.columns]
    if missing:
        raise Wrong(f"`q6` lacks the columns {missing}", "one row per width, run and split, as the exercise says")
    expect.equal(sorted(set(table.width)), sorted(S.q6_widths), "the widths in `q6`", "every width of S.q6_widths")
    counts = table.groupby(["width", "split"]).run.nunique()
    if sorted(set(table.split)) != ["test", "train"] or (counts != S.q6_runs).any():
        raise Wrong(f"`q6` should hold {S.q6_runs} runs of every width on the splits 'train' and 'test'",
                    "runs=S.q6_runs for each width; keep the final training and test accuracy of each run")
    widest = table[(table.width == max(S.q6_widths)) & (table.split == "test")].accuracy.mean()
    expect.at_least(widest, {"smoke": 0.3, "cpu": 0.9, "full": 0.94}, "the widest layer's mean test accuracy")
    return f"{len(S.q6_widths)} widths x {S.q6_runs} runs, train and test"


@exercise("a1-q7", needs=("q7",))
def q7(ns):
    import pandas as pd

    table = expect.get(ns, "q7", pd.DataFrame)
    missing = [c for c in ("hidden", "parameters", "validation", "test") if c not in table.columns]
    if missing:
        raise Wrong(f"`q7` lacks the columns {missing}", "one row per architecture, as the exercise says")
    rows = {tuple(hidden): row for hidden, row in zip(table.hidden, table.itertuples())}
    for hidden in ((), (32,), (64, 32), (64, 32, 16)):
        if hidden not in rows:
            raise Wrong(f"`q7` has no row for the hidden layers {hidden}", "compare at least the networks the "
                        "exercise names: no hidden layer, (32,), (64, 32) and (64, 32, 16)")
    for hidden, row in rows.items():
        expect.equal(int(row.parameters), mlp_parameters(784, hidden), f"the parameters of {hidden} in `q7`",
                     "count the weights and biases of the trained model (model.count_params())")
    best = table.loc[table.validation.idxmax()]
    expect.at_least(best.test, {"smoke": 0.3, "cpu": 0.93, "full": 0.95},
                    "the test accuracy of the network chosen on validation")
    return f"{len(rows)} architectures, chosen on validation: {tuple(best.hidden)}"


# --- CIFAR-10 ---------------------------------------------------------------------------------


@exercise("a1-cifar-images", needs=("fig_images",))
def cifar_images(ns):
    labels = np.ravel(ns["y_train_all"])[:10]
    return image_grid(ns, "fig_images", ns["x_train_all"][:10], [ns["names"][int(c)] for c in labels])


@exercise("a1-q8", needs=("cifar_mlp", "q8"))
def q8(ns):
    S, build = ns["S"], ns["cifar_mlp"]
    for width in S.q8_widths:
        model = build(width)
        expect.input_shape(model, (32, 32, 3), name=f"cifar_mlp({width})")
        expect.same_layers(model, softmax_layers((width,)), name=f"cifar_mlp({width})")
        expect.parameters(model, mlp_parameters(32 * 32 * 3, (width,)), name=f"cifar_mlp({width})")
    expect.compiled(build(S.q8_widths[0]), optimizer="Adam", loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"], learning_rate=0.001, name=f"cifar_mlp({S.q8_widths[0]})")
    tables = expect.get(ns, "q8", dict, "a dict: width -> table of runs")
    expect.equal(sorted(tables), sorted(S.q8_widths), "the widths in `q8`", "one table per width of S.q8_widths")
    for width in S.q8_widths:
        runs_table({"q8": tables[width]}, "q8", S.q8_runs, S.q8_epochs, splits=("train", "test"))
    expect.at_least(final(tables[max(S.q8_widths)]).max(), {"smoke": 0.12, "cpu": 0.35, "full": 0.4},
                    f"the best final test accuracy of {max(S.q8_widths)} hidden units")
    return f"perceptrons of {' and '.join(map(str, S.q8_widths))} hidden units, {S.q8_runs} runs each"


@exercise("a1-q9", needs=("convnet", "q9"))
def q9(ns):
    S = ns["S"]
    model = ns["convnet"]()
    expect.input_shape(model, (32, 32, 3), name="convnet()")
    expect.same_layers(model, CONVNET_LAYERS, name="convnet()")
    expect.parameters(model, 122_570, name="convnet()")
    expect.compiled(model, optimizer="Adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    learning_rate=0.001, name="convnet()")
    frame = runs_table(ns, "q9", S.q9_runs, S.q9_epochs, splits=("train", "test"))
    expect.at_least(final(frame).mean(), {"smoke": 0.12, "cpu": 0.55, "full": 0.65},
                    "the mean final test accuracy in `q9`")
    return f"the Q9 convnet (122,570 parameters), {S.q9_runs} runs of {S.q9_epochs} epochs"


@exercise("a1-q10", needs=("candidates", "q10", "q10_model", "q10_test"))
def q10(ns):
    import keras
    import pandas as pd

    builders = expect.get(ns, "candidates", dict, "a dict: name -> function returning a compiled model")
    if not builders:
        raise Wrong("`candidates` is empty", "start with the past network, then add one change per candidate")
    first = next(iter(builders.values()))()
    expect.input_shape(first, (32, 32, 3), name="the first candidate")
    expect.same_layers(first, PAST_NETWORK, name="the first candidate")
    expect.compiled(first, optimizer="Adam", loss="sparse_categorical_crossentropy", name="the first candidate")
    table = expect.get(ns, "q10", pd.DataFrame)
    if not {"validation accuracy", "parameters"} <= set(table.columns) or list(table.index) != list(builders):
        raise Wrong("`q10` should have one row per candidate, in the order of `candidates`, with the columns "
                    "'parameters' and 'validation accuracy'", "train every candidate and record its validation accuracy")
    model = expect.get(ns, "q10_model", keras.Model, "a trained Keras model")
    chosen = table["validation accuracy"].astype(float).idxmax()
    expect.equal(model.count_params(), int(table.loc[chosen, "parameters"]),
                 "the parameters of `q10_model`", f"the model chosen on validation is {chosen!r}")
    expect.at_least(float(ns["q10_test"]), {"smoke": 0.05, "cpu": 0.6, "full": 0.75},
                    "the chosen model's test accuracy `q10_test`")
    return f"the past network first, {len(table)} candidates, chosen on validation: {chosen}"
