"""The MMD of minivae.information.mmd: closed forms, the two estimators' promises, bad input.
(Its gradients are in the gradient checker: ``python -m minivae.gradcheck --only mmd``.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck import run_checks
from minivae.information import mmd


def rbf_mmd_two_normals(shift: float, sigma: float) -> float:
    """MMD^2 between N(0, 1) and N(shift, 1) in 1-D with the RBF kernel of bandwidth sigma:
    E k(x, y) for x ~ N(a, 1), y ~ N(b, 1) is sigma / s * exp(-(a - b)^2 / (2 s^2)),
    s^2 = sigma^2 + 2 (the Gaussian convolution identity)."""
    s2 = sigma**2 + 2.0
    return 2.0 * sigma / np.sqrt(s2) * (1.0 - np.exp(-shift**2 / (2.0 * s2)))


def test_kernels_at_zero_distance_and_their_decay():
    x = np.zeros((1, 3))
    y = np.array([[1.0, 0.0, 0.0]])
    for kernel in mmd.KERNELS:
        assert mmd.kernel_matrix(x, x, kernel, 1.5)[0, 0] == pytest.approx(1.0)
    assert mmd.kernel_matrix(x, y, "rbf", 2.0)[0, 0] == pytest.approx(np.exp(-1.0 / 8.0))
    assert mmd.kernel_matrix(x, y, "imq", 2.0)[0, 0] == pytest.approx(2.0 / 3.0)


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.5])
def test_unbiased_estimate_averages_to_the_closed_form(shift):
    # 1000 estimates from n = 100 samples per set: their mean must be within 4 standard errors
    # of the exact MMD^2 (an unbiased estimator); the V-statistic's mean is above it by
    # (2 - 2 E k(x, x')) / n = 0.0085 (the diagonal's k = 1 terms and the rescaled rest).
    rng = np.random.default_rng(0)
    exact = rbf_mmd_two_normals(shift, 1.0)
    u, v = [], []
    for _ in range(1000):
        x, y = rng.standard_normal((100, 1)), rng.standard_normal((100, 1)) + shift
        u.append(mmd.mmd(x, y, "rbf", 1.0, unbiased=True))
        v.append(mmd.mmd(x, y, "rbf", 1.0))
    sem = np.std(u) / np.sqrt(len(u))
    assert abs(np.mean(u) - exact) < 4 * sem
    bias = (2.0 - 2.0 / np.sqrt(3.0)) / 100
    assert np.mean(np.subtract(v, u)) == pytest.approx(bias, rel=0.05)


def test_unbiased_has_mean_zero_when_both_sets_come_from_one_distribution():
    rng = np.random.default_rng(1)
    values = [mmd.mmd(rng.standard_normal((10, 2)), rng.standard_normal((10, 2)), "imq", 4.0,
                      unbiased=True) for _ in range(2000)]
    biased = [mmd.mmd(rng.standard_normal((10, 2)), rng.standard_normal((10, 2)), "imq", 4.0)
              for _ in range(500)]
    sem = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values)) < 4 * sem  # unbiased: mean 0 within 4 standard errors
    assert min(values) < 0.0  # ... so single estimates go negative
    assert min(biased) >= 0.0 and np.mean(biased) > 10 * sem  # the V-statistic is biased up


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 6), m=st.integers(2, 6), L=st.integers(1, 3), seed=st.integers(0, 99),
       kernel=st.sampled_from(mmd.KERNELS), unbiased=st.booleans())
def test_symmetric_and_zero_on_identical_sets(n, m, L, seed, kernel, unbiased):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, L)), rng.standard_normal((m, L))
    assert mmd.mmd(x, y, kernel, 1.3, unbiased=unbiased) == pytest.approx(
        mmd.mmd(y, x, kernel, 1.3, unbiased=unbiased), abs=1e-12)
    assert mmd.mmd(x, x, kernel, 1.3) == pytest.approx(0.0, abs=1e-12)
    assert mmd.mmd(x, y, kernel, 1.3) >= -1e-12
    dx, dy = mmd.mmd_grad(x, y, kernel, 1.3, unbiased=unbiased)
    assert dx.shape == x.shape and dy.shape == y.shape
    # Shifting both sets together changes nothing: the gradients sum to zero.
    np.testing.assert_allclose(dx.sum(0) + dy.sum(0), 0.0, atol=1e-12)


def test_gradient_checks_pass():
    results = run_checks(seed=3, only="mmd.*")
    assert len(results) == 8 and all(r.passed for r in results)


def test_bad_input_names_the_argument():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same number of columns"):
        mmd.mmd(x, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="kernel must be one of"):
        mmd.mmd(x, x, "gauss")
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        mmd.mmd(x, x, "rbf", 0.0)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd.mmd(x[:1], x, unbiased=True)
    with pytest.raises(ValueError, match="x must have 2 dimensions|x must be"):
        mmd.mmd(np.zeros(3), x)
    with pytest.raises(ValueError, match="x"):
        mmd.mmd(np.array([[np.nan, 0.0]]), np.zeros((1, 2)))
