"""The checks of Assignment 2's exercises (cnnlab.checks.a2): each passes on a right answer, fails
on the untouched student edition (the names missing) and fails on realistic wrong answers, with a
message that says what is wrong."""

from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest

from cnnlab import config, data, models
from cnnlab.checks import check
from checking import fails, smoke  # noqa: F401 - smoke is an autouse fixture

VARIANTS = {"none": (0.0, 0.0), "reference": (0.25, 0.5), "high": (0.6, 0.8)}
S = SimpleNamespace(seed=0, train_images=1_000, test_images=500, epochs=2, runs=2, batch_size=50,
                    learning_rate=1.0, rho=0.9, seeds=2, permutations=2, mlp_runs=2, mlp_epochs=1,
                    mlp_learning_rate=0.001, variants=VARIANTS, race_train_images=500, race_epochs=1,
                    race_every=1, threshold=0.95, sweep_rates=[0.0, 0.5])




def frame(runs, epochs, splits, final, start=0.3):
    """A tidy table whose accuracy rises from ``start`` to ``final`` (one value or one per run)."""
    finals = np.broadcast_to(final, (runs,))
    rows = []
    for run in range(runs):
        for epoch in range(1, epochs + 1):
            accuracy = start + (finals[run] - start) * epoch / epochs
            for split in splits:
                rows += [(run, epoch, split, "accuracy", accuracy), (run, epoch, split, "loss", 1 - accuracy)]
    return pd.DataFrame(rows, columns=["run", "epoch", "split", "metric", "value"])


# --- replicate ------------------------------------------------------------------------------------


def build_convnet(padding="same"):
    return keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, padding=padding, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Dropout(0.25), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")])


def compiled_convnet(learning_rate=1.0, rho=0.9):
    model = build_convnet()
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=learning_rate, rho=rho),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_the_network_check():
    check("a2-model", {"build_convnet": build_convnet, "model": build_convnet()})
    fails("a2-model", {}, "`build_convnet`, `model` not defined yet")
    valid = lambda: build_convnet("valid")  # noqa: E731 - the old Keras example's padding
    fails("a2-model", {"build_convnet": valid, "model": valid()},
          r"layer 2 of `model` is Conv2D\(64, 3×3, relu, valid\), expected Conv2D\(64, 3×3, relu, same\)")
    one = build_convnet()
    fails("a2-model", {"build_convnet": lambda: one, "model": one}, "returns the same model every time")


@pytest.fixture(scope="module")
def trained(data_folder):
    (x_train, y_train), (x_test, y_test) = data.load_scaled("mnist", 1_000, 500, channel_axis=True)
    config.seed_everything(0)
    model = compiled_convnet()
    history = model.fit(x_train, y_train, batch_size=50, epochs=2, verbose=0)
    return {"compiled_convnet": compiled_convnet, "model": model, "history": history, "S": S,
            "x_train": x_train, "x_test": x_test, "y_test": y_test}


def test_the_training_check(trained):
    assert "test accuracy" in check("a2-train", trained)
    fails("a2-train", {"S": S}, "`compiled_convnet`, `model`, `history`, `x_train`, `x_test`, `y_test` not defined")
    keras_default = dict(trained, compiled_convnet=lambda learning_rate=1.0: compiled_convnet(learning_rate, 0.95))
    fails("a2-train", keras_default, r"optimizer has rho = 0.95, expected 0.9")
    ignores_rate = dict(trained, compiled_convnet=lambda learning_rate=1.0: compiled_convnet())
    fails("a2-train", ignores_rate, r"learning_rate=0.001\)`'s optimizer has learning_rate = 1.0, expected 0.001")
    fails("a2-train", dict(trained, model=compiled_convnet()), "`history` is not the History of `model`")
    default_batch = compiled_convnet()  # trained without batch_size=S.batch_size: Keras's 32
    history = default_batch.fit(trained["x_train"], np.zeros(1_000, int), epochs=2, verbose=0)
    fails("a2-train", dict(trained, model=default_batch, history=history),
          "the number of batches per epoch is 32, expected 20")


