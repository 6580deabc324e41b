"""Checks of the exercises of Assignment 2: a convnet on MNIST (labels ``a2-...``).

Each function is registered with :func:`~cnnlab.checks.core.exercise` under its exercise's label
and tested in ``tests/test_checks_a2.py`` on a right answer and on wrong ones. Nothing here trains:
a check builds the student's (untrained) models to read their structure, evaluates trained ones on
a few hundred images at most, and reads the tables of results the exercises ask for.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import expect
from .core import Wrong, exercise

CONVNET = ["Conv2D(32, 3×3, relu, same)", "Conv2D(64, 3×3, relu, same)", "MaxPooling2D(2×2)", "Dropout({})",
           "Flatten", "Dense(128, relu)", "Dropout({})", "Dense(10, softmax)"]
MLP = ["Flatten", "Dense(128, relu)", "Dense(10, softmax)"]
#: Final test (or validation) accuracy each trained answer must reach, per profile: far below what
#: the book's solutions reach, far above what a wrong set-up gives (chance is 0.1).
CONVNET_ACCURACY = {"smoke": 0.5, "cpu": 0.95, "full": 0.985}
SHUFFLED_ACCURACY = {"smoke": 0.2, "cpu": 0.9, "full": 0.96}
MLP_ACCURACY = {"smoke": 0.3, "cpu": 0.9, "full": 0.96}
COLUMNS = ["run", "epoch", "split", "metric", "value"]


def convnet_layers(rates=(0.25, 0.5)) -> list[str]:
    """The replicated network's layer signatures with the given dropout rates."""
    return [layer.format(f"{rates[i // 4]:g}") if "{}" in layer else layer for i, layer in enumerate(CONVNET)]


def curves(frame, name: str, *, runs: int, epochs: int, splits) -> pd.DataFrame:
    """``frame`` is a tidy table of learning curves with ``runs`` runs of ``epochs`` epochs and the
    given splits, each with loss and accuracy."""
    if not isinstance(frame, pd.DataFrame) or not set(COLUMNS) <= set(frame.columns):
        raise Wrong(f"`{name}` should be a tidy table with the columns {COLUMNS}",
                    "multirun.repeated_runs returns one; so does tidy.history_frame for one run")
    if frame.run.nunique() != runs:
        raise Wrong(f"`{name}` holds {frame.run.nunique()} runs, expected {runs}",
                    "one run per seed: pass the number of runs from the settings (S.<name>)")
    found = sorted(int(epoch) for epoch in frame.epoch.unique())
    if found != list(range(1, epochs + 1)):
        raise Wrong(f"`{name}` has the epochs {found}, expected 1 to {epochs}")
    for split in splits:
        for metric in ("loss", "accuracy"):
            if frame[(frame.split == split) & (frame.metric == metric)].empty:
                raise Wrong(f"`{name}` has no {split} {metric}", f"evaluate the {split} set after every epoch")
    return frame


def final_accuracy(frame, split: str = "test") -> pd.Series:
    rows = frame[(frame.split == split) & (frame.metric == "accuracy") & (frame.epoch == frame.epoch.max())]
    return rows.set_index("run").value


# --- replicate -------------------------------------------------------------------------------------


@exercise("a2-model", needs=("build_convnet", "model"))
def replicated_network(ns):
    model, fresh = ns["model"], ns["build_convnet"]()
    if fresh is model:
        raise Wrong("`build_convnet()` returns the same model every time",
                    "build a new keras.Sequential inside the function, so every run starts afresh")
    for name, candidate in [("model", model), ("build_convnet()", fresh)]:
        expect.input_shape(candidate, (28, 28, 1), name)
        expect.same_layers(candidate, convnet_layers(), name)
        expect.parameters(candidate, 1_625_866, name)
    return "28×28×1 → two 3×3 same-padded convolutions (32, 64) → pooling → dropout 0.25 → dense 128 → " \
           "dropout 0.5 → softmax: 1,625,866 parameters"


