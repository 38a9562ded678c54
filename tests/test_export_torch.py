"""The PyTorch bridge: minivae's weights, exported under PyTorch's names and layouts
(:mod:`minivae.export.torch_names`), loaded into the equivalent PyTorch modules written below,
give minivae's outputs (reconstruction, mu, logvar) to 1e-10 in float64.

The reference PyTorch classes live here (and in docs/pytorch_bridge.md), never in the library:
minivae does not import torch.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae import LSTMVAE, VAE, LSTMAutoencoder
from minivae.export import save_torch_state, torch_state_dict

torch = pytest.importorskip("torch")
nn = torch.nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
TOL = 1e-10


# ------------------------------------------------------------------ the reference PyTorch modules
class TorchVAE(nn.Module):
    """minivae's VAE (Gaussian posterior): MLP encoder -> [mu, logvar], MLP decoder."""

    def __init__(self, D, hidden, L, likelihood="bernoulli", learned_variance=True,
                 activation="relu"):
        super().__init__()
        self.D, self.L, self.likelihood = D, L, likelihood
        out = 2 * D if likelihood == "gaussian" and learned_variance else D
        self.encoder = mlp([D, *hidden, 2 * L], activation)
        self.decoder = mlp([L, *hidden[::-1], out], activation)

    def encode(self, x):
        h = self.encoder(x)
        return h[:, : self.L], h[:, self.L:].clamp(-30.0, 20.0)  # mu, logvar (clamped)

    def reconstruct(self, x):
        out = self.decoder(self.encode(x)[0])
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out[:, : self.D]


def mlp(sizes, activation):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class RepeatDecoder(nn.Module):
    """z fed at every step of an LSTM from a zero state, a Linear at every step."""

    def __init__(self, L, H, O, num_layers):
        super().__init__()
        self.lstm = nn.LSTM(L, H, num_layers, batch_first=True)
        self.out_proj = nn.Linear(H, O)

    def forward(self, z, T):
        hs, _ = self.lstm(z[:, None, :].expand(-1, T, -1))
        return self.out_proj(hs)


class AutoregressiveDecoder(nn.Module):
    """State from z (h0 = tanh(init_h(z)), c0 = init_c(z)), free running: a zero start token,
    then the previous predicted mean."""

    def __init__(self, L, D, H, O, num_layers):
        super().__init__()
        self.D, self.H = D, H
        self.init_h = nn.Linear(L, num_layers * H)
        self.init_c = nn.Linear(L, num_layers * H)
        self.cells = nn.ModuleList(
            nn.LSTMCell(D if l == 0 else H, H) for l in range(num_layers))
        self.out_proj = nn.Linear(H, O)

    def forward(self, z, T):
        hs = list(torch.tanh(self.init_h(z)).split(self.H, dim=1))  # block l = layer l
        cs = list(self.init_c(z).split(self.H, dim=1))
        u, ys = z.new_zeros(z.shape[0], self.D), []
        for _ in range(T):
            inp = u
            for l, cell in enumerate(self.cells):
                hs[l], cs[l] = cell(inp, (hs[l], cs[l]))
                inp = hs[l]
            ys.append(self.out_proj(inp))
            u = ys[-1][:, : self.D]
        return torch.stack(ys, dim=1)


class TorchLSTMAutoencoder(nn.Module):
    """minivae's LSTMAutoencoder / LSTMVAE (vae=True: the code is [mu, logvar])."""

    def __init__(self, D, H, L, num_layers=1, decoder="repeat", output="mse", vae=False,
                 mask_input=False):
        super().__init__()
        self.D, self.L, self.vae = D, L, vae
        O = 2 * D if output == "gaussian" else D
        self.encoder = nn.LSTM(2 * D if mask_input else D, H, num_layers, batch_first=True)
        self.to_latent = nn.Linear(H, 2 * L if vae else L)
        self.decoder = (RepeatDecoder(L, H, O, num_layers) if decoder == "repeat"
                        else AutoregressiveDecoder(L, D, H, O, num_layers))
        self.mask_input = mask_input

    def encode(self, x):
        if self.mask_input:  # fully observed: the mask channels are ones
            x = torch.cat([x, torch.ones_like(x)], dim=2)
        _, (h, _) = self.encoder(x)
        code = self.to_latent(h[-1])  # the top layer's final h
        if not self.vae:
            return code
        return code[:, : self.L], code[:, self.L:].clamp(-30.0, 20.0)

    def reconstruct(self, x):
        code = self.encode(x)
        z = code[0] if self.vae else code
        return self.decoder(z, x.shape[1])[..., : self.D]


# ------------------------------------------------------------------ helpers
def load(module, model):
    state = {k: torch.from_numpy(v) for k, v in torch_state_dict(model).items()}
    module.double().load_state_dict(state, strict=True)  # every name and shape must match
    return module.eval()


def close(a, b):
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


def _randomize(model, rng):
    """Random weights of a sensible size everywhere (biases too, which start at zero)."""
    model.load_state_dict({k: rng.normal(0.0, 0.5, size=v.shape)
                           for k, v in model.state_dict().items()})


# ------------------------------------------------------------------ the tests
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(D=st.integers(1, 7), hidden=st.lists(st.integers(1, 6), max_size=2),
       L=st.integers(1, 4), likelihood=st.sampled_from(["bernoulli", "gaussian"]),
       activation=st.sampled_from(["relu", "tanh"]), seed=st.integers(0, 2**16))
