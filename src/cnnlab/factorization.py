"""Matrix factorization by alternating least squares on observed entries (assignment 5, part 2).

A rating matrix ``R`` (users x items) is a float array with ``NaN`` where no rating exists; the
entries a computation may use are given by a boolean ``mask`` of the same shape. Missing entries
never enter a sum as zeros: every function multiplies by, or indexes with, the mask.

The model is ``R ~ U.T @ V`` with ``U`` of shape ``(K, users)`` and ``V`` of shape ``(K, items)``,
fitted by minimising

    sum over observed (u, i) of (R[u, i] - U[:, u] @ V[:, i])**2 + lam_u ||U||^2 + lam_v ||V||^2.

Holding ``V`` fixed, each user's column ``U[:, u]`` is a ridge regression on the items that user
rated: ``(V_o V_o.T + lam_u I) U[:, u] = V_o r_o``. :func:`solve_rows` builds all those K x K
systems at once and solves them in one batched ``np.linalg.solve`` call; :func:`solve_rows_loop`
is the per-user Python loop, kept to measure the speed-up and to test that both agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

METHODS = ("vectorised", "loop")


def _as_float(R) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2:
        raise ValueError(f"expected a rating matrix of shape (users, items), got {R.shape}")
    return R


def observed(R) -> np.ndarray:
    """The boolean mask of entries that hold a rating (not NaN)."""
    return ~np.isnan(_as_float(R))


def _check_mask(R: np.ndarray, mask, name: str = "mask") -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != R.shape:
        raise ValueError(f"{name} must have the shape of the rating matrix {R.shape}, got {mask.shape}")
    if mask.dtype != bool:
        raise TypeError(f"{name} must be a boolean array, got dtype {mask.dtype}")
    if np.isnan(R[mask]).any():
        raise ValueError(f"{name} marks entries that are missing (NaN) in the rating matrix")
    return mask


def masked_mse(R, prediction, mask) -> float:
    """Mean squared error of ``prediction`` over the entries where ``mask`` is True only."""
    R = _as_float(R)
    prediction = np.asarray(prediction, dtype=float)
    if prediction.shape != R.shape:
        raise ValueError(f"expected a prediction of shape {R.shape}, like the ratings, got {prediction.shape}")
    mask = _check_mask(R, mask)
    if not mask.any():
        raise ValueError("the mask selects no entries: the mean squared error is undefined")
    return float(np.mean((R[mask] - prediction[mask]) ** 2))


# --- entry-level splits ---------------------------------------------------------------------------


def split_entries(mask, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the True entries of ``mask``, chosen at random entry by entry.

    Returns ``(kept, held_out)``: two disjoint boolean masks whose union is ``mask``;
    ``held_out`` has ``round(fraction * mask.sum())`` entries. Whole rows are never held out on
    purpose: a user keeps (on average) the same share of ratings in both parts.
    """
    mask = np.asarray(mask, dtype=bool)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction}")
    cells = np.flatnonzero(mask)
    if len(cells) == 0:
        raise ValueError("the mask has no observed entries to split")
    n_out = int(round(fraction * len(cells)))
    picked = np.random.default_rng(seed).choice(cells, size=n_out, replace=False)
    held_out = np.zeros(mask.shape, dtype=bool)
    held_out.flat[picked] = True
    return mask & ~held_out, held_out