def test_the_repeated_runs_check():
    check("a2-compare", {"final": pd.Series([87.2, 89.4]), "S": S})
    fails("a2-compare", {"S": S}, "`final` not defined")
    fails("a2-compare", {"final": pd.Series([0.872, 0.894]), "S": S}, "holds shares")
    fails("a2-compare", {"final": pd.Series([87.2, 87.2]), "S": S}, "the same accuracy")
    fails("a2-compare", {"final": pd.Series([87.2]), "S": S}, "the number of runs in `final` is 1, expected 2")


# --- pixel-shuffle ----------------------------------------------------------------------------------


def shuffle_pixels(x, perm):
    return x.reshape(len(x), -1)[:, perm].reshape(x.shape)


def neighbours_kept(perm, offsets=((0, 1), (1, 0), (1, 1), (1, -1))):
    origin = np.stack(np.divmod(np.asarray(perm), 28), axis=-1).reshape(28, 28, 2)
    kept = total = 0
    for dr, dc in offsets:
        here = origin[:28 - dr, max(0, -dc):28 - max(0, dc)]
        there = origin[dr:, max(0, dc):28 - max(0, -dc)]
        touching = np.abs(here - there).max(axis=-1) == 1
        kept, total = kept + touching.sum(), total + touching.size
    return kept / total


@pytest.fixture(scope="module")
def permuted():
    rng = np.random.default_rng(0)
    x_train, x_test = rng.random((20, 28, 28, 1)), rng.random((10, 28, 28, 1))
    perm = rng.permutation(784)
    return {"perm": perm, "shuffle_pixels": shuffle_pixels, "neighbours_kept": neighbours_kept,
            "x_train": x_train, "x_test": x_test, "x_train_fixed": shuffle_pixels(x_train, perm),
            "x_test_fixed": shuffle_pixels(x_test, perm)}


def test_the_permutation_check(permuted):
    assert "touching pairs" in check("a2-permute", permuted)
    fails("a2-permute", {}, "`perm`, `shuffle_pixels`, `x_train_fixed`")
    inverse = np.argsort(permuted["perm"])
    fails("a2-permute", dict(permuted, x_test_fixed=shuffle_pixels(permuted["x_test"], inverse)),
          "moves pixel i to position perm\\[i\\]: the inverse")
    fails("a2-permute", dict(permuted, perm=permuted["perm"][:-1]), "not a permutation of the 784")
    # counting only horizontal and vertical neighbours passes the identity and the transpose, not a swap
    four = lambda perm: neighbours_kept(perm, ((0, 1), (1, 0)))  # noqa: E731
    assert four(np.arange(784)) == 1.0 and four(np.arange(784).reshape(28, 28).T.ravel()) == 1.0
    fails("a2-permute", dict(permuted, neighbours_kept=four), r"neighbours_kept\(a swap of two corners\) differs")
    # dividing by every pair of positions instead of the touching pairs
    fails("a2-permute", dict(permuted, neighbours_kept=lambda perm: neighbours_kept(perm) * 2970 / (784 * 783 / 2)),
          r"neighbours_kept\(no shuffle\) differs")


def test_the_neighbour_reference_counts_the_eight_neighbourhood():
    from cnnlab.checks.a2 import neighbours_reference

    corners = np.arange(784)
    corners[[0, 783]] = [783, 0]
    assert neighbours_reference(corners) == pytest.approx((2970 - 6) / 2970)
    assert neighbours_reference(np.arange(784)[::-1]) == 1.0  # a half turn keeps every neighbour


