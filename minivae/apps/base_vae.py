"""What the applications' VAEs share: an MLP encoder to q(z | x), a decoder the application
chooses, and the library's objective (:mod:`minivae.objectives.elbo`, so beta and free bits
work as in :class:`~minivae.models.VAE`), trained by :func:`minivae.train.loop.fit`.

One training step of an :class:`ApplicationVAE` on a batch::

    X, Y, mask  = self._split(batch, mask)            # encoder input, decoder target, mask
    q, inside   = encoder_posterior(encoder(X))       # h (N, 2L) -> N(mu, diag(exp(logvar)))
    z           = q.rsample(rng)                      # (N, L), reparameterized
    out         = self._decode(z)                     # the application's decoder
    rec, dout   = self._nll(out, Y, mask)             # -log p(y | z) per example, and its grad
    loss, parts = negative_elbo(rec, q, kl_weight, free_bits)

and :meth:`~ApplicationVAE.backward` runs the chain in reverse.  A subclass supplies the four
hooks ``_split``, ``_decode``, ``_decode_back`` and ``_nll`` (and builds ``self.decoder``).

:func:`forward_with_vjp` is the tool the applications' latent-space searches use: a layer's
output together with its vector-Jacobian product, leaving the layer's gradients untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.models.base import Model, check_hidden_sizes, inference_method
from minivae.nn.layer import Layer
from minivae.nn.sequential import MLP
from minivae.objectives.elbo import encoder_posterior, negative_elbo, negative_elbo_backward
from minivae.objectives.losses import fill_missing

__all__ = ["ApplicationVAE", "forward_with_vjp"]


def forward_with_vjp(
    layer: Layer, x: np.ndarray
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``layer.forward(x)`` and ``vjp(dy) -> dx``, the backward pass for that output.

    ``vjp`` clears the parameter gradients it accumulated (a search over inputs must not leave
    training state behind) and must be called before the layer's next forward pass.
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a minivae Layer, got {type(layer).__name__}")
    y = layer.forward(x)

    def vjp(dy: np.ndarray) -> np.ndarray:
        dx = layer.backward(dy)
        layer.zero_grad()
        return dx

    return y, vjp


class ApplicationVAE(Model):
    """Gaussian-latent VAE with an MLP encoder ``[input_dim, *hidden_sizes, 2 * latent_dim]``.

    Not registered or built directly: :class:`~minivae.apps.separation.SourceVAE` and
    :class:`~minivae.apps.volatility.PointwiseVAE` subclass it.

    Args:
        input_dim: D, encoder input size; hidden_sizes: encoder hidden widths; latent_dim: L.
        beta: KL weight (1 = ELBO, > 1 beta-VAE); free_bits: nats per latent dimension granted
            free (0 = off; :func:`minivae.objectives.kl.free_bits_kl`).
        activation: hidden activation name.
        rng: generator for the weights (the encoder draws first, then the subclass's decoder).

    Shapes: X (N, D), z (N, L).
    """

    input_ndim = (2,)

    def __init__(self, input_dim: int, hidden_sizes: Sequence[int], latent_dim: int, *,
                 beta: float, free_bits: float, activation: str, rng: np.random.Generator,
                 dtype: object) -> None:
        super().__init__(dtype)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_sizes = check_hidden_sizes(hidden_sizes)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.beta = check_scalar(beta, "beta", low=0.0)
        self.kl_weight = self.beta
        self.free_bits = free_bits
        self.activation = str(activation)
        self.encoder = MLP([self.input_dim, *self.hidden_sizes, 2 * self.latent_dim],
                           activation=self.activation, rng=rng, dtype=self.dtype)

    # -- the hooks a subclass supplies ------------------------------------------------------
    def _split(self, batch: Any, mask: object) -> tuple[np.ndarray, np.ndarray, Any]:
        """batch -> (encoder input X (N, D), decoder target Y, mask or None), validated."""
        raise NotImplementedError  # pragma: no cover - interface

    def _decode(self, z: np.ndarray) -> np.ndarray:
        """z (N, L) -> the decoder's raw output (caches for :meth:`_decode_back`)."""
        raise NotImplementedError  # pragma: no cover - interface

    def _decode_back(self, dout: np.ndarray) -> np.ndarray:
        """d loss / d output -> d loss / d z (N, L)."""
        raise NotImplementedError  # pragma: no cover - interface

    def _nll(self, out: np.ndarray, Y: np.ndarray, mask: Any, need_grad: bool):
        """Per-example -log p(y | z) (N,) and, with ``need_grad``, d(sum)/d(out)."""
        raise NotImplementedError  # pragma: no cover - interface

    # -- the training contract --------------------------------------------------------------
    def _posterior(self, X: np.ndarray, mask: Any):
        """Encoder pass: (q, inside); the encoder sees missing entries (mask False) as 0."""
        return encoder_posterior(self.encoder.forward(fill_missing(X, mask)))

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Negative (beta-, free-bits-) ELBO of a batch; parts "loss", "reconstruction", "kl",
        "elbo" (and "kl_free_bits" with free bits).  ``eps`` reuses noise (``self.last_eps``)."""
        X, Y, mask = self._split(batch, mask)
        rng = self._need_noise(rng, eps)
        q, inside = self._posterior(X, mask)
        z = q.rsample(rng, eps=eps)
        self.last_eps = q.eps
        rec, dout = self._nll(self._decode(z), Y, mask, need_grad=True)
        value, parts, dkl = negative_elbo(rec, q, self.kl_weight, self.free_bits)
        self._pending = {"q": q, "inside": inside, "dout": dout / X.shape[0], "dkl": dkl}
        return value, parts

    def backward(self) -> None:
        """Accumulate the parameter gradients of the last :meth:`loss` (once per loss)."""
        p = self._take_pending()
        dz = self._decode_back(p["dout"])
        self.encoder.backward(negative_elbo_backward(p["q"], p["inside"], dz, p["dkl"]))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None):
        """"loss", "reconstruction", "kl" per example (N,); z is the posterior mean unless
        ``rng`` or ``eps`` is given.  Free bits are a batch-level correction, not applied here."""
        self._pending = None
        X, Y, mask = self._split(batch, mask)
        q, _ = self._posterior(X, mask)
        z = (q.rsample(None, eps=eps) if eps is not None
             else q.sample(check_rng(rng)) if rng is not None else q.mu)
        rec, _ = self._nll(self._decode(z), Y, mask, need_grad=False)
        kl = q.kl_standard_normal()
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    @inference_method
    def posterior(self, batch, *, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of q(z | x), each (N, L)."""
        self._pending = None
        X, _, mask = self._split(batch, mask)
        q, _ = self._posterior(X, mask)
        return q.mu, q.logvar

    def _check_z(self, z: object) -> np.ndarray:
        return check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