@exercise("a2-train", needs=("compiled_convnet", "model", "history", "S", "x_train", "x_test", "y_test"))
def replicated_training(ns):
    S = ns["S"]
    settings = dict(optimizer="Adadelta", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fresh = ns["compiled_convnet"]()
    expect.same_layers(fresh, convnet_layers(), "compiled_convnet()")
    expect.compiled(fresh, name="compiled_convnet()", learning_rate=S.learning_rate, rho=S.rho, **settings)
    expect.compiled(ns["compiled_convnet"](learning_rate=0.001), name="compiled_convnet(learning_rate=0.001)",
                    learning_rate=0.001, rho=S.rho, **settings)
    model, history = ns["model"], ns["history"]
    expect.compiled(model, learning_rate=S.learning_rate, rho=S.rho, **settings)
    if getattr(history, "model", None) is not model:
        raise Wrong("`history` is not the History of `model`'s training", "history = model.fit(...)")
    expect.equal(len(history.history.get("loss", [])), S.epochs, "the number of epochs in `history`",
                 "train for S.epochs epochs")
    steps = math.ceil(len(ns["x_train"]) / S.batch_size)
    expect.equal(history.params.get("steps"), steps, "the number of batches per epoch",
                 f"batch_size=S.batch_size: {len(ns['x_train']):,} images in batches of {S.batch_size}")
    _, accuracy = model.evaluate(ns["x_test"][:1000], ns["y_test"][:1000], verbose=0)
    expect.at_least(accuracy, CONVNET_ACCURACY, "`model`'s test accuracy (first 1,000 test images)")
    return (f"Adadelta(learning_rate={S.learning_rate:g}, rho={S.rho:g}), batches of {S.batch_size}, "
            f"{S.epochs} epochs: test accuracy {accuracy:.3f}")


@exercise("a2-compare", needs=("final", "S"))
def repeated_runs(ns):
    S, final = ns["S"], pd.Series(ns["final"], dtype=float)
    expect.equal(len(final), S.runs, "the number of runs in `final`", "one final test accuracy per run")
    if final.max() <= 1.0:
        raise Wrong("`final` holds shares, expected percentages", "multiply the accuracies by 100")
    if final.nunique() == 1:
        raise Wrong("every run in `final` has the same accuracy", "seed every run differently")
    expect.at_least(final.mean() / 100, CONVNET_ACCURACY, "the mean final test accuracy")
    return f"{S.runs} runs, {final.mean():.2f} ± {final.std(ddof=1):.2f}% test accuracy"


# --- pixel-shuffle ----------------------------------------------------------------------------------


def shuffled_by(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """NumPy's fancy indexing: pixel ``i`` of each result is pixel ``perm[i]`` of the image."""
    return x.reshape(len(x), -1)[:, perm].reshape(x.shape)


def neighbours_reference(perm) -> float:
    """The share of touching pairs kept, from all pairwise Chebyshev distances (SciPy)."""
    from scipy.spatial.distance import cdist

    positions = np.stack(np.divmod(np.arange(784), 28), axis=1)
    touching = cdist(positions, positions, "chebyshev") == 1
    origin = positions[np.asarray(perm)]
    return float((touching & (cdist(origin, origin, "chebyshev") == 1)).sum() / touching.sum())


@exercise("a2-permute", needs=("perm", "shuffle_pixels", "x_train_fixed", "x_test_fixed", "neighbours_kept",
                               "x_train", "x_test"))
def one_permutation(ns):
    perm = np.asarray(ns["perm"])
    if perm.shape != (784,) or not np.array_equal(np.sort(perm), np.arange(784)):
        raise Wrong(f"`perm` is not a permutation of the 784 pixel positions (shape {perm.shape})",
                    "np.random.default_rng(seed).permutation(784)")
    rng = np.random.default_rng(7)
    images, other = rng.random((3, 28, 28, 1)).astype("float32"), rng.permutation(784)
    expect.close(ns["shuffle_pixels"](images, other), shuffled_by(images, other), what="shuffle_pixels(x, perm)")
    for name, original in [("x_test_fixed", ns["x_test"]), ("x_train_fixed", ns["x_train"])]:
        shuffled = np.asarray(ns[name])
        if shuffled.shape == original.shape and np.array_equal(shuffled, shuffled_by(original, np.argsort(perm))):
            raise Wrong(f"`{name}` moves pixel i to position perm[i]: the inverse of what the exercise asks",
                        "pixel i of a shuffled image is pixel perm[i] of the original: x[:, perm]")
        expect.close(shuffled, shuffled_by(original, perm), what=f"`{name}`")
    corners = np.arange(784)
    corners[[0, 783]] = [783, 0]
    cases = {"no shuffle": np.arange(784), "the transpose": np.arange(784).reshape(28, 28).T.ravel(),
             "a swap of two corners": corners, "`perm`": perm, "another random permutation": other}
    for case, permutation in cases.items():
        expect.close(ns["neighbours_kept"](permutation), neighbours_reference(permutation), atol=1e-9,
                     what=f"neighbours_kept({case})")
    return f"one permutation for all images; it keeps {neighbours_reference(perm):.1%} of the touching pairs"


@exercise("a2-fixed", needs=("train_convnet", "original", "fixed", "S"))
def fixed_permutation(ns):
    S = ns["S"]
    frames = {name: curves(ns[name], name, runs=S.seeds, epochs=S.epochs, splits=["test"])
              for name in ("original", "fixed")}
    accuracy = {name: final_accuracy(frame) for name, frame in frames.items()}
    if np.allclose(accuracy["original"].values, accuracy["fixed"].values):
        raise Wrong("`original` and `fixed` end with the same accuracies",
                    "train `fixed` on x_train_fixed and evaluate it on x_test_fixed")
    expect.at_least(accuracy["original"].mean(), CONVNET_ACCURACY, "the mean final test accuracy of `original`")
    expect.at_least(accuracy["fixed"].mean(), SHUFFLED_ACCURACY, "the mean final test accuracy of `fixed`")
    return f"{S.seeds} runs each: {accuracy['original'].mean():.4f} original, {accuracy['fixed'].mean():.4f} shuffled"


@exercise("a2-mlp", needs=("build_mlp", "train_mlp", "mlp_original", "mlp_fixed", "trained", "twin", "S",
                           "x_test", "x_test_fixed"))
def perceptron(ns):
    S = ns["S"]
    fresh = ns["build_mlp"]()
    expect.input_shape(fresh, (28, 28, 1), "build_mlp()")
    expect.same_layers(fresh, MLP, "build_mlp()")
    expect.compiled(fresh, optimizer="Adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    learning_rate=S.mlp_learning_rate, name="build_mlp()")
    for name in ("mlp_original", "mlp_fixed"):
        frame = curves(ns[name], name, runs=S.mlp_runs, epochs=S.mlp_epochs, splits=["test"])
        expect.at_least(final_accuracy(frame).mean(), MLP_ACCURACY, f"the mean final test accuracy of `{name}`")
    trained, twin = ns["trained"], ns["twin"]
    if twin is trained or np.array_equal(trained.get_weights()[0], twin.get_weights()[0]):
        raise Wrong("`twin` has the first-layer weights of `trained`",
                    "shuffle the rows of the first Dense kernel (one row per pixel) like the pixels")
    expect.close(twin.predict(ns["x_test_fixed"][:200], verbose=0), trained.predict(ns["x_test"][:200], verbose=0),
                 atol=1e-5, what="`twin` on the shuffled images, against `trained` on the originals,")
    return "784-128-10 perceptron, Adam; its twin computes on shuffled pixels what it computes on the originals"


@exercise("a2-per-image", needs=("x_train_each", "x_test_each", "each", "histogram_only", "S", "x_train",
                                 "x_test"))
def permutation_per_image(ns):
    S = ns["S"]
    for name, original in [("x_test_each", ns["x_test"]), ("x_train_each", ns["x_train"])]:
        shuffled = np.asarray(ns[name])
        expect.equal(shuffled.shape, original.shape, f"the shape of `{name}`")
        flat, flat_original = shuffled.reshape(len(shuffled), -1), original.reshape(len(original), -1)
        if not np.array_equal(np.sort(flat, axis=1), np.sort(flat_original, axis=1)):
            raise Wrong(f"the images of `{name}` do not hold the pixel values of the originals",
                        "shuffle the positions of each image's own pixels, nothing else")
        # one permutation for all images keeps the positions that are blank in every image blank
        blank, blank_before = (flat == 0).all(axis=0).sum(), (flat_original == 0).all(axis=0).sum()
        if blank_before >= 10 and blank > blank_before // 10:
            raise Wrong(f"{blank} positions are blank in every image of `{name}`: the images share a permutation",
                        "draw a fresh permutation for every image (Generator.permuted(..., axis=1))")
    curves(ns["each"], "each", runs=S.seeds, epochs=S.epochs, splits=["test"])
    curves(ns["histogram_only"], "histogram_only", runs=S.mlp_runs, epochs=S.mlp_epochs, splits=["test"])
    return f"a fresh permutation per image; convnet {final_accuracy(ns['each']).mean():.3f}, " \
           f"perceptron on sorted values {final_accuracy(ns['histogram_only']).mean():.3f}"


@exercise("a2-spread", needs=("accuracy_grid", "S"))
def permutations_and_seeds(ns):
    S, grid = ns["S"], ns["accuracy_grid"]
    if not isinstance(grid, pd.DataFrame):
        raise Wrong("`accuracy_grid` should be a DataFrame", "one row per permutation, one column per seed")
    expect.equal(grid.shape, (S.permutations, S.seeds), "the shape of `accuracy_grid` (permutations, seeds)")
    if grid.values.max() <= 1.0:
        raise Wrong("`accuracy_grid` holds shares, expected percentages", "multiply the accuracies by 100")
    if "fixed" in ns:
        first = final_accuracy(ns["fixed"]).values * 100
        if not np.allclose(grid.values[0], first):
            raise Wrong("the first row of `accuracy_grid` is not the permutation trained as `fixed`",
                        "start with the runs of the previous exercise, then add new permutations")
    if grid.iloc[:, 0].nunique() == 1 and len(grid) > 1:
        raise Wrong("every permutation gives the same accuracy", "draw a different permutation for every row")
    expect.at_least(grid.values.mean() / 100, SHUFFLED_ACCURACY, "the mean test accuracy in `accuracy_grid`")
    return f"{S.permutations} permutations × {S.seeds} seeds"


# --- dropout ------------------------------------------------------------------------------------------


@exercise("a2-three-models", needs=("three_models", "S"))
def three_models(ns):
    S, built = ns["S"], ns["three_models"]
    expect.equal(sorted(built), sorted(S.variants), "the variants in `three_models`")
    for name, rates in S.variants.items():
        expect.same_layers(built[name], convnet_layers(rates), f"three_models[{name!r}]")
    if len({id(model) for model in built.values()}) != len(built):
        raise Wrong("two variants are the same model object", "build one model per variant")
    first = built[next(iter(S.variants))].get_weights()
    for name, model in built.items():
        if not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), first)):
            raise Wrong(f"three_models[{name!r}] starts from other weights than the others",
                        "call config.seed_everything(S.seed) right before building each model")
    return "three models that differ only in their dropout rates: " + ", ".join(
        f"{name} {list(rates)}" for name, rates in S.variants.items())


