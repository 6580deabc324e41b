"""The checks of Assignment 5 (cnnlab.checks.a5): each passes on a right answer, fails on the stub
(the names the exercise asks for missing) and fails on realistic wrong answers, with its message.

The right answers are the book's own solutions: the code cells of the notebooks that define the
functions an exercise asks for are executed here, so a check and the solution it must accept are
tested together.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import jupytext
import keras
import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from cnnlab import config, data, factorization
from cnnlab.checks import check
from checking import fails, smoke  # noqa: F401 - smoke is an autouse fixture

BOOK = Path(__file__).resolve().parents[1] / "book" / "a5-mixtures-factorization"


def solution(notebook: str, *names: str, **namespace):
    """Execute the code cell of ``notebook`` that defines ``names[0]`` (a ``def``) and return the
    namespace, so the book's own solution is the right answer."""
    for cell in jupytext.read(BOOK / f"{notebook}.md").cells:
        if cell.cell_type == "code" and re.search(rf"^def {names[0]}\(", cell.source, re.M):
            scope = {"np": np, "keras": keras, **namespace}
            exec(cell.source, scope)  # noqa: S102 - the book's solution code
            assert all(name in scope for name in names)
            return scope
    raise AssertionError(f"{notebook}: no code cell defines {names[0]}")




# --- part 1: mixture --------------------------------------------------------------------------------


@pytest.fixture
def mix():
    S = config.setup(profile="smoke", show=False, weights=[0.5, 0.5], means=[0.0, 1.13],
                     variances=[0.01, 0.006], point=5.0)
    return S, *(np.array(v) for v in (S.weights, S.means, S.variances))


def test_mix_naive(mix):
    S, w, mu, var = mix
    weighted = w * stats.norm.pdf(S.point, mu, np.sqrt(var))
    with np.errstate(invalid="ignore"):
        right = {"S": S, "weighted": weighted, "naive": weighted / weighted.sum()}
    assert "0/0 = NaN" in check("a5-mix-naive", right)
    fails("a5-mix-naive", {"S": S}, "`weighted`, `naive` not defined yet")
    in_logs = special.softmax(np.log(w) + stats.norm.logpdf(S.point, mu, np.sqrt(var)))
    fails("a5-mix-naive", {**right, "naive": in_logs}, r"expected \[nan nan\].*\n  Hint: divide")


def test_mix_log(mix):
    S, w, mu, var = mix
    logs = np.log(w) - 0.5 * np.log(2 * np.pi * var) - (S.point - mu) ** 2 / (2 * var)
    top = logs.max()
    normaliser = top + np.log(np.exp(logs - top).sum())
    right = {"S": S, "log_terms": logs, "log_normaliser": normaliser, "resp": np.exp(logs - normaliser)}
    assert "0.10152327" in check("a5-mix-log", right)
    fails("a5-mix-log", {"S": S, "log_terms": logs}, "`log_normaliser`, `resp` not defined yet")
    # the standard deviation where the variance belongs
    wrong = np.log(w) - 0.5 * np.log(2 * np.pi * var**2) - (S.point - mu) ** 2 / (2 * var**2)
    fails("a5-mix-log", {**right, "log_terms": wrong}, "`log_terms` differs from the reference")
    # no shift before exponentiating: log(0) = -inf
    with np.errstate(divide="ignore"):
        unshifted = np.log(np.exp(logs).sum())
    fails("a5-mix-log", {**right, "log_normaliser": unshifted}, "`log_normaliser`")


def test_mix_dims(mix):
    S = mix[0]
    per_dimension = -0.5 * np.log(2 * np.pi) - 0.5
    right = {"S": S, "per_dimension": per_dimension, "first_zero": 526}
    assert "D = 526" in check("a5-mix-dims", right)
    fails("a5-mix-dims", {}, "`per_dimension`, `first_zero` not defined yet")
    # from the logarithm of the smallest subnormal, -744.44 / -1.419: one too early
    fails("a5-mix-dims", {**right, "first_zero": 525}, r"np.exp\(per_dimension \* 525\) is 4.9\d*e-324, not 0.0")
    fails("a5-mix-dims", {**right, "first_zero": 527}, "already 0.0")
    fails("a5-mix-dims", {**right, "per_dimension": -0.5 * np.log(2 * np.pi)}, "expected -1.418939")


