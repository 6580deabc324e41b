import numpy as np
import pytest
from sklearn.linear_model import Ridge

from cnnlab import factorization as F


def low_rank(users=40, items=30, k=3, observed=0.6, seed=0):
    """An exactly rank-k matrix (no noise) with a random share of its entries observed."""
    rng = np.random.default_rng(seed)
    full = rng.normal(size=(k, users)).T @ rng.normal(size=(k, items))
    mask = rng.random(full.shape) < observed
    return np.where(mask, full, np.nan), mask, full


@pytest.fixture
def ratings():
    rng = np.random.default_rng(3)
    R = rng.integers(1, 6, size=(30, 25)).astype(float)
    mask = rng.random(R.shape) < 0.4
    return np.where(mask, R, np.nan), mask


def test_exact_low_rank_matrix_is_fitted_to_near_zero_error():
    R, mask, full = low_rank()
    result = F.als(R, mask, k=3, lam_u=0.0, iterations=300, seed=1)
    assert result.U.shape == (3, 40) and result.V.shape == (3, 30)
    assert result.final()["train"] < 1e-8
    # and, the rank being right, the missing entries are recovered too
    assert np.mean((result.predict() - full)[~mask] ** 2) < 1e-6


def test_each_row_is_the_ridge_closed_form(ratings):
    R, mask = ratings
    lam = 0.7
    result = F.als(R, mask, k=4, lam_u=lam, iterations=5, seed=0)
    # the last half-step solved every item's column of V with U fixed: a ridge regression each
    for item in range(R.shape[1]):
        users = np.flatnonzero(mask[:, item])
        ridge = Ridge(alpha=lam, fit_intercept=False).fit(result.U[:, users].T, R[users, item])
        assert np.allclose(result.V[:, item], ridge.coef_, atol=1e-8)
    # and solve_rows gives the same closed form for the users
    W = F.solve_rows(R, mask, result.V, lam)
    for user in range(R.shape[0]):
        items = np.flatnonzero(mask[user])
        ridge = Ridge(alpha=lam, fit_intercept=False).fit(result.V[:, items].T, R[user, items])
        assert np.allclose(W[:, user], ridge.coef_, atol=1e-8)


def test_vectorised_and_loop_versions_agree(ratings):
    R, mask = ratings
    V = np.random.default_rng(0).normal(size=(5, R.shape[1]))
    assert np.allclose(F.solve_rows(R, mask, V, 0.3), F.solve_rows_loop(R, mask, V, 0.3))
    a = F.als(R, mask, k=5, lam_u=0.1, lam_v=0.2, iterations=6, method="vectorised")
    b = F.als(R, mask, k=5, lam_u=0.1, lam_v=0.2, iterations=6, method="loop")
    assert np.allclose(a.U, b.U) and np.allclose(a.V, b.V)
    assert np.allclose(a.history.mse, b.history.mse)


def test_missing_entries_never_enter_the_fit(ratings):
    R, mask = ratings
    filled = np.where(mask, R, 0.0)  # zeros where nothing was rated, as in the original course file
    wild = np.where(mask, R, 1e6)
    results = [F.als(M, mask, k=3, lam_u=0.1, iterations=4) for M in (R, filled, wild)]
    assert all(np.allclose(results[0].V, r.V) for r in results[1:])


def test_objective_never_increases(ratings):
    R, mask = ratings
    values = [F.objective(R, mask, r.U, r.V, 0.5, 0.5)
              for r in (F.als(R, mask, k=3, lam_u=0.5, iterations=n) for n in range(1, 8))]
    assert all(later <= earlier + 1e-9 for earlier, later in zip(values, values[1:]))
    assert values[-1] < values[0]


def test_regularisation_shrinks_the_factors(ratings):
    R, mask = ratings
    small = F.als(R, mask, k=4, lam_u=0.01, iterations=10)
    large = F.als(R, mask, k=4, lam_u=10.0, iterations=10)
    assert np.linalg.norm(large.U) < np.linalg.norm(small.U)
    assert large.final()["train"] > small.final()["train"]


def test_history_records_every_iteration_and_split(ratings):
    R, mask = ratings
    train, test = F.split_entries(mask, 0.2, seed=0)
    result = F.als(R, train, k=2, iterations=7, evaluate={"test": test})
    assert list(result.history.columns) == ["iteration", "split", "mse"]
    assert len(result.history) == 14 and set(result.history.split) == {"train", "test"}
    assert result.final()["test"] == pytest.approx(F.masked_mse(R, result.predict(), test))
    assert 0 < result.solve_seconds <= result.seconds


def test_splits_are_disjoint_cover_the_observed_entries_and_are_seeded(ratings):
    R, mask = ratings
    parts = F.train_validation_test(mask, test=0.2, validation=0.25, seed=4)
    total = sum(p.astype(int) for p in parts.values())
    assert total.max() == 1 and np.array_equal(total.astype(bool), mask)  # disjoint, covering
    n = mask.sum()
    assert parts["test"].sum() == round(0.2 * n)
    assert parts["validation"].sum() == round(0.25 * (n - round(0.2 * n)))
    again = F.train_validation_test(mask, test=0.2, validation=0.25, seed=4)
    other = F.train_validation_test(mask, test=0.2, validation=0.25, seed=5)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["test"], other["test"])
    # entries, not whole users: held-out entries come from many different rows
    assert np.count_nonzero(parts["test"].any(axis=1)) > 0.5 * R.shape[0]


def test_masked_mse_uses_only_the_mask():
    R = np.array([[1.0, np.nan], [3.0, 4.0]])
    prediction = np.array([[2.0, 100.0], [3.0, 0.0]])
    mask = np.array([[True, False], [True, False]])
    assert F.masked_mse(R, prediction, mask) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="missing"):
        F.masked_mse(R, prediction, np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="no entries"):
        F.masked_mse(R, prediction, np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        F.masked_mse(R, prediction[:1], mask)


def test_baselines():
    rng = np.random.default_rng(5)
    user_bias, item_bias = rng.normal(size=20), rng.normal(size=15)
    exact = 3.0 + user_bias[:, None] + item_bias[None, :]
    mask = rng.random(exact.shape) < 0.7
    R = np.where(mask, exact, np.nan)
    mean = F.global_mean_baseline(R, mask)
    assert np.allclose(mean, R[mask].mean())
    fitted = F.bias_baseline(R, mask, lam=1e-6, iterations=300)
    assert F.masked_mse(R, fitted, mask) < 1e-6  # an exact bias model is recovered
    shrunk = F.bias_baseline(R, mask, lam=1e6)
    assert np.allclose(shrunk, R[mask].mean(), atol=1e-3)  # huge lam: nothing but the mean
    assert F.masked_mse(R, F.bias_baseline(R, mask), mask) < F.masked_mse(R, mean, mask)


def test_clear_errors(ratings):
    R, mask = ratings
    with pytest.raises(ValueError, match="no observed entries"):
        F.als(R, np.zeros_like(mask), k=2)
    with pytest.raises(ValueError, match=r"shape of the rating matrix \(30, 25\)"):
        F.als(R, mask[:, :10], k=2)
    with pytest.raises(ValueError, match="unknown method"):
        F.als(R, mask, k=2, method="gpu")
    with pytest.raises(ValueError, match=r"factors of shape \(K, 25\)"):
        F.solve_rows(R, mask, np.ones((3, 7)), 0.1)
    with pytest.raises(ValueError, match="no observed entries"):
        F.split_entries(np.zeros((3, 3), dtype=bool), 0.5)
