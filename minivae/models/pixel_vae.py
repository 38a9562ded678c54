r"""PixelVAE-style VAE: an MLP encoder and an autoregressive row-LSTM decoder (review 6.8).

Generative model and posterior (images of R rows of C binary pixels)::

    p(z)         = N(0, I)                 or, with ``delta``, N(0, T(alpha))  (delta-VAE)
    p(x | z)     = prod_r p(x_r | x_<r, z)  the row LSTM of :mod:`minivae.nn.row_lstm_decoder`
    q(z | x)     = N(mu(x), diag(exp(logvar(x))))       [mu, logvar] = MLP(x): R C -> H -> 2L

The decoder is strong enough to model the images without z: the rows above already say a lot
about the next row.  With z in the decoder's initial state (``z_input="initial"``) and the
plain ELBO it *collapses*: on binarized 14 x 14 MNIST (README, "Posterior collapse") the KL
falls from 2 nats to about 0.1 and the active units (Burda et al.: Var_x E_q[z_l | x] > 0.01,
:mod:`minivae.train.diagnostics`) from 8 to 2-3 within a dozen epochs, while an MLP decoder's
VAE keeps 7 nats; with z read at every row the KL stays near 2 nats.  Two fixes:

* ``free_bits = lambda`` (Kingma et al. 2016): the KL term becomes sum_l max(lambda, mean KL_l),
  so the first lambda nats of each dimension cost nothing
  (:func:`~minivae.objectives.kl.free_bits_kl`);
* ``delta`` (Razavi et al. 2019): the prior becomes AR(1) over the latent dimensions with the
  correlation alpha whose *committed rate* is ``delta`` nats; the diagonal posterior cannot
  match it, so KL >= delta for every x (:mod:`minivae.objectives.delta_vae`).  With free bits as
  well, they act on the delta-KL's chain-rule terms.

Loss of a batch (mean over examples, summed over pixels):
``-log p(x | z) + kl_weight * KL term``, z = mu + sigma * eps one reparameterized sample.

Shapes: X: (N, R, C) or flat (N, R C) (row-major, as :func:`~minivae.data.mnist.load_mnist`
returns it), values in [0, 1] (binarized images: the decoder reads the rows it predicts).
No mask: every pixel is observed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import (
    check_array,
    check_magnitude,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.models.base import Model, inference_method, register_model
from minivae.nn.functional import log_mean_exp
from minivae.nn.row_lstm_decoder import RowLSTMDecoder, check_image_shape
from minivae.nn.sequential import MLP
from minivae.objectives.delta_vae import (
    alpha_for_rate,
    ar1_prior,
    committed_rate,
    delta_elbo_backward,
    delta_kl,
)
from minivae.objectives.distributions import DiagonalGaussian, standard_normal_log_prob
from minivae.objectives.elbo import encoder_posterior
from minivae.objectives.kl import kl_loss_term
from minivae.objectives.losses import reconstruction_nll

__all__ = ["PixelVAE"]


@register_model
class PixelVAE(Model):
    """VAE with a row-LSTM autoregressive decoder (module docstring).

    Args:
        image_shape: (R, C) rows and pixels per row, e.g. (14, 14).
        hidden_size: H, the encoder's hidden width and the decoder LSTM's.
        latent_dim: L (>= 2 with ``delta``: the AR(1) prior needs neighbours).
        z_input: where the decoder reads z: "every_row" (concatenated to every step's input)
            or "initial" (the LSTM's initial state only); see
            :mod:`~minivae.nn.row_lstm_decoder`.
        beta: KL weight (the training loop's KL schedule overrides it step by step).
        free_bits: free nats per latent dimension (0 = off).
        delta: None (prior N(0, I)) or the committed rate in nats (> 0) of a delta-VAE.
        rng: generator or seed of the initialisation;  dtype: float64 or float32.

    Attributes: ``alpha`` (the AR(1) prior's correlation, None without delta),
    ``encoder`` (MLP), ``decoder`` (:class:`~minivae.nn.row_lstm_decoder.RowLSTMDecoder`).
    """

    input_ndim = (2, 3)

    def __init__(self, image_shape: tuple[int, int] | list[int] = (28, 28),
                 hidden_size: int = 64, latent_dim: int = 8, *, beta: float = 1.0,
                 free_bits: float = 0.0, delta: float | None = None, z_input: str = "every_row",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.image_shape = check_image_shape(image_shape)
        self.hidden_size = H = check_positive_int(hidden_size, "hidden_size")
        self.latent_dim = L = check_positive_int(latent_dim, "latent_dim")
        self.beta = self.kl_weight = check_scalar(beta, "beta", low=0.0)
        self.free_bits = free_bits
        self.delta = None if delta is None else check_scalar(delta, "delta", low=0.0,
                                                             low_inclusive=False)
        self.alpha = None if delta is None else alpha_for_rate(self.delta, L)
        rng = check_rng(rng)
        R, C = self.image_shape
        self.encoder = MLP([R * C, H, 2 * L], activation="relu", rng=rng, dtype=dtype,
                           input_grad=False)
        self.decoder = RowLSTMDecoder(L, self.image_shape, H, z_input=z_input, rng=rng,
                                      dtype=dtype)

    def config(self) -> dict[str, Any]:
        return {"image_shape": list(self.image_shape), "hidden_size": self.hidden_size,
                "latent_dim": self.latent_dim, "beta": self.beta, "free_bits": self.free_bits,
                "delta": self.delta, "z_input": self.decoder.z_input}

    @property
    def rate_floor(self) -> float:
        """The smallest KL any posterior can have: delta(alpha) for a delta-VAE, else 0."""
        return 0.0 if self.alpha is None else committed_rate(self.alpha, self.latent_dim)

    # -- inputs -----------------------------------------------------------------------------
    def check_inputs(self, X: object, *, mask: object = None, y: object = None,
                     name: str = "X") -> tuple[np.ndarray, None, None]:
        """X: (N, R, C) or (N, R C), finite, in [0, 1] -> (X as (N, R, C), None, None)."""
        if mask is not None:
            raise ValueError(f"mask is not supported by PixelVAE (every pixel is observed), "
                             f"got a {type(mask).__name__}")
        if y is not None:
            raise ValueError("PixelVAE takes no labels, but y was given")
        X = check_array(X, name, ndim=(2, 3), dtype=self.dtype)
        check_magnitude(X, name)
        R, C = self.image_shape
        if X.shape[1:] not in ((R, C), (R * C,)):
            raise ValueError(f"{name} must have shape (N, {R}, {C}) or (N, {R * C}) for "
                             f"image_shape={self.image_shape}, got {X.shape}")
        if X.size and (X.min() < 0.0 or X.max() > 1.0):
            raise ValueError(f"{name} must hold pixel values in [0, 1] (Bernoulli decoder), got "
                             f"values in [{X.min():.4g}, {X.max():.4g}]")
        return X.reshape(X.shape[0], R, C), None, None

    def _images(self, batch: object, mask: object) -> np.ndarray:
        if isinstance(batch, (tuple, list)):
            raise TypeError(f"PixelVAE takes a batch X of images, got a {type(batch).__name__}")
        return self.check_inputs(batch, mask=mask)[0]

    # -- the pieces of the objective --------------------------------------------------------
    def _posterior(self, X: np.ndarray) -> tuple[DiagonalGaussian, np.ndarray]:
        return encoder_posterior(self.encoder.forward(X.reshape(X.shape[0], -1)))

    def _kl_terms(self, q: DiagonalGaussian) -> np.ndarray:
        """(N, L) KL terms: per dimension to N(0, I), or the delta-KL's chain-rule terms."""
        if self.alpha is None:
            return q.kl_standard_normal(per_dimension=True)
        return delta_kl(q, self.alpha, per_dimension=True)

    def _log_prior(self, z: np.ndarray) -> np.ndarray:
        """log p(z): z (..., N, L) -> (..., N)."""
        if self.alpha is None:
            return standard_normal_log_prob(z)
        return ar1_prior(self.alpha, self.latent_dim, z.shape[-2], self.dtype).log_prob(z)

    # -- training contract ------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Loss of a mini-batch X (module docstring).  ``eps``: the noise (N, L) to reuse
        (``self.last_eps``).  Parts: "loss", "reconstruction", "kl" (the batch-mean KL to the
        model's prior), "elbo", and "kl_free_bits" with free bits."""
        X = self._images(batch, mask)
        rng = self._need_noise(rng, eps)
        N = X.shape[0]
        q, inside = self._posterior(X)
        z = q.rsample(rng, eps=eps)
        self.last_eps = q.eps
        rec, dlogits = reconstruction_nll("bernoulli", self.decoder.forward(z, X), X, None,
                                          need_grad=True)
        kl_mean, term, dkl, extra = kl_loss_term(self._kl_terms(q), self.kl_weight,
                                                 self.free_bits)
        rec_mean = float(rec.mean())
        value = rec_mean + self.kl_weight * term
        self._pending = {"q": q, "inside": inside, "dlogits": dlogits / N, "dkl": dkl}
        return value, {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
                       "elbo": -(rec_mean + kl_mean), **extra}

    def backward(self) -> None:
        """Accumulate parameter gradients of the last :meth:`loss` (once per loss)."""
        p = self._take_pending()
        q, dz = p["q"], self.decoder.backward(p["dlogits"])
        if self.alpha is None:
            dmu, dlogvar = q.elbo_backward(dz, p["dkl"])
        else:
            dmu, dlogvar = delta_elbo_backward(q, self.alpha, dz, p["dkl"])
        dh = np.concatenate([dmu, dlogvar * p["inside"]], axis=1)
        self.encoder.backward(dh.astype(self.dtype, copy=False))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None) -> dict[str, np.ndarray]:
        """Per-example "loss" (reconstruction + kl_weight * kl; free bits, a batch-level term,
        left out), "reconstruction" (-log p(x | z), one z ~ q) and "kl", each (N,)."""
        X = self._images(batch, mask)
        rng = self._need_noise(rng, eps)
        q, _ = self._posterior(X)
        z = q.rsample(rng, eps=eps)
        rec, _ = reconstruction_nll("bernoulli", self.decoder.forward(z, X), X, None,
                                    need_grad=False)
        kl = self._kl_terms(q).sum(axis=1)
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    # -- inference --------------------------------------------------------------------------
    @inference_method
    def posterior(self, batch, *, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of q(z | x), each (N, L)."""
        q, _ = self._posterior(self._images(batch, mask))
        return q.mu, q.logvar

    @inference_method
    def kl_per_dimension(self, batch) -> np.ndarray:
        """(L,) batch-mean KL terms to the model's prior: per dimension to N(0, 1), or the
        delta-KL's chain-rule terms (what free bits act on).  Near 0: a collapsed dimension."""
        q, _ = self._posterior(self._images(batch, None))
        return self._kl_terms(q).mean(axis=0)

    @inference_method
    def iwae_bound(self, batch, k: int, rng: np.random.Generator | int) -> np.ndarray:
        """Per-example importance-weighted bound on log p(x), (N,) in nats (Burda et al. 2016):
        log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x), z_i ~ q.  k = 1 is an ELBO estimate
        (with the sampled, not the closed-form, KL); the bound rises towards log p(x) with k."""
        k = check_positive_int(k, "k")
        rng = check_rng(rng)
        X = self._images(batch, None)
        q, _ = self._posterior(X)
        log_w = []
        for _ in range(k):  # one decoder pass per sample: the row LSTM reads x itself
            z = q.sample(rng)
            rec, _ = reconstruction_nll("bernoulli", self.decoder.forward(z, X), X, None,
                                        need_grad=False)
            log_w.append(-rec + self._log_prior(z) - q.log_prob(z))
        return log_mean_exp(np.stack(log_w), axis=0)

    @inference_method
    def elbo(self, batch, rng: np.random.Generator | int) -> np.ndarray:
        """Per-example ELBO = log p(x | z) - KL(q || p) with one z ~ q and the KL in closed form
        (to the model's prior), (N,) in nats.  Minus it bounds -log p(x) from above."""
        terms = self.per_example_loss(batch, rng=check_rng(rng))
        return -(terms["reconstruction"] + terms["kl"])

    @inference_method
    def sample(self, n: int, rng: np.random.Generator | int, *,
               mean: bool = False) -> np.ndarray:
        """n images from the model: z ~ p(z), then the rows one by one (``mean=True``: each
        row's pixel probabilities, the rows fed on still drawn).  Returns (n, R, C)."""
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        if self.alpha is None:
            z = rng.standard_normal((n, self.latent_dim)).astype(self.dtype)
        else:
            z = ar1_prior(self.alpha, self.latent_dim, n, self.dtype).sample(rng)
        return self.decoder.sample(z, rng, mean_last=mean)
