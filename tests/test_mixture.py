import numpy as np
import pytest
from scipy import special, stats

from cnnlab import mixture

# Assignment 5, part 1: two 1-D clusters and the far-away point x = 5.
WEIGHTS, MEANS, VARIANCES = [0.5, 0.5], [0.0, 1.13], [0.01, 0.006]


def scipy_responsibilities(x, weights, means, variances):
    logs = np.log(weights) + stats.norm.logpdf(x[:, None, :], means[None], np.sqrt(variances[None])).sum(2)
    return special.softmax(logs, axis=1)


def test_the_direct_computation_underflows_at_five():
    assert np.all(np.isnan(mixture.direct_responsibilities([5.0], WEIGHTS, MEANS, VARIANCES)))


@pytest.fixture
def mixture_3d():
    rng = np.random.default_rng(1)
    weights = np.array([0.2, 0.5, 0.3])
    means = rng.normal(0, 2, size=(3, 4))
    variances = rng.uniform(0.5, 2.0, size=(3, 4))
    x = rng.normal(0, 2, size=(50, 4))
    return x, weights, means, variances


def test_where_nothing_underflows_it_agrees_with_scipy(mixture_3d):
    direct = mixture.direct_responsibilities(*mixture_3d)
    assert direct.shape == (50, 3) and np.all(np.isfinite(direct))
    assert np.allclose(direct, scipy_responsibilities(*mixture_3d), rtol=1e-10, atol=1e-12)
    near = mixture.direct_responsibilities([1.0], WEIGHTS, MEANS, VARIANCES)  # 1-D input, near cluster 2
    assert np.allclose(near, scipy_responsibilities(np.array([[1.0]]), np.array(WEIGHTS),
                                                    np.array(MEANS)[:, None], np.array(VARIANCES)[:, None]))


def test_underflow_and_overflow_both_give_nan():
    rng = np.random.default_rng(2)
    dims = 2_000  # a log-density near -1.42 * 2000 = -2840: far below exp's range
    wide = rng.normal(size=(5, dims))
    assert np.all(np.isnan(mixture.direct_responsibilities(wide, [0.5, 0.5], np.zeros((2, dims)), np.ones((2, dims)))))
    narrow = rng.normal(0, 0.1, size=(5, dims))  # variance 0.01: about +0.88 per dimension, exp overflows
    assert np.all(np.isnan(mixture.direct_responsibilities(narrow, [0.5, 0.5], np.zeros((2, dims)),
                                                           np.full((2, dims), 0.01))))


def test_shape_errors_say_what_was_expected(mixture_3d):
    x, weights, means, variances = mixture_3d
    with pytest.raises(ValueError, match=r"means of shape \(K, D\) with D = 4"):
        mixture.direct_responsibilities(x, weights, means[:, :3], variances)
    with pytest.raises(ValueError, match=r"weights of shape \(K,\) = \(3,\)"):
        mixture.direct_responsibilities(x, [0.5, 0.5], means, variances)
    with pytest.raises(ValueError, match=r"variances of shape \(K, D\) = \(3, 4\)"):
        mixture.direct_responsibilities(x, weights, means, variances[:2])
    with pytest.raises(ValueError, match="sum to 1"):
        mixture.direct_responsibilities(x, [0.2, 0.2, 0.2], means, variances)
    with pytest.raises(ValueError, match="positive"):
        mixture.direct_responsibilities(x, weights, means, -variances)
