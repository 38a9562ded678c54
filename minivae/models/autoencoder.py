"""A deterministic autoencoder: encoder MLP -> code z -> decoder MLP.

    X: (N, D) --encoder--> z: (N, L) --decoder--> output: (N, D)

The loss is the reconstruction negative log-likelihood (sum over the D pixels, mean over the
batch), with the output layer read according to ``output``:

* ``"bernoulli"``: the decoder emits logits; loss = binary cross-entropy (data in [0, 1]);
* ``"gaussian"``: the decoder emits the mean of a unit-variance Gaussian; loss =
  0.5 * ||x - mean||^2 + 0.5 * D * log(2 pi) (a scaled, shifted MSE: same minimiser);
* ``"mse"``: plain squared error ||x - output||^2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.models.base import Model, check_hidden_sizes, inference_method, register_model
from minivae.nn.functional import sigmoid
from minivae.nn.sequential import MLP
from minivae.objectives.losses import fill_missing, reconstruction_nll

OUTPUTS = ("bernoulli", "gaussian", "mse")


@register_model
class Autoencoder(Model):
    """Deterministic MLP autoencoder.

    Args:
        input_dim: D, features per example.
        hidden_sizes: widths of the encoder's hidden layers, e.g. [256, 64]; the decoder mirrors
            them ([64, 256]).  May be empty (linear encoder and decoder).
        latent_dim: L, size of the code.
        activation: hidden-layer activation (see :data:`minivae.nn.ACTIVATIONS`).
        output: "bernoulli", "gaussian" or "mse" (see the module docstring).
        rng: generator or seed for the weight initialisation.
        dtype: float64 (default, for gradient checks) or float32.

    Shapes: X: (N, D) -> z: (N, L) -> reconstruction: (N, D).
    """

    input_ndim = (2,)

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: list[int] | tuple[int, ...],
        latent_dim: int,
        *,
        activation: str = "relu",
        output: str = "bernoulli",
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        super().__init__(dtype)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_sizes = check_hidden_sizes(hidden_sizes)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.output = output
        self.activation = str(activation)
        rng = check_rng(rng)
        # The encoder's input is the data: its backward need not compute d(loss)/dX.
        self.encoder = MLP([self.input_dim, *self.hidden_sizes, self.latent_dim],
                           activation=self.activation, rng=rng, dtype=self.dtype,
                           input_grad=False)
        self.decoder = MLP([self.latent_dim, *self.hidden_sizes[::-1], self.input_dim],
                           activation=self.activation, rng=rng, dtype=self.dtype)

    def config(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim,
            "hidden_sizes": list(self.hidden_sizes),
            "latent_dim": self.latent_dim,
            "activation": self.activation,
            "output": self.output,
            "dtype": self.dtype.name,
        }

    # -- inference ------------------------------------------------------------------------------
    @inference_method
    def encode(self, X: np.ndarray) -> np.ndarray:
        """X: (N, D) -> z: (N, L)."""
        self._pending = None  # this forward pass overwrites what backward() would need
        X, _, _ = self.check_inputs(X)
        return self.encoder.forward(X)

    @inference_method
    def decode(self, z: np.ndarray) -> np.ndarray:
        """z: (N, L) -> reconstruction (N, D): probabilities for "bernoulli", else the mean."""
        self._pending = None
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        return self._output_mean(self.decoder.forward(z))

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        """decode(encode(X)): (N, D)."""
        return self.decode(self.encode(X))

    def _output_mean(self, out: np.ndarray) -> np.ndarray:
        return sigmoid(out).astype(self.dtype, copy=False) if self.output == "bernoulli" else out

    # -- training contract ----------------------------------------------------------------------
    def _forward(self, X: np.ndarray, mask: np.ndarray | None, need_grad: bool):
        z = self.encoder.forward(fill_missing(X, mask))
        out = self.decoder.forward(z)
        return reconstruction_nll(self.output, out, X, mask, need_grad=need_grad)

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Mean reconstruction loss over the batch X: (N, D).  ``rng``/``eps`` are accepted for
        interface compatibility and ignored (the model is deterministic)."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        self._ignored_noise(rng, eps)
        rec, dout = self._forward(X, mask, need_grad=True)
        n = X.shape[0]
        self.last_eps = None
        self._pending = {"dout": dout / n}
        value = float(rec.mean())
        return value, {"loss": value, "reconstruction": value, "kl": 0.0}

    def backward(self) -> None:
        pending = self._take_pending()
        dz = self.decoder.backward(pending["dout"])
        self.encoder.backward(dz)

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None) -> dict[str, np.ndarray]:
        self._pending = None
        X, mask, _ = self.check_inputs(batch, mask=mask)
        self._ignored_noise(rng)
        rec, _ = self._forward(X, mask, need_grad=False)
        return {"loss": rec, "reconstruction": rec.copy(), "kl": np.zeros_like(rec)}
