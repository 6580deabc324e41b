"""Checks of Assignment 5, part 2: matrix factorization by alternating least squares (labels
``a5-mf-...``), imported by :mod:`cnnlab.checks.a5`.

Functions are compared with scikit-learn's ridge regression on the observed entries of each row,
fits with the ALS objective and with the ridge equations their last half-step must satisfy.
"""

from __future__ import annotations

import numpy as np

from .core import Wrong, exercise


def _settings(ns):
    from . import expect

    return expect.get(ns, "S", what="the notebook's settings (run the set-up cell)")


def _ratings(users: int = 30, items: int = 25, share: float = 0.4, seed: int = 3):
    """A small random rating matrix (NaN = missing) with one user who rated only two items."""
    rng = np.random.default_rng(seed)
    R = rng.integers(1, 6, size=(users, items)).astype(float)
    mask = rng.random(R.shape) < share
    mask[0] = False
    mask[0, :2] = True
    mask[:, mask.sum(0) == 0] = True  # every item rated by someone
    return np.where(mask, R, np.nan), mask


def _ridge(V, mask, R, lam):
    """Every row's ridge regression on its observed columns, by scikit-learn: (K, rows)."""
    from sklearn.linear_model import Ridge

    return np.stack([Ridge(alpha=lam, fit_intercept=False).fit(V[:, m].T, r[m]).coef_
                     for m, r in zip(mask, R)], axis=1)


def _ridge_rows_right(function, name: str) -> None:
    R, mask = _ratings()
    V = np.random.default_rng(1).normal(size=(4, R.shape[1]))
    have = np.asarray(function(R, mask, V, 0.7), dtype=float)
    if have.shape != (4, R.shape[0]):
        raise Wrong(f"`{name}` returned shape {have.shape} for K = 4 and {R.shape[0]} rows, expected "
                    f"(4, {R.shape[0]})", "one column per row of R, K numbers each")
    expected = _ridge(V, mask, R, 0.7)
    if not np.allclose(have, expected, atol=1e-7):
        row = int(np.abs(have - expected).max(axis=0).argmax())
        raise Wrong(f"`{name}`: row {row} is not the ridge solution on that row's observed entries",
                    "solve (V_o V_o^T + lam I) w = V_o r_o with only the columns o the row rated")
    wild = np.where(mask, R, 1e6)
    if not np.allclose(function(wild, mask, V, 0.7), expected, atol=1e-7):
        raise Wrong(f"`{name}` changes when the missing entries change",
                    "a missing entry must not enter any sum: select the observed columns with the mask")


@exercise("a5-mf-data", needs=("R", "observed"))
def mf_data(ns):
    S = _settings(ns)
    R, observed = np.asarray(ns["R"]), np.asarray(ns["observed"])
    if R.ndim != 2 or not np.issubdtype(R.dtype, np.floating):
        raise Wrong(f"`R` should be a 2-D float array, got {R.dtype} of shape {R.shape}",
                    "matrix.to_numpy() of the DataFrame the loader returns")
    if observed.dtype != bool or not np.array_equal(observed, ~np.isnan(R)):
        raise Wrong("`observed` is not the boolean mask of the entries of `R` that are not NaN",
                    "factorization.observed(R)")
    if (R[observed] == 0).any():
        raise Wrong("`R` holds ratings of 0: a missing rating must be NaN, never 0",
                    "data.load_rating_csv turns the course file's zeros into NaN")
    if ns.get("course_csv") is None:
        from .. import data

        expected = data.densest_ratings(data.load_movielens(), users=S.users, movies=S.movies).to_numpy()
        if R.shape != expected.shape or not np.array_equal(R, expected, equal_nan=True):
            raise Wrong(f"`R` ({R.shape}) is not the {S.users} x {S.movies} corner of MovieLens the exercise "
                        "describes", "data.densest_ratings(data.load_movielens(), users=S.users, movies=S.movies)")
    return f"{R.shape[0]} x {R.shape[1]} ratings, {observed.mean():.1%} observed, NaN where missing"


@exercise("a5-mf-split", needs=("train", "test", "observed"))
def mf_split(ns):
    S = _settings(ns)
    train, test, observed = (np.asarray(ns[k]) for k in ("train", "test", "observed"))
    if train.dtype != bool or test.dtype != bool or train.shape != observed.shape or test.shape != observed.shape:
        raise Wrong("`train` and `test` should be boolean masks of the shape of `R`")
    if (train & test).any() or not np.array_equal(train | test, observed):
        raise Wrong("`train` and `test` must be disjoint and together hold every observed entry",
                    "factorization.split_entries(observed, S.sweep_fraction, seed=S.seed)")
    expected = S.sweep_fraction * observed.sum()
    if abs(test.sum() - expected) > 1:
        raise Wrong(f"`test` holds {test.sum():,} ratings, expected {expected:,.0f} "
                    f"(a fraction {S.sweep_fraction} of the observed ones)")
    if test.any(axis=1).mean() < 0.5 or not train.any(axis=1)[observed.any(axis=1)].all():
        raise Wrong("the split keeps whole users apart: split single ratings, so every user keeps training "
                    "ratings")
    return f"{train.sum():,} training and {test.sum():,} test ratings, split entry by entry"