@exercise("a2-race", needs=("race", "S"))
def race_to_threshold(ns):
    S, race = ns["S"], ns["race"]
    if not isinstance(race, pd.DataFrame) or not {"variant", "batch", "metric", "value"} <= set(race.columns):
        raise Wrong("`race` should be a tidy table with the columns variant, batch, metric, value",
                    "EvaluateEveryNBatches(...).frame(variant=name) gives one model's; concatenate them")
    expect.equal(sorted(str(name) for name in race.variant.unique()), sorted(S.variants), "the variants in `race`")
    epoch = math.ceil(S.race_train_images / S.batch_size) * S.race_epochs
    for name, points in race.groupby("variant"):
        if set(points.metric) < {"loss", "accuracy"}:
            raise Wrong(f"`race` has no test loss for {name}", "record loss and accuracy")
        accuracy = points[points.metric == "accuracy"].set_index("batch").value.sort_index()
        if accuracy.index.max() > epoch:
            raise Wrong(f"{name} trained {accuracy.index.max()} batches, more than one epoch ({epoch})")
        reached = accuracy >= S.threshold
        if reached.iloc[-1] and reached.iloc[:-1].any():
            raise Wrong(f"{name} went on training after its test accuracy reached {S.threshold:.0%}",
                        "stop a model at the first evaluation at or above the threshold")
        if not reached.iloc[-1] and accuracy.index.max() < epoch - S.race_every + 1:
            raise Wrong(f"{name} stopped at batch {accuracy.index.max()} below {S.threshold:.0%}",
                        "train for the whole epoch unless the threshold is reached")
    return f"three models raced to {S.threshold:.0%} within one epoch"