def test_mix_vectorised(mix):
    S = mix[0]
    right = solution("mixture", "responsibilities")["responsibilities"]
    assert "3,072 dimensions" in check("a5-mix-vectorised", {"S": S, "responsibilities": right})
    fails("a5-mix-vectorised", {"S": S}, "`responsibilities` not defined yet")

    def in_probability_space(x, weights, means, variances):
        density = np.prod(stats.norm.pdf(x[:, None, :], means[None], np.sqrt(variances[None])), axis=2)
        with np.errstate(invalid="ignore"):
            return weights * density / (weights * density).sum(axis=1, keepdims=True)

    fails("a5-mix-vectorised", {"S": S, "responsibilities": in_probability_space},
          r"at x = 5.0 \(one point, D = 1\) the result is \[nan nan\].*\n  Hint: work with log")

    def normalised_over_points(x, weights, means, variances):
        r = right(x, weights, means, variances)
        terms = np.log(r)
        return np.exp(terms - special.logsumexp(terms, axis=0, keepdims=True))

    fails("a5-mix-vectorised", {"S": S, "responsibilities": normalised_over_points}, "sum to 1|differs")


# --- part 2: matrix factorization ---------------------------------------------------------------


def mf_settings(**changes):
    sizes = dict(users=375, movies=500, iterations=4, rank=3, lam=0.01, test_fractions=[0.1, 0.5],
                 sweep_fraction=0.1, ranks=[2, 6], lambdas=[0.01, 1.0], grid_ranks=[2, 4],
                 grid_lambdas=[0.1, 10.0], validation_fraction=0.1)
    return config.setup(profile="smoke", show=False, **{**sizes, **changes})


@pytest.fixture(scope="module")
def movielens():
    R = data.densest_ratings(data.load_movielens(), users=375, movies=500).to_numpy()
    return R, factorization.observed(R)


@pytest.fixture
def small():
    """A 60 x 50 rank-2 rating matrix plus noise, half observed: the sweeps run on it in a blink."""
    rng = np.random.default_rng(0)
    full = 3 + rng.normal(size=(2, 60)).T @ rng.normal(size=(2, 50)) + rng.normal(0, 0.3, (60, 50))
    observed = rng.random(full.shape) < 0.5
    R = np.where(observed, full, np.nan)
    scope = solution("matrix-factorization", "ridge_rows", "als")
    scope.update(solution("matrix-factorization", "ridge_rows_batched"))
    S = mf_settings()
    scope.update(solution("matrix-factorization", "fit_als", R=R, observed=observed, S=S,
                          factorization=factorization, als=scope["als"],
                          ridge_rows_batched=scope["ridge_rows_batched"]))
    return R, observed, S, scope


def test_mf_data(movielens, tmp_path):
    R, observed = movielens
    S = mf_settings()
    right = {"S": S, "R": R, "observed": observed, "course_csv": None}
    assert "375 x 500" in check("a5-mf-data", right)
    fails("a5-mf-data", {"S": S}, "`R`, `observed` not defined yet")
    zeros = np.nan_to_num(R)
    fails("a5-mf-data", {**right, "R": zeros, "observed": ~np.isnan(zeros)}, "must be NaN, never 0")
    by_id = data.load_movielens().pivot(index="userId", columns="movieId", values="rating").to_numpy()[:375, :500]
    fails("a5-mf-data", {**right, "R": by_id, "observed": ~np.isnan(by_id)}, "is not the 375 x 500 corner")


def test_mf_split(movielens):
    R, observed = movielens
    S = mf_settings()
    train, test = factorization.split_entries(observed, S.sweep_fraction, seed=S.seed)
    right = {"S": S, "train": train, "test": test, "observed": observed}
    assert "split entry by entry" in check("a5-mf-split", right)
    fails("a5-mf-split", {"S": S, "observed": observed}, "`train`, `test` not defined yet")
    users = np.zeros(R.shape[0], dtype=bool)
    users[: round(S.sweep_fraction * R.shape[0])] = True  # whole users held out
    whole = observed & users[:, None]
    fails("a5-mf-split", {**right, "train": observed & ~whole, "test": whole}, "holds|whole users")
    fails("a5-mf-split", {**right, "train": train | test}, "disjoint")