def test_the_fixed_permutation_check():
    right = {"train_convnet": lambda x, y: None, "original": frame(2, 2, ["train", "test"], [0.90, 0.92]),
             "fixed": frame(2, 2, ["train", "test"], [0.80, 0.78]), "S": S}
    check("a2-fixed", right)
    fails("a2-fixed", {"S": S}, "`train_convnet`, `original`, `fixed` not defined")
    fails("a2-fixed", dict(right, fixed=right["original"]), "end with the same accuracies")
    fails("a2-fixed", dict(right, fixed=frame(3, 2, ["test"], 0.8)), "`fixed` holds 3 runs, expected 2")
    fails("a2-fixed", dict(right, fixed=frame(2, 2, ["test"], 0.1, start=0.1)),
          "the mean final test accuracy of `fixed` is 0.1, expected at least 0.2")


def build_mlp(optimizer="adam"):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": 0.001}}),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def twin_of(trained, perm):
    weights = trained.get_weights()
    weights[0] = weights[0][perm]
    twin = build_mlp()
    twin.set_weights(weights)
    return twin


def test_the_perceptron_check(permuted):
    config.seed_everything(0)
    trained = build_mlp()
    right = dict(permuted, build_mlp=build_mlp, train_mlp=lambda x, y: None, S=S, trained=trained,
                 twin=twin_of(trained, permuted["perm"]), mlp_original=frame(2, 1, ["test"], 0.6),
                 mlp_fixed=frame(2, 1, ["test"], [0.61, 0.58]))
    check("a2-mlp", right)
    fails("a2-mlp", {"S": S}, "`build_mlp`, `train_mlp`, `mlp_original`")
    fails("a2-mlp", dict(right, build_mlp=lambda: build_mlp("sgd")), "uses the SGD optimizer, expected Adam")
    fails("a2-mlp", dict(right, twin=trained), "`twin` has the first-layer weights of `trained`")
    fails("a2-mlp", dict(right, twin=twin_of(trained, np.argsort(permuted["perm"]))),
          "`twin` on the shuffled images, against `trained` on the originals, differs")


def test_the_per_image_check():
    rng = np.random.default_rng(1)
    x_train, x_test = np.zeros((60, 28, 28, 1)), np.zeros((50, 28, 28, 1))
    x_train[:, 3:-3, 3:-3], x_test[:, 3:-3, 3:-3] = rng.random((60, 22, 22, 1)), rng.random((50, 22, 22, 1))
    each = {name: rng.permuted(x.reshape(len(x), -1), axis=1).reshape(x.shape)
            for name, x in [("x_train_each", x_train), ("x_test_each", x_test)]}
    right = dict(each, x_train=x_train, x_test=x_test, S=S, each=frame(2, 2, ["test"], 0.12),
                 histogram_only=frame(2, 1, ["test"], 0.25))
    check("a2-per-image", right)
    fails("a2-per-image", {"S": S}, "`x_train_each`, `x_test_each`, `each`")
    one = rng.permutation(784)
    fails("a2-per-image", dict(right, x_test_each=shuffle_pixels(x_test, one)), "the images share a permutation")
    mixed = rng.permuted(x_test.reshape(-1)).reshape(x_test.shape)  # pixels moved between images
    fails("a2-per-image", dict(right, x_test_each=mixed), "do not hold the pixel values of the originals")


def test_the_permutations_and_seeds_check():
    fixed = frame(2, 2, ["test"], [0.80, 0.78])
    grid = pd.DataFrame([[80.0, 78.0], [79.0, 81.5]])
    check("a2-spread", {"accuracy_grid": grid, "fixed": fixed, "S": S})
    fails("a2-spread", {"S": S}, "`accuracy_grid` not defined")
    fails("a2-spread", {"accuracy_grid": grid / 100, "S": S}, "holds shares")
    fails("a2-spread", {"accuracy_grid": grid.iloc[:1], "S": S}, r"the shape of `accuracy_grid`")
    fails("a2-spread", {"accuracy_grid": grid.iloc[::-1], "fixed": fixed, "S": S},
          "the first row of `accuracy_grid` is not the permutation trained as `fixed`")


