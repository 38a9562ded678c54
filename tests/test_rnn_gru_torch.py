"""Cross-check minivae's RNN and GRU against torch.nn.RNN / torch.nn.GRU (float64): outputs, final
states and every gradient must agree to 1e-10.  Skipped when torch is not installed.

Weight mapping (documented in minivae/nn/rnn.py and minivae/nn/gru.py), for layer l:
    RNN: weight_ih_l{l} = Wx.T, weight_hh_l{l} = Wh.T, bias_ih_l{l} + bias_hh_l{l} = b
    GRU: weight_ih_l{l} = Wx.T, weight_hh_l{l} = Wh.T,
         bias_ih_l{l} + [bias_hh_l{l}[:2H], 0] = b,  bias_hh_l{l}[2H:] = bhn
The torch biases are set to *random* values (both of them), so that the test exercises the
mapping of the two torch bias vectors onto ours, not only a zero bias_hh.
"""

from __future__ import annotations

import numpy as np
import pytest

from minivae.nn.gru import GRU, GRUCell
from minivae.nn.rnn import RNN, RNNCell

torch = pytest.importorskip("torch")

ATOL = 1e-10


def t64(a: np.ndarray, grad: bool = False):
    return torch.tensor(np.array(a), dtype=torch.float64, requires_grad=grad)


def torch_twin(layer, kind: str, rng: np.random.Generator):
    """A torch module with random biases and our layer set to the same function."""
    D, H, L = layer.input_size, layer.hidden_size, layer.num_layers
    if kind == "gru":
        ref = torch.nn.GRU(D, H, num_layers=L, batch_first=True, dtype=torch.float64)
    else:
        ref = torch.nn.RNN(D, H, num_layers=L, nonlinearity=kind, batch_first=True,
                           dtype=torch.float64)
    for l, ours in enumerate(layer.layers):
        b_ih, b_hh = rng.normal(size=(2, ours.params["b"].size))
        with torch.no_grad():
            getattr(ref, f"weight_ih_l{l}").copy_(t64(ours.params["Wx"].T))
            getattr(ref, f"weight_hh_l{l}").copy_(t64(ours.params["Wh"].T))
            getattr(ref, f"bias_ih_l{l}").copy_(t64(b_ih))
            getattr(ref, f"bias_hh_l{l}").copy_(t64(b_hh))
        if kind == "gru":
            H2 = 2 * H
            ours.params["b"][...] = b_ih + np.concatenate([b_hh[:H2], np.zeros(H)])
            ours.params["bhn"][...] = b_hh[H2:]
        else:
            ours.params["b"][...] = b_ih + b_hh
    return ref


def close(a: np.ndarray, t) -> None:
    np.testing.assert_allclose(a, t.detach().numpy(), rtol=0, atol=ATOL)


def assert_param_grads(layer, ref, kind: str) -> None:
    for l, ours in enumerate(layer.layers):
        close(ours.grads["Wx"], getattr(ref, f"weight_ih_l{l}").grad.T)
        close(ours.grads["Wh"], getattr(ref, f"weight_hh_l{l}").grad.T)
        g_ih, g_hh = getattr(ref, f"bias_ih_l{l}").grad, getattr(ref, f"bias_hh_l{l}").grad
        close(ours.grads["b"], g_ih)  # b enters exactly where bias_ih does
        if kind == "gru":
            H = layer.hidden_size
            close(ours.grads["b"][: 2 * H], g_hh[: 2 * H])  # r, z: the two biases are one
            close(ours.grads["bhn"], g_hh[2 * H:])
        else:
            close(ours.grads["b"], g_hh)


def make(kind: str, D: int, H: int, num_layers: int, seed: int):
    if kind == "gru":
        return GRU(D, H, num_layers=num_layers, rng=seed)
    return RNN(D, H, num_layers=num_layers, nonlinearity=kind, rng=seed)


