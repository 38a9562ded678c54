r"""The information-theoretic-learning autoencoder (ITL-AE; Santana, Emigh & Principe,
"Information theoretic-learning auto-encoder", IJCNN 2016): a deterministic autoencoder whose
codes are pulled towards a chosen prior by a divergence estimated from samples.

    X: (N, D) --encoder--> z: (N, L) --decoder--> reconstruction: (N, D)
    z_p: (M, L) drawn from the prior (Gaussian, Laplace, 2-D swiss roll)

    loss = mean_n reconstruction_nll(x_n) + lambda * D(z, z_p; sigma)

with D the Cauchy-Schwarz or Euclidean divergence between the Parzen estimates (bandwidth sigma)
of the codes and of the prior samples (:mod:`minivae.information.kde`).  Unlike the VAE there is
no posterior and no reparameterization: the code is a deterministic function of x, and the
regulariser needs only *samples* of the prior, never its density, so any prior one can sample
(such as the swiss roll) can be imposed.  The gradient reaches the encoder through the codes:
dD/dz (:func:`~minivae.information.kde.cs_divergence_grad`) is added to what the decoder sends
back.

The prior samples are the noise of a pass: they are drawn from ``rng`` and kept in
``last_eps``; ``loss(batch, eps=model.last_eps)`` replays the same pass (a gradient check
perturbs a weight and sees the same prior samples).  lambda is the model's ``beta`` (so a KL
schedule of :func:`~minivae.train.loop.fit` anneals it through ``kl_weight``).
:meth:`per_example_loss` returns the reconstruction only: the divergence is a property of the
whole batch of codes, not of one example.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_scalar
from minivae.information import kde
from minivae.models.autoencoder import Autoencoder
from minivae.models.base import register_model
from minivae.objectives.losses import fill_missing, reconstruction_nll
from minivae.objectives.priors import make_prior

#: divergence name -> (value, gradient) of :mod:`minivae.information.kde`
DIVERGENCES = {
    "cs": (kde.cs_divergence, kde.cs_divergence_grad),
    "euclidean": (kde.euclidean_divergence, kde.euclidean_divergence_grad),
}


@register_model
class ITLAutoencoder(Autoencoder):
    """Autoencoder regularised by a KDE divergence between its codes and prior samples.

    Args:
        input_dim, hidden_sizes, latent_dim, activation, output, rng, dtype: as for
            :class:`~minivae.models.autoencoder.Autoencoder`.
        divergence: "cs" (Cauchy-Schwarz, the default) or "euclidean".
        prior: "gaussian", "laplace" or "swiss_roll" (2-D only); see
            :mod:`minivae.objectives.priors`.
        prior_kwargs: extra arguments of the prior (``scale``, ``noise``, ...).
        sigma: Parzen bandwidth of the divergence estimate (in code units).
        lam: weight lambda of the divergence (stored as ``beta``).
        prior_samples: M, prior samples per batch; ``None`` = as many as the batch has codes.

    Shapes: X: (N, D) -> z: (N, L) -> reconstruction: (N, D); prior samples (M, L).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: list[int] | tuple[int, ...],
        latent_dim: int,
        *,
        divergence: str = "cs",
        prior: str = "gaussian",
        prior_kwargs: dict[str, Any] | None = None,
        sigma: float = 0.5,
        lam: float = 1.0,
        prior_samples: int | None = None,
        activation: str = "relu",
        output: str = "bernoulli",
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        super().__init__(input_dim, hidden_sizes, latent_dim, activation=activation,
                         output=output, rng=rng, dtype=dtype)
        if divergence not in DIVERGENCES:
            raise ValueError(f"divergence must be one of {sorted(DIVERGENCES)}, got "
                             f"{divergence!r}")
        self.divergence = divergence
        if prior_kwargs is not None and not isinstance(prior_kwargs, dict):
            raise TypeError(f"prior_kwargs must be a dict of prior arguments (e.g. "
                            f"{{'scale': 2.0}}) or None, got {type(prior_kwargs).__name__}")
        self.prior = make_prior(prior, self.latent_dim, **dict(prior_kwargs or {}))
        self.sigma = check_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
        self.beta = check_scalar(lam, "lam", low=0.0)
        self.kl_weight = self.beta
        self.prior_samples = (None if prior_samples is None
                              else check_positive_int(prior_samples, "prior_samples"))

    def config(self) -> dict[str, Any]:
        prior = self.prior.config()
        name = prior.pop("name")
        prior.pop("dim")
        return {**super().config(), "divergence": self.divergence, "prior": name,
                "prior_kwargs": prior, "sigma": self.sigma, "lam": self.beta,
                "prior_samples": self.prior_samples}

    def _prior_draw(self, n: int, rng: object, eps: object) -> np.ndarray:
        """The prior samples of this pass: ``eps`` replayed, or M fresh draws from ``rng``."""
        rng = self._need_noise(rng, eps)
        if rng is not None:
            return self.prior.sample(self.prior_samples or n, rng)
        return check_array(eps, "eps", shape=(None, self.latent_dim), dtype=np.float64)

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Reconstruction (mean over the batch) + lambda * D(codes, prior samples)."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        z_prior = self._prior_draw(X.shape[0], rng, eps)
        z = self.encoder.forward(fill_missing(X, mask))
        rec, dout = reconstruction_nll(self.output, self.decoder.forward(z), X, mask,
                                       need_grad=True)
        value_fn, grad_fn = DIVERGENCES[self.divergence]
        # The estimate runs in float64 whatever the model dtype (logs of sums of kernels).
        zd = z.astype(np.float64)
        div = value_fn(zd, z_prior, self.sigma)
        dz_div, _ = grad_fn(zd, z_prior, self.sigma)
        n = X.shape[0]
        self.last_eps = z_prior
        self._pending = {"dout": dout / n,
                         "dz": (self.kl_weight * dz_div).astype(self.dtype, copy=False)}
        recon = float(rec.mean())
        value = recon + self.kl_weight * div
        return value, {"loss": value, "reconstruction": recon, "kl": 0.0, "divergence": div}

    def backward(self) -> None:
        pending = self._take_pending()
        dz = self.decoder.backward(pending["dout"])
        self.encoder.backward(dz + pending["dz"])
