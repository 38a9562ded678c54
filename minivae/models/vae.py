"""The variational autoencoder (Kingma & Welling, 2014) with an MLP encoder and decoder.

Generative model and approximate posterior::

    p(z) = N(0, I)                 p(x | z) = Bernoulli(logits = dec(z))   or   N(dec(z), var)
    q(z | x) = N(mu(x), diag(exp(logvar(x))))      [mu, logvar] = enc(x), split in two halves

Shapes: X: (N, D), z: (N, L); the encoder ends with 2L outputs, the decoder with D (Bernoulli
logits, or the Gaussian mean with a fixed variance) or 2D (Gaussian mean and a learned per-pixel
log-variance).

Objectives (per example; the loss is their mean over the batch):

* ``objective="elbo"``: loss = -log p(x | z) + beta * KL(q(z|x) || p(z)), with z = mu + sigma *
  eps one reparameterized sample and the KL in closed form.  beta = 1 is the negative ELBO, beta
  != 1 a beta-VAE (Higgins et al., 2017).  With ``free_bits = lambda > 0`` the KL term becomes
  sum_l max(lambda, batch-mean KL_l) (Kingma et al., 2016; see
  :func:`minivae.objectives.kl.free_bits_kl`).
* ``objective="iwae"`` (Burda et al., 2016): loss = -log (1/k) sum_i w_i with k samples z_i and
  log w_i = log p(x | z_i) + beta * (log p(z_i) - log q(z_i | x)).  Its gradient is
  sum_i w~_i * grad(-log w_i), w~ = softmax(log w) the normalized importance weights, each
  grad(log w_i) taken through the reparameterized z_i.  beta = 1 gives the true IWAE bound.

* ``objective="elbo_stl"``, ``"iwae_stl"``, ``"iwae_dreg"``: the same bounds (the ELBO estimated
  by the k samples' average of log w) with the path-derivative gradient estimators STL (Roeder
  et al., 2017) and DReG (Tucker et al., 2019): :mod:`minivae.objectives.path_gradients`.
* ``objective="vr"`` (alpha, default 0.5) and ``"vr_max"``: the variational Renyi bound
  (Li & Turner, 2016) of k samples, :mod:`minivae.objectives.renyi`.
* ``objective="infovae"`` (alpha, default 0; mmd_lambda, default 100) and ``"wae"``
  (mmd_lambda, default 10): the MMD between the batch of codes and N prior draws replaces or
  joins the KL, :mod:`minivae.objectives.infovae` and :mod:`minivae.objectives.wae`.

Posterior families (``posterior=``, :mod:`minivae.objectives.posteriors`): "gaussian" (the
above, default), "rho" (rho-VAE, AR(1) covariance), "iaf" (inverse autoregressive flow), "vmf"
(von Mises-Fisher, uniform prior on the sphere).  The encoder ends with the family's width, and
the loss, its backward, the bounds, sampling and reconstruction ask the family for q, its KL to
its prior and the prior; families other than "gaussian" train with the ELBO (no free bits).

Every objective is the library's own (:mod:`minivae.objectives`): this module runs the networks
around them.

The shared machinery lives in :class:`BaseVAE`, which :class:`VAE` and the conditional
:class:`~minivae.models.cvae.CVAE` specialise (the CVAE appends a one-hot label to the inputs of
both networks).
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
from minivae.models.objective_choice import (
    MMD_OBJECTIVES,
    SAMPLED_BACKWARD,
    bound_alpha,
    kl_factor,
    mmd_objective,
    objective_options,
    sampled_objective,
)
from minivae.nn.functional import log_mean_exp, sigmoid
from minivae.nn.sequential import MLP
from minivae.objectives.distributions import clamp_logvar
from minivae.objectives.elbo import negative_elbo
from minivae.objectives.iwae import iwae_log_weights
from minivae.objectives.losses import fill_missing, reconstruction_nll
from minivae.objectives.posteriors import (
    build_posterior,
    check_posterior_name,
    family_log_weights,
    family_negative_elbo,
)
from minivae.objectives.renyi import renyi_bound
from minivae.train.diagnostics import kl_per_dimension_mean

LIKELIHOODS = ("bernoulli", "gaussian")


class BaseVAE(Model):
    """Gaussian-latent MLP VAE machinery, optionally conditioned on a vector ``cond`` (N, C)
    appended to the encoder input and to the decoder input (C = 0: an ordinary VAE).

    Not registered or meant to be built directly: use :class:`VAE` or ``CVAE``.
    """

    input_ndim = (2,)

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: list[int] | tuple[int, ...],
        latent_dim: int,
        *,
        cond_dim: int,
        beta: float,
        likelihood: str,
        decoder_variance: float | None,
        activation: str,
        free_bits: float,
        objective: str,
        k: int,
        rng: np.random.Generator | int,
        dtype: object,
        alpha: float | None = None,
        mmd_lambda: float | None = None,
        kernel: str | None = None,
        posterior: str = "gaussian",
    ) -> None:
        super().__init__(dtype)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_sizes = check_hidden_sizes(hidden_sizes)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self._cond_dim = check_positive_int(cond_dim, "cond_dim", minimum=0)
        self.beta = check_scalar(beta, "beta", low=0.0)
        self.kl_weight = self.beta
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        if decoder_variance is not None:
            if likelihood != "gaussian":
                raise ValueError(
                    "decoder_variance only applies to likelihood='gaussian' "
                    f"(got decoder_variance={decoder_variance!r} with likelihood={likelihood!r})"
                )
            decoder_variance = check_scalar(decoder_variance, "decoder_variance", low=0.0,
                                            low_inclusive=False)
        self.decoder_variance = decoder_variance
        self.activation = str(activation)
        self.free_bits = free_bits
        self.options = objective_options(objective, alpha, mmd_lambda, kernel, self.latent_dim)
        self.objective = objective
        self.k = check_positive_int(k, "k")
        if objective != "elbo" and self.free_bits > 0:
            raise ValueError(
                "free_bits > 0 is defined for the ELBO objective only; use objective='elbo' "
                f"or free_bits=0 (got free_bits={self.free_bits}, objective={objective!r})"
            )
        rng = check_rng(rng)
        self._check_family(posterior, rng)  # before the networks: "gaussian" draws nothing
        D, L, C = self.input_dim, self.latent_dim, self._cond_dim
        # The encoder reads data (and labels): its backward need not compute d(loss)/d(input),
        # which saves a product as large as its first layer's forward pass.
        self.encoder = MLP([D + C, *self.hidden_sizes, self.q_family.width],
                           activation=self.activation,
                           rng=rng, dtype=self.dtype, input_grad=False)
        self.decoder = MLP([L + C, *self.hidden_sizes[::-1], self._decoder_out_dim()],
                           activation=self.activation, rng=rng, dtype=self.dtype)

    def _check_family(self, posterior: str, rng: np.random.Generator) -> None:
        """Build the posterior family (:mod:`minivae.objectives.posteriors`) and check that it
        offers the chosen objective (non-Gaussian families: the ELBO, without free bits)."""
        self.posterior_name = check_posterior_name(posterior)
        self.q_family = build_posterior(posterior, self.latent_dim, rng=rng, dtype=self.dtype)
        offered = self.q_family.objectives
        if offered is not None and self.objective not in offered:
            raise ValueError(f"posterior={posterior!r} offers objective in {offered}, got "
                             f"objective={self.objective!r}")
        if posterior != "gaussian" and self.free_bits > 0:
            raise ValueError(f"free_bits > 0 needs per-dimension KLs: posterior='gaussian' only "
                             f"(got free_bits={self.free_bits}, posterior={posterior!r})")

    @property
    def learned_variance(self) -> bool:
        """True when the decoder outputs a per-pixel log-variance (Gaussian, no fixed variance)."""
        return self.likelihood == "gaussian" and self.decoder_variance is None

    def _decoder_out_dim(self) -> int:
        return 2 * self.input_dim if self.learned_variance else self.input_dim

    def _common_config(self) -> dict[str, Any]:
        return {
            "hidden_sizes": list(self.hidden_sizes),
            "latent_dim": self.latent_dim,
            "beta": self.beta,
            "likelihood": self.likelihood,
            "decoder_variance": self.decoder_variance,
            "activation": self.activation,
            "free_bits": self.free_bits,
            "objective": self.objective,
            "k": self.k,
            **{name: v for name, v in self.options.items() if name != "bandwidth"},
            "dtype": self.dtype.name,
        }

    # -- batches (subclasses say how labels are read) -----------------------------------------
    def _split_batch(
        self, batch: Any, mask: object
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """batch -> (X (N, D), mask or None, cond (N, C) or None), all validated."""
        raise NotImplementedError  # pragma: no cover - interface

    # -- networks ----------------------------------------------------------------------------
    def _posterior(self, X: np.ndarray, mask: np.ndarray | None, cond: np.ndarray | None):
        """Encoder pass -> (q, inside): q(z | x) with clamped logvar, and where the clamp lets
        gradients through (N, L) (:func:`~minivae.objectives.elbo.encoder_posterior`)."""
        inp = fill_missing(X, mask)
        if cond is not None:
            inp = np.concatenate([inp, cond], axis=1)
        return self.q_family.make(self.encoder.forward(inp))

    def _decode_out(self, z: np.ndarray, cond: np.ndarray | None) -> np.ndarray:
        """Decoder pass: z (M, L) [+ cond (M, C)] -> raw output (M, D or 2D)."""
        inp = z if cond is None else np.concatenate([z, cond], axis=1)
        return self.decoder.forward(inp.astype(self.dtype, copy=False))

    def _decoder_backward(self, dout: np.ndarray) -> np.ndarray:
        """Backprop through the decoder; returns d/dz (M, L) (the label part is dropped)."""
        return self.decoder.backward(dout)[:, : self.latent_dim]

    def _output_mean(self, out: np.ndarray) -> np.ndarray:
        """Decoder output -> E[x | z]: probabilities (Bernoulli) or the Gaussian mean."""
        if self.likelihood == "bernoulli":
            return sigmoid(out).astype(self.dtype, copy=False)
        return out[:, : self.input_dim]

    def _nll(self, out: np.ndarray, X: np.ndarray, mask: np.ndarray | None, need_grad: bool):
        """Per-example -log p(x | z) (M,) and, if ``need_grad``, d(sum)/d(out) (M, out_dim)."""
        return reconstruction_nll(self.likelihood, out, X, mask, need_grad=need_grad,
                                  variance=self.decoder_variance)

    # -- training contract ------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Training objective on a mini-batch (see the module docstring).

        Args:
            batch: X (N, D) for a VAE, (X, y) for a CVAE.
            rng: generator or seed for the noise; ignored when ``eps`` is given.
            eps: noise to reuse (``self.last_eps``): (N, L) for the ELBO, (k, N, L) for the
                k-sample objectives, the pair (eps (N, L), prior draws (N, L)) for InfoVAE / WAE.
            mask: (N, D) boolean, True = observed; missing entries (may be NaN) are ignored.

        Returns:
            (loss, parts) with parts "loss", "reconstruction" (mean -log p(x|z)), "kl" (mean
            analytic KL), "elbo" (-(reconstruction + kl)); IWAE (and STL, DReG) adds
            "iwae_bound", VR "vr_bound", InfoVAE and WAE "mmd".
        """
        X, mask, cond = self._split_batch(batch, mask)
        rng = self._need_noise(rng, eps)
        if self.objective in SAMPLED_BACKWARD:
            return self._iwae_loss(X, mask, cond, rng, eps)
        if self.objective in MMD_OBJECTIVES:
            return self._mmd_loss(X, mask, cond, rng, eps)
        return self._elbo_loss(X, mask, cond, rng, eps)

    def _elbo_loss(self, X, mask, cond, rng, eps):
        q, inside = self._posterior(X, mask, cond)
        z = q.rsample(rng, eps=eps)
        self.last_eps = q.eps
        rec, dout = self._nll(self._decode_out(z, cond), X, mask, need_grad=True)
        if self.posterior_name == "gaussian":
            value, parts, dkl = negative_elbo(rec, q, self.kl_weight, self.free_bits)
        else:  # the family's KL to its prior (closed form, or estimated at this z)
            value, parts, dkl = family_negative_elbo(rec, self.q_family.kl(q), self.kl_weight)
        self._pending = {"kind": "elbo", "q": q, "inside": inside, "dout": dout / X.shape[0],
                         "dkl": dkl}
        return value, parts

    def _iwae_loss(self, X, mask, cond, rng, eps):
        n, k, L = X.shape[0], self.k, self.latent_dim
        q, inside = self._posterior(X, mask, cond)
        z = q.rsample(rng, n_samples=k, eps=eps)  # (k, N, L)
        self.last_eps = q.eps
        out = self._decode_out(z.reshape(k * n, L), tile_samples(cond, k))
        rec, dout = self._nll(out, tile_samples(X, k), tile_samples(mask, k), need_grad=True)
        value, parts, g = self._sampled_objective(rec.reshape(k, n), z, q)
        self._pending = {"kind": "sampled", "q": q, "z": z, "inside": inside, "g": g,
                         "dout": dout * g.reshape(k * n, 1)}
        return value, parts

    def _sampled_objective(self, rec: np.ndarray, z: np.ndarray, q):
        """(value, parts, g) of a k-sample objective: rec (k, N), z (k, N, L)."""
        return sampled_objective(self.objective, self.options, rec, z, q, self.kl_weight)

    def _mmd_loss(self, X, mask, cond, rng, eps):
        """InfoVAE / WAE: one code per example and as many prior draws; the noise to replay is
        the pair (eps (N, L), prior draws (N, L))."""
        if eps is not None and not (isinstance(eps, tuple) and len(eps) == 2):
            raise TypeError(f"eps of objective={self.objective!r} must be the pair (eps, "
                            f"prior draws) that model.last_eps holds, got {type(eps).__name__}")
        q, inside = self._posterior(X, mask, cond)
        z = q.rsample(rng, eps=None if eps is None else eps[0])
        prior_z = (rng.standard_normal(z.shape).astype(self.dtype, copy=False) if eps is None
                   else check_array(eps[1], "eps[1]", shape=z.shape, dtype=self.dtype))
        self.last_eps = (q.eps, prior_z)
        rec, dout = self._nll(self._decode_out(z, cond), X, mask, need_grad=True)
        value, parts, dkl, dz = mmd_objective(self.objective, self.options, rec, q, z, prior_z,
                                              self.kl_weight)
        self._pending = {"kind": "elbo", "q": q, "inside": inside, "dout": dout / X.shape[0],
                         "dkl": dkl, "dz_extra": dz}
        return value, parts

    def backward(self) -> None:
        """Accumulate parameter gradients of the last :meth:`loss` (call it once per loss)."""
        p = self._take_pending()
        dz = self._decoder_backward(p["dout"])
        if p["kind"] == "elbo":  # also InfoVAE / WAE, whose MMD adds its own d/dz
            dz = dz + p.get("dz_extra", 0.0)
            dh = self.q_family.backward(p["q"], p["inside"], dz, p["dkl"])
        else:
            z = p["z"]
            dh = SAMPLED_BACKWARD[self.objective](p["q"], p["inside"], z, dz.reshape(z.shape),
                                                  p["g"], self.kl_weight)
        self.encoder.backward(dh.astype(self.dtype, copy=False))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None) -> dict[str, np.ndarray]:
        """Per-example terms of the training objective, no gradient bookkeeping.

        Returns "loss", "reconstruction" (-log p(x|z), averaged over the k samples of the
        k-sample objectives), "kl" (analytic), each (N,).  Batch-level terms are not per-example
        quantities and are left out: free bits ("loss" = reconstruction + kl_weight * kl for the
        ELBO) and the MMD of InfoVAE ("loss" = reconstruction + (1 - alpha) kl_weight * kl) and
        WAE ("loss" = reconstruction).  k-sample objectives give minus their bound, L_alpha with
        alpha = 0 (IWAE and its estimators), the VR alpha, -inf (VR-max) or 1 (ELBO-STL).
        """
        self._pending = None  # this pass overwrites the layer caches backward() would need
        X, mask, cond = self._split_batch(batch, mask)
        rng = self._need_noise(rng, eps)
        if isinstance(eps, tuple):  # the MMD objectives' (eps, prior draws)
            eps = eps[0]
        n = X.shape[0]
        q, _ = self._posterior(X, mask, cond)
        k = self.k if self.objective in SAMPLED_BACKWARD else None
        # rsample keeps the noise: a sampled KL (IAF) is estimated at this very z
        z = q.rsample(rng if eps is None else None, n_samples=k, eps=eps)
        kl = self.q_family.kl(q)
        if k is None:
            rec, _ = self._nll(self._decode_out(z, cond), X, mask, need_grad=False)
            return {"loss": rec + self._kl_factor() * kl, "reconstruction": rec, "kl": kl}
        out = self._decode_out(z.reshape(k * n, self.latent_dim), tile_samples(cond, k))
        rec_k, _ = self._nll(out, tile_samples(X, k), tile_samples(mask, k), need_grad=False)
        rec_k = rec_k.reshape(k, n)
        alpha = bound_alpha(self.objective, self.options)
        loss = -renyi_bound(iwae_log_weights(rec_k, z, q, self.kl_weight), alpha)
        return {"loss": loss, "reconstruction": rec_k.mean(axis=0), "kl": kl}

    def _kl_factor(self) -> float:
        """The weight of the per-example KL in the loss of a one-sample objective."""
        return kl_factor(self.objective, self.options, self.kl_weight)

    @inference_method
    def posterior(self, batch, *, mask=None) -> tuple[np.ndarray, np.ndarray] | None:
        """(mu, logvar) of q(z | x), each (N, L): the per-dimension Gaussian marginals ("rho":
        logvar repeated over L); None for a family without them ("iaf")."""
        self._pending = None
        X, mask, cond = self._split_batch(batch, mask)
        q, _ = self._posterior(X, mask, cond)
        return self.q_family.summary(q)

    # -- evaluation ----------------------------------------------------------------------------
    def _log_weights(self, X, mask, cond, k: int, rng: np.random.Generator):
        """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) for k samples: (k, N), plus the
        reconstruction terms -log p(x|z_i) (k, N).  Decodes in chunks of samples."""
        n = X.shape[0]
        q, _ = self._posterior(X, mask, cond)
        log_w, recs = [], []
        for kc in sample_chunks(k, n * self._decoder_out_dim()):
            z = q.sample(rng, n_samples=kc)  # (kc, N, L)
            out = self._decode_out(z.reshape(kc * n, self.latent_dim), tile_samples(cond, kc))
            rec, _ = self._nll(out, tile_samples(X, kc), tile_samples(mask, kc), need_grad=False)
            rec = rec.reshape(kc, n)
            log_w.append(iwae_log_weights(rec, z, q) if self.posterior_name == "gaussian"
                         else family_log_weights(self.q_family, rec, z, q))
            recs.append(rec)
        return np.concatenate(log_w, axis=0), np.concatenate(recs, axis=0), q

    @inference_method
    def elbo(self, batch, rng: np.random.Generator | int, n_samples: int = 1, *,
             mask: np.ndarray | None = None) -> np.ndarray:
        """Per-example ELBO = E_q[log p(x|z)] - KL(q || p), the expectation estimated with
        ``n_samples`` draws and the KL in closed form.  Returns (N,), in nats (higher is better).
        """
        self._pending = None
        n_samples = check_positive_int(n_samples, "n_samples")
        X, mask, cond = self._split_batch(batch, mask)
        log_w, rec, q = self._log_weights(X, mask, cond, n_samples, check_rng(rng))
        if not self.q_family.analytic_kl:  # no closed-form KL: the mean of log w estimates it
            return log_w.mean(axis=0)
        return -rec.mean(axis=0) - self.q_family.kl(q)

    @inference_method
    def iwae_bound(self, batch, k: int, rng: np.random.Generator | int, *,
                   mask: np.ndarray | None = None) -> np.ndarray:
        """Per-example importance-weighted bound (Burda et al., 2016), (N,):

            L_k(x) = log (1/k) sum_i p(x, z_i) / q(z_i | x),   z_i ~ q(z | x)

        L_1 is an ELBO estimate; E[L_k] increases with k towards log p(x).
        """
        self._pending = None
        k = check_positive_int(k, "k")
        X, mask, cond = self._split_batch(batch, mask)
        log_w, _, _ = self._log_weights(X, mask, cond, k, check_rng(rng))
        return log_mean_exp(log_w, axis=0)

    def log_likelihood(self, batch, k: int = 1000, *, rng: np.random.Generator | int,
                       mask: np.ndarray | None = None) -> np.ndarray:
        """Importance-sampled estimate of log p(x) per example, (N,): the IWAE bound with a
        large ``k`` (the standard VAE test log-likelihood; a slight underestimate on average)."""
        return self.iwae_bound(batch, k, rng, mask=mask)

    def kl_per_dimension(self, batch, *, mask: np.ndarray | None = None) -> np.ndarray:
        """Mean over examples of KL(q(z_l | x) || N(0, 1)) for each latent dimension: (L,).
        Dimensions near 0 are collapsed onto the prior (unused).  Needs per-dimension Gaussian
        marginals ("gaussian", "rho")."""
        post = self.posterior(batch, mask=mask)
        if post is None:
            raise ValueError(f"kl_per_dimension needs Gaussian marginals per dimension; "
                             f"posterior={self.posterior_name!r} has none")
        return kl_per_dimension_mean(*post)

    def _sample_x(self, out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw x ~ p(x | z) from raw decoder outputs (M, out_dim)."""
        if self.likelihood == "bernoulli":
            return (rng.random(out.shape) < sigmoid(out)).astype(self.dtype)
        D = self.input_dim
        if self.learned_variance:
            std = np.exp(0.5 * clamp_logvar(out[:, D:])[0])
        else:
            std = np.sqrt(self.decoder_variance)
        return (out[:, :D] + std * rng.standard_normal((out.shape[0], D))).astype(self.dtype)

    @inference_method
    def _generate(self, cond: np.ndarray | None, n: int, rng, mean: bool) -> np.ndarray:
        self._pending = None
        rng = check_rng(rng)
        z = self.q_family.sample_prior(rng, n)
        out = self._decode_out(z, cond)
        return self._output_mean(out) if mean else self._sample_x(out, rng)

    @inference_method
    def _reconstruct(self, X, mask, cond, rng) -> np.ndarray:
        self._pending = None
        q, _ = self._posterior(X, mask, cond)
        z = self.q_family.code(q) if rng is None else q.sample(check_rng(rng))
        return self._output_mean(self._decode_out(z, cond))


@register_model
class VAE(BaseVAE):
    """Variational autoencoder with MLP encoder and decoder (beta-VAE, free bits, IWAE).

    Args:
        input_dim: D, features per example (e.g. 784 for MNIST).
        hidden_sizes: encoder hidden widths, e.g. [400]; the decoder mirrors them.  May be empty.
        latent_dim: L.
        beta: KL weight, >= 0 (1 = ELBO; > 1 beta-VAE).  A training KL schedule overrides it
            step by step through ``kl_weight``.
        likelihood: "bernoulli" (data in [0, 1]; decoder outputs logits) or "gaussian".
        decoder_variance: Gaussian only.  None (default): the decoder also outputs a per-pixel
            log-variance (learned, clamped to [-30, 20]); a float: that fixed variance.
        activation: hidden activation name.
        free_bits: free-bits lambda in nats per latent dimension (0 = off; ELBO only).
        objective: one of :data:`~minivae.models.objective_choice.OBJECTIVES` (module
            docstring): "elbo", "iwae" (k importance samples per example), "elbo_stl",
            "iwae_stl", "iwae_dreg", "vr", "vr_max", "infovae", "wae".
        k: number of samples per example of the k-sample objectives (all but "elbo",
            "infovae", "wae").
        alpha: "vr": the Renyi order (default 0.5); "infovae": InfoVAE's alpha (default 0).
        mmd_lambda: "infovae": InfoVAE's lambda (default 100); "wae": the MMD weight (10).
        kernel: "infovae" / "wae": the MMD kernel, "rbf" (InfoVAE default, 2 sigma^2 = L) or
            "imq" (WAE default, C = 2L).  Options an objective does not use must stay None.
        rng: generator or seed for the weight initialisation.
        dtype: float64 (default) or float32.
        posterior: the family of q(z | x), a name of
            :data:`~minivae.objectives.posteriors.POSTERIORS`: "gaussian" (default, diagonal),
            "rho" (AR(1) covariance, rho-VAE), "iaf" (inverse autoregressive flow).  Families
            other than "gaussian" train with objective="elbo" and free_bits=0.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: list[int] | tuple[int, ...],
        latent_dim: int,
        *,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        decoder_variance: float | None = None,
        activation: str = "relu",
        free_bits: float = 0.0,
        objective: str = "elbo",
        k: int = 5,
        alpha: float | None = None,
        mmd_lambda: float | None = None,
        kernel: str | None = None,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
        posterior: str = "gaussian",
    ) -> None:
        super().__init__(
            input_dim, hidden_sizes, latent_dim, cond_dim=0, beta=beta, likelihood=likelihood,
            decoder_variance=decoder_variance, activation=activation, free_bits=free_bits,
            objective=objective, k=k, rng=rng, dtype=dtype, alpha=alpha, mmd_lambda=mmd_lambda,
            kernel=kernel, posterior=posterior,
        )

    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, **self._common_config(),
                "posterior": self.posterior_name}

    def _split_batch(self, batch, mask):
        if isinstance(batch, (tuple, list)):
            raise TypeError(
                f"VAE takes a batch X of shape (N, {self.input_dim}), got a "
                f"{type(batch).__name__}; labels (X, y) are for CVAE"
            )
        X, mask, _ = self.check_inputs(batch, mask=mask)
        return X, mask, None

    # -- public inference ---------------------------------------------------------------------
    def encode(self, X: np.ndarray, *, mask: np.ndarray | None = None):
        """X: (N, D) -> (mu, logvar) of q(z | x), each (N, L) (:meth:`posterior`: "rho" gives
        its marginals, "iaf" and "vmf" None; their point codes: ``q_family.code``)."""
        return self.posterior(X, mask=mask)

    @inference_method
    def decode(self, z: np.ndarray) -> np.ndarray:
        """z: (N, L) -> E[x | z] (N, D): pixel probabilities (Bernoulli) or the Gaussian mean."""
        self._pending = None
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        return self._output_mean(self._decode_out(z, None))

    def reconstruct(self, X: np.ndarray, rng: np.random.Generator | int | None = None, *,
                    mask: np.ndarray | None = None) -> np.ndarray:
        """decode(z) for z = mu(x) (default, deterministic) or z ~ q(z | x) when ``rng`` is
        given.  X: (N, D) -> (N, D)."""
        X, mask, _ = self._split_batch(X, mask)
        return self._reconstruct(X, mask, None, rng)

    def sample(self, n: int, rng: np.random.Generator | int, *, mean: bool = True) -> np.ndarray:
        """Generate n examples: z ~ N(0, I), then E[x | z] (``mean=True``) or x ~ p(x | z).
        Returns (n, D)."""
        return self._generate(None, check_positive_int(n, "n"), rng, mean)