def test_vae_matches_pytorch(D, hidden, L, likelihood, activation, seed):
    rng = np.random.default_rng(seed)
    model = VAE(D, hidden, L, likelihood=likelihood, activation=activation, rng=seed)
    _randomize(model, rng)
    X = rng.random((5, D))
    ref = load(TorchVAE(D, hidden, L, likelihood, activation=activation), model)
    x = torch.from_numpy(X)
    mu, logvar = model.encode(X)
    tmu, tlogvar = ref.encode(x)
    close(mu, tmu)
    close(logvar, tlogvar)
    close(model.reconstruct(X), ref.reconstruct(x))


@SETTINGS
@given(D=st.integers(1, 4), H=st.integers(1, 6), L=st.integers(1, 4),
       num_layers=st.integers(1, 3), T=st.integers(1, 7),
       decoder=st.sampled_from(["repeat", "autoregressive"]), vae=st.booleans(),
       output=st.sampled_from(["mse", "gaussian"]), mask_input=st.booleans(),
       seed=st.integers(0, 2**16))
def test_lstm_models_match_pytorch(D, H, L, num_layers, T, decoder, vae, output, mask_input,
                                   seed):
    rng = np.random.default_rng(seed)
    cls, kw = (LSTMVAE, {"likelihood": output}) if vae else (LSTMAutoencoder, {"output": output})
    model = cls(D, H, L, decoder=decoder, num_layers=num_layers, mask_input=mask_input,
                rng=seed, **kw)
    _randomize(model, rng)
    X = rng.standard_normal((4, T, D))
    ref = load(TorchLSTMAutoencoder(D, H, L, num_layers, decoder, output, vae, mask_input), model)
    x = torch.from_numpy(X)
    with torch.no_grad():
        code = ref.encode(x)
        rec = ref.reconstruct(x)
    if vae:
        mu, logvar = model.encode(X)
        close(mu, code[0])
        close(logvar, code[1])
    else:
        close(model.encode(X), code)
    close(model.reconstruct(X), rec)


def test_lstm_gate_order_is_pytorchs():
    """The docstring of nn/lstm.py says the 4H blocks are (i, f, g, o), PyTorch's order: a
    weight placed in the forget-gate block of minivae moves PyTorch's forget gate."""
    import minivae.nn.lstm as mlstm
    assert "(i, f, g, o)" in mlstm.__doc__
    model = LSTMAutoencoder(1, 1, 1, rng=0)
    model.load_state_dict({k: np.zeros_like(v) for k, v in model.state_dict().items()})
    # From a zero state and input only the biases act: with i's bias 5 and g's bias 1 (H = 1:
    # block k is entry k) c_1 = sigma(5) tanh(1), and o = sigma(0) = 1/2.  In the order
    # (i, f, o, g) instead, c_1 would be sigma(5) tanh(0) = 0.
    model.encoder.layers[0].params["b"][[0, 2]] = 5.0, 1.0
    state = torch_state_dict(model)
    lstm = nn.LSTM(1, 1, batch_first=True).double()
    lstm.load_state_dict({k[len("encoder."):]: torch.from_numpy(v) for k, v in state.items()
                          if k.startswith("encoder.")})
    _, (h, c) = lstm(torch.zeros(1, 1, 1, dtype=torch.float64))
    s5 = 1.0 / (1.0 + np.exp(-5.0))
    assert abs(c.item() - s5 * np.tanh(1.0)) < 1e-14
    assert abs(h.item() - 0.5 * np.tanh(s5 * np.tanh(1.0))) < 1e-14


def test_save_torch_state_roundtrip(tmp_path):
    model = LSTMVAE(2, 3, 2, num_layers=2, rng=1)
    path = tmp_path / "weights.npz"
    save_torch_state(model, path)
    with np.load(path, allow_pickle=False) as f:
        loaded = dict(f)
    expected = torch_state_dict(model)
    assert sorted(loaded) == sorted(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(loaded[k], v)
    assert os.listdir(tmp_path) == ["weights.npz"]  # no temporary file left behind


def test_export_copies_and_transposes():
    model = VAE(3, [2], 1, rng=0)
    state = torch_state_dict(model)
    W = model.encoder.layers[0].params["W"]
    np.testing.assert_array_equal(state["encoder.0.weight"], W.T)
    state["encoder.0.weight"][...] = 7.0  # a copy: the model is untouched
    assert not np.any(W == 7.0)


@pytest.mark.parametrize("make, words", [
    (lambda: LSTMVAE(2, 3, 2, bidirectional=True, rng=0), "bidirectional"),
    (lambda: LSTMAutoencoder(2, 3, 2, encoder_cell="gru", decoder_cell="gru", rng=0), "gru"),
    (lambda: LSTMAutoencoder(2, 3, 2, decoder="conditioned", rng=0), "conditioned"),
    (lambda: VAE(4, [3], 2, posterior="iaf", rng=0), "iaf"),
    (lambda: "a model", "model must be"),
])
def test_unsupported_models_are_refused(make, words):
    with pytest.raises((TypeError, ValueError), match=words):
        torch_state_dict(make())


def test_the_docs_page_code_runs(tmp_path, monkeypatch):
    """docs/pytorch_bridge.md's code, run as written: export, the PyTorch classes, the load;
    the loaded module then gives minivae's mu and logvar."""
    import re
    from pathlib import Path
    page = Path(__file__).resolve().parents[1] / "docs" / "pytorch_bridge.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)  # the page saves lstm_vae_torch.npz in the working folder
    ns: dict = {"X": np.random.default_rng(0).standard_normal((3, 5, 1))}
    for block in blocks:
        exec(block, ns)
    mu, logvar = ns["model"].encode(ns["X"])
    close(mu, ns["mu"])
    close(logvar, ns["logvar"])
