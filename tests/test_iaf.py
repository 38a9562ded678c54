"""The inverse autoregressive flow posterior (minivae.objectives.iaf) and its MADE steps
(minivae.nn.masked_dense): autoregressive structure, log-determinant, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.nn.masked_dense import MADE, MaskedDense, made_masks, made_order
from minivae.objectives.distributions import gaussian_log_density
from minivae.objectives.iaf import IAFFamily, IAFPosterior


def _jacobian(fn, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of fn: (L,) -> (M,), shape (M, L)."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((fn(x + e) - fn(x - e)) / (2 * h))
    return np.stack(cols, axis=1)


@settings(max_examples=25, deadline=None)
@given(L=st.integers(1, 6), H=st.integers(1, 10), seed=st.integers(0, 1000))
def test_made_outputs_depend_only_on_earlier_inputs(L, H, seed):
    order = made_order(L, seed)
    made = MADE(order, 2, H, rng=seed)
    for _, p, _ in made.parameters():
        p[...] += np.random.default_rng(seed).standard_normal(p.shape)
    c = np.random.default_rng(seed + 1).standard_normal((1, 2))
    z = np.random.default_rng(seed + 2).standard_normal(L)
    for head in range(2):
        J = _jacobian(lambda v, head=head: made.forward(v[None], c)[head][0], z)
        allowed = order[None, :] < order[:, None]  # d out_i / d z_j may be nonzero iff j before i
        assert np.all(J[~allowed] == 0.0)
    # the masks are not vacuous: with H >= L - 1 every allowed pair is connected
    if H >= L - 1 and L > 1:
        m_in, m_out = made_masks(order, H)
        paths = (m_in.astype(int) @ m_out.astype(int)) > 0  # (input, output)
        np.testing.assert_array_equal(paths.T, order[None, :] < order[:, None])


def test_masked_weights_get_no_gradient_and_stay_zero():
    m_in, _ = made_masks(made_order(4, 0), 6)
    layer = MaskedDense(m_in, rng=0)
    assert np.all(layer.params["W"][~m_in] == 0.0)
    x = np.random.default_rng(0).standard_normal((5, 4))
    layer.backward(np.ones_like(layer.forward(x)))
    assert np.all(layer.grads["W"][~m_in] == 0.0) and np.any(layer.grads["W"][m_in] != 0.0)
    layer.params["W"][~m_in] = 7.0  # even if someone writes into them, forward ignores them
    np.testing.assert_allclose(layer.forward(x), x @ np.where(m_in, layer.params["W"], 0.0)
                               + layer.params["b"], rtol=1e-14)


@pytest.mark.parametrize("L,steps", [(1, 1), (3, 2), (4, 3)])
def test_log_q_is_the_change_of_variables_density(L, steps):
    """log q(z_K) = log N(z_0; mu, sigma^2) - log |det dz_K / dz_0|, the determinant taken from
    a numerical Jacobian of the whole flow: the triangular shortcut must agree."""
    rng = np.random.default_rng(L)
    fam = IAFFamily(L, rng=rng, n_steps=steps, hidden_size=5)
    for _, p, _ in fam.parameters():
        p[...] += 0.5 * rng.standard_normal(p.shape)
    h = rng.standard_normal((1, 3 * L))
    q, _ = fam.make(h)
    eps = rng.standard_normal((1, L))
    q.rsample(None, eps=eps)
    log_q = q.log_prob(q.last_sample()[0])[0]
    z0 = q.mu + np.exp(0.5 * q.logvar) * eps
    J = _jacobian(lambda v: fam.flow(v[None], q.context)[0][0], z0[0])
    expected = gaussian_log_density(z0, q.mu, q.logvar).sum() - np.log(abs(np.linalg.det(J)))
    assert log_q == pytest.approx(expected, rel=1e-7, abs=1e-7)


def test_k_samples_match_one_sample_draws_and_kl_estimate_is_consistent():
    rng = np.random.default_rng(0)
    fam = IAFFamily(3, rng=0)
    q, _ = fam.make(rng.standard_normal((4, 9)))
    eps = rng.standard_normal((5, 4, 3))
    zK = q.rsample(None, n_samples=5, eps=eps)
    lqK = q.log_prob(zK)
    for i in range(5):
        z1 = q.rsample(None, eps=eps[i])
        np.testing.assert_allclose(z1, zK[i], rtol=1e-13)
        np.testing.assert_allclose(q.log_prob(z1), lqK[i], rtol=1e-13)
    # the KL estimate averages to about the true KL: positive, and its MC mean is stable
    q.rsample(0, n_samples=4000)
    kl = fam.kl(q)
    assert kl.shape == (4000, 4) and np.all(kl.mean(0) > 0)
    assert np.all(kl.std(0) / np.sqrt(4000) < 0.1 * kl.mean(0) + 0.05)


def test_float32_posterior_runs_in_float32():
    fam = IAFFamily(2, rng=0, dtype=np.float32)
    q, _ = fam.make(np.zeros((3, 6), dtype=np.float32))
    z = q.rsample(0)
    assert z.dtype == np.float32 and fam.kl(q).dtype == np.float32


def test_refusals_are_clear():
    fam = IAFFamily(2, rng=0)
    with pytest.raises(ValueError, match="h must have 3L = 6"):
        fam.make(np.zeros((3, 5)))
    q, inside = fam.make(np.zeros((3, 6)))
    with pytest.raises(RuntimeError, match="rsample"):
        fam.kl(q)
    q.rsample(0)
    with pytest.raises(ValueError, match="drew last"):
        q.log_prob(np.ones((3, 2)))
    with pytest.raises(TypeError, match="IAFPosterior of this family"):
        IAFFamily(2, rng=1).backward(q, inside, np.zeros((3, 2)), 1.0)
    with pytest.raises(TypeError, match="family"):
        IAFPosterior("iaf", np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="order must be a permutation"):
        made_masks(np.array([0, 0, 2]), 3)
    with pytest.raises(TypeError, match="connectivity must be a boolean"):
        MaskedDense(np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_steps"):
        IAFFamily(2, n_steps=0)