def train_validation_test(mask, test: float, validation: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Entry-level split: ``test`` of the observed entries, then ``validation`` of the rest.

    Returns ``{"train": ..., "validation": ..., "test": ...}``, disjoint masks covering ``mask``.
    """
    rest, test_mask = split_entries(mask, test, seed=seed)
    train_mask, validation_mask = split_entries(rest, validation, seed=seed + 1)
    return {"train": train_mask, "validation": validation_mask, "test": test_mask}


# --- alternating least squares --------------------------------------------------------------------


def solve_rows(R, mask, V, lam: float) -> np.ndarray:
    """Ridge solution for every row of ``R`` given the column factors ``V`` (K x columns), batched.

    Row ``u`` solves ``(V_o V_o.T + lam I) w = V_o r_o`` over its observed columns ``o``.
    The K x K matrices of all rows come from one matrix product (mask @ outer products of V's
    columns) and are solved in one ``np.linalg.solve`` call. Returns ``W`` of shape (K, rows).
    """
    R, mask, V = _as_float(R), np.asarray(mask, dtype=bool), np.asarray(V, dtype=float)
    if V.ndim != 2 or V.shape[1] != R.shape[1]:
        raise ValueError(f"expected factors of shape (K, {R.shape[1]}) for {R.shape[1]} columns, got {V.shape}")
    return batched_ridge(mask.astype(float), np.where(mask, R, 0.0), V, lam)


def batched_ridge(weights: np.ndarray, filled: np.ndarray, V: np.ndarray, lam: float) -> np.ndarray:
    """The core of :func:`solve_rows`, on inputs :func:`als` prepares once per fit: the 0/1 mask as
    floats (``weights``) and the ratings with every missing entry set to 0 (``filled``; those
    zeros are multiplied by weight 0, so they never count)."""
    k = V.shape[0]
    outer = (V[:, None, :] * V[None, :, :]).reshape(k * k, -1)  # column i holds v_i v_i^T, flattened
    systems = (weights @ outer.T).reshape(-1, k, k)  # row u: sum over observed i of v_i v_i^T
    systems += lam * np.eye(k)
    targets = filled @ V.T  # row u: sum over observed columns i of r_ui v_i
    try:
        return np.linalg.solve(systems, targets[..., None])[..., 0].T
    except np.linalg.LinAlgError as error:
        raise np.linalg.LinAlgError(
            f"a row's ridge system is singular ({error}): with lam = {lam}, every row needs at least "
            f"K = {k} observed entries; use lam > 0"
        ) from error


def solve_rows_loop(R, mask, V, lam: float) -> np.ndarray:
    """The same as :func:`solve_rows`, one row at a time in a Python loop (for comparison)."""
    R, mask, V = _as_float(R), np.asarray(mask, dtype=bool), np.asarray(V, dtype=float)
    k = V.shape[0]
    W = np.zeros((k, R.shape[0]))
    for u in range(R.shape[0]):
        cols = np.flatnonzero(mask[u])
        V_o = V[:, cols]
        W[:, u] = np.linalg.solve(V_o @ V_o.T + lam * np.eye(k), V_o @ R[u, cols])
    return W


def objective(R, mask, U, V, lam_u: float, lam_v: float) -> float:
    """The ALS objective: squared error over ``mask`` plus ``lam_u ||U||^2 + lam_v ||V||^2``."""
    R = _as_float(R)
    error = np.where(mask, R - U.T @ V, 0.0)
    return float(np.sum(error**2) + lam_u * np.sum(U**2) + lam_v * np.sum(V**2))


@dataclass
class ALSResult:
    """Factors ``U`` (K x users) and ``V`` (K x items), and the MSE per split after each iteration.

    ``history`` is a tidy DataFrame with columns ``iteration, split, mse``; ``seconds`` is the
    wall time of the iterations (evaluation included), ``solve_seconds`` the part spent solving
    for ``U`` and ``V``.
    """

    U: np.ndarray
    V: np.ndarray
    history: pd.DataFrame
    seconds: float
    solve_seconds: float
    settings: dict = field(default_factory=dict)

    def predict(self) -> np.ndarray:
        """The completed matrix ``U.T @ V`` (users x items)."""
        return self.U.T @ self.V

    def final(self) -> pd.Series:
        """The MSE of every split after the last iteration."""
        last = self.history[self.history.iteration == self.history.iteration.max()]
        return last.set_index("split")["mse"]


def als(R, train_mask, k: int, lam_u: float = 0.01, lam_v: float | None = None, iterations: int = 30,
        evaluate: dict | None = None, seed: int = 0, method: str = "vectorised") -> ALSResult:
    """Fit ``R ~ U.T @ V`` by alternating least squares on the entries of ``train_mask`` only.

    ``V`` starts from standard normal numbers (seeded); each iteration solves for all users with
    ``V`` fixed, then for all items with ``U`` fixed. ``lam_v`` defaults to ``lam_u``. After every
    iteration the MSE is recorded on ``"train"`` and on every named mask of ``evaluate``
    (e.g. ``{"test": test_mask}``). ``method="loop"`` solves row by row (slow, for comparison).
    """
    R = _as_float(R)
    train_mask = _check_mask(R, train_mask, "train_mask")
    evaluate = {name: _check_mask(R, m, f"evaluate[{name!r}]") for name, m in (evaluate or {}).items()}
    if not train_mask.any():
        raise ValueError("train_mask selects no observed entries: there is nothing to fit")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {METHODS}")
    if k < 1 or iterations < 1:
        raise ValueError(f"k and iterations must be at least 1, got k={k}, iterations={iterations}")
    lam_v = lam_u if lam_v is None else lam_v
    if lam_u < 0 or lam_v < 0:
        raise ValueError(f"regularisation must be non-negative, got lam_u={lam_u}, lam_v={lam_v}")
    if method == "vectorised":  # prepare the masks once, in both orientations
        by_user = (train_mask.astype(float), np.where(train_mask, R, 0.0))
        by_item = (np.ascontiguousarray(by_user[0].T), np.ascontiguousarray(by_user[1].T))

        def solve_users(V):
            return batched_ridge(*by_user, V, lam_u)

        def solve_items(U):
            return batched_ridge(*by_item, U, lam_v)
    else:
        def solve_users(V):
            return solve_rows_loop(R, train_mask, V, lam_u)

        def solve_items(U):
            return solve_rows_loop(R.T, train_mask.T, U, lam_v)

    V = np.random.default_rng(seed).standard_normal((k, R.shape[1]))
    rows = []
    solve_seconds = 0.0
    start = time.perf_counter()
    # The matrices are small: one BLAS thread is as fast as several on an idle machine and much
    # faster on a busy one (threads waiting for each other), for both methods alike.
    with threadpool_limits(limits=1, user_api="blas"):
        for iteration in range(1, iterations + 1):
            tick = time.perf_counter()
            U = solve_users(V)
            V = solve_items(U)
            solve_seconds += time.perf_counter() - tick
            prediction = U.T @ V
            for name, m in {"train": train_mask, **evaluate}.items():
                rows.append((iteration, name, masked_mse(R, prediction, m)))
    seconds = time.perf_counter() - start
    history = pd.DataFrame(rows, columns=["iteration", "split", "mse"])
    settings = {"k": k, "lam_u": lam_u, "lam_v": lam_v, "iterations": iterations, "method": method}
    return ALSResult(U, V, history, seconds, solve_seconds, settings)


# --- baselines ------------------------------------------------------------------------------------


def global_mean_baseline(R, train_mask) -> np.ndarray:
    """Predict every entry with the mean of the training ratings."""
    R = _as_float(R)
    train_mask = _check_mask(R, train_mask, "train_mask")
    if not train_mask.any():
        raise ValueError("train_mask selects no observed entries: the mean is undefined")
    return np.full(R.shape, R[train_mask].mean())


def bias_baseline(R, train_mask, lam: float = 10.0, iterations: int = 20) -> np.ndarray:
    """Predict ``mu + b_u + c_i``: global mean plus a regularised user bias and item bias.

    The biases minimise the squared error over the training entries plus
    ``lam * (sum b_u^2 + sum c_i^2)``, by alternating their closed-form updates
    ``b_u = sum_i (r_ui - mu - c_i) / (n_u + lam)`` and likewise for ``c_i``. A user or item with
    few ratings keeps a bias near 0 (it is shrunk towards the global mean).
    """
    R = _as_float(R)
    train_mask = _check_mask(R, train_mask, "train_mask")
    if not train_mask.any():
        raise ValueError("train_mask selects no observed entries: there is nothing to fit")
    mu = R[train_mask].mean()
    residual = np.where(train_mask, R - mu, 0.0)
    weights = train_mask.astype(float)
    user_bias, item_bias = np.zeros(R.shape[0]), np.zeros(R.shape[1])
    for _ in range(iterations):
        user_bias = (residual - weights * item_bias[None, :]).sum(1) / (weights.sum(1) + lam)
        item_bias = (residual - weights * user_bias[:, None]).sum(0) / (weights.sum(0) + lam)
    return mu + user_bias[:, None] + item_bias[None, :]
