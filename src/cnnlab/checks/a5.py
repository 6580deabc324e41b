"""Checks of the exercises of Assignment 5: mixtures, matrix factorization, CNN against MLP (labels ``a5-...``).

Each function is registered with :func:`~cnnlab.checks.core.exercise` under its exercise's label
and tested in ``tests/test_checks_a5.py`` on a right answer and on wrong ones. Answers are compared
with library computations (SciPy's log-densities and ``logsumexp``, scikit-learn's ridge
regression, Keras's ``Rescaling`` layer), never with a copy of the answer; the assignment's sizes
come from the notebook's settings ``S``. The checks of part 2, matrix factorization, are in
:mod:`cnnlab.checks.a5_factorization`.
"""

from __future__ import annotations

import math

import numpy as np

from . import a5_factorization  # noqa: F401 - registers the checks of part 2 (a5-mf-...)
from . import expect
from .core import Wrong, exercise

REFERENCE = (0.10152327, 0.89847673)  # the responsibilities at x = 5 the assignment states


def _settings(ns):
    return expect.get(ns, "S", what="the notebook's settings (run the set-up cell)")


# --- part 1: mixture responsibilities ------------------------------------------------------------


def _mixture_1d(S):
    from scipy import stats

    weights, means, variances = (np.asarray(v, dtype=float) for v in (S.weights, S.means, S.variances))
    logs = np.log(weights) + stats.norm.logpdf(S.point, means, np.sqrt(variances))
    return weights, means, variances, logs


@exercise("a5-mix-naive", needs=("weighted", "naive"))
def mix_naive(ns):
    from scipy import stats

    S = _settings(ns)
    weights, means, variances, _ = _mixture_1d(S)
    expected = weights * stats.norm.pdf(S.point, means, np.sqrt(variances))
    expect.close(ns["weighted"], expected, atol=0, rtol=0, what="`weighted`")
    naive = np.asarray(ns["naive"], dtype=float)
    if naive.shape != (2,) or not np.isnan(naive).all():
        raise Wrong(f"`naive` is {naive}, expected [nan nan]: both densities are 0.0, so the ratio is 0/0",
                    "divide `weighted` by its sum exactly as the formula says, in probability space")
    return "both weighted densities underflow to 0.0 and the ratio is 0/0 = NaN"


@exercise("a5-mix-log", needs=("log_terms", "log_normaliser", "resp"))
def mix_log(ns):
    from scipy import special

    *_, logs = _mixture_1d(_settings(ns))
    expect.close(ns["log_terms"], logs, atol=1e-8, what="`log_terms`")
    expect.close(ns["log_normaliser"], special.logsumexp(logs), atol=1e-8,
                 what="`log_normaliser` (against scipy.special.logsumexp)")
    expect.close(ns["resp"], REFERENCE, atol=1e-8, what="`resp`")
    return (f"log terms {logs[0]:.2f} and {logs[1]:.2f}, responsibilities {REFERENCE[0]} and "
            f"{REFERENCE[1]}, as SciPy computes them")


@exercise("a5-mix-dims", needs=("per_dimension", "first_zero"))
def mix_dims(ns):
    from scipy import stats

    per_dimension = float(ns["per_dimension"])
    expected = -stats.norm.entropy()
    if not math.isclose(per_dimension, expected, abs_tol=1e-9):
        raise Wrong(f"`per_dimension` is {per_dimension:.6f}, expected {expected:.6f}",
                    "the mean of log N(x | 0, 1) is -log(2 pi)/2 - E[x^2]/2, and E[x^2] = 1")
    first_zero = ns["first_zero"]
    if not isinstance(first_zero, (int, np.integer)) or first_zero < 2:
        raise Wrong(f"`first_zero` is {first_zero!r}, expected a whole number of dimensions")
    with np.errstate(under="ignore"):
        at, before = np.exp(expected * first_zero), np.exp(expected * (first_zero - 1))
    if at != 0.0:
        raise Wrong(f"np.exp(per_dimension * {first_zero}) is {at:.3g}, not 0.0",
                    "find the smallest D for which np.exp(per_dimension * D) == 0.0, with np.exp itself")
    if before == 0.0:
        raise Wrong(f"np.exp(per_dimension * {first_zero - 1}) is already 0.0: {first_zero} is not the first",
                    "a result below half the smallest subnormal float rounds to 0.0; test each D with np.exp")
    return f"{expected:.4f} per dimension; exp() of a typical log-likelihood is 0.0 from D = {first_zero}"