def test_mf_als(small):
    *_, scope = small
    right = {"ridge_rows": scope["ridge_rows"], "als": scope["als"]}
    assert "scikit-learn's ridge solution" in check("a5-mf-als", right)
    fails("a5-mf-als", {"als": scope["als"]}, "`ridge_rows` not defined yet")

    def missing_as_zeros(R, mask, V, lam):  # the past solution's least squares on the whole matrix
        filled = np.nan_to_num(np.where(mask, R, 0.0))
        return np.linalg.solve(V @ V.T + lam * np.eye(len(V)), V @ filled.T)

    fails("a5-mf-als", {**right, "ridge_rows": missing_as_zeros}, "observed entries")

    def items_without_penalty(R, mask, k, lam, iterations, seed=0, solve=None):
        V = np.random.default_rng(seed).standard_normal((k, R.shape[1]))
        factors = []
        for _ in range(iterations):
            U = scope["ridge_rows"](R, mask, V, lam)
            V = scope["ridge_rows"](R.T, mask.T, U, lam / 10)
            factors.append((U, V))
        return factors

    fails("a5-mf-als", {**right, "als": items_without_penalty}, "the last V is not the items' ridge solution")

    def unseeded(R, mask, k, lam, iterations, seed=0, solve=None):
        return scope["als"](R, mask, k, lam, iterations, seed=np.random.default_rng().integers(1 << 30))

    fails("a5-mf-als", {**right, "als": unseeded}, "same seed give different factors")


def test_mf_speed(small):
    *_, scope = small
    S = mf_settings()
    speed = pd.DataFrame({"speed-up": [5.0, 0.8]}, index=pd.Index(S.ranks, name="K"))
    right = {"S": S, "ridge_rows_batched": scope["ridge_rows_batched"], "speed": speed}
    assert "batched ridge solutions are right" in check("a5-mf-speed", right)
    fails("a5-mf-speed", {"S": S}, "`ridge_rows_batched`, `speed` not defined yet")

    def penalty_too_small(R, mask, V, lam):
        return scope["ridge_rows_batched"](R, mask, V, lam / 10)

    fails("a5-mf-speed", {**right, "ridge_rows_batched": penalty_too_small}, "is not the ridge solution")
    fails("a5-mf-speed", {**right, "speed": speed.iloc[:1]}, "indexed by the ranks")


def test_mf_sweeps(small):
    R, observed, S, scope = small
    fit_als = scope["fit_als"]
    by_p = {p: fit_als(p, S.rank, S.lam) for p in S.test_fractions}
    by_k = {k: fit_als(S.sweep_fraction, k, S.lam) for k in S.ranks}
    by_lam = {lam: fit_als(S.sweep_fraction, S.rank, lam) for lam in S.lambdas}
    ns = {"S": S, "fit_als": fit_als, "by_p": by_p, "by_k": by_k, "by_lam": by_lam}
    assert "2 test fractions" in check("a5-mf-p", ns)
    assert "training error falls" in check("a5-mf-k", ns)
    assert "its own λ" in check("a5-mf-lambda", ns)
    fails("a5-mf-p", {"S": S, "fit_als": fit_als}, "`by_p` not defined yet")
    fails("a5-mf-k", {"S": S}, "`by_k` not defined yet")
    fails("a5-mf-lambda", {"S": S}, "`by_lam` not defined yet")
    # the past solution's bug: every fit ran with the λ left over from an earlier loop
    leftover = {lam: fit_als(S.sweep_fraction, S.rank, 1.0) for lam in S.lambdas}
    for lam, fit in leftover.items():
        fit.settings["λ"] = lam
    fails("a5-mf-lambda", {**ns, "by_lam": leftover}, r"not the ALS solution for λ = 0.01")
    fails("a5-mf-p", {**ns, "by_p": {0.1: by_p[0.1]}}, "one fit per value")
    short = mf_settings(iterations=3)
    fails("a5-mf-k", {**ns, "S": short}, "ran 4 iterations, expected S.iterations = 3")


