"""Tests for minivae.train.schedules: values at hand-picked steps, KL specs, free bits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.objectives.kl import free_bits_kl, kl_loss_term
from minivae.train.optim import SGD
from minivae.train.schedules import (
    ConstantKL,
    ConstantLR,
    CosineLR,
    CyclicalKL,
    ExponentialLR,
    LinearKLWarmup,
    LinearWarmup,
    SigmoidKL,
    StepLR,
    get_kl_schedule,
)


def values(schedule, steps):
    return [schedule(s) for s in steps]


# ---------------------------------------------------------------------------- learning rate
def test_constant_step_exponential():
    assert values(ConstantLR(0.3), [0, 1, 10**6]) == [0.3, 0.3, 0.3]
    # 0.1 * 0.5 ** (step // 10)
    assert values(StepLR(0.1, 10, 0.5), [0, 9, 10, 19, 25]) == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025]
    )
    assert values(ExponentialLR(1.0, 0.9), [0, 1, 2]) == pytest.approx([1.0, 0.9, 0.81])


def test_cosine_without_warmup():
    s = CosineLR(1.0, total=10)
    # 0.5 * (1 + cos(pi * step / 10)): 1 at 0, 0.5 at 5, 0 at 10 and after
    assert values(s, [0, 5, 10, 20]) == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-15)
    assert s(2) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))
    # with a floor: 0.1 + 0.9 * 0.5 at the midpoint
    assert CosineLR(1.0, total=10, min_lr=0.1)(5) == pytest.approx(0.55)


def test_cosine_with_warmup():
    s = CosineLR(1.0, total=12, warmup=2)
    # warmup: 1 * (step + 1) / 2 -> 0.5, 1.0; then cosine over 10 steps: p = (step - 2) / 10
    assert values(s, [0, 1, 2, 7, 12]) == pytest.approx([0.5, 1.0, 1.0, 0.5, 0.0], abs=1e-15)


def test_linear_warmup_float_and_wrapped():
    assert values(LinearWarmup(0.1, 4), range(6)) == pytest.approx(
        [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    )
    wrapped = LinearWarmup(StepLR(1.0, 3, 0.5), 2)
    # StepLR gives 1, 1, 1, 0.5, ...; warmup factors 0.5, 1, 1, 1
    assert values(wrapped, [0, 1, 2, 3]) == pytest.approx([0.5, 1.0, 1.0, 0.5])


def test_schedule_drives_optimizer_lr():
    p, g = np.array([0.0]), np.array([1.0])
    opt = SGD([("w", p, g)], lr=1.0)
    sched = StepLR(1.0, 1, 0.5)
    for step in range(3):  # lrs 1, 0.5, 0.25
        opt.lr = sched(step)
        opt.step()
    np.testing.assert_allclose(p, [-1.75])


# ------------------------------------------------------------------------------ KL weights
def test_constant_and_linear_kl():
    assert ConstantKL(0.5)(123) == 0.5
    assert ConstantKL()(0) == 1.0
    s = LinearKLWarmup(1.0, 100, start=50)
    # 0 until 50, then (step - 50) / 100, then 1
    assert values(s, [0, 50, 100, 150, 1000]) == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])
    assert LinearKLWarmup(2.0, 10)(5) == pytest.approx(1.0)


def test_cyclical_kl():
    s = CyclicalKL(1.0, 100, n_cycles=2, ratio=0.5)
    # tau = (step % 100) / 100; beta = min(1, tau / 0.5); after 2 cycles stays at 1
    steps = [0, 25, 50, 99, 100, 125, 199, 200, 225, 10**6]
    assert values(s, steps) == pytest.approx([0, 0.5, 1, 1, 0, 0.5, 1, 1, 1, 1])
    forever = CyclicalKL(2.0, 10, ratio=0.25)
    # ramp over the first 2.5 steps: tau 0.1 -> 0.4 * 2 = 0.8; repeats at 1000
    assert values(forever, [1, 3, 1000, 1001]) == pytest.approx([0.8, 2.0, 0.0, 0.8])


def test_sigmoid_kl():
    s = SigmoidKL(2.0, midpoint=100, scale=10)
    assert s(100) == pytest.approx(1.0)  # half of beta_max at the midpoint
    assert s(120) == pytest.approx(2.0 / (1.0 + math.exp(-2.0)))
    assert s(0) == pytest.approx(2.0 / (1.0 + math.exp(10.0)))
    assert SigmoidKL(1.0, 500)(0) == pytest.approx(1 / (1 + math.exp(5.0)))  # scale = 100
    # far from the midpoint: no overflow, exactly saturated
    extreme = SigmoidKL(1.0, midpoint=10**6, scale=1e-3)
    assert extreme(0) == 0.0 and extreme(2 * 10**6) == 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.0, 5.0),
    st.integers(1, 500),
    st.floats(0.05, 1.0),
    st.integers(0, 5000),
)
def test_kl_schedules_stay_in_range(beta_max, length, ratio, step):
    for s in (
        CyclicalKL(beta_max, length, ratio=ratio),
        LinearKLWarmup(beta_max, length),
        SigmoidKL(beta_max, length),
    ):
        assert 0.0 <= s(step) <= beta_max
    # the linear warmup never decreases
    warm = LinearKLWarmup(beta_max, length)
    assert warm(step + 1) >= warm(step)


def test_get_kl_schedule():
    assert get_kl_schedule(0.5)(10) == 0.5
    assert isinstance(get_kl_schedule(1), ConstantKL)
    assert get_kl_schedule("0.25")(3) == 0.25
    assert get_kl_schedule("constant:2")(3) == 2.0
    lin = get_kl_schedule("linear:1000")
    assert isinstance(lin, LinearKLWarmup) and lin.beta_max == 1.0 and lin(500) == 0.5
    lin2 = get_kl_schedule("Linear: 100, beta_max=0.5, start=20")
    assert lin2(70) == pytest.approx(0.25)
    cyc = get_kl_schedule("cyclical:100,n_cycles=2,ratio=0.25")
    assert isinstance(cyc, CyclicalKL) and cyc.n_cycles == 2 and cyc(10) == pytest.approx(0.4)
    assert get_kl_schedule("sigmoid:200")(200) == pytest.approx(0.5)
    own = CyclicalKL(1.0, 10)
    assert get_kl_schedule(own) is own
    assert get_kl_schedule(lambda step: 0.3)(5) == 0.3


@pytest.mark.parametrize(
    "spec, exc, match",
    [
        ("cosine:10", ValueError, "unknown name 'cosine'"),
        ("linear:abc", ValueError, "warmup_steps must be a number"),
        ("linear:100,bogus=1", ValueError, "bogus"),
        ("linear:100,beta_max", ValueError, "key=value"),
        ("warm", ValueError, "not understood"),
        ("linear:0", ValueError, "warmup_steps must be >= 1"),
        (None, TypeError, "got NoneType"),
        (True, TypeError, "bool"),
        (-1.0, ValueError, "beta must be >= 0"),
    ],
)
def test_get_kl_schedule_errors(spec, exc, match):
    with pytest.raises(exc, match=match):
        get_kl_schedule(spec)


def test_schedule_argument_errors():
    with pytest.raises(ValueError, match="lr must be > 0"):
        ConstantLR(0.0)
    with pytest.raises(ValueError, match="gamma must be <= 1"):
        ExponentialLR(1.0, 1.5)
    with pytest.raises(ValueError, match="warmup must be < total"):
        CosineLR(1.0, total=5, warmup=5)
    with pytest.raises(ValueError, match="min_lr must be <= 1.0"):
        CosineLR(1.0, total=5, min_lr=2.0)
    with pytest.raises(ValueError, match="ratio must be <= 1"):
        CyclicalKL(1.0, 10, ratio=1.5)
    with pytest.raises(ValueError, match="step must be >= 0"):
        ConstantLR(0.1)(-1)
    with pytest.raises(TypeError, match="step must be an integer"):
        ConstantLR(0.1)(1.5)
    assert "StepLR(lr=0.1, step_size=10, gamma=0.5)" == repr(StepLR(0.1, 10, 0.5))


# ------------------------------------------------------------------------------- free bits
def test_free_bits_value_and_mask_by_hand():
    kl = np.array([[0.1, 2.0, 0.5], [0.3, 4.0, 0.5]])
    # batch means per dimension: [0.2, 3.0, 0.5]
    value, weights = free_bits_kl(kl, 0.5)
    assert value == pytest.approx(0.5 + 3.0 + 0.5)  # max(0.5, .) per dimension
    np.testing.assert_array_equal(weights, [0.0, 1.0, 0.0])  # tie at 0.5 -> 0
    assert weights.dtype == kl.dtype
    value0, weights0 = free_bits_kl(kl, 0.0)
    assert value0 == pytest.approx(0.2 + 3.0 + 0.5)  # lambda = 0: the ordinary batch-mean KL
    np.testing.assert_array_equal(weights0, [1.0, 1.0, 1.0])


def test_free_bits_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    kl = rng.uniform(0.0, 2.0, size=(5, 6))
    lam = 1.0
    value, weights = free_bits_kl(kl, lam)
    # claimed gradient: d value / d kl[n, l] = weights[l] / N
    analytic = np.broadcast_to(weights / kl.shape[0], kl.shape)
    h = 1e-6
    numeric = np.zeros_like(kl)
    for idx in np.ndindex(kl.shape):
        plus, minus = kl.copy(), kl.copy()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (free_bits_kl(plus, lam)[0] - free_bits_kl(minus, lam)[0]) / (2 * h)
    assert 0 < weights.sum() < weights.size  # both branches exercised
    np.testing.assert_allclose(numeric, analytic, atol=1e-6)
    assert value >= lam * kl.shape[1]


def test_free_bits_errors():
    with pytest.raises(ValueError, match="kl_per_dim must have 2 dimensions"):
        free_bits_kl(np.zeros(3), 0.1)
    with pytest.raises(ValueError, match="lambda_ must be >= 0"):
        free_bits_kl(np.zeros((2, 3)), -0.1)
    with pytest.raises(ValueError, match="non-finite"):
        free_bits_kl(np.array([[np.nan, 1.0]]), 0.1)


def test_kl_loss_term_hand_worked():
    """N = 2, L = 2: batch-mean KL 1.5; with free bits 0.5 only dimension 0 (mean 1.25) is
    above the floor, so the term is 1.25 + 0.5 and only its gradient flows (beta / N each)."""
    kl = np.array([[2.0, 0.1], [0.5, 0.4]])
    kl_mean, term, dkl, extra = kl_loss_term(kl, beta=4.0, free_bits=0.0)
    assert kl_mean == pytest.approx(1.5) and term == pytest.approx(1.5)
    assert dkl == pytest.approx(2.0) and extra == {}
    kl_mean, term, dkl, extra = kl_loss_term(kl, beta=4.0, free_bits=0.5)
    assert kl_mean == pytest.approx(1.5) and term == pytest.approx(1.75)
    np.testing.assert_allclose(dkl, [2.0, 0.0])
    assert extra == {"kl_free_bits": pytest.approx(1.75)}
