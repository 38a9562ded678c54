"""Reconstruction losses: values against direct formulas, gradients via the checker, masks,
extreme logits and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck import check_function
from minivae.objectives import losses

LOG_2PI = np.log(2 * np.pi)
SETTINGS = settings(max_examples=25, deadline=None)

shapes = st.one_of(
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
)
seeds = st.integers(0, 2**32 - 1)
reductions = st.sampled_from(["mean", "sum", "none"])


def reduce(per_element: np.ndarray, reduction: str):
    """The documented convention: sum over data dims of one example, then mean/sum over N."""
    per_example = per_element.reshape(per_element.shape[0], -1).sum(axis=1)
    return {"none": per_example, "sum": per_example.sum(), "mean": per_example.mean()}[reduction]


def assert_all_pass(results) -> None:
    failed = [str(r) for r in results if not r.passed]
    assert results and not failed, "\n".join(failed)


def total(value) -> float:
    return float(np.sum(value))  # the reduction="none" gradient is that of the sum


def make(shape, seed, masked):
    rng = np.random.default_rng(seed)
    mask = (rng.random(shape) < 0.7) if masked else None
    return rng, mask


def nan_where_missing(target, mask):
    return target if mask is None else np.where(mask, target, np.nan)


def observed(mask, shape):
    return np.ones(shape) if mask is None else mask.astype(float)


# ==================================================================== values and gradients
@SETTINGS
@given(shape=shapes, reduction=reductions, masked=st.booleans(), seed=seeds)
def test_mse(shape, reduction, masked, seed):
    rng, mask = make(shape, seed, masked)
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    t = nan_where_missing(target, mask)
    value = losses.mse(pred, t, mask=mask, reduction=reduction)
    expected = reduce((pred - target) ** 2 * observed(mask, shape), reduction)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    kw = {"mask": mask, "reduction": reduction}
    assert_all_pass(check_function(lambda pred: total(losses.mse(pred, t, **kw)), {"pred": pred},
                                   lambda pred: losses.mse_grad(pred, t, **kw)))


@SETTINGS
@given(shape=shapes, reduction=reductions, masked=st.booleans(), seed=seeds)
def test_bernoulli(shape, reduction, masked, seed):
    rng, mask = make(shape, seed, masked)
    logits = 3 * rng.standard_normal(shape)
    target = rng.random(shape)
    target[rng.random(shape) < 0.3] = 0.0
    target[rng.random(shape) < 0.3] = 1.0
    t = nan_where_missing(target, mask)
    value = losses.bernoulli_nll(logits, t, mask=mask, reduction=reduction)
    p = 1 / (1 + np.exp(-logits))
    direct = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    np.testing.assert_allclose(value, reduce(direct * observed(mask, shape), reduction),
                               rtol=1e-9)
    kw = {"mask": mask, "reduction": reduction}
    assert_all_pass(check_function(
        lambda logits: total(losses.bernoulli_nll(logits, t, **kw)), {"logits": logits},
        lambda logits: losses.bernoulli_nll_grad(logits, t, **kw)))


@SETTINGS
@given(shape=shapes, reduction=reductions, masked=st.booleans(), seed=seeds)
def test_gaussian(shape, reduction, masked, seed):
    rng, mask = make(shape, seed, masked)
    mean, logvar, target = (rng.standard_normal(shape), rng.uniform(-2, 2, shape),
                            rng.standard_normal(shape))
    t = nan_where_missing(target, mask)
    value = losses.gaussian_nll(mean, logvar, t, mask=mask, reduction=reduction)
    var = np.exp(logvar)
    direct = -np.log(np.exp(-((target - mean) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var))
    np.testing.assert_allclose(value, reduce(direct * observed(mask, shape), reduction),
                               rtol=1e-9)
    kw = {"mask": mask, "reduction": reduction}
    assert_all_pass(check_function(
        lambda mean, logvar: total(losses.gaussian_nll(mean, logvar, t, **kw)),
        {"mean": mean, "logvar": logvar},
        lambda mean, logvar: losses.gaussian_nll_grad(mean, logvar, t, **kw)))


@SETTINGS
@given(shape=shapes, reduction=reductions, masked=st.booleans(),
       variance=st.floats(0.1, 10.0), seed=seeds)
def test_gaussian_fixed_variance(shape, reduction, masked, variance, seed):
    rng, mask = make(shape, seed, masked)
    mean, target = rng.standard_normal(shape), rng.standard_normal(shape)
    t = nan_where_missing(target, mask)
    kw = {"variance": variance, "mask": mask, "reduction": reduction}
    value = losses.gaussian_nll_fixed_variance(mean, t, **kw)
    direct = 0.5 * np.log(2 * np.pi * variance) + (target - mean) ** 2 / (2 * variance)
    np.testing.assert_allclose(value, reduce(direct * observed(mask, shape), reduction),
                               rtol=1e-10)
    # Same as the free-variance loss with logvar = log(variance) everywhere.
    np.testing.assert_allclose(
        value, losses.gaussian_nll(mean, np.full(shape, np.log(variance)), t, mask=mask,
                                   reduction=reduction), rtol=1e-10)
    assert_all_pass(check_function(
        lambda mean: total(losses.gaussian_nll_fixed_variance(mean, t, **kw)), {"mean": mean},
        lambda mean: losses.gaussian_nll_fixed_variance_grad(mean, t, **kw)))


# =============================================================================== hand-worked
def test_hand_worked_values():
    assert losses.mse(np.array([[1.0, 2.0]]), np.zeros((1, 2))) == pytest.approx(5.0)
    # two examples: per-example sums 5 and 1 -> mean 3, sum 6
    pred, target = np.array([[1.0, 2.0], [1.0, 0.0]]), np.zeros((2, 2))
    assert losses.mse(pred, target) == pytest.approx(3.0)
    assert losses.mse(pred, target, reduction="sum") == pytest.approx(6.0)
    np.testing.assert_allclose(losses.mse(pred, target, reduction="none"), [5.0, 1.0])
    np.testing.assert_allclose(losses.mse_grad(pred, target), [[1.0, 2.0], [1.0, 0.0]])
    # Bernoulli at logit 0 is log 2 whatever the target.
    assert losses.bernoulli_nll(np.zeros((1, 3)), np.array([[0.0, 0.5, 1.0]])) == pytest.approx(
        3 * np.log(2.0))
    # Gaussian at its mean with unit variance: 0.5 log(2 pi) per element.
    assert losses.gaussian_nll(np.zeros((1, 4)), np.zeros((1, 4)), np.zeros((1, 4))) == \
        pytest.approx(2 * LOG_2PI)
    # 1-D input: each entry is one example.
    np.testing.assert_allclose(losses.mse(np.array([1.0, 3.0]), np.zeros(2), reduction="none"),
                               [1.0, 9.0])


# ========================================================================== extreme logits
def test_bernoulli_is_stable_at_extreme_logits():
    logits = np.array([[1000.0, -1000.0, 1000.0, -1000.0, 0.0]])
    target = np.array([[1.0, 0.0, 0.0, 1.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        per_element = [losses.bernoulli_nll(logits[:, [i]], target[:, [i]]) for i in range(5)]
        grad = losses.bernoulli_nll_grad(logits, target)
    # confident and right -> 0; confident and wrong -> |logit|
    np.testing.assert_allclose(per_element, [0.0, 0.0, 1000.0, 1000.0, np.log(2.0)], atol=1e-300)
    np.testing.assert_array_equal(grad, [[0.0, 0.0, 1.0, -1.0, -0.5]])


def test_gaussian_extreme_but_finite():
    v = losses.gaussian_nll(np.zeros((1, 2)), np.array([[-30.0, 20.0]]), np.array([[1e-3, 5.0]]))
    assert np.isfinite(v)


# ==================================================================================== masks
def test_masked_entries_contribute_nothing():
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    mask = rng.random((3, 4)) < 0.5
    mask[0] = True
    t = np.where(mask, target, np.nan)  # NaN at the missing positions is fine
    for fn, grad in [(losses.mse, losses.mse_grad),
                     (losses.gaussian_nll_fixed_variance, losses.gaussian_nll_fixed_variance_grad)]:
        v = fn(pred, t, mask=mask)
        changed = np.where(mask, pred, 1e6)  # arbitrary values where nothing is observed
        assert fn(changed, t, mask=mask) == v
        g = grad(pred, t, mask=mask)
        assert np.all(g[~mask] == 0) and np.all(np.isfinite(g))
        # the same as dropping the missing entries by hand
        np.testing.assert_allclose(v, fn(np.where(mask, pred, 0.0), np.where(mask, target, 0.0),
                                         mask=mask))
    logvar = rng.standard_normal((3, 4))
    dmean, dlogvar = losses.gaussian_nll_grad(pred, logvar, t, mask=mask)
    assert np.all(dmean[~mask] == 0) and np.all(dlogvar[~mask] == 0)
    # an all-observed mask equals no mask
    assert losses.mse(pred, target, mask=np.ones((3, 4), bool)) == losses.mse(pred, target)


def test_fully_masked_example_has_zero_loss():
    pred, target = np.ones((2, 3)), np.full((2, 3), np.nan)
    mask = np.zeros((2, 3), bool)
    target[1] = 0.0
    mask[1] = True
    np.testing.assert_allclose(losses.bernoulli_nll(pred * 0, np.where(mask, 0.5, np.nan),
                                                    mask=mask, reduction="none"),
                               [0.0, 3 * np.log(2.0)])
    np.testing.assert_allclose(losses.mse(pred, target, mask=mask, reduction="none"), [0.0, 3.0])


# ================================================================================ bad input
def test_bad_input_errors():
    good = np.zeros((2, 3))
    with pytest.raises(ValueError, match="pred and target must have the same shape"):
        losses.mse(good, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="pred contains 1 non-finite"):
        losses.mse(np.array([[np.nan, 0.0, 0.0]]), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="target contains"):
        losses.mse(good, np.full((2, 3), np.nan))  # NaN needs a mask
    with pytest.raises(ValueError, match="empty"):
        losses.mse(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(TypeError, match="mask must be boolean"):
        losses.mse(good, good, mask=np.ones((2, 3), dtype=int))
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3\) to match target"):
        losses.mse(good, good, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="observed"):
        mask = np.ones((2, 3), bool)
        losses.mse(good, np.full((2, 3), np.nan), mask=mask)
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.mse(good, good, reduction="avg")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.bernoulli_nll(good, np.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="mean and logvar"):
        losses.gaussian_nll(good, np.zeros((2, 2)), good)
    with pytest.raises(ValueError, match="variance must be > 0"):
        losses.gaussian_nll_fixed_variance(good, good, variance=0.0)
    with pytest.raises(ValueError, match="dimensions"):
        losses.mse(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)))


# ---------------------------------------------------------------------------- softmax CE
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_softmax_cross_entropy_value_and_gradient(n, k, seed):
    rng = np.random.default_rng(seed)
    logits = 3.0 * rng.standard_normal((n, k))
    y = rng.integers(0, k, size=n)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # the naive formula
    per = -np.log(p[np.arange(n), y])
    # atol: where p is nearly 1 the naive -log(p) itself has only absolute accuracy ~1e-16.
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, y, reduction="none"), per,
                               rtol=1e-10, atol=1e-12)
    assert losses.softmax_cross_entropy(logits, y) == pytest.approx(per.mean(), rel=1e-10,
                                                                    abs=1e-12)
    assert losses.softmax_cross_entropy(logits, y, reduction="sum") == pytest.approx(per.sum())
    # f_scale: the loss is log-sum-exp(logits) - logits[y], two terms of the logits' size that
    # cancel when the softmax is nearly one-hot (hypothesis found logits 5.8 vs -3.8: loss 5e-4),
    # so its rounding, and the finite differences' noise, scale with the logits, not the loss.
    res = check_function(lambda logits: losses.softmax_cross_entropy(logits, y),
                         {"logits": logits},
                         lambda logits: losses.softmax_cross_entropy_grad(logits, y),
                         f_scale=float(np.abs(logits).max(axis=1).mean()))
    assert all(r.passed for r in res), res
    # Each row of the gradient of the summed loss sums to zero (softmax minus one-hot).
    g = losses.softmax_cross_entropy_grad(logits, y, reduction="sum")
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-12)


def test_softmax_cross_entropy_is_stable_and_checks_labels():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    v = losses.softmax_cross_entropy(logits, np.array([0, 2]), reduction="none")
    np.testing.assert_allclose(v, [0.0, np.log(3.0)], atol=1e-12)
    assert losses.softmax_cross_entropy(logits, np.array([2, 0]), reduction="none")[0] == 2000.0
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\] for 3 classes"):
        losses.softmax_cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="labels must be integer class indices of shape"):
        losses.softmax_cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="logits must have 2 dimensions"):
        losses.softmax_cross_entropy_grad(logits[0], np.array([0]))
