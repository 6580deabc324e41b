"""Matrix factorization on observed entries (assignment 5, part 2): splits, errors, records of ALS
fits, verdicts, baselines.

A rating matrix ``R`` (users x items) is a float array with ``NaN`` where no rating exists; the
entries a computation may use are given by a boolean ``mask`` of the same shape. Missing entries
never enter a sum as zeros: every function multiplies by, or indexes with, the mask.

The model is ``R ~ U.T @ V`` with ``U`` of shape ``(K, users)`` and ``V`` of shape ``(K, items)``,
fitted by minimising :func:`objective`, the squared error over the observed training entries plus
``lam_u ||U||^2 + lam_v ||V||^2``, by alternating least squares. ALS itself is what the
assignment's exercises ask students to write, so it lives in the notebook's solutions; here an
ALS fit arrives as the list of its factors ``[(U, V), ...]`` after every iteration.
:func:`record` scores that list on named masks (``{"train": ..., "test": ...}``) and
:func:`compare` says whether two fits differ beyond noise (:mod:`cnnlab.noise`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import noise


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


def squared_errors(R, prediction, mask) -> np.ndarray:
    """``(R - prediction)**2`` on the entries where ``mask`` is True, as a flat array."""
    R = _as_float(R)
    prediction = np.asarray(prediction, dtype=float)
    if prediction.shape != R.shape:
        raise ValueError(f"expected a prediction of shape {R.shape}, like the ratings, got {prediction.shape}")
    mask = _check_mask(R, mask)
    if not mask.any():
        raise ValueError("the mask selects no entries: the mean squared error is undefined")
    return (R[mask] - prediction[mask]) ** 2


def masked_mse(R, prediction, mask) -> float:
    """Mean squared error of ``prediction`` over the entries where ``mask`` is True only."""
    return float(np.mean(squared_errors(R, prediction, mask)))


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


def objective(R, mask, U, V, lam_u: float, lam_v: float | None = None) -> float:
    """The ALS objective: squared error over ``mask`` plus ``lam_u ||U||^2 + lam_v ||V||^2``
    (``lam_v`` defaults to ``lam_u``)."""
    R = _as_float(R)
    lam_v = lam_u if lam_v is None else lam_v
    error = np.where(mask, R - U.T @ V, 0.0)
    return float(np.sum(error**2) + lam_u * np.sum(U**2) + lam_v * np.sum(V**2))


# --- records of ALS fits --------------------------------------------------------------------------


@dataclass
class Record:
    """One ALS fit: its factors after every iteration, the masks it is scored on, its settings.

    ``history`` is a tidy DataFrame: ``iteration, split, mse`` and one column per setting.
    """

    R: np.ndarray
    factors: list
    masks: dict
    settings: dict = field(default_factory=dict)
    history: pd.DataFrame = field(default=None, repr=False)

    @property
    def U(self) -> np.ndarray:
        return self.factors[-1][0]

    @property
    def V(self) -> np.ndarray:
        return self.factors[-1][1]

    def prediction(self, iteration: int | None = None) -> np.ndarray:
        """The completed matrix ``U.T @ V`` after ``iteration`` (1-based; default: the last)."""
        U, V = self.factors[(iteration or len(self.factors)) - 1]
        return U.T @ V

    def final(self) -> pd.Series:
        """The MSE of every split after the last iteration."""
        last = self.history[self.history.iteration == self.history.iteration.max()]
        return last.set_index("split")["mse"]

    def errors(self, split: str = "test", iteration: int | None = None, users=None) -> np.ndarray:
        """Squared errors on the entries of ``split`` after ``iteration`` (default: the last),
        only in the rows of ``users`` (a boolean mask over the users) when given."""
        mask = self.masks[split]
        if users is not None:
            mask = mask & np.asarray(users, dtype=bool)[:, None]
        return squared_errors(self.R, self.prediction(iteration), mask)

    def best_iteration(self, split: str = "test") -> int:
        """The iteration with the lowest MSE on ``split``."""
        rows = self.history[self.history.split == split]
        return int(rows.loc[rows.mse.idxmin(), "iteration"])


def record(R, factors: Sequence, masks: Mapping[str, np.ndarray], **settings) -> Record:
    """Score an ALS fit, given as its factors ``[(U, V), ...]`` after every iteration, on every
    named mask (e.g. ``{"train": train, "test": test}``); ``settings`` (``K=8``, ``λ=0.01`` ...)
    become columns of the history."""
    R = _as_float(R)
    masks = {name: _check_mask(R, m, f"masks[{name!r}]") for name, m in masks.items()}
    factors = list(factors)
    if not factors:
        raise ValueError("no factors to record: expected one (U, V) pair per iteration")
    for i, pair in enumerate(factors, start=1):
        if len(pair) != 2:
            raise ValueError(f"iteration {i}: expected a pair (U, V), got {len(pair)} items")
        U, V = (np.asarray(f, dtype=float) for f in pair)
        if U.ndim != 2 or V.ndim != 2 or U.shape[0] != V.shape[0] or (U.shape[1], V.shape[1]) != R.shape:
            raise ValueError(f"iteration {i}: expected U of shape (K, {R.shape[0]}) and V of shape "
                             f"(K, {R.shape[1]}), got {U.shape} and {V.shape}")
    rows = [(i, name, masked_mse(R, U.T @ V, m))
            for i, (U, V) in enumerate(factors, start=1) for name, m in masks.items()]
    history = pd.DataFrame(rows, columns=["iteration", "split", "mse"]).assign(**settings)
    return Record(R, factors, masks, dict(settings), history)


def compare(a: Record, b: Record, split: str = "test", iteration_a: int | None = None,
            iteration_b: int | None = None) -> noise.Comparison:
    """Is ``a``'s MSE on ``split`` different from ``b``'s beyond noise? (``a - b``; after the last
    iterations unless given.) Scored on the same entries, the comparison is paired rating by
    rating (:func:`noise.paired`); on different entries (another test fraction), the two sets of
    squared errors are independent samples (:func:`noise.compare`)."""
    errors_a, errors_b = a.errors(split, iteration_a), b.errors(split, iteration_b)
    if np.array_equal(a.masks[split], b.masks[split]):
        return noise.paired(errors_a, errors_b)
    return noise.compare(errors_a, errors_b)


def by_training_count(fit: Record, edges: Sequence[int], split: str = "test") -> pd.DataFrame:
    """The users of ``fit`` grouped by their number of training ratings: ``edges`` are the lower
    bounds of the groups (the last group has no upper bound). One row per group that has
    ``split`` ratings: the group's label, its number of users, its training MSE and its ``split``
    MSE; ``users`` (a boolean mask) in ``frame.attrs["users"]`` for each label."""
    count = fit.masks["train"].sum(axis=1)
    bounds = list(edges) + [np.inf]
    rows, members = [], {}
    for lower, upper in zip(bounds, bounds[1:]):
        users = (count >= lower) & (count < upper)
        label = f"{lower}-{upper - 1:.0f}" if np.isfinite(upper) else f"{lower} or more"
        if not (fit.masks[split] & users[:, None]).any():
            continue
        members[label] = users
        rows.append({"training ratings": label, "users": int(users.sum()),
                     "train MSE": float(fit.errors("train", users=users).mean()),
                     f"{split} MSE": float(fit.errors(split, users=users).mean())})
    frame = pd.DataFrame(rows).set_index("training ratings")
    frame.attrs["users"] = members
    return frame


CHANGE = {"higher": "rises", "lower": "falls", "same": "changes only within noise"}


def sweep_summary(records: Mapping[float, Record]) -> dict:
    """What a sweep of one setting shows, from its lowest value to its highest.

    ``records`` maps each value of the setting to its fit. Returns ``low``/``high`` (the ends),
    for ``train`` and ``test`` the final MSE at both ends (``train_low`` ...), the words for the
    change (``train_change``: "rises", "falls" or "changes only within noise") and its noise margin
    (``train_margin``); ``best``, the value with the lowest final test MSE, and ``best_noise``:
    "beyond" or "within", whether it beats the runner-up beyond noise.
    """
    if len(records) < 2:
        raise ValueError(f"a sweep needs at least two settings, got {list(records)}")
    low, high = min(records), max(records)
    summary = {"low": low, "high": high}
    for split in ("train", "test"):
        change = compare(records[high], records[low], split)
        summary[f"{split}_low"] = float(records[low].final()[split])
        summary[f"{split}_high"] = float(records[high].final()[split])
        summary[f"{split}_change"] = change.says(CHANGE["higher"], CHANGE["lower"], CHANGE["same"])
        summary[f"{split}_margin"] = change.margin
    order = sorted(records, key=lambda value: records[value].final()["test"])
    summary["best"] = order[0]
    summary["best_noise"] = "beyond" if compare(records[order[1]], records[order[0]]).beyond else "within"
    return summary


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
