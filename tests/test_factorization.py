import numpy as np
import pytest

from cnnlab import factorization as F
from cnnlab import noise


def als(R, mask, k, lam, iterations, seed=0):
    """A plain ALS to produce fits for these tests (the notebook's solution is the students' own)."""
    V = np.random.default_rng(seed).standard_normal((k, R.shape[1]))
    factors = []
    for _ in range(iterations):
        U = np.stack([np.linalg.solve(V[:, m] @ V[:, m].T + lam * np.eye(k), V[:, m] @ r[m])
                      for m, r in zip(mask, R)], axis=1)
        V = np.stack([np.linalg.solve(U[:, m] @ U[:, m].T + lam * np.eye(k), U[:, m] @ r[m])
                      for m, r in zip(mask.T, R.T)], axis=1)
        factors.append((U, V))
    return factors


@pytest.fixture
def ratings():
    rng = np.random.default_rng(3)
    R = rng.integers(1, 6, size=(30, 25)).astype(float)
    mask = rng.random(R.shape) < 0.4
    return np.where(mask, R, np.nan), mask


def test_the_objective_counts_observed_entries_and_both_penalties():
    R = np.array([[1.0, np.nan], [3.0, 4.0]])
    mask = ~np.isnan(R)
    U, V = np.ones((1, 2)), np.full((1, 2), 2.0)  # every prediction is 2
    assert F.objective(R, mask, U, V, lam_u=0.5, lam_v=0.25) == pytest.approx(1 + 1 + 4 + 0.5 * 2 + 0.25 * 8)
    assert F.objective(R, mask, U, V, lam_u=0.5) == pytest.approx(6 + 0.5 * 2 + 0.5 * 8)


def test_a_record_scores_every_iteration_and_split(ratings):
    R, mask = ratings
    train, test = F.split_entries(mask, 0.2, seed=0)
    fit = F.record(R, als(R, train, k=2, lam=0.1, iterations=7), {"train": train, "test": test}, K=2)
    assert list(fit.history.columns) == ["iteration", "split", "mse", "K"]
    assert len(fit.history) == 14 and set(fit.history.split) == {"train", "test"}
    assert fit.final()["test"] == pytest.approx(F.masked_mse(R, fit.prediction(), test))
    assert fit.errors("test").mean() == pytest.approx(fit.final()["test"])
    best = fit.best_iteration("test")
    assert fit.errors("test", best).mean() == pytest.approx(fit.history.query("split == 'test'").mse.min())
    with pytest.raises(ValueError, match=r"U of shape \(K, 30\)"):
        F.record(R, [(np.ones((2, 29)), np.ones((2, 25)))], {"train": train})
    with pytest.raises(ValueError, match="no factors"):
        F.record(R, [], {"train": train})


def test_compare_pairs_fits_scored_on_the_same_ratings(ratings):
    R, mask = ratings
    train, test = F.split_entries(mask, 0.3, seed=1)
    masks = {"train": train, "test": test}
    good = F.record(R, als(R, train, k=2, lam=5.0, iterations=10), masks)
    noisy = F.record(R, als(R, train, k=8, lam=0.001, iterations=10), masks)
    c = F.compare(noisy, good)
    assert isinstance(c, noise.PairedComparison)
    assert c.difference == pytest.approx(noisy.final()["test"] - good.final()["test"])
    other_train, other_test = F.split_entries(mask, 0.5, seed=2)
    elsewhere = F.record(R, als(R, other_train, k=2, lam=5.0, iterations=10),
                         {"train": other_train, "test": other_test})
    assert not isinstance(F.compare(elsewhere, good), noise.PairedComparison)


def test_a_sweep_summary_says_which_way_each_error_moves():
    rng = np.random.default_rng(0)
    full = rng.normal(size=(2, 80)).T @ rng.normal(size=(2, 60)) + rng.normal(0, 0.5, (80, 60))
    mask = rng.random(full.shape) < 0.5  # rank 2 plus noise, half observed
    R = np.where(mask, full, np.nan)
    train, test = F.split_entries(mask, 0.3, seed=1)
    records = {k: F.record(R, als(R, train, k=k, lam=0.001, iterations=15), {"train": train, "test": test})
               for k in (2, 12)}
    summary = F.sweep_summary(records)
    assert (summary["low"], summary["high"]) == (2, 12)
    assert summary["train_change"] == "falls"  # twelve factors fit the noise too ...
    assert summary["test_change"] == "rises"  # ... and predict new ratings far worse
    assert summary["best"] == 2 and summary["best_noise"] == "beyond"
    same = F.sweep_summary({1: records[2], 2: records[2]})
    assert same["test_change"] == "changes only within noise" and same["best_noise"] == "within"


def test_splits_are_disjoint_cover_the_observed_entries_and_are_seeded(ratings):
    R, mask = ratings
    kept, held_out = F.split_entries(mask, 0.2, seed=4)
    assert not (kept & held_out).any() and np.array_equal(kept | held_out, mask)  # disjoint, covering
    assert held_out.sum() == round(0.2 * mask.sum())
    again = F.split_entries(mask, 0.2, seed=4)[1]
    other = F.split_entries(mask, 0.2, seed=5)[1]
    assert np.array_equal(held_out, again) and not np.array_equal(held_out, other)
    # entries, not whole users: held-out entries come from many different rows
    assert np.count_nonzero(held_out.any(axis=1)) > 0.5 * R.shape[0]


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
    with pytest.raises(ValueError, match=r"shape of the rating matrix \(30, 25\)"):
        F.record(R, als(R, mask, k=2, lam=0.1, iterations=1), {"train": mask[:, :10]})
    with pytest.raises(ValueError, match="no observed entries"):
        F.split_entries(np.zeros((3, 3), dtype=bool), 0.5)
    with pytest.raises(ValueError, match="at least two settings"):
        F.sweep_summary({})


def test_users_grouped_by_their_number_of_training_ratings(ratings):
    R, mask = ratings
    train, test = F.split_entries(mask, 0.3, seed=1)
    fit = F.record(R, als(R, train, k=2, lam=0.1, iterations=3), {"train": train, "test": test})
    count = train.sum(axis=1)
    table = F.by_training_count(fit, [0, 6, 8])
    assert list(table.index) == ["0-5", "6-7", "8 or more"]
    assert table.users.sum() == R.shape[0] and table.loc["6-7", "users"] == ((count >= 6) & (count < 8)).sum()
    few = table.attrs["users"]["0-5"]
    expected = F.masked_mse(R, fit.prediction(), test & few[:, None])
    assert table.loc["0-5", "test MSE"] == pytest.approx(expected)
    assert fit.errors("train", users=few).mean() == pytest.approx(table.loc["0-5", "train MSE"])
