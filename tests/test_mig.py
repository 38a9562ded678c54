"""The Mutual Information Gap (minivae.information.mig): its extremes, invariances and parts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.information.discrete import entropy
from minivae.information.mig import (
    discretize,
    factor_entropies,
    mig,
    mig_details,
    mutual_information_matrix,
)


def _factors(rng, n=4000, sizes=(3, 4, 5)):
    return np.stack([rng.integers(0, k, n) for k in sizes], axis=1)


def test_a_latent_equal_to_each_factor_gives_mig_one():
    rng = np.random.default_rng(0)
    f = _factors(rng)
    codes = np.concatenate([f[:, ::-1].astype(float), rng.standard_normal((len(f), 2))], axis=1)
    d = mig_details(codes, f)
    assert d["mig"] == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(d["top"], [2, 1, 0])


def test_independent_noise_gives_mig_near_zero():
    rng = np.random.default_rng(1)
    f = _factors(rng)
    assert mig(rng.standard_normal((len(f), 5)), f) < 0.02


def test_a_factor_copied_into_two_latents_has_no_gap():
    """Redundant codes are entangled by MIG's definition: the gap of that factor is 0."""
    rng = np.random.default_rng(2)
    f = _factors(rng)
    codes = np.stack([f[:, 0], f[:, 0] * 2.0 + 1.0, f[:, 1], f[:, 2]], axis=1).astype(float)
    d = mig_details(codes, f)
    assert d["gap"][0] == pytest.approx(0.0, abs=1e-12)
    # the other factors: one latent each (minus the plug-in bias of the unrelated latents)
    assert d["gap"][1:] == pytest.approx([1.0, 1.0], abs=0.01)
    assert d["mig"] == pytest.approx(2 / 3, abs=0.01)


def test_mixing_two_factors_lowers_mig():
    rng = np.random.default_rng(3)
    f = _factors(rng, sizes=(4, 4))
    pure = f.astype(float)
    mixed = np.stack([f[:, 0] + f[:, 1], f[:, 0] - f[:, 1]], axis=1).astype(float)
    assert mig(mixed, f) < mig(pure, f) - 0.5


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.1, 100.0), shift=st.floats(-50, 50))
def test_mig_is_invariant_to_affine_maps_and_in_unit_interval(seed, scale, shift):
    rng = np.random.default_rng(seed)
    f = _factors(rng, n=300)
    codes = f @ rng.standard_normal((3, 3)) + 0.3 * rng.standard_normal((300, 3))
    m = mig(codes, f)
    assert 0.0 <= m <= 1.0
    assert mig(codes * scale + shift, f) == pytest.approx(m, abs=1e-9)


def test_parts_against_the_definitions():
    rng = np.random.default_rng(4)
    f = _factors(rng, n=500, sizes=(2, 3))
    codes = rng.standard_normal((500, 2))
    h = factor_entropies(f)
    assert h[0] == pytest.approx(entropy(np.bincount(f[:, 0]) / 500))
    zd = discretize(codes, 5)
    assert zd.min() == 0 and zd.max() == 4
    mi = mutual_information_matrix(codes, f, n_bins=5)
    # I = H(z) + H(v) - H(z, v), counted by hand
    joint = np.zeros((5, 3))
    for a, b in zip(zd[:, 1], f[:, 1]):
        joint[a, b] += 1
    joint /= 500
    hz = entropy(joint.sum(axis=1))
    hj = -np.sum(joint[joint > 0] * np.log(joint[joint > 0]))
    assert mi[1, 1] == pytest.approx(hz + h[1] - hj, abs=1e-12)


def test_bad_inputs():
    rng = np.random.default_rng(5)
    f = _factors(rng, n=50)
    with pytest.raises(ValueError, match="codes"):
        mig(rng.standard_normal((50, 1)), f)
    with pytest.raises(ValueError, match="factors"):
        mig(rng.standard_normal((40, 3)), f)
    with pytest.raises(ValueError, match="factors column"):
        mig(rng.standard_normal((50, 3)), np.zeros((50, 2)))
    with pytest.raises(ValueError, match="codes"):
        mig(np.full((50, 3), np.nan), f)
    with pytest.raises(ValueError, match="n_bins"):
        discretize(rng.standard_normal((5, 2)), 0)
