r"""The LSTM variational autoencoder for time series (in the style of Park, Hoshi & Kemp, 2018).

Generative model and approximate posterior, for a sequence ``x = x_{1:T}``, x_t in R^D::

    p(z) = N(0, I)                     q(z | x) = N(mu(x), diag(exp(logvar(x))))
    p(x | z) = prod_t N(x_t; m_t(z), diag(s_t(z)^2))     (likelihood="gaussian")

The encoder is an LSTM whose final hidden state is mapped by a Dense layer to [mu, logvar]
(logvar clamped to [-30, 20]); z = mu + exp(logvar / 2) * eps is decoded by an LSTM decoder —
z repeated at every step, or autoregressive — with a time-distributed Dense emitting the per-step
mean and log-variance.  All of this is shared with :class:`~minivae.models.LSTMAutoencoder`; see
:mod:`minivae.models.lstm_autoencoder` for the decoders, teacher forcing (training only; inference
is free running), missing values (``mask``) and variable lengths (``lengths``).

Encoder and decoder options (:mod:`minivae.models.lstm_autoencoder`, "Decoder and encoder
options"): ``decoder="conditioned"`` (every step reads [x_{t-1}, z]), ``bidirectional=True``,
``encoder_cell`` / ``decoder_cell`` in ("lstm", "gru", "rnn").  The LSTM-AE's
``decoder_state="encoder"`` is refused here: the decoder would start from the encoder's final
state, a path from x to the reconstruction that bypasses the sampled z and its KL term (and
``sample`` would have no such state), so the VAE's decoder reads z only.

Objective (per sequence; the loss is the batch mean)::

    loss = -log p(x | z) + beta * KL(q(z | x) || N(0, I)),      z one reparameterized sample

summed over the *observed* entries.  ``beta`` is the KL weight (``kl_weight`` during training,
set step by step by a KL schedule); ``free_bits = lambda > 0`` replaces the KL by
sum_l max(lambda, batch-mean KL_l) (:func:`minivae.objectives.kl.free_bits_kl`).  With
``likelihood="mse"`` the reconstruction term is the sum of squared errors (a Gaussian of fixed
variance 1/2 up to a constant; then "beta" trades squared error against nats).

Other objectives (``objective=``; one z per sequence, so every objective of the MLP
:class:`~minivae.models.VAE` carries over, computed by the same functions of
:mod:`minivae.objectives` through :mod:`minivae.models.objective_choice`):

* ``"elbo"`` (default): the loss above.
* ``"iwae"`` (Burda et al.), ``"iwae_stl"`` / ``"iwae_dreg"`` (its STL and DReG gradient
  estimators), ``"vr"`` (alpha, default 0.5) and ``"vr_max"`` (Li & Turner): k samples
  z_1..z_k ~ q(z | x) per sequence, the decoder run on all k * N of them (k times the cost of
  the ELBO's decoder pass; the encoder runs once).  They weight the samples by
  p(x, z_i) / q(z_i | x), which needs a true likelihood: ``likelihood="gaussian"`` only (the
  squared error of "mse" is a likelihood only up to a constant and a fixed variance).
* ``"elbo_stl"`` (Roeder et al.): the ELBO of k samples with the path-derivative estimator; any
  likelihood.
* ``"infovae"`` (alpha, default 0; mmd_lambda, default 100) and ``"wae"`` (mmd_lambda, default
  10) (Zhao et al.; Tolstikhin et al.): the MMD between the batch of codes z (one per sequence)
  and as many N(0, I) draws; any likelihood.

Free bits apply to ``"elbo"`` only.  With the autoregressive decoder the k samples of a
sequence share its teacher-forcing draw.  Not offered here: the ITL autoencoder (a deterministic
code, :class:`~minivae.models.ITLAutoencoder`, MLP only), and a per-step latent (this model has
one z per sequence).

Reconstruction probability (An & Cho, 2015)
-------------------------------------------
:meth:`LSTMVAE.reconstruction_log_prob` estimates E_{q(z|x)}[log p(x | z)] with L samples
z_1..z_L ~ q(z | x) as the **mean of the log-likelihoods** (1/L) sum_l log p(x | z_l), per time
step (N, T) or per sequence (N,); ``average="logmeanexp"`` gives log (1/L) sum_l p(x | z_l)
instead (a Monte Carlo estimate of log E_q[p(x|z)], >= the mean by Jensen's inequality).  Low
values flag anomalies; use ``-reconstruction_log_prob(...)`` as the anomaly score.

``last_eps`` after :meth:`~LSTMVAE.loss` is ``{"z": (N, L) noise ((k, N, L) for the k-sample
objectives), "teacher_forcing": (N, T) bool or None}``, plus ``"prior": (N, L)`` draws for
InfoVAE / WAE; pass it back as ``eps=`` to repeat the pass exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.models.base import inference_method, register_model, sample_chunks, tile_samples
from minivae.models.lstm_autoencoder import BaseLSTMAutoencoder
from minivae.models.objective_choice import (
    MMD_OBJECTIVES,
    OBJECTIVES,
    SAMPLED_BACKWARD,
    bound_alpha,
    kl_factor,
    mmd_objective,
    objective_options,
    sampled_objective,
)
from minivae.nn.functional import log_mean_exp
from minivae.objectives.elbo import encoder_posterior, negative_elbo, negative_elbo_backward
from minivae.objectives.iwae import iwae_log_weights
from minivae.objectives.losses import fill_missing
from minivae.objectives.renyi import renyi_bound
from minivae.train.diagnostics import kl_per_dimension_mean

LIKELIHOODS = ("gaussian", "mse")
AVERAGES = ("mean", "logmeanexp")
#: The objectives of the LSTM-VAE: all of the VAE's (module docstring).
LSTM_OBJECTIVES = OBJECTIVES
#: k-sample objectives that weight samples by p(x, z) / q(z | x): a true likelihood only.
WEIGHTED_OBJECTIVES = ("iwae", "iwae_stl", "iwae_dreg", "vr", "vr_max")


@register_model
class LSTMVAE(BaseLSTMAutoencoder):
    """LSTM variational autoencoder for sequences X: (N, T, D).

    Args:
        input_dim: D, features per time step.
        hidden_size: H, LSTM width (encoder and decoder).
        latent_dim: L.
        decoder: "repeat" (z fed at every step; Park et al.), "autoregressive" or
            "conditioned" (reads [x_{t-1}, z] at every step, state from z).
        num_layers: stacked LSTM layers in encoder and decoder.
        likelihood: "gaussian" (per-step mean and log-variance) or "mse".
        beta: KL weight >= 0 (1 = the ELBO); a training KL schedule overrides it via
            ``kl_weight``.
        free_bits: free-bits lambda in nats per latent dimension (0 = off).
        teacher_forcing: autoregressive / conditioned: probability that a training step is fed
            the true previous value (per sequence and step).  Inference is always free running.
        mask_input: append the observation mask as D extra encoder input channels.
        objective: "elbo" (default), "iwae", "elbo_stl", "iwae_stl", "iwae_dreg", "vr",
            "vr_max", "infovae" or "wae" (module docstring).
        k: samples per sequence of the k-sample objectives (all but "elbo", "infovae", "wae").
        alpha: "vr": the Renyi order (default 0.5); "infovae": InfoVAE's alpha (default 0).
        mmd_lambda: "infovae" / "wae": weight of the MMD (defaults 100 / 10).
        kernel: "infovae" / "wae": "rbf" (InfoVAE default) or "imq" (WAE default).
        rng: generator or seed for the weight initialisation.
        dtype: float64 (default, for gradient checks) or float32.
        bidirectional: a bidirectional encoder (forward and reversed stacks, the final states
            of both mapped to (mu, logvar)).
        decoder_state: "z" only (the default): the decoder's state comes from z alone.  The
            LSTM-AE's "encoder" (the encoder's final state handed to the decoder) is refused
            here: it would bypass the sampled z, and with it the KL bottleneck.
        encoder_cell, decoder_cell: "lstm" (default), "gru" or "rnn".

    Example::

        vae = LSTMVAE(1, 32, 4, likelihood="gaussian", rng=0)
        vae.fit(X, epochs=30, batch_size=32, lr=5e-3, kl_schedule="linear:200", rng=0)
        score = -vae.reconstruction_log_prob(X_test, n_samples=10, rng=0, per_step=False)
    """

    def __init__(
        self,
        input_dim: int,
        hidden_size: int,
        latent_dim: int,
        *,
        decoder: str = "repeat",
        num_layers: int = 1,
        likelihood: str = "gaussian",
        beta: float = 1.0,
        free_bits: float = 0.0,
        teacher_forcing: float = 1.0,
        mask_input: bool = False,
        objective: str = "elbo",
        k: int = 5,
        alpha: float | None = None,
        mmd_lambda: float | None = None,
        kernel: str | None = None,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
        bidirectional: bool = False,
        decoder_state: str = "z",
        encoder_cell: str = "lstm",
        decoder_cell: str = "lstm",
    ) -> None:
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if isinstance(decoder_state, str) and decoder_state == "encoder":
            raise ValueError(
                "decoder_state='encoder' is not offered by LSTMVAE: a decoder started from the "
                "encoder's final state would carry x around the sampled z (no KL on that path, "
                "and sample() would have no state to start from); the VAE's decoder reads z "
                "only (decoder_state='z').  LSTMAutoencoder offers it")
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        super().__init__(
            input_dim, hidden_size, latent_dim, code_dim=2 * latent_dim, decoder=decoder,
            num_layers=num_layers, teacher_forcing=teacher_forcing, output=likelihood,
            mask_input=mask_input, rng=rng, dtype=dtype, bidirectional=bidirectional,
            decoder_state=decoder_state, encoder_cell=encoder_cell, decoder_cell=decoder_cell,
        )
        self.beta = check_scalar(beta, "beta", low=0.0)
        self.kl_weight = self.beta
        self.free_bits = free_bits
        self.options = objective_options(objective, alpha, mmd_lambda, kernel, latent_dim,
                                         choices=LSTM_OBJECTIVES)
        self.objective = objective
        self.k = check_positive_int(k, "k")
        if objective != "elbo" and self.free_bits > 0:
            raise ValueError(
                "free_bits > 0 is defined for the ELBO objective only; use objective='elbo' "
                f"or free_bits=0 (got free_bits={self.free_bits}, objective={objective!r})")
        if objective in WEIGHTED_OBJECTIVES and likelihood != "gaussian":
            raise ValueError(
                f"objective={objective!r} weights samples by p(x, z) / q(z | x) and needs "
                f"likelihood='gaussian' (got likelihood={likelihood!r}; the squared error of "
                "'mse' is no normalised likelihood)")

    @property
    def likelihood(self) -> str:
        """"gaussian" or "mse"."""
        return self._out_kind

    def config(self) -> dict[str, Any]:
        return {**self._common_config(), "likelihood": self._out_kind, "beta": self.beta,
                "free_bits": self.free_bits, "objective": self.objective, "k": self.k,
                **{name: v for name, v in self.options.items() if name != "bandwidth"}}

    # -- posterior -----------------------------------------------------------------------------
    def _posterior(self, X: np.ndarray, mask: np.ndarray | None):
        """Encoder pass -> (q, inside): q(z|x) with clamped logvar, and where the clamp lets
        gradients through (N, L)."""
        return encoder_posterior(self._encode(X, mask))

    def _split_eps(self, eps: object) -> tuple[Any, Any, Any]:
        """eps: None, an array (latent noise only: (N, L), or (k, N, L) for the k-sample
        objectives) or a dict like ``last_eps`` -> (latent noise, teacher forcing, prior draws).
        """
        if eps is None:
            return None, None, None
        if isinstance(eps, np.ndarray):
            return eps, None, None
        given = self._unpack_eps(eps, ("z", "teacher_forcing", "prior"))
        return given.get("z"), given.get("teacher_forcing"), given.get("prior")

    # -- training contract ----------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None, lengths=None,
             target=None) -> tuple[float, dict[str, float]]:
        """Training objective (``objective``, module docstring) of a batch X: (N, T, D); the
        ELBO's is the beta-weighted negative ELBO, optionally with free bits.

        Args:
            batch: X (N, T, D), NaN allowed where ``mask`` is False.
            rng: generator or seed for the latent noise (and the teacher-forcing draw, and the
                prior draws of InfoVAE / WAE).
            eps: ``model.last_eps`` (a dict) to repeat a pass, or an array of latent noise
                ((N, L); (k, N, L) for the k-sample objectives); what it lacks is drawn from
                ``rng``.
            mask: (N, T, D) or (N, T) bool, True = observed.
            lengths: (N,) valid lengths (prefix mask), combined with ``mask``.
            target: (N, T, D) to reconstruct instead of X (denoising: X noisy, target clean).

        Returns:
            (loss, parts) with parts "loss", "reconstruction" (mean -log p(x|z), or the squared
            error), "kl" (mean analytic KL), "elbo" (gaussian likelihood only),
            "kl_free_bits" when free bits are on; "iwae_bound" (IWAE, STL, DReG), "vr_bound"
            (VR) or "mmd" (InfoVAE, WAE).
        """
        X, mask = self._prepare(batch, mask, lengths)
        Y = self._target(target, X, mask)
        z_eps, tf_eps, prior_eps = self._split_eps(eps)
        complete = z_eps is not None and (self.objective not in MMD_OBJECTIVES
                                          or prior_eps is not None)
        rng = self._need_noise(rng, z_eps if complete else None)
        N, T, _ = X.shape
        k = self.k if self.objective in SAMPLED_BACKWARD else None
        q, inside = self._posterior(X, mask)
        z = q.rsample(rng, n_samples=k, eps=z_eps)  # (N, L), or (k, N, L)
        tf = self._teacher_forcing_draw(N, T, rng, tf_eps) if self.autoregressive else None
        m = 1 if k is None else k
        out = self._decode_training(z.reshape(m * N, self.latent_dim), Y, mask, tf, m)
        rec, dout = self._nll(out, tile_samples(Y, m), tile_samples(mask, m), need_grad=True)
        self.last_eps = {"z": q.eps, "teacher_forcing": tf}
        pending = {"q": q, "inside": inside, "dout": dout / N, "dkl": 0.0}
        if k is not None:
            value, parts, g = sampled_objective(self.objective, self.options, rec.reshape(k, N),
                                                z, q, self.kl_weight)
            pending.update(z=z, g=g, dout=dout * g.reshape(k * N, 1, 1))
        elif self.objective in MMD_OBJECTIVES:
            prior_z = self._prior_draws(z.shape, rng, prior_eps)
            self.last_eps["prior"] = prior_z
            value, parts, dkl, dz = mmd_objective(self.objective, self.options, rec, q, z,
                                                  prior_z, self.kl_weight)
            pending.update(dkl=dkl, dz_extra=dz)
        else:
            value, parts, pending["dkl"] = negative_elbo(rec, q, self.kl_weight, self.free_bits)
        self._pending = pending
        if self._out_kind != "gaussian":  # a squared error is no likelihood: no ELBO to report
            parts.pop("elbo", None)
        return value, parts

    def _decode_training(self, z: np.ndarray, X: np.ndarray, mask: np.ndarray | None,
                         tf: np.ndarray | None, m: int) -> np.ndarray:
        """Decoder pass of training on z: (m * N, L), row i * N + n a sample of sequence n; the
        autoregressive decoder is teacher forced by ``tf`` (N, T), shared by the m samples."""
        if not self.autoregressive:
            return self._decode(z, X.shape[1])
        feed = self._feed_true(tile_samples(tf, m), tile_samples(mask, m), X.shape[2])
        return self._decode(z, X.shape[1], X=tile_samples(fill_missing(X, mask), m),
                            feed_true=feed)

    def _prior_draws(self, shape: tuple[int, ...], rng: np.random.Generator | None,
                     given: object) -> np.ndarray:
        """InfoVAE / WAE: N(0, I) draws to compare the codes with, or the ``given`` ones."""
        if given is None:
            return rng.standard_normal(shape).astype(self.dtype, copy=False)
        return check_array(given, "eps['prior']", shape=shape, dtype=self.dtype)

    def backward(self) -> None:
        """Accumulate parameter gradients of the last :meth:`loss` (once per loss)."""
        p = self._take_pending()
        dz = self._decode_backward(p["dout"])
        if "g" in p:  # k-sample objectives: their own encoder backward
            z = p["z"]
            dcode = SAMPLED_BACKWARD[self.objective](p["q"], p["inside"], z, dz.reshape(z.shape),
                                                     p["g"], self.kl_weight)
        else:  # the ELBO, and InfoVAE / WAE whose MMD adds its own d/dz
            dcode = negative_elbo_backward(p["q"], p["inside"], dz + p.get("dz_extra", 0.0),
                                           p["dkl"])
        self._encode_backward(dcode.astype(self.dtype, copy=False))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, lengths=None,
                         eps=None, target=None) -> dict[str, np.ndarray]:
        """Per-sequence "loss", "reconstruction" and "kl", each (N,), with a free-running
        decoder and z ~ q(z|x) from ``rng`` (or the latent noise ``eps``: an array or a
        ``last_eps`` dict).  "loss" = reconstruction + kl_weight * kl for the ELBO, minus the
        bound of the k samples for the k-sample objectives (reconstruction: their mean),
        reconstruction + (1 - alpha) kl_weight * kl for InfoVAE and the reconstruction for WAE
        (batch-level terms, free bits and the MMD, are not per-sequence quantities).  ``target``
        as in :meth:`loss`."""
        self._pending = None
        X, mask = self._prepare(batch, mask, lengths)
        Y = self._target(target, X, mask)
        z_eps, _, _ = self._split_eps(eps)
        rng = self._need_noise(rng, z_eps)
        N, T, _ = X.shape
        q, _ = self._posterior(X, mask)
        kl = q.kl_standard_normal()
        k = self.k if self.objective in SAMPLED_BACKWARD else None
        z = q.sample(rng, n_samples=k) if z_eps is None else q.rsample(None, n_samples=k,
                                                                        eps=z_eps)
        m = 1 if k is None else k
        rec, _ = self._nll(self._decode(z.reshape(m * N, self.latent_dim), T),
                           tile_samples(Y, m), tile_samples(mask, m), need_grad=False)
        if k is None:
            factor = kl_factor(self.objective, self.options, self.kl_weight)
            return {"loss": rec + factor * kl, "reconstruction": rec, "kl": kl}
        rec = rec.reshape(k, N)
        log_w = iwae_log_weights(rec, z, q, self.kl_weight)
        loss = -renyi_bound(log_w, bound_alpha(self.objective, self.options))
        return {"loss": loss, "reconstruction": rec.mean(axis=0), "kl": kl}

    @inference_method
    def posterior(self, batch, *, mask=None, lengths=None) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of q(z | x), each (N, L)."""
        self._pending = None
        X, mask = self._prepare(batch, mask, lengths)
        q, _ = self._posterior(X, mask)
        return q.mu, q.logvar

    # -- public inference ---------------------------------------------------------------------
    def encode(self, X: np.ndarray, *, mask: np.ndarray | None = None,
               lengths: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """X: (N, T, D) -> (mu, logvar) of q(z | x), each (N, L)."""
        return self.posterior(X, mask=mask, lengths=lengths)

    def decode(self, z: np.ndarray, T: int, *, return_std: bool = False):
        """z: (N, L) -> E[x | z] (N, T, D), free running (only z is read).

        ``return_std=True`` returns ``(mean, std)``: the learned per-step std (gaussian), or the
        constant sqrt(1/2) that the squared error stands for (mse).
        """
        return self._decode_public(z, T, return_std)

    @inference_method
    def reconstruct(self, X: np.ndarray, rng: np.random.Generator | int | None = None, *,
                    mask: np.ndarray | None = None,
                    lengths: np.ndarray | None = None) -> np.ndarray:
        """decode(z, T) with z = mu(x) (default, deterministic) or z ~ q(z | x) when ``rng`` is
        given.  X: (N, T, D) -> (N, T, D).  The decoder never reads X (free running)."""
        self._pending = None
        X, mask = self._prepare(X, mask, lengths)
        q, _ = self._posterior(X, mask)
        z = q.mu if rng is None else q.sample(check_rng(rng))
        return self._mean(self._decode(z, X.shape[1]))

    @inference_method
    def sample(self, n: int, T: int, rng: np.random.Generator | int, *,
               mean: bool = True) -> np.ndarray:
        """Generate n sequences of length T: z ~ N(0, I), then E[x | z] (``mean=True``) or
        x ~ p(x | z) = mean + std * noise, independent per step (the free-running means are what
        the decoder conditions on, so the noise is not fed back).  Returns (n, T, D)."""
        self._pending = None
        n = check_positive_int(n, "n")
        T = self._check_T(T)
        rng = check_rng(rng)
        z = rng.standard_normal((n, self.latent_dim)).astype(self.dtype)
        out = self._decode(z, T)
        m = self._mean(out)
        if mean:
            return m
        return (m + self._std(out) * rng.standard_normal(m.shape)).astype(self.dtype)

    @inference_method
    def reconstruction_log_prob(
        self,
        X: np.ndarray,
        *,
        n_samples: int = 10,
        rng: np.random.Generator | int,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        per_step: bool = True,
        average: str = "mean",
    ) -> np.ndarray:
        """Reconstruction log-probability of An & Cho (2015), in nats (higher = more normal).

        Draws z_1..z_L ~ q(z | x) (``L = n_samples``, ``rng.standard_normal((L, N, latent))``
        in one stream), decodes each free running and evaluates log p(x | z_l) over the
        observed entries (summed over D at each step).

        Args:
            X: (N, T, D).
            n_samples: L >= 1.
            rng: generator or seed for the latent samples.
            mask, lengths: which entries are observed (missing ones contribute nothing).
            per_step: True -> (N, T) per time step (NaN at steps with no observed entry);
                False -> (N,) per sequence (sum over steps; NaN for a sequence with no
                observed entry at all -- an empty sum would score it 0.0, the most normal
                value there is, so it gets no score instead).
            average: "mean" -> (1/L) sum_l log p(x | z_l), the Monte Carlo estimate of
                E_q[log p(x|z)]; "logmeanexp" -> log (1/L) sum_l p(x | z_l) (computed stably).

        Returns:
            (N, T) or (N,).  For "mean" the per-sequence value is the sum of the per-step ones.
        """
        self._pending = None
        n_samples = check_positive_int(n_samples, "n_samples")
        if average not in AVERAGES:
            raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
        rng = check_rng(rng)
        X, mask = self._prepare(X, mask, lengths)
        N, T, _ = X.shape
        q, _ = self._posterior(X, mask)
        per_sample, total = [], None
        for k in sample_chunks(n_samples, N * T * self._out_dim):
            z = q.sample(rng, n_samples=k)  # (k, N, L); row i * N + n below is z[i, n]
            out = self._decode(z.reshape(k * N, self.latent_dim), T)
            lp = self._log_prob_entries(out, tile_samples(X, k), tile_samples(mask, k))
            lp = lp.sum(axis=2).reshape(k, N, T)
            lp = lp if per_step else lp.sum(axis=2)  # (k, N, T) or (k, N)
            if average == "logmeanexp":  # needs every sample's value at once
                per_sample.append(lp)
                continue
            for lp_i in lp:  # a running sum: the additions of lp.sum(axis=0), in its order
                total = lp_i.copy() if total is None else total + lp_i
        if average == "mean":
            value = total / n_samples
        else:
            value = log_mean_exp(np.concatenate(per_sample, axis=0), axis=0)
        if mask is not None:  # nothing observed: no evidence, so no score (not a perfect 0.0)
            seen = mask.any(axis=2)  # (N, T)
            value[~seen if per_step else ~seen.any(axis=1)] = np.nan
        return value

    def kl_per_dimension(self, X: np.ndarray, *, mask: np.ndarray | None = None,
                         lengths: np.ndarray | None = None) -> np.ndarray:
        """Mean over sequences of KL(q(z_l | x) || N(0, 1)) per latent dimension: (L,)."""
        return kl_per_dimension_mean(*self.posterior(X, mask=mask, lengths=lengths))
