r"""A way up to PyTorch: a trained model's weights under PyTorch's module names and layouts.

:func:`torch_state_dict` returns a dict of NumPy arrays whose keys and shapes are those of the
``state_dict()`` of the equivalent PyTorch module, so that on the PyTorch side::

    state = {k: torch.from_numpy(v) for k, v in np.load("model.npz").items()}
    module.load_state_dict(state)

reproduces minivae's outputs (``tests/test_export_torch.py`` checks reconstruction, mu and logvar
to 1e-10 in float64; the reference PyTorch classes are written there and in
``docs/pytorch_bridge.md``).  minivae never imports torch: this file only renames and transposes.

The layouts
-----------
* Dense ``y = x W + b`` with ``W: (in, out)`` is ``nn.Linear`` with ``weight: (out, in) = W.T``
  and ``bias = b``.
* An LSTM layer ``l`` with fused ``Wx: (D, 4H)``, ``Wh: (H, 4H)``, ``b: (4H,)`` in gate order
  (i, f, g, o) (:mod:`minivae.nn.lstm`) is ``nn.LSTM``'s ``weight_ih_l{l} = Wx.T: (4H, D)``,
  ``weight_hh_l{l} = Wh.T: (4H, H)``, ``bias_ih_l{l} = b`` and ``bias_hh_l{l} = 0`` (PyTorch adds
  its two bias vectors, so only their sum matters; PyTorch's gate order is the same).
  A single :class:`~minivae.nn.LSTMCell` is ``nn.LSTMCell`` with the same names without ``_l{l}``.

The module names (the equivalent PyTorch modules)
------------------------------------------------
* :class:`~minivae.models.VAE` (Gaussian posterior): ``encoder`` and ``decoder`` are
  ``nn.Sequential`` s of Linear and activation modules in minivae's order, so minivae's
  ``encoder.layers.{i}.W`` is ``encoder.{i}.weight`` (activations have no weights; their indices
  are skipped exactly as in ``nn.Sequential``).
* :class:`~minivae.models.LSTMAutoencoder` and :class:`~minivae.models.LSTMVAE` (LSTM cells,
  unidirectional encoder, the decoder state from z): ``encoder``: ``nn.LSTM(D or 2D, H,
  num_layers, batch_first=True)``; ``to_latent``: ``nn.Linear(H, code)`` (code = L, or 2L =
  [mu, logvar] for the VAE); then with ``decoder="repeat"``: ``decoder.lstm``: ``nn.LSTM(L, H,
  num_layers, batch_first=True)``, ``decoder.out_proj``: ``nn.Linear(H, O)``; with
  ``decoder="autoregressive"``: ``decoder.init_h``, ``decoder.init_c``: ``nn.Linear(L,
  num_layers * H)``, ``decoder.cells.{l}``: ``nn.LSTMCell`` (a ``nn.ModuleList``),
  ``decoder.out_proj``: ``nn.Linear(H, O)``.  (O = D, or 2D = [mean, log-variance] with the
  Gaussian output.)

Other architectures (GRU/RNN cells, bidirectional encoders, the conditioned decoder, other
posterior families, other model classes) are refused with an error saying so, rather than
exported under names that would silently mean something else.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from minivae.models import LSTMVAE, VAE, LSTMAutoencoder
from minivae.nn.decoders import AutoregressiveDecoder, RepeatDecoder
from minivae.nn.dense import Dense
from minivae.nn.lstm import LSTM, LSTMCell
from minivae.train.checkpoint import write_atomically

SUPPORTED = ("VAE", "LSTMAutoencoder", "LSTMVAE")


def _array(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy (``torch.from_numpy`` needs positive strides; no shared memory)."""
    return np.ascontiguousarray(a).copy()


def _linear_state(prefix: str, dense: Dense) -> dict[str, np.ndarray]:
    """A Dense layer as ``nn.Linear``: ``{prefix}.weight`` (out, in) = W.T, ``{prefix}.bias``."""
    return {f"{prefix}.weight": _array(dense.params["W"].T),
            f"{prefix}.bias": _array(dense.params["b"])}


def _lstm_state(prefix: str, lstm: LSTM) -> dict[str, np.ndarray]:
    """A stacked :class:`~minivae.nn.LSTM` as ``nn.LSTM``: per layer l, ``weight_ih_l{l}``
    (4H, D_l), ``weight_hh_l{l}`` (4H, H), ``bias_ih_l{l}`` (4H,) = b, ``bias_hh_l{l}`` = 0."""
    out: dict[str, np.ndarray] = {}
    for l, layer in enumerate(lstm.layers):
        out.update(_gates(prefix, f"_l{l}", layer.params))
    return out


