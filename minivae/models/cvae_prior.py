"""Conditional VAE with a learned conditional prior (Sohn, Lee & Yan, 2015, "Learning structured
output representation using deep conditional generative models"), and the paper's deterministic
baseline.

Given an input c (the *condition*, e.g. one quadrant of a digit) the model generates an output x
(the other three quadrants) through a latent z:

    prior        p(z | c)    = N(mu_p, diag(exp(logvar_p))),  [mu_p, logvar_p] = prior_net(c)
    generation   p(x | z, c) from dec([z, c])
    recognition  q(z | x, c) = N(mu_q, diag(exp(logvar_q))),  [mu_q, logvar_q] = enc([x, c])

and is trained on the conditional ELBO

    log p(x | c) >= E_q[log p(x | z, c)] - KL(q(z | x, c) || p(z | c)),

the KL in closed form between two diagonal Gaussians
(:meth:`~minivae.objectives.distributions.DiagonalGaussian.kl`), its gradient flowing into the
recognition network *and* the prior network (:meth:`DiagonalGaussian.kl_grad`).  With
``prior="standard"`` the prior is N(0, I) whatever c is: the condition-blind CVAE of
:mod:`minivae.models.cvae`, kept as the comparison.

At test time the conditional log-likelihood is estimated by importance sampling with q as the
proposal (as the paper evaluates it, and as :mod:`minivae.objectives.iwae` does for p(x)):

    log p(x | c) ~ log (1/S) sum_s p(x | z_s, c) p(z_s | c) / q(z_s | x, c),  z_s ~ q(z | x, c).

:class:`ConditionalRegressor` is the paper's baseline "NN": an MLP c -> x trained with the
same likelihood, whose conditional log-likelihood is exact (no latent to integrate).

Batches are tuples ``(X, c)``: X (N, D) the targets, c (N, C) the conditions (real numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.models.base import (
    Model,
    check_hidden_sizes,
    inference_method,
    register_model,
    sample_chunks,
    tile_samples,
)
from minivae.models.vae import LIKELIHOODS, BaseVAE
from minivae.nn.functional import sigmoid
from minivae.nn.sequential import MLP
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.elbo import encoder_posterior
from minivae.objectives.losses import reconstruction_nll

PRIORS = ("learned", "standard")


def _check_condition_batch(X: np.ndarray, c: object, cond_dim: int, dtype: np.dtype,
                           name: str = "X", c_name: str = "c") -> np.ndarray:
    """The conditions c: (N, C) finite reals, one row per row of X; returned in ``dtype``.
    ``c_name``: the argument that carries them ("y" in ``check_inputs`` and ``fit``)."""
    if c is None:
        raise ValueError(f"this model needs the conditions: pass {c_name}=c, an array "
                         f"(N, {cond_dim})")
    c = check_array(c, c_name, shape=(None, cond_dim), dtype=dtype)
    if c.shape[0] != X.shape[0]:
        raise ValueError(f"{c_name} must have one row per example of {name}: {name} has "
                         f"{X.shape[0]} rows, {c_name} has {c.shape[0]}")
    return c


@register_model
class PriorCVAE(BaseVAE):
    """CVAE with a learned Gaussian prior network p(z | c) (Sohn et al., 2015).

    Args:
        input_dim: D, the size of the output x the model generates.
        cond_dim: C, the size of the condition c.
        hidden_sizes: hidden widths of the recognition network (the generation network mirrors
            them).
        latent_dim: L.
        prior: "learned" (prior network C-H...-2L) or "standard" (N(0, I): condition-blind).
        prior_hidden: hidden widths of the prior network (default: ``hidden_sizes``).
        beta: the KL weight (1: the conditional ELBO).
        likelihood, decoder_variance, activation, rng, dtype: as for
            :class:`~minivae.models.vae.VAE`.

    Shapes: X (N, D), c (N, C); recognition input (N, D + C), generation input (N, L + C),
    prior input (N, C).
    """

    def __init__(
        self,
        input_dim: int,
        cond_dim: int,
        hidden_sizes: list[int] | tuple[int, ...],
        latent_dim: int,
        *,
        prior: str = "learned",
        prior_hidden: list[int] | tuple[int, ...] | None = None,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        decoder_variance: float | None = None,
        activation: str = "relu",
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        self.cond_dim = check_positive_int(cond_dim, "cond_dim")
        rng = check_rng(rng)
        super().__init__(
            input_dim, hidden_sizes, latent_dim, cond_dim=self.cond_dim, beta=beta,
            likelihood=likelihood, decoder_variance=decoder_variance, activation=activation,
            free_bits=0.0, objective="elbo", k=1, rng=rng, dtype=dtype,
        )
        self.prior = prior
        self.prior_hidden = (list(self.hidden_sizes) if prior_hidden is None
                             else check_hidden_sizes(prior_hidden, "prior_hidden"))
        self.prior_net = (MLP([self.cond_dim, *self.prior_hidden, 2 * self.latent_dim],
                              activation=self.activation, rng=rng, dtype=self.dtype,
                              input_grad=False)
                          if prior == "learned" else None)

    def config(self) -> dict[str, Any]:
        common = self._common_config()
        for key in ("free_bits", "objective", "k"):  # fixed here: ELBO, no free bits
            common.pop(key)
        return {"input_dim": self.input_dim, "cond_dim": self.cond_dim, "prior": self.prior,
                "prior_hidden": list(self.prior_hidden), **common}

    # -- batches -------------------------------------------------------------------------------
    def check_inputs(self, X, *, mask=None, y=None, name="X"):
        """Validate X (N, D) and the conditions y = c (N, C): returns (X, mask, c)."""
        X, mask, _ = super().check_inputs(X, mask=mask, name=name)
        return X, mask, _check_condition_batch(X, y, self.cond_dim, self.dtype, name, "y")

    def make_batch(self, X: np.ndarray, y: object = None) -> tuple[np.ndarray, Any]:
        if y is None:
            raise ValueError("PriorCVAE needs the conditions: pass y=c, an array (N, C)")
        return (X, y)

    def _split_batch(self, batch, mask):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError("PriorCVAE takes a batch (X, c): X (N, D) targets and c (N, C) "
                            f"conditions; got {type(batch).__name__}")
        X, mask, _ = super().check_inputs(batch[0], mask=mask)
        return X, mask, _check_condition_batch(X, batch[1], self.cond_dim, self.dtype)

    # -- the prior ------------------------------------------------------------------------------
    def _prior(self, cond: np.ndarray) -> tuple[DiagonalGaussian, np.ndarray]:
        """p(z | c) and where its log-variance clamp passes gradients, each (N, L)."""
        if self.prior_net is None:
            zeros = np.zeros((cond.shape[0], self.latent_dim), dtype=self.dtype)
            return DiagonalGaussian(zeros, zeros.copy()), np.ones(zeros.shape, dtype=bool)
        return encoder_posterior(self.prior_net.forward(cond))

    # -- training contract ------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Negative conditional ELBO of a batch (X, c): mean_n [-log p(x | z, c) + beta KL(q(z |
        x, c) || p(z | c))] with one reparameterized z per example (``eps``: (N, L) to reuse).

        Returns (loss, parts) with "reconstruction", "kl", "elbo" (the unweighted bound)."""
        X, mask, cond = self._split_batch(batch, mask)
        rng = self._need_noise(rng, eps)
        q, inside_q = self._posterior(X, mask, cond)
        p, inside_p = self._prior(cond)
        z = q.rsample(rng, eps=eps)
        self.last_eps = q.eps
        rec, dout = self._nll(self._decode_out(z, cond), X, mask, need_grad=True)
        rec_mean, kl_mean = float(rec.mean()), float(q.kl(p).mean())
        value = rec_mean + self.kl_weight * kl_mean
        n = X.shape[0]
        self._pending = {"q": q, "p": p, "inside_q": inside_q, "inside_p": inside_p,
                         "dout": dout / n, "dkl": self.kl_weight / n}
        return value, {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
                       "elbo": -(rec_mean + kl_mean)}

    def backward(self) -> None:
        """Accumulate the gradients of the last :meth:`loss` into all three networks.

        The decoder's dz reaches (mu_q, logvar_q) through z = mu_q + sigma_q eps; the KL adds
        d KL / d(mu_q, logvar_q) to the recognition network and d KL / d(mu_p, logvar_p) to the
        prior network (nothing passes where a log-variance was clamped)."""
        pend = self._take_pending()
        q, p, dkl = pend["q"], pend["p"], pend["dkl"]
        dz = self._decoder_backward(pend["dout"])
        dmu_q, dlogvar_q = q.rsample_backward(dz)
        kmu_q, klogvar_q, kmu_p, klogvar_p = q.kl_grad(p)
        dh_q = np.concatenate([dmu_q + dkl * kmu_q,
                               (dlogvar_q + dkl * klogvar_q) * pend["inside_q"]], axis=1)
        self.encoder.backward(dh_q.astype(self.dtype, copy=False))
        if self.prior_net is not None:
            dh_p = np.concatenate([dkl * kmu_p, dkl * klogvar_p * pend["inside_p"]], axis=1)
            self.prior_net.backward(dh_p.astype(self.dtype, copy=False))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None) -> dict[str, np.ndarray]:
        """Per-example "loss" (reconstruction + kl_weight * kl), "reconstruction" (one sample)
        and "kl" (closed form, to p(z | c)), each (N,)."""
        self._pending = None
        X, mask, cond = self._split_batch(batch, mask)
        rng = self._need_noise(rng, eps)
        q, _ = self._posterior(X, mask, cond)
        p, _ = self._prior(cond)
        z = q.sample(rng) if eps is None else q.rsample(None, eps=eps)
        rec, _ = self._nll(self._decode_out(z, cond), X, mask, need_grad=False)
        kl = q.kl(p)
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    # -- evaluation ------------------------------------------------------------------------------
    def _log_weights(self, X, mask, cond, k: int, rng: np.random.Generator):
        """log w_s = log p(x | z_s, c) + log p(z_s | c) - log q(z_s | x, c), z_s ~ q: (k, N),
        with the reconstruction terms (k, N) and q (used by ``iwae_bound``, ``elbo``)."""
        q, _ = self._posterior(X, mask, cond)
        p, _ = self._prior(cond)
        n = X.shape[0]
        log_w, recs = [], []
        for kc in sample_chunks(k, n * self._decoder_out_dim()):
            z = q.sample(rng, n_samples=kc)  # (kc, N, L)
            out = self._decode_out(z.reshape(kc * n, self.latent_dim), tile_samples(cond, kc))
            rec, _ = self._nll(out, tile_samples(X, kc), tile_samples(mask, kc), need_grad=False)
            rec = rec.reshape(kc, n)
            log_w.append(-rec + p.log_prob(z) - q.log_prob(z))
            recs.append(rec)
        return np.concatenate(log_w, axis=0), np.concatenate(recs, axis=0), q

    @inference_method
    def elbo(self, batch, rng: np.random.Generator | int, n_samples: int = 1, *,
             mask: np.ndarray | None = None) -> np.ndarray:
        """Per-example conditional ELBO E_q[log p(x | z, c)] - KL(q(z | x, c) || p(z | c)), the
        expectation from ``n_samples`` draws: (N,) nats (higher is better)."""
        self._pending = None
        n_samples = check_positive_int(n_samples, "n_samples")
        X, mask, cond = self._split_batch(batch, mask)
        _, rec, q = self._log_weights(X, mask, cond, n_samples, check_rng(rng))
        return -rec.mean(axis=0) - q.kl(self._prior(cond)[0])

    def conditional_log_likelihood(self, X: np.ndarray, c: object, k: int = 100, *,
                                   rng: np.random.Generator | int) -> np.ndarray:
        """Importance-sampled log p(x | c) per example (N,) with k samples of q (a slight
        underestimate on average, tightening as k grows)."""
        return self.iwae_bound((X, c), k, rng)

    def kl_per_dimension(self, batch, *, mask: np.ndarray | None = None) -> np.ndarray:
        """Mean over examples of KL(q(z_l | x, c) || p(z_l | c)) per latent dimension: (L,)."""
        X, mask, cond = self._split_batch(batch, mask)
        q, _ = self._posterior(X, mask, cond)
        p, _ = self._prior(cond)
        terms = 0.5 * (p.logvar - q.logvar + (q.variance + (q.mu - p.mu) ** 2) / p.variance - 1)
        return terms.mean(axis=0)

    # -- public inference --------------------------------------------------------------------
    def encode(self, X: np.ndarray, c: object, *, mask: np.ndarray | None = None):
        """(X (N, D), c (N, C)) -> (mu, logvar) of q(z | x, c), each (N, L)."""
        return self.posterior((X, c), mask=mask)

    @inference_method
    def prior_params(self, c: object) -> tuple[np.ndarray, np.ndarray]:
        """c (N, C) -> (mu, logvar) of p(z | c), each (N, L)."""
        cond = check_array(c, "c", shape=(None, self.cond_dim), dtype=self.dtype)
        p, _ = self._prior(cond)
        return p.mu, p.logvar

    @inference_method
    def decode(self, z: np.ndarray, c: object) -> np.ndarray:
        """(z (N, L), c (N, C)) -> E[x | z, c] (N, D)."""
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        cond = _check_condition_batch(z, c, self.cond_dim, self.dtype, name="z")
        return self._output_mean(self._decode_out(z, cond))

    def reconstruct(self, X: np.ndarray, c: object, rng: np.random.Generator | int | None = None,
                    *, mask: np.ndarray | None = None) -> np.ndarray:
        """decode(z, c) with z = mu(x, c), or z ~ q(z | x, c) when ``rng`` is given: (N, D)."""
        X, mask, cond = self._split_batch((X, c), mask)
        return self._reconstruct(X, mask, cond, rng)

    def sample(self, c: object, rng: np.random.Generator | int, *, mean: bool = True
               ) -> np.ndarray:
        """One generated x per condition: z ~ p(z | c), then E[x | z, c] (``mean=True``) or
        x ~ p(x | z, c).  c: (n, C) -> (n, D)."""
        cond = check_array(c, "c", shape=(None, self.cond_dim), dtype=self.dtype)
        return self._generate(cond, cond.shape[0], rng, mean)

    @inference_method
    def _generate(self, cond: np.ndarray, n: int, rng, mean: bool) -> np.ndarray:
        rng = check_rng(rng)
        p, _ = self._prior(cond)
        z = p.sample(rng).astype(self.dtype, copy=False)
        out = self._decode_out(z, cond)
        return self._output_mean(out) if mean else self._sample_x(out, rng)