@pytest.mark.parametrize("kind", ["gru", "tanh", "relu"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize(("N", "T", "D", "H"), [(3, 5, 4, 6), (1, 1, 2, 3), (2, 7, 1, 1)])
def test_matches_torch_outputs_and_all_gradients(kind, num_layers, N, T, D, H):
    rng = np.random.default_rng([N, T, D, H, num_layers, len(kind)])
    layer = make(kind, D, H, num_layers, int(rng.integers(1000)))
    ref = torch_twin(layer, kind, rng)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(num_layers, N, H))
    dhs, dhT = rng.normal(size=(N, T, H)), rng.normal(size=(num_layers, N, H))
    squeeze = (lambda a: a[0]) if num_layers == 1 else (lambda a: a)

    hs, hT = layer(x, squeeze(h0))
    dx, dh0 = layer.backward(dhs, squeeze(dhT))

    xt, h0t = t64(x, grad=True), t64(h0, grad=True)
    hst, hTt = ref(xt, h0t)
    ((hst * t64(dhs)).sum() + (hTt * t64(dhT)).sum()).backward()
    close(hs, hst)
    close(hT, squeeze(hTt))
    close(dx, xt.grad)
    close(dh0, squeeze(h0t.grad))
    assert_param_grads(layer, ref, kind)


@pytest.mark.parametrize("kind", ["gru", "tanh"])
def test_lengths_match_torch_packed_sequences(kind):
    """Padded steps carry the state: hT equals torch's packed-sequence final state, and the
    gradients equal those of the unpadded sequences."""
    rng = np.random.default_rng(7)
    N, T, D, H = 4, 6, 3, 5
    layer = make(kind, D, H, 2, 3)
    ref = torch_twin(layer, kind, rng)
    x, lengths = rng.normal(size=(N, T, D)), np.array([6, 1, 4, 2])
    dhs, dhT = rng.normal(size=(N, T, H)), rng.normal(size=(2, N, H))
    hs, hT = layer(x, lengths=lengths)
    dx, _ = layer.backward(dhs, dhT)

    xt = t64(x, grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    out, hTt = ref(packed)
    hst, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    ((hst * t64(dhs)).sum() + (hTt * t64(dhT)).sum()).backward()
    close(hs, hst)
    close(hT, hTt)
    close(dx, xt.grad)
    assert_param_grads(layer, ref, kind)


@pytest.mark.parametrize(("cell_cls", "torch_cls"), [(GRUCell, "GRUCell"), (RNNCell, "RNNCell")])
def test_cells_match_torch_cells(cell_cls, torch_cls):
    rng = np.random.default_rng(11)
    N, D, H = 3, 4, 5
    cell = cell_cls(D, H, rng=2)
    ref = getattr(torch.nn, torch_cls)(D, H, dtype=torch.float64)
    b_ih, b_hh = rng.normal(size=(2, cell.params["b"].size))
    with torch.no_grad():
        ref.weight_ih.copy_(t64(cell.params["Wx"].T))
        ref.weight_hh.copy_(t64(cell.params["Wh"].T))
        ref.bias_ih.copy_(t64(b_ih))
        ref.bias_hh.copy_(t64(b_hh))
    if cell_cls is GRUCell:
        cell.params["b"][...] = b_ih + np.concatenate([b_hh[: 2 * H], np.zeros(H)])
        cell.params["bhn"][...] = b_hh[2 * H:]
    else:
        cell.params["b"][...] = b_ih + b_hh
    x1, x2, h0 = rng.normal(size=(N, D)), rng.normal(size=(N, D)), rng.normal(size=(N, H))
    d1, d2 = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    h1 = cell(x1, h0)
    h2 = cell(x2, h1)
    dx2, dh1 = cell.backward(d2)
    dx1, dh0 = cell.backward(d1 + dh1)

    x1t, x2t, h0t = t64(x1, True), t64(x2, True), t64(h0, True)
    h1t = ref(x1t, h0t)
    h2t = ref(x2t, h1t)
    ((h1t * t64(d1)).sum() + (h2t * t64(d2)).sum()).backward()
    for mine, theirs in ((h1, h1t), (h2, h2t), (dx1, x1t.grad), (dx2, x2t.grad),
                         (dh0, h0t.grad)):
        close(mine, theirs)
    close(cell.grads["Wx"], ref.weight_ih.grad.T)
    close(cell.grads["Wh"], ref.weight_hh.grad.T)
    close(cell.grads["b"], ref.bias_ih.grad)
