"""minivae.objectives.iwae: the importance-weighted bound as a loss, its value against a direct
evaluation and its gradient back to the encoder's output against central differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck import check_function
from minivae.objectives.distributions import LOG_2PI, LOGVAR_MIN
from minivae.objectives.elbo import encoder_posterior
from minivae.objectives.iwae import iwae_log_weights, negative_iwae, negative_iwae_backward


def _loss_and_grad(h, eps, target, beta):
    """A toy decoder rec_in = sum_l (z_inl - target_nl)^2 on k samples z_i = mu + sigma * eps_i:
    the loss of h (N, 2L) and d loss / d h through negative_iwae_backward."""
    q, inside = encoder_posterior(h)
    z = q.rsample(None, n_samples=eps.shape[0], eps=eps)  # (k, N, L)
    value, parts, g = negative_iwae(np.sum((z - target) ** 2, axis=2), z, q, beta)
    dz = 2.0 * (z - target) * g[..., None]  # each sample's reconstruction, weighted by g
    return value, parts, negative_iwae_backward(q, inside, z, dz, g, beta)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 4), L=st.integers(1, 3), k=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1), beta=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_negative_iwae_backward_matches_finite_differences(N, L, k, seed, beta):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((N, 2 * L))
    eps, target = rng.standard_normal((k, N, L)), rng.standard_normal((N, L))
    results = check_function(lambda h: _loss_and_grad(h, eps, target, beta)[0], {"h": h},
                             lambda h: _loss_and_grad(h, eps, target, beta)[2])
    assert results and all(r.passed for r in results), [str(r) for r in results]


def test_negative_iwae_value_and_parts_by_hand():
    rng = np.random.default_rng(0)
    k, N, L = 3, 4, 2
    h = rng.standard_normal((N, 2 * L))
    h[2, 3] = LOGVAR_MIN - 4.0  # clamped: no gradient may pass to it
    eps, target = rng.standard_normal((k, N, L)), rng.standard_normal((N, L))
    value, parts, dh = _loss_and_grad(h, eps, target, 0.5)
    mu, logvar = h[:, :L], np.maximum(h[:, L:], LOGVAR_MIN)
    z = mu + np.exp(0.5 * logvar) * eps
    rec = np.sum((z - target) ** 2, axis=2)
    log_p = -0.5 * np.sum(LOG_2PI + z**2, axis=2)
    log_q = -0.5 * np.sum(LOG_2PI + logvar + (z - mu) ** 2 * np.exp(-logvar), axis=2)

    def bound(beta):
        log_w = -rec + beta * (log_p - log_q)
        return np.log(np.mean(np.exp(log_w), axis=0))

    assert value == parts["loss"] == pytest.approx(-bound(0.5).mean(), rel=1e-13)
    assert parts["iwae_bound"] == pytest.approx(bound(1.0).mean(), rel=1e-13)
    assert parts["reconstruction"] == pytest.approx(rec.mean(), rel=1e-14)
    kl = 0.5 * np.sum(mu**2 + np.exp(logvar) - 1.0 - logvar, axis=1)
    assert parts["kl"] == pytest.approx(kl.mean(), rel=1e-14)
    assert parts["elbo"] == pytest.approx(-(rec.mean() + kl.mean()), rel=1e-14)
    assert dh.shape == h.shape and dh[2, 3] == 0.0 and np.all(dh[:, :L] != 0.0)
    q, _ = encoder_posterior(h)
    np.testing.assert_allclose(iwae_log_weights(rec, z, q), -rec + log_p - log_q, rtol=1e-13)


def test_iwae_weights_are_the_softmax_over_samples():
    rng = np.random.default_rng(1)
    q, _ = encoder_posterior(rng.standard_normal((5, 4)))
    z = q.rsample(rng, n_samples=6)
    rec = rng.uniform(0.0, 3.0, size=(6, 5))
    _, _, g = negative_iwae(rec, z, q, 1.0)
    log_w = iwae_log_weights(rec, z, q)
    w = np.exp(log_w - log_w.max(axis=0))
    np.testing.assert_allclose(g, w / w.sum(axis=0) / 5, rtol=1e-12)
    np.testing.assert_allclose(g.sum(axis=0), 1.0 / 5, rtol=1e-13)