def _scipy_responsibilities(x, weights, means, variances):
    from scipy import special, stats

    logs = np.log(weights)[None, :] + stats.norm.logpdf(x[:, None, :], means[None], np.sqrt(variances[None])).sum(2)
    return special.softmax(logs, axis=1)


@exercise("a5-mix-vectorised", needs=("responsibilities",))
def mix_vectorised(ns):
    S = _settings(ns)
    responsibilities = ns["responsibilities"]
    weights, means, variances, _ = _mixture_1d(S)
    one = np.asarray(responsibilities(np.array([[S.point]]), weights, means[:, None], variances[:, None]))
    if not np.isfinite(one).all():
        raise Wrong(f"at x = {S.point} (one point, D = 1) the result is {one.ravel()}, not two probabilities",
                    "work with log-densities and subtract each row's largest log term before np.exp")
    expect.close(one, [REFERENCE], atol=1e-8, what="responsibilities at x = 5 (one point, D = 1)")
    rng = np.random.default_rng(0)
    for dims, spread in ((4, 1.0), (3_072, 3.0)):  # 3,072: every density underflows to 0.0
        w = rng.dirichlet(np.ones(3))
        mu, var = rng.normal(0, 1, (3, dims)), rng.uniform(0.5, 2.0, (3, dims))
        x = rng.normal(0, spread, (20, dims))
        have = np.asarray(responsibilities(x, w, mu, var), dtype=float)
        if have.shape != (20, 3):
            raise Wrong(f"for N = 20 points and K = 3 components the result has shape {have.shape}, "
                        "expected (20, 3)", "one row per point, one column per component")
        if not np.isfinite(have).all():
            raise Wrong(f"in D = {dims} dimensions the result holds NaN or inf",
                        "work with log-densities and subtract each row's largest log term before np.exp")
        if not np.allclose(have.sum(axis=1), 1.0):
            raise Wrong(f"in D = {dims} dimensions a row does not sum to 1",
                        "normalise each point's row (axis 1), over the components")
        expect.close(have, _scipy_responsibilities(x, w, mu, var), atol=1e-8,
                     what=f"the responsibilities in D = {dims} dimensions (against SciPy)")
    return "agrees with SciPy for 1, 4 and 3,072 dimensions, where every density underflows"


# --- part 3: CNN against MLP ---------------------------------------------------------------------

CNN_LAYERS = ["Conv2D(6, 5×5, relu, valid)", "MaxPooling2D(2×2)", "Conv2D(16, 5×5, relu, valid)",
              "MaxPooling2D(2×2)", "Flatten", "Dense(120, relu)", "Dense(84, relu)", "Dense(10, linear)"]
MLP_LAYERS = ["Flatten", "Dense(128, relu)", "Dense(64, relu)", "Dense(10, linear)"]
#: Lowest test accuracy a network trained as the exercise says reaches, per profile (chance: 0.1).
TRAINED = {"smoke": 0.13, "cpu": 0.38, "full": 0.44}