def _lstm_cell_state(prefix: str, cell: LSTMCell) -> dict[str, np.ndarray]:
    """An :class:`~minivae.nn.LSTMCell` as ``nn.LSTMCell``: ``weight_ih``, ``weight_hh``,
    ``bias_ih`` = b, ``bias_hh`` = 0."""
    return _gates(prefix, "", cell.params)


def _gates(prefix: str, suffix: str, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # Both libraries order the 4H gate blocks (i, f, g, o); PyTorch multiplies W x, so transpose.
    return {f"{prefix}.weight_ih{suffix}": _array(p["Wx"].T),
            f"{prefix}.weight_hh{suffix}": _array(p["Wh"].T),
            f"{prefix}.bias_ih{suffix}": _array(p["b"]),
            f"{prefix}.bias_hh{suffix}": np.zeros_like(p["b"])}


def torch_state_dict(model: VAE | LSTMAutoencoder | LSTMVAE) -> dict[str, np.ndarray]:
    """The weights of ``model`` under the module names and layouts of the equivalent PyTorch
    module (module docstring), as a dict of fresh C-contiguous NumPy arrays in the model's dtype.

    Raises:
        TypeError: ``model`` is not a VAE, LSTMAutoencoder or LSTMVAE.
        ValueError: an option with no PyTorch equivalent here (the message names it).
    """
    if isinstance(model, VAE):
        return _vae_state(model)
    if isinstance(model, (LSTMAutoencoder, LSTMVAE)):
        return _lstm_model_state(model)
    raise TypeError(f"model must be one of {SUPPORTED} (minivae models), got "
                    f"{type(model).__name__}")


def _vae_state(model: VAE) -> dict[str, np.ndarray]:
    if model.posterior_name != "gaussian":
        raise ValueError("model: only the Gaussian posterior is exported (its encoder is the "
                         f"whole q(z | x)); got posterior={model.posterior_name!r}")
    out: dict[str, np.ndarray] = {}
    for part in ("encoder", "decoder"):
        for i, layer in enumerate(getattr(model, part).layers):
            if isinstance(layer, Dense):
                out.update(_linear_state(f"{part}.{i}", layer))
            elif layer.params:
                raise ValueError(f"model: {part} layer {i} ({type(layer).__name__}) has "
                                 "parameters with no nn.Linear equivalent")
    return out


def _lstm_model_state(model: LSTMAutoencoder | LSTMVAE) -> dict[str, np.ndarray]:
    _check_lstm_options(model)
    out = _lstm_state("encoder", model.encoder)
    out.update(_linear_state("to_latent", model.to_latent))
    dec = model.decoder
    if isinstance(dec, RepeatDecoder):
        out.update(_lstm_state("decoder.lstm", dec.lstm))
    else:
        out.update(_linear_state("decoder.init_h", dec.init_h))
        out.update(_linear_state("decoder.init_c", dec.init_c))
        for l, cell in enumerate(dec.cells):
            out.update(_lstm_cell_state(f"decoder.cells.{l}", cell))
    out.update(_linear_state("decoder.out_proj", dec.out_proj))
    return out


def _check_lstm_options(model: LSTMAutoencoder | LSTMVAE) -> None:
    """Refuse the options whose layers have no one-to-one PyTorch module here."""
    problems = []
    if model.bidirectional:
        problems.append("bidirectional=True")
    if model.encoder_cell != "lstm" or model.decoder_cell != "lstm":
        problems.append(f"encoder_cell={model.encoder_cell!r}, "
                        f"decoder_cell={model.decoder_cell!r}")
    if model.decoder_state != "z":
        problems.append(f"decoder_state={model.decoder_state!r}")
    if not isinstance(model.decoder, (RepeatDecoder, AutoregressiveDecoder)) \
            or not isinstance(model.encoder, LSTM):
        problems.append(f"decoder={model.decoder_type!r}")
    if problems:
        raise ValueError("model: the PyTorch export covers LSTM cells, a unidirectional encoder "
                         "and the 'repeat' or 'autoregressive' decoder started from z; got "
                         + ", ".join(problems))


def save_torch_state(model: VAE | LSTMAutoencoder | LSTMVAE, path: str | PathLike) -> None:
    """Write :func:`torch_state_dict` of ``model`` to ``path`` with ``np.savez`` (no pickle;
    written to a temporary file and renamed, so ``path`` never holds half a file).  ``path`` is
    used as given (``np.savez`` would append ``.npz``; here the name is kept)."""
    write_atomically(path, torch_state_dict(model))
