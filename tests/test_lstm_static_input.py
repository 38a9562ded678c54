"""LSTM(x: (N, D), steps=T): the same input at every step (the repeat-vector decoder's LSTM)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck import check_layer
from minivae.nn import LSTM, RepeatVector


@pytest.mark.usefixtures("each_backend")
@settings(max_examples=15, deadline=None)
@given(N=st.integers(1, 5), T=st.integers(1, 5), D=st.integers(1, 4), H=st.integers(1, 4),
       num_layers=st.integers(1, 2), masked=st.booleans(), seed=st.integers(0, 2**16))
def test_static_input_equals_repeat_vector(N, T, D, H, num_layers, masked, seed):
    """Outputs, every parameter gradient and dz equal RepeatVector(T) -> LSTM to 1e-12."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N, D))
    lengths = rng.integers(1, T + 1, size=N) if masked else None
    dhs = rng.standard_normal((N, T, H))
    dhT = rng.standard_normal((N, H) if num_layers == 1 else (num_layers, N, H))
    a = LSTM(D, H, num_layers=num_layers, rng=seed)
    b = LSTM(D, H, num_layers=num_layers, rng=seed)
    rep = RepeatVector(T)
    hs_a, (hT_a, cT_a) = a.forward(z, lengths=lengths, steps=T)
    hs_b, (hT_b, cT_b) = b.forward(rep.forward(z), lengths=lengths)
    for got, want in ((hs_a, hs_b), (hT_a, hT_b), (cT_a, cT_b)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    dz_a, dh0_a, dc0_a = a.backward(dhs, dhT)
    dzr, dh0_b, dc0_b = b.backward(dhs, dhT)
    assert dz_a.shape == (N, D)
    np.testing.assert_allclose(dz_a, rep.backward(dzr), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dh0_a, dh0_b, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dc0_a, dc0_b, rtol=1e-12, atol=1e-13)
    for (name, _, g_a), (_, _, g_b) in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(g_a, g_b, rtol=1e-12, atol=1e-13, err_msg=name)


@pytest.mark.usefixtures("each_backend")
def test_static_input_gradcheck():
    rng = np.random.default_rng(0)
    lstm = LSTM(3, 4, num_layers=2, rng=rng)
    results = check_layer(lstm, {"x": rng.standard_normal((3, 3))},
                          forward_fn=lambda x: lstm.forward(x, steps=5), rng=rng)
    assert "x" in [r.name for r in results] and len(results) >= 7
    assert all(r.passed for r in results), "\n".join(map(str, results))


def test_static_input_errors():
    lstm = LSTM(3, 4)
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        lstm.forward(np.zeros((2, 5, 3)), steps=5)
    with pytest.raises(ValueError, match="steps"):
        lstm.forward(np.zeros((2, 3)), steps=0)
    with pytest.raises(ValueError, match="input_size=3"):
        lstm.forward(np.zeros((2, 4)), steps=5)
    with pytest.raises(ValueError, match="non-finite|NaN"):
        lstm.forward(np.array([[0.0, np.nan, 1.0]]), steps=2)
    with pytest.raises(ValueError, match=r"mask must have shape \(N, T\)=\(2, 5\)"):
        lstm.forward(np.zeros((2, 3)), steps=5, mask=np.ones((2, 4), bool))