def test_mf_grid_and_baselines(small):
    R, observed, S, scope = small
    als, batched = scope["als"], scope["ridge_rows_batched"]
    train, test = factorization.split_entries(observed, S.sweep_fraction, seed=S.seed)
    fit_mask, validation = factorization.split_entries(train, S.validation_fraction, seed=S.seed + 1)
    rows = []
    for k in S.grid_ranks:
        for lam in S.grid_lambdas:
            fit = factorization.record(R, als(R, fit_mask, k, lam, S.iterations, solve=batched),
                                       {"train": fit_mask, "validation": validation})
            rows.append({"K": k, "λ": lam, **fit.final()})
    scores = pd.DataFrame(rows)
    best = scores.loc[scores.validation.idxmin()]
    best_k, best_lam = int(best["K"]), float(best["λ"])
    chosen = factorization.record(R, als(R, train, best_k, best_lam, S.iterations, solve=batched),
                                  {"train": train, "test": test})
    ns = {"S": S, "scores": scores, "best_k": best_k, "best_lam": best_lam, "chosen": chosen, "train": train}
    assert "chosen on validation" in check("a5-mf-grid", ns)
    fails("a5-mf-grid", {"S": S, "train": train}, "`scores`, `best_k`, `best_lam`, `chosen` not defined yet")
    worst = scores.loc[scores.validation.idxmax()]  # argmax for argmin
    fails("a5-mf-grid", {**ns, "best_k": int(worst["K"]), "best_lam": float(worst["λ"])},
          "choose on validation, not on training error")
    on_fit_only = factorization.record(R, als(R, fit_mask, best_k, best_lam, S.iterations, solve=batched),
                                       {"train": fit_mask})
    fails("a5-mf-grid", {**ns, "chosen": on_fit_only}, "not refitted on all the training ratings")

    # the baselines, on ratings with a bias per user and per movie
    rng = np.random.default_rng(2)
    biased = 3 + rng.normal(0, 0.7, (60, 1)) + rng.normal(0, 0.7, (1, 50)) + rng.normal(0, 0.5, (60, 50))
    R = np.where(observed, biased, np.nan)
    mean = factorization.global_mean_baseline(R, train)
    bias = factorization.bias_baseline(R, train, lam=2.0)
    right = {"R": R, "train": train, "test": test, "mean_prediction": mean, "bias_prediction": bias}
    assert "global mean" in check("a5-mf-baselines", right)
    fails("a5-mf-baselines", {"R": R, "train": train, "test": test}, "`mean_prediction`, `bias_prediction` not")
    leak = np.full(R.shape, R[observed].mean())  # the mean of every rating, test ones included
    fails("a5-mf-baselines", {**right, "mean_prediction": leak}, "not the mean of the training ratings")
    fails("a5-mf-baselines", {**right, "bias_prediction": mean}, "no better than the global mean")


# --- part 3: CNN against MLP ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def networks():
    scope = solution("cnn-vs-mlp", "to_unit_range")
    scope.update(solution("cnn-vs-mlp", "build_cnn", "build_mlp"))
    return scope


def test_cnn_data(networks):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(60, 32, 32, 3), dtype=np.uint8)
    to_unit_range = networks["to_unit_range"]
    right = {"to_unit_range": to_unit_range, "x_train_raw": raw, "x_train": to_unit_range(raw),
             "x_test": to_unit_range(raw[:10])}
    assert "Rescaling" in check("a5-cnn-data", right)
    fails("a5-cnn-data", {"x_train_raw": raw}, "`to_unit_range`, `x_train`, `x_test` not defined yet")
    fails("a5-cnn-data", {**right, "to_unit_range": lambda images: images.astype("float32") / 255},
          "to_unit_range of the pixels 0 ... 255 differs")
    fails("a5-cnn-data", {**right, "x_train": raw.astype("float32")}, "is not to_unit_range")