@exercise("a5-mf-als", needs=("ridge_rows", "als"))
def mf_als(ns):
    from ..factorization import objective

    _ridge_rows_right(ns["ridge_rows"], "ridge_rows")
    R, mask = _ratings()
    lam, k, iterations = 0.5, 3, 4
    factors = list(ns["als"](R, mask, k, lam, iterations, seed=0))
    if len(factors) != iterations:
        raise Wrong(f"`als(..., iterations={iterations})` returned {len(factors)} items, expected one (U, V) "
                    "pair per iteration")
    U, V = (np.asarray(f) for f in factors[-1])
    if U.shape != (k, R.shape[0]) or V.shape != (k, R.shape[1]):
        raise Wrong(f"U and V have shapes {U.shape} and {V.shape}, expected ({k}, users) = {(k, R.shape[0])} "
                    f"and ({k}, items) = {(k, R.shape[1])}")
    if not np.allclose(V, _ridge(U, mask.T, R.T, lam), atol=1e-7):
        raise Wrong("the last V is not the items' ridge solution given the last U",
                    "each iteration: U = ridge_rows(R, mask, V, lam), then V = ridge_rows(R.T, mask.T, U, lam)")
    values = []
    for (U0, V0), (U1, V1) in zip(factors, factors[1:]):
        values += [objective(R, mask, U0, V0, lam), objective(R, mask, U1, V0, lam), objective(R, mask, U1, V1, lam)]
    if any(later > earlier * (1 + 1e-9) + 1e-12 for earlier, later in zip(values, values[1:])):
        raise Wrong("a half-step of your ALS increased the objective", "each half-step solves its ridge "
                    "problems exactly, with the same lam for users and items, so the objective never rises")
    again = list(ns["als"](R, mask, k, lam, iterations, seed=0))
    if not np.allclose(np.asarray(again[-1][1]), V):
        raise Wrong("two calls of `als` with the same seed give different factors", "seed the random start of V")
    return "each row is scikit-learn's ridge solution on its observed entries; no half-step raises the objective"


@exercise("a5-mf-speed", needs=("ridge_rows_batched", "speed"))
def mf_speed(ns):
    S = _settings(ns)
    _ridge_rows_right(ns["ridge_rows_batched"], "ridge_rows_batched")
    speed = ns["speed"]
    if list(getattr(speed, "index", [])) != list(S.ranks) or "speed-up" not in getattr(speed, "columns", []):
        raise Wrong("`speed` should be a DataFrame indexed by the ranks S.ranks, with a column 'speed-up'")
    return f"the batched ridge solutions are right; speed-up {speed['speed-up'].min():.1f}x to {speed['speed-up'].max():.1f}x"


def _records(ns, name: str, values, setting: str):
    from ..factorization import Record

    records = ns[name]
    if not isinstance(records, dict) or list(records) != list(values):
        raise Wrong(f"`{name}` should be a dict with one fit per value of {list(values)}",
                    f"{{value: fit_als(...) for value in ...}}, in the order of the settings")
    for value, fit in records.items():
        if not isinstance(fit, Record):
            raise Wrong(f"`{name}[{value}]` is a {type(fit).__name__}, expected the record factorization.record returns")
        if fit.settings.get(setting) != value:
            raise Wrong(f"`{name}[{value}]` was fitted with {setting} = {fit.settings.get(setting)}")
    return records


def _solved_with(fit, lam: float, label: str) -> None:
    """The last half-step solved every item's ridge problem with ``lam``: catches a λ that was ignored."""
    U, V, mask = fit.U, fit.V, fit.masks["train"]
    rated = np.flatnonzero(mask.sum(0) > 0)[:5]
    expected = _ridge(U, mask.T[rated], fit.R.T[rated], lam)
    if not np.allclose(V[:, rated], expected, atol=1e-6):
        raise Wrong(f"{label}: the factors are not the ALS solution for λ = {lam}",
                    "pass the λ of this setting to als, for users and items alike")


def _iterations(fit, S, label):
    if fit.history.iteration.max() != S.iterations:
        raise Wrong(f"{label} ran {fit.history.iteration.max()} iterations, expected S.iterations = {S.iterations}")


def _sweep(ns, name: str, values: str, setting: str):
    """The fits of one sweep, each checked: its iterations, and the ridge equations of its λ (the
    swept value itself in the λ sweep, S.lam otherwise)."""
    S = _settings(ns)
    records = _records(ns, name, getattr(S, values), setting)
    for value, fit in records.items():
        _iterations(fit, S, f"`{name}[{value}]`")
        _solved_with(fit, value if setting == "λ" else S.lam, f"`{name}[{value}]`")
    return S, records