@exercise("a2-overfit", needs=("train_variant", "study", "S"))
def overfitting(ns):
    S, study = ns["S"], ns["study"]
    expect.equal(sorted(study), sorted(S.variants), "the variants in `study`")
    for name, frame in study.items():
        curves(frame, f"study[{name!r}]", runs=S.runs, epochs=S.epochs, splits=["train", "validation"])
        if set(frame.split) != {"train", "validation"}:
            raise Wrong(f"study[{name!r}] has the splits {sorted(set(frame.split))}",
                        "keep only the training sample and the validation set, both measured without dropout")
    reference = final_accuracy(study["reference"], "validation").mean()
    expect.at_least(reference, CONVNET_ACCURACY, "the reference model's final validation accuracy")
    return f"{S.runs} runs × {S.epochs} epochs per variant, curves of a training sample and the validation set"


@exercise("a2-sweep", needs=("sweep", "S"))
def dropout_sweep(ns):
    S, sweep = ns["S"], ns["sweep"]
    needed = {"rate", "run", "final validation accuracy", "loss gap", "accuracy gap"}
    if not isinstance(sweep, pd.DataFrame) or not needed <= set(sweep.columns):
        raise Wrong(f"`sweep` should be a DataFrame with the columns {sorted(needed)}",
                    "tidy.overfitting gives the last three for every run; add the rate")
    expect.equal(sorted(float(rate) for rate in sweep.rate.unique()), sorted(S.sweep_rates), "the rates in `sweep`")
    counts = sweep.groupby("rate").run.nunique()
    if (counts != S.runs).any():
        raise Wrong(f"`sweep` has {counts.to_dict()} runs per rate, expected {S.runs}")
    best = sweep.groupby("rate")["final validation accuracy"].mean().max()
    expect.at_least(best, CONVNET_ACCURACY, "the best rate's final validation accuracy")
    return f"{len(S.sweep_rates)} rates × {S.runs} runs"
