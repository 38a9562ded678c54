"""minivae.objectives.elbo: the negative ELBO from its parts, its gradient back to the encoder's
output (beta, free bits, the log-variance clamp) against central differences."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck import check_function
from minivae.gradcheck.checks._common import set_free_bits_in_widest_gap
from minivae.objectives.distributions import LOGVAR_MAX, DiagonalGaussian
from minivae.objectives.elbo import encoder_posterior, negative_elbo, negative_elbo_backward


def _loss_and_grad(h, eps, target, beta, free_bits):
    """A toy decoder rec_n = sum_l (z_nl - target_nl)^2 on z = mu + sigma * eps: the loss of
    h (N, 2L) and d loss / d h through negative_elbo_backward."""
    q, inside = encoder_posterior(h)
    z = q.rsample(None, eps=eps)
    value, parts, dkl = negative_elbo(np.sum((z - target) ** 2, axis=1), q, beta, free_bits)
    dz = 2.0 * (z - target) / h.shape[0]
    return value, parts, negative_elbo_backward(q, inside, dz, dkl)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(2, 5), L=st.integers(2, 4), seed=st.integers(0, 2**32 - 1),
       beta=st.sampled_from([0.0, 0.5, 1.0, 3.0]), free=st.booleans())
def test_negative_elbo_backward_matches_finite_differences(N, L, seed, beta, free):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((N, 2 * L))
    eps, target = rng.standard_normal((N, L)), rng.standard_normal((N, L))
    floor = SimpleNamespace(free_bits=0.0)
    if free:  # a floor in the widest gap between the dimensions' KLs (away from the kink)
        set_free_bits_in_widest_gap(
            floor, encoder_posterior(h)[0].kl_standard_normal(per_dimension=True).mean(0))
    free_bits = floor.free_bits
    results = check_function(lambda h: _loss_and_grad(h, eps, target, beta, free_bits)[0],
                             {"h": h}, lambda h: _loss_and_grad(h, eps, target, beta,
                                                                free_bits)[2])
    assert results and all(r.passed for r in results), [str(r) for r in results]


def test_negative_elbo_value_parts_and_the_clamp():
    rng = np.random.default_rng(0)
    h = rng.standard_normal((4, 6))
    h[1, 4] = LOGVAR_MAX + 5.0  # clamped: no gradient may pass to it
    eps, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    value, parts, dh = _loss_and_grad(h, eps, target, 2.0, 0.0)
    q = DiagonalGaussian(h[:, :3], np.clip(h[:, 3:], None, LOGVAR_MAX))
    rec = np.sum((q.mu + q.std * eps - target) ** 2, axis=1)
    kl = q.kl_standard_normal()
    assert parts["reconstruction"] == pytest.approx(rec.mean(), rel=1e-14)
    assert parts["kl"] == pytest.approx(kl.mean(), rel=1e-14)
    assert value == parts["loss"] == pytest.approx(rec.mean() + 2.0 * kl.mean(), rel=1e-14)
    assert parts["elbo"] == pytest.approx(-(rec.mean() + kl.mean()), rel=1e-14)
    assert "kl_free_bits" not in parts and dh.shape == h.shape and dh[1, 4] == 0.0
    # With free bits the term is sum_l max(lambda, mean_n KL_nl), reported on its own.
    _, parts_fb, _ = _loss_and_grad(h, eps, target, 2.0, 0.3)
    per_dim = q.kl_standard_normal(per_dimension=True).mean(axis=0)
    assert parts_fb["kl_free_bits"] == pytest.approx(np.maximum(per_dim, 0.3).sum())
    assert parts_fb["loss"] == pytest.approx(rec.mean() + 2.0 * parts_fb["kl_free_bits"])