def test_cnn_models(networks):
    right = {"build_cnn": networks["build_cnn"], "build_mlp": networks["build_mlp"]}
    assert "62,006" in check("a5-cnn-models", right)
    fails("a5-cnn-models", {"build_mlp": networks["build_mlp"]}, "`build_cnn` not defined yet")

    def softmax_mlp():
        return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                                 keras.layers.Dense(128, activation="relu"), keras.layers.Dense(64, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])

    fails("a5-cnn-models", {**right, "build_mlp": softmax_mlp}, r"layer 4 .* is Dense\(10, softmax\), expected Dense\(10, linear\)")

    def same_padding_cnn():
        return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(6, 5, activation="relu", padding="same"),
                                 keras.layers.MaxPooling2D(2), keras.layers.Conv2D(16, 5, activation="relu"),
                                 keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                                 keras.layers.Dense(120, activation="relu"), keras.layers.Dense(84, activation="relu"),
                                 keras.layers.Dense(10)])

    fails("a5-cnn-models", {**right, "build_cnn": same_padding_cnn}, r"layer 1 .* Conv2D\(6, 5×5, relu, same\)")
    one = networks["build_cnn"]()
    fails("a5-cnn-models", {**right, "build_cnn": lambda: one}, "a new Keras model at every call")


@pytest.fixture(scope="module")
def trained(networks):
    """Both networks trained on 40 images for 30 epochs (they memorise them), the test images
    being the same 40: what the check measures is then the training itself."""
    S = config.setup(profile="smoke", show=False, epochs=30, learning_rate=0.001, momentum=0.9,
                     batch_size=4, steps_per_execution=1_000)
    rng = np.random.default_rng(1)
    y = np.arange(40) % 10
    patterns = rng.choice([-1.0, 1.0], size=(10, 32, 32, 3))  # one image pattern per class
    x = (patterns[y] * 0.5 + rng.normal(0, 0.3, (40, 32, 32, 3))).astype("float32")
    scope = solution("cnn-vs-mlp", "train", S=S)
    models = {name: scope["train"](networks[f"build_{name}"], x, y, seed=0) for name in ("cnn", "mlp")}
    return {"S": S, "train": scope["train"], "x_train": x, "x_test": x, "y_test": y, **models}


def test_cnn_train(trained, networks):
    assert "test accuracy CNN" in check("a5-cnn-train", trained)
    fails("a5-cnn-train", {k: v for k, v in trained.items() if k != "mlp"}, "`mlp` not defined yet")
    S = trained["S"]
    x, y = trained["x_train"], trained["y_test"]

    def compiled(optimizer, batch_size=S.batch_size):
        keras.utils.set_random_seed(0)
        model = networks["build_mlp"]()
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], steps_per_execution=100)
        model.fit(x, y, batch_size=batch_size, epochs=S.epochs, verbose=0)
        return model

    fails("a5-cnn-train", {**trained, "mlp": compiled(keras.optimizers.Adam(0.001))}, "Adam optimizer, expected SGD")
    fails("a5-cnn-train", {**trained, "mlp": compiled(keras.optimizers.SGD(0.01, momentum=0.9))},
          r"learning_rate = 0.0099\d*, expected 0.001")
    fails("a5-cnn-train", {**trained, "mlp": compiled(keras.optimizers.SGD(0.001, momentum=0.9), batch_size=8)},
          rf"took 150 training steps, expected {S.epochs * math.ceil(40 / 4)}")
    untrained = networks["build_cnn"]()
    untrained.compile(optimizer=keras.optimizers.SGD(0.001, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    untrained.set_weights([np.zeros_like(w) for w in untrained.get_weights()])  # predicts class 0 only
    untrained.optimizer.iterations.assign(S.epochs * 10)  # pretend it trained: the accuracy tells
    fails("a5-cnn-train", {**trained, "cnn": untrained}, "the test accuracy of `cnn` is .*, expected at least 0.13")


def test_cnn_shuffle():
    S = config.setup(profile="smoke", show=False, runs=2)
    rows = [{"model": m, "input": i, "run": r, "accuracy": 0.3}
            for m in ("CNN", "MLP") for i in ("original", "mismatch", "fixed", "each") for r in range(2)]
    right = {"S": S, "accuracies": pd.DataFrame(rows)}
    assert "16 runs" in check("a5-cnn-shuffle", right)
    fails("a5-cnn-shuffle", {"S": S}, "`accuracies` not defined yet")
    without_past = pd.DataFrame([r for r in rows if r["input"] != "mismatch"])
    fails("a5-cnn-shuffle", {**right, "accuracies": without_past}, "'mismatch'")
    percent = pd.DataFrame(rows).assign(accuracy=30.0)
    fails("a5-cnn-shuffle", {**right, "accuracies": percent}, "not percentages")