@register_model
class ConditionalRegressor(Model):
    """The deterministic baseline of Sohn et al. (their "NN"): an MLP c -> the parameters of
    p(x | c) (Bernoulli logits, or a Gaussian mean), trained on -log p(x | c).

    Args:
        input_dim: D, the size of x; cond_dim: C, the size of c; hidden_sizes: MLP widths;
        likelihood: "bernoulli" or "gaussian" (then ``decoder_variance``, default 1, fixes the
        variance); activation, rng, dtype: as for the VAE.

    Batches are (X (N, D), c (N, C)); the conditional log-likelihood is exact.
    """

    input_ndim = (2,)

    def __init__(self, input_dim: int, cond_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 *, likelihood: str = "bernoulli", decoder_variance: float | None = None,
                 activation: str = "relu", rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.cond_dim = check_positive_int(cond_dim, "cond_dim")
        self.hidden_sizes = check_hidden_sizes(hidden_sizes)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if decoder_variance is not None and likelihood != "gaussian":
            raise ValueError("decoder_variance only applies to likelihood='gaussian', got "
                             f"decoder_variance={decoder_variance!r} with {likelihood=}")
        self.likelihood = likelihood
        self.decoder_variance = (None if likelihood == "bernoulli" else 1.0
                                 if decoder_variance is None else
                                 check_scalar(decoder_variance, "decoder_variance", low=0.0,
                                              low_inclusive=False))
        self.activation = str(activation)
        self.net = MLP([self.cond_dim, *self.hidden_sizes, self.input_dim],
                       activation=self.activation, rng=check_rng(rng), dtype=self.dtype,
                       input_grad=False)

    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "cond_dim": self.cond_dim,
                "hidden_sizes": list(self.hidden_sizes), "likelihood": self.likelihood,
                "decoder_variance": self.decoder_variance, "activation": self.activation,
                "dtype": self.dtype.name}

    def check_inputs(self, X, *, mask=None, y=None, name="X"):
        X, mask, _ = super().check_inputs(X, mask=mask, name=name)
        return X, mask, _check_condition_batch(X, y, self.cond_dim, self.dtype, name, "y")

    def make_batch(self, X: np.ndarray, y: object = None) -> tuple[np.ndarray, Any]:
        if y is None:
            raise ValueError("ConditionalRegressor needs the conditions: pass y=c (N, C)")
        return (X, y)

    def _split_batch(self, batch, mask):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError("ConditionalRegressor takes a batch (X, c): X (N, D) and c (N, C); "
                            f"got {type(batch).__name__}")
        X, mask, _ = super().check_inputs(batch[0], mask=mask)
        return X, mask, _check_condition_batch(X, batch[1], self.cond_dim, self.dtype)

    def posterior(self, batch, *, mask=None) -> None:
        """None: the baseline has no latent (the batch (X, c) is still validated)."""
        self._split_batch(batch, mask)
        return None

    def _nll(self, X, mask, cond, need_grad: bool):
        out = self.net.forward(cond)
        return reconstruction_nll(self.likelihood, out, X, mask, need_grad=need_grad,
                                  variance=self.decoder_variance)

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """mean_n -log p(x_n | c_n); deterministic (``rng``/``eps`` accepted and ignored)."""
        self._ignored_noise(rng, eps)
        X, mask, cond = self._split_batch(batch, mask)
        rec, dout = self._nll(X, mask, cond, need_grad=True)
        self._pending = {"dout": dout / X.shape[0]}
        value = float(rec.mean())
        return value, {"loss": value, "reconstruction": value}

    def backward(self) -> None:
        self.net.backward(self._take_pending()["dout"].astype(self.dtype, copy=False))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None) -> dict[str, np.ndarray]:
        """Per-example "loss" = "reconstruction" = -log p(x | c), (N,)."""
        self._ignored_noise(rng, eps)
        X, mask, cond = self._split_batch(batch, mask)
        rec, _ = self._nll(X, mask, cond, need_grad=False)
        return {"loss": rec, "reconstruction": rec}

    def conditional_log_likelihood(self, X: np.ndarray, c: object) -> np.ndarray:
        """Exact log p(x | c) per example, (N,)."""
        return -self.per_example_loss((X, c))["loss"]

    @inference_method
    def predict(self, c: object) -> np.ndarray:
        """E[x | c] (N, D): pixel probabilities (Bernoulli) or the Gaussian mean."""
        cond = check_array(c, "c", shape=(None, self.cond_dim), dtype=self.dtype)
        out = self.net.forward(cond)
        return sigmoid(out).astype(self.dtype) if self.likelihood == "bernoulli" else out
