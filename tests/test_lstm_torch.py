"""Cross-check minivae's LSTM against torch.nn.LSTM (float64): outputs, final states and every
gradient must agree to 1e-10.  Skipped when torch is not installed.

Weight mapping (documented in minivae/nn/lstm.py), for layer l:
    weight_ih_l{l} = Wx.T,  weight_hh_l{l} = Wh.T,  bias_ih_l{l} = b,  bias_hh_l{l} = 0
"""

from __future__ import annotations

import numpy as np
import pytest

from minivae.nn.lstm import LSTM, LSTMCell

torch = pytest.importorskip("torch")

# Every test here runs on the NumPy reference and on the Numba kernels (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_backend")

ATOL = 1e-10


def make_torch_lstm(lstm: LSTM):
    ref = torch.nn.LSTM(
        lstm.input_size, lstm.hidden_size, num_layers=lstm.num_layers,
        batch_first=True, dtype=torch.float64,
    )
    with torch.no_grad():
        for l, layer in enumerate(lstm.layers):
            getattr(ref, f"weight_ih_l{l}").copy_(torch.from_numpy(layer.params["Wx"].T.copy()))
            getattr(ref, f"weight_hh_l{l}").copy_(torch.from_numpy(layer.params["Wh"].T.copy()))
            getattr(ref, f"bias_ih_l{l}").copy_(torch.from_numpy(layer.params["b"]))
            getattr(ref, f"bias_hh_l{l}").zero_()
    return ref


def close(a: np.ndarray, t) -> None:
    np.testing.assert_allclose(a, t.detach().numpy(), rtol=0, atol=ATOL)


def backprop_torch(outputs, grads) -> None:
    """Backward of sum(output * given gradient) over PyTorch's (hs, hT, cT): the same upstream
    gradients minivae's backward receives."""
    sum((out * torch.from_numpy(g)).sum() for out, g in zip(outputs, grads)).backward()


def assert_matches(lstm, ref, squeeze, mine, outputs, inputs) -> None:
    """minivae's (hs, hT, cT, dx, dh0, dc0) and every parameter gradient against PyTorch's."""
    hs, hT, cT, dx, dh0, dc0 = mine
    hst, hTt, cTt = outputs
    xt, h0t, c0t = inputs
    close(hs, hst)
    close(hT, squeeze(hTt))
    close(cT, squeeze(cTt))
    close(dx, xt.grad)
    close(dh0, squeeze(h0t.grad))
    close(dc0, squeeze(c0t.grad))
    for l, layer in enumerate(lstm.layers):
        close(layer.grads["Wx"], getattr(ref, f"weight_ih_l{l}").grad.T)
        close(layer.grads["Wh"], getattr(ref, f"weight_hh_l{l}").grad.T)
        # b feeds the pre-activation exactly like either torch bias, so both grads equal db.
        close(layer.grads["b"], getattr(ref, f"bias_ih_l{l}").grad)
        close(layer.grads["b"], getattr(ref, f"bias_hh_l{l}").grad)



@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize(("N", "T", "D", "H"), [(3, 5, 4, 6), (1, 1, 2, 3), (2, 7, 1, 1)])
def test_matches_torch_outputs_and_all_gradients(num_layers, N, T, D, H):
    rng = np.random.default_rng(N * 100 + T * 10 + num_layers)
    lstm = LSTM(D, H, num_layers=num_layers, rng=int(rng.integers(1000)))
    ref = make_torch_lstm(lstm)
    x = rng.normal(size=(N, T, D))
    h0, c0 = rng.normal(size=(num_layers, N, H)), rng.normal(size=(num_layers, N, H))
    dhs = rng.normal(size=(N, T, H))
    dhT, dcT = rng.normal(size=(num_layers, N, H)), rng.normal(size=(num_layers, N, H))

    # minivae: states are (N, H) for one layer, (num_layers, N, H) when stacked.
    squeeze = (lambda a: a[0]) if num_layers == 1 else (lambda a: a)
    hs, (hT, cT) = lstm(x, squeeze(h0), squeeze(c0))
    dx, dh0, dc0 = lstm.backward(dhs, squeeze(dhT), squeeze(dcT))

    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    hst, (hTt, cTt) = ref(xt, (h0t, c0t))
    backprop_torch((hst, hTt, cTt), (dhs, dhT, dcT))

    assert_matches(lstm, ref, squeeze, (hs, hT, cT, dx, dh0, dc0), (hst, hTt, cTt), (xt, h0t, c0t))