# --- dropout ------------------------------------------------------------------------------------------


def seeded(rates):
    config.seed_everything(0)
    return models.mnist_convnet(dropout=rates)


def test_the_three_models_check():
    right = {name: seeded(rates) for name, rates in VARIANTS.items()}
    check("a2-three-models", {"three_models": right, "S": S})
    fails("a2-three-models", {"S": S}, "`three_models` not defined")
    slip = dict(right, high=seeded(VARIANTS["reference"]))  # the high variant built with the reference rates
    fails("a2-three-models", {"three_models": slip, "S": S},
          r"layer 4 of `three_models\['high'\]` is Dropout\(0.25\), expected Dropout\(0.6\)")
    unseeded = dict(right, high=models.mnist_convnet(dropout=VARIANTS["high"]))
    fails("a2-three-models", {"three_models": unseeded, "S": S}, "starts from other weights")


def race_points(name, accuracies):
    rows = []
    for batch, accuracy in enumerate(accuracies):
        rows += [(name, batch, "test", "accuracy", accuracy), (name, batch, "test", "loss", 1 - accuracy)]
    return pd.DataFrame(rows, columns=["variant", "batch", "split", "metric", "value"])


def test_the_race_check():
    rising = list(np.linspace(0.1, 0.94, 11))  # one epoch is 10 batches: 0 (before training) to 10
    none = race_points("none", rising[:5] + [0.96])
    reference = race_points("reference", rising[:7] + [0.95])
    high = race_points("high", rising)
    check("a2-race", {"race": pd.concat([none, reference, high]), "S": S})
    fails("a2-race", {"S": S}, "`race` not defined")
    went_on = race_points("none", rising[:5] + [0.96, 0.97])
    fails("a2-race", {"race": pd.concat([went_on, reference, high]), "S": S}, "went on training after")
    gave_up = race_points("high", rising[:6])
    fails("a2-race", {"race": pd.concat([none, reference, gave_up]), "S": S}, "high stopped at batch 5 below 95%")
    fails("a2-race", {"race": pd.concat([none, reference]), "S": S}, "the variants in `race`")


def test_the_overfitting_check():
    study = {name: frame(2, 2, ["train", "validation"], 0.8) for name in VARIANTS}
    check("a2-overfit", {"train_variant": lambda rates: None, "study": study, "S": S})
    fails("a2-overfit", {"S": S}, "`train_variant`, `study` not defined")
    running = dict(study, none=frame(2, 2, ["train", "train_eval", "validation"], 0.8))
    fails("a2-overfit", {"train_variant": None, "study": running, "S": S}, r"has the splits \['train', 'train_eval'")
    short = dict(study, high=frame(2, 1, ["train", "validation"], 0.8))
    fails("a2-overfit", {"train_variant": None, "study": short, "S": S}, r"has the epochs \[1\], expected 1 to 2")


def test_the_sweep_check():
    sweep = pd.DataFrame({"rate": [0.0, 0.0, 0.5, 0.5], "run": [0, 1, 0, 1],
                          "final validation accuracy": [0.78, 0.77, 0.80, 0.79], "loss gap": [0.3, 0.32, 0.2, 0.19],
                          "accuracy gap": [0.08, 0.07, 0.05, 0.06]})
    check("a2-sweep", {"sweep": sweep, "S": S})
    fails("a2-sweep", {"S": S}, "`sweep` not defined")
    fails("a2-sweep", {"sweep": sweep[sweep.rate == 0], "S": S}, r"the rates in `sweep` is \[0.0\]")
    fails("a2-sweep", {"sweep": sweep.drop(index=3), "S": S}, "runs per rate, expected 2")
    fails("a2-sweep", {"sweep": sweep.drop(columns="loss gap"), "S": S}, "should be a DataFrame with the columns")