@exercise("a5-mf-p", needs=("fit_als", "by_p"))
def mf_p(ns):
    S, by_p = _sweep(ns, "by_p", "test_fractions", "p")
    for p, fit in by_p.items():
        share = fit.masks["test"].sum() / (fit.masks["test"] | fit.masks["train"]).sum()
        if abs(share - p) > 0.01:
            raise Wrong(f"`by_p[{p}]` is tested on {share:.0%} of the ratings, expected {p:.0%}")
        if fit.settings.get("K") != S.rank:
            raise Wrong(f"`by_p[{p}]` has K = {fit.settings.get('K')}, expected S.rank = {S.rank}")
    train = by_p[min(by_p)].final()["train"]
    if not train < 0.6:
        raise Wrong(f"at p = {min(by_p)} the final training MSE is {train:.3f}; a working ALS fits the training "
                    "ratings far better (below 0.6)")
    return f"{len(by_p)} test fractions, {S.iterations} iterations each, K = {S.rank}, λ = {S.lam}"


@exercise("a5-mf-k", needs=("by_k",))
def mf_k(ns):
    S, by_k = _sweep(ns, "by_k", "ranks", "K")
    if any(fit.U.shape[0] != k for k, fit in by_k.items()):
        raise Wrong("a fit of `by_k` does not have the rank it is filed under")
    train = [fit.final()["train"] for fit in by_k.values()]
    if any(b >= a for a, b in zip(train, train[1:])):
        raise Wrong("the final training MSE does not fall as K grows", "more factors must fit the training "
                    "ratings more closely; check that each fit uses its own K")
    return f"ranks {list(by_k)} at λ = {S.lam}: the training error falls as K grows"


@exercise("a5-mf-lambda", needs=("by_lam",))
def mf_lambda(ns):
    _, by_lam = _sweep(ns, "by_lam", "lambdas", "λ")
    return f"every fit is the ALS solution for its own λ ({', '.join(f'{v:g}' for v in by_lam)})"


@exercise("a5-mf-grid", needs=("scores", "best_k", "best_lam", "chosen", "train"))
def mf_grid(ns):
    S = _settings(ns)
    scores = ns["scores"]
    cells = {(int(k), float(lam)) for k, lam in zip(scores.get("K", []), scores.get("λ", []))}
    if cells != {(k, float(lam)) for k in S.grid_ranks for lam in S.grid_lambdas} or "validation" not in scores:
        raise Wrong("`scores` should have one row per cell of S.grid_ranks x S.grid_lambdas, with columns "
                    "'K', 'λ' and 'validation'")
    best = scores.loc[scores["validation"].idxmin()]
    if (ns["best_k"], float(ns["best_lam"])) != (int(best["K"]), float(best["λ"])):
        raise Wrong(f"`best_k`, `best_lam` = {ns['best_k']}, {ns['best_lam']}, but the lowest validation MSE "
                    f"is at K = {int(best['K'])}, λ = {best['λ']:g}", "choose on validation, not on training error")
    chosen = ns["chosen"]
    if not np.array_equal(chosen.masks["train"], np.asarray(ns["train"])):
        raise Wrong("`chosen` was not refitted on all the training ratings (fit + validation)")
    if chosen.U.shape[0] != ns["best_k"]:
        raise Wrong(f"`chosen` has rank {chosen.U.shape[0]}, expected best_k = {ns['best_k']}")
    _solved_with(chosen, float(ns["best_lam"]), "`chosen`")
    return f"chosen on validation: K = {ns['best_k']}, λ = {ns['best_lam']:g}, refitted on all training ratings"


@exercise("a5-mf-baselines", needs=("mean_prediction", "bias_prediction", "train", "test", "R"))
def mf_baselines(ns):
    from ..factorization import masked_mse

    R, train, test = np.asarray(ns["R"]), ns["train"], ns["test"]
    mean, bias = np.asarray(ns["mean_prediction"]), np.asarray(ns["bias_prediction"])
    if mean.shape != R.shape or bias.shape != R.shape:
        raise Wrong("`mean_prediction` and `bias_prediction` should be full matrices of the shape of `R`")
    if not np.allclose(mean, R[train].mean()):
        raise Wrong("`mean_prediction` is not the mean of the training ratings everywhere",
                    "use only the training ratings: the test ratings are unseen")
    if not masked_mse(R, bias, test) < masked_mse(R, mean, test):
        raise Wrong("the bias baseline is no better than the global mean on the test ratings",
                    "fit mu + b_u + c_i on the training ratings (factorization.bias_baseline)")
    return f"global mean {masked_mse(R, mean, test):.3f}, with biases {masked_mse(R, bias, test):.3f} (test MSE)"