@exercise("a5-cnn-data", needs=("to_unit_range", "x_train", "x_test", "x_train_raw"))
def cnn_data(ns):
    import keras

    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=-1)
    have = np.asarray(ns["to_unit_range"](pixels))
    expected = np.asarray(keras.layers.Rescaling(1 / 127.5, offset=-1.0)(pixels.astype("float32")))
    expect.close(have, expected, atol=1e-6, what="to_unit_range of the pixels 0 ... 255")
    if have.dtype != np.float32:
        raise Wrong(f"to_unit_range returns {have.dtype}, expected float32", "images.astype('float32') first")
    x_train, raw = np.asarray(ns["x_train"]), np.asarray(ns["x_train_raw"])
    if x_train.shape != raw.shape or not np.allclose(x_train[:50], ns["to_unit_range"](raw[:50])):
        raise Wrong("`x_train` is not to_unit_range(x_train_raw)")
    return "pixels 0 ... 255 map to -1 ... 1 as keras.layers.Rescaling(1/127.5, offset=-1) maps them"


@exercise("a5-cnn-models", needs=("build_cnn", "build_mlp"))
def cnn_models(ns):
    import keras

    for name, layers, count in (("build_cnn", CNN_LAYERS, 62_006), ("build_mlp", MLP_LAYERS, 402_250)):
        model, again = ns[name](), ns[name]()
        if not isinstance(model, keras.Model) or model is again:
            raise Wrong(f"`{name}()` should return a new Keras model at every call")
        expect.input_shape(model, (32, 32, 3), name=f"{name}()")
        expect.same_layers(model, layers, name=f"{name}()")
        expect.parameters(model, count, name=f"{name}()")
        if getattr(model, "optimizer", None) is not None:
            raise Wrong(f"`{name}()` returns a compiled model", "build only; `train` compiles")
    return "CNN 62,006 parameters, MLP 402,250, both ending in 10 logits"


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(np.asarray(model(x)), axis=1) == np.ravel(y)))


@exercise("a5-cnn-train", needs=("train", "cnn", "mlp", "x_train", "x_test", "y_test"))
def cnn_train(ns):
    S = _settings(ns)
    steps = S.epochs * math.ceil(len(ns["x_train"]) / S.batch_size)
    found = []
    for name in ("cnn", "mlp"):
        model = ns[name]
        expect.compiled(model, optimizer="SGD", loss="sparse_categorical_crossentropy", from_logits=True,
                        name=name, learning_rate=S.learning_rate, momentum=S.momentum)
        taken = int(model.optimizer.iterations.numpy())
        if taken != steps:
            raise Wrong(f"`{name}` took {taken:,} training steps, expected {steps:,} "
                        f"(S.epochs = {S.epochs} epochs of the training images in batches of {S.batch_size})",
                        "fit once, with batch_size=S.batch_size and epochs=S.epochs")
        accuracy = _accuracy(model, ns["x_test"], ns["y_test"])
        expect.at_least(accuracy, TRAINED, f"the test accuracy of `{name}`",
                        "train on x_train with the exercise's settings; chance is 0.1")
        found.append(accuracy)
    return f"SGD {S.learning_rate}, momentum {S.momentum}; test accuracy CNN {found[0]:.3f}, MLP {found[1]:.3f}"


@exercise("a5-cnn-shuffle", needs=("accuracies",))
def cnn_shuffle(ns):
    S = _settings(ns)
    table = ns["accuracies"]
    columns = {"model", "input", "run", "accuracy"}
    if not columns <= set(getattr(table, "columns", [])):
        raise Wrong(f"`accuracies` should be a DataFrame with columns {sorted(columns)}")
    counts = table.groupby(["model", "input"]).run.nunique()
    expected = {(m, i) for m in ("CNN", "MLP") for i in ("original", "mismatch", "fixed", "each")}
    if set(counts.index) != expected or (counts != S.runs).any():
        raise Wrong("`accuracies` should hold S.runs runs of CNN and MLP for each input 'original', "
                    "'mismatch', 'fixed' and 'each'", f"found {dict(counts)}")
    if not table.accuracy.between(0, 1).all():
        raise Wrong("an accuracy is outside [0, 1]: give shares, not percentages")
    means = table.groupby(["model", "input"]).accuracy.mean()
    return f"{len(table)} runs; CNN fixed {means['CNN', 'fixed']:.3f}, MLP fixed {means['MLP', 'fixed']:.3f}"