@pytest.mark.parametrize("num_layers", [1, 2])
def test_matches_torch_packed_sequences(num_layers):
    """lengths: padded outputs are 0 and hT, cT are the last valid states, as with
    pack_padded_sequence / pad_packed_sequence; gradients agree too."""
    rng = np.random.default_rng(7 + num_layers)
    N, T, D, H = 4, 6, 3, 5
    lengths = np.array([6, 2, 4, 1])
    lstm = LSTM(D, H, num_layers=num_layers, rng=3)
    ref = make_torch_lstm(lstm)
    x = rng.normal(size=(N, T, D))
    x[~(np.arange(T)[None, :] < lengths[:, None])] = np.nan  # padding may hold NaN in minivae
    dhs = rng.normal(size=(N, T, H))
    dhT, dcT = rng.normal(size=(num_layers, N, H)), rng.normal(size=(num_layers, N, H))
    squeeze = (lambda a: a[0]) if num_layers == 1 else (lambda a: a)
    hs, (hT, cT) = lstm(x, lengths=lengths)
    dx, dh0, dc0 = lstm.backward(dhs, squeeze(dhT), squeeze(dcT))

    xt = torch.tensor(np.nan_to_num(x, nan=0.0), requires_grad=True)
    h0t = torch.zeros(num_layers, N, H, dtype=torch.float64, requires_grad=True)
    c0t = torch.zeros(num_layers, N, H, dtype=torch.float64, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
    )
    out, (hTt, cTt) = ref(packed, (h0t, c0t))
    hst, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    backprop_torch((hst, hTt, cTt), (dhs, dhT, dcT))

    assert_matches(lstm, ref, squeeze, (hs, hT, cT, dx, dh0, dc0), (hst, hTt, cTt), (xt, h0t, c0t))


def test_cell_matches_torch_lstmcell():
    rng = np.random.default_rng(0)
    N, T, D, H = 3, 4, 2, 5
    cell = LSTMCell(D, H, rng=1)
    ref = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        ref.weight_ih.copy_(torch.from_numpy(cell.params["Wx"].T.copy()))
        ref.weight_hh.copy_(torch.from_numpy(cell.params["Wh"].T.copy()))
        ref.bias_ih.copy_(torch.from_numpy(cell.params["b"]))
        ref.bias_hh.zero_()
    x, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H))

    h = c = None
    hs = []
    for t in range(T):
        h, c = cell(x[:, t], h, c)
        hs.append(h)
    dx = np.zeros_like(x)
    dh, dc = np.zeros((N, H)), None
    for t in reversed(range(T)):
        dx[:, t], dh, dc = cell.backward(dhs[:, t] + dh, dc)

    xt = torch.tensor(x, requires_grad=True)
    ht = ct = torch.zeros(N, H, dtype=torch.float64)
    loss = 0.0
    for t in range(T):
        ht, ct = ref(xt[:, t], (ht, ct))
        close(hs[t], ht)
        loss = loss + (ht * torch.from_numpy(dhs[:, t])).sum()
    loss.backward()
    close(dx, xt.grad)
    close(cell.grads["Wx"], ref.weight_ih.grad.T)
    close(cell.grads["Wh"], ref.weight_hh.grad.T)
    close(cell.grads["b"], ref.bias_ih.grad)
