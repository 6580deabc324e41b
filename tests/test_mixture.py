import numpy as np
import pytest
from scipy import special, stats

from cnnlab import mixture

# Assignment 5, part 1: two 1-D clusters and the far-away point x = 5.
WEIGHTS, MEANS, VARIANCES = [0.5, 0.5], [0.0, 1.13], [0.01, 0.006]


def test_one_dimensional_result_of_the_assignment():
    r = mixture.responsibilities([5.0], WEIGHTS, MEANS, VARIANCES)
    assert r.shape == (1, 2)
    assert np.allclose(r, [[0.10152327, 0.89847673]], atol=1e-8)
    terms = mixture.log_terms([5.0], WEIGHTS, MEANS, VARIANCES)
    assert np.allclose(terms, [[-1249.31, -1247.13]], atol=0.01)


def test_the_direct_computation_underflows_at_five():
    assert np.all(np.isnan(mixture.direct_responsibilities([5.0], WEIGHTS, MEANS, VARIANCES)))


def test_log_gaussian_matches_scipy():
    rng = np.random.default_rng(0)
    x, means, variances = rng.normal(size=(6, 3)), rng.normal(size=(4, 3)), rng.uniform(0.2, 2, (4, 3))
    expected = np.stack([stats.multivariate_normal(m, np.diag(v)).logpdf(x) for m, v in zip(means, variances)],
                        axis=1)
    assert np.allclose(mixture.log_gaussian(x, means, variances), expected)


def test_logsumexp_matches_scipy_where_exp_underflows():
    a = np.array([[-1249.3, -1247.1, -2000.0], [3.0, 700.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    assert np.allclose(mixture.logsumexp(a, axis=1)[:2], special.logsumexp(a, axis=1)[:2])
    assert mixture.logsumexp(a, axis=1)[2] == -np.inf
    assert np.isfinite(mixture.logsumexp(a, axis=1)[0])  # while np.log(np.exp(a).sum()) is -inf


@pytest.fixture
def mixture_3d():
    rng = np.random.default_rng(1)
    weights = np.array([0.2, 0.5, 0.3])
    means = rng.normal(0, 2, size=(3, 4))
    variances = rng.uniform(0.5, 2.0, size=(3, 4))
    x = rng.normal(0, 2, size=(50, 4))
    return x, weights, means, variances


def test_rows_sum_to_one_and_agree_with_the_direct_computation(mixture_3d):
    r = mixture.responsibilities(*mixture_3d)
    direct = mixture.direct_responsibilities(*mixture_3d)
    assert r.shape == (50, 3)
    assert np.allclose(r.sum(axis=1), 1.0)
    assert np.all(np.isfinite(direct))  # nothing underflows at these distances ...
    assert np.allclose(r, direct, rtol=1e-10, atol=1e-12)  # ... and both agree


def test_finite_where_the_direct_computation_underflows():
    rng = np.random.default_rng(2)
    dims = 2_000  # a log-density near -1.42 * 2000 = -2840: far below exp's range (about -745)
    means = np.stack([np.zeros(dims), np.full(dims, 0.05)])
    variances = np.ones((2, dims))
    x = rng.normal(size=(5, dims))
    direct = mixture.direct_responsibilities(x, [0.5, 0.5], means, variances)
    assert np.all(np.isnan(direct))
    r = mixture.responsibilities(x, [0.5, 0.5], means, variances)
    assert np.all(np.isfinite(r)) and np.allclose(r.sum(axis=1), 1.0)
    # the exact answer: the log terms differ by a closed-form amount, so r_0 = sigmoid(difference)
    delta = -0.5 * ((x**2).sum(1) - ((x - 0.05) ** 2).sum(1))
    assert np.allclose(r[:, 0], special.expit(delta))


def test_zero_weight_gives_zero_responsibility(mixture_3d):
    x, _, means, variances = mixture_3d
    r = mixture.responsibilities(x, [0.0, 0.4, 0.6], means, variances)
    assert np.all(r[:, 0] == 0) and np.allclose(r.sum(axis=1), 1.0)


def test_shape_errors_say_what_was_expected(mixture_3d):
    x, weights, means, variances = mixture_3d
    with pytest.raises(ValueError, match=r"means of shape \(K, D\) with D = 4"):
        mixture.responsibilities(x, weights, means[:, :3], variances)
    with pytest.raises(ValueError, match=r"weights of shape \(K,\) = \(3,\)"):
        mixture.responsibilities(x, [0.5, 0.5], means, variances)
    with pytest.raises(ValueError, match=r"variances of shape \(K, D\) = \(3, 4\)"):
        mixture.responsibilities(x, weights, means, variances[:2])
    with pytest.raises(ValueError, match="sum to 1"):
        mixture.responsibilities(x, [0.2, 0.2, 0.2], means, variances)
