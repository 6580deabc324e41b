"""Mixture responsibilities for diagonal Gaussians, computed directly in probability space
(assignment 5, part 1), to show where that breaks.

The responsibility of component ``k`` for a point ``x`` is

    r_k(x) = pi_k N(x | mu_k, diag(var_k)) / sum_j pi_j N(x | mu_j, diag(var_j)).

Far from every component, or in many dimensions, each density underflows to exactly 0.0 in
float64 and the ratio becomes 0/0; with narrow components the densities overflow and it becomes
inf/inf. :func:`direct_responsibilities` computes the formula as written, so the notebook can show
both failures next to the log-space version, which is what the exercises ask students to write
(log-sum-exp: subtract the largest log term before exponentiating) and therefore lives in the
notebook's solutions.

Shapes: ``x`` is ``(N, D)`` (or ``(N,)`` for 1-D data), ``weights`` ``(K,)``, ``means`` and
``variances`` ``(K, D)`` (or ``(K,)`` for 1-D data). Every result is ``(N, K)``.
"""

from __future__ import annotations

import numpy as np


def _points_and_components(x, means, variances):
    """``x`` as ``(N, D)`` and ``means``/``variances`` as ``(K, D)`` float64; clear errors otherwise."""
    x = np.asarray(x, dtype=float)
    means = np.asarray(means, dtype=float)
    variances = np.asarray(variances, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if means.ndim == 1:
        means = means[:, None]
    if variances.ndim == 1:
        variances = variances[:, None]
    if x.ndim != 2:
        raise ValueError(f"expected points of shape (N, D) or (N,), got {x.shape}")
    if means.ndim != 2 or means.shape[1] != x.shape[1]:
        raise ValueError(f"expected means of shape (K, D) with D = {x.shape[1]} (the points' dimension), "
                         f"got {means.shape}")
    if variances.shape != means.shape:
        raise ValueError(f"expected variances of shape (K, D) = {means.shape}, like the means, "
                         f"got {variances.shape}")
    if np.any(variances <= 0):
        raise ValueError("variances must be positive")
    return x, means, variances


def _check(x, weights, means, variances):
    """Arrays as float64 with shapes (N, D), (K,), (K, D), (K, D); clear errors otherwise."""
    x, means, variances = _points_and_components(x, means, variances)
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (len(means),):
        raise ValueError(f"expected mixture weights of shape (K,) = ({len(means)},), one per component, "
                         f"got {weights.shape}")
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must be non-negative and sum to 1, got {weights}")
    return x, weights, means, variances


def direct_responsibilities(x, weights, means, variances) -> np.ndarray:
    """The naive version: densities in probability space, then their ratio.

    Correct while the densities are representable; where they all underflow to 0.0 the row is
    0/0 = NaN, where they overflow to inf it is inf/inf = NaN (NumPy's warnings are silenced: the
    NaN is the point).
    """
    x, weights, means, variances = _check(x, weights, means, variances)
    diff = x[:, None, :] - means[None, :, :]
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        density = np.prod(np.exp(-0.5 * diff**2 / variances[None]) / np.sqrt(2 * np.pi * variances[None]),
                          axis=2)
        numerators = weights[None, :] * density
        return numerators / numerators.sum(axis=1, keepdims=True)
