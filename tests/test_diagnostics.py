"""Tests for minivae.train.diagnostics: active units and per-dimension KL on constructed latents."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minivae.objectives.distributions import DiagonalGaussian
from minivae.train.diagnostics import active_units, kl_per_dimension_mean, latent_activity


def constructed_mu(n: int = 400) -> np.ndarray:
    """Four latent dimensions with known spread over the inputs."""
    rng = np.random.default_rng(0)
    return np.stack(
        [
            np.linspace(-1.0, 1.0, n),  # var ~ 1/3: clearly active
            np.full(n, 0.3),  # constant: collapsed (posterior mean ignores x)
            0.05 * rng.standard_normal(n),  # var ~ 0.0025: below 0.01
            0.2 * rng.standard_normal(n),  # var ~ 0.04: active
        ],
        axis=1,
    )


def test_active_units_on_constructed_mu():
    mu = constructed_mu()
    var = latent_activity(mu)
    assert var[0] == pytest.approx(np.var(np.linspace(-1, 1, 400)))
    assert var[1] < 1e-20
    assert 0.001 < var[2] < 0.01 < var[3]
    assert active_units(mu) == 2  # dims 0 and 3 at the default threshold 0.01
    assert active_units(mu, threshold=1e-3) == 3
    assert active_units(mu, threshold=1.0) == 0


def test_active_units_float32_and_errors():
    assert active_units(constructed_mu().astype(np.float32)) == 2
    with pytest.raises(ValueError, match="at least 2 rows"):
        active_units(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="mu must have 2 dimensions"):
        active_units(np.zeros(5))
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        active_units(np.zeros((3, 2)), threshold=-1.0)


def test_kl_per_dimension_mean_by_hand():
    mu = np.array([[1.0, 0.0], [-1.0, 0.0]])
    logvar = np.array([[0.0, math.log(2.0)], [0.0, math.log(2.0)]])
    # dim 0: 0.5 * (1 + 1 - 1 - 0) = 0.5;  dim 1: 0.5 * (0 + 2 - 1 - log 2)
    expected = [0.5, 0.5 * (1.0 - math.log(2.0))]
    np.testing.assert_allclose(kl_per_dimension_mean(mu, logvar), expected, rtol=1e-15)


def test_kl_per_dimension_mean_sums_to_batch_mean_kl():
    rng = np.random.default_rng(1)
    mu, logvar = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    per_dim = kl_per_dimension_mean(mu, logvar)
    assert per_dim.shape == (3,)
    total = DiagonalGaussian(mu, logvar).kl_standard_normal().mean()
    assert per_dim.sum() == pytest.approx(total, rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        kl_per_dimension_mean(mu, logvar[:, :2])
