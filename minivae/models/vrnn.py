r"""The variational recurrent neural network (VRNN; Chung et al. 2015): a latent z_t at every step.

Where the LSTM-VAE has one latent vector per sequence, the VRNN has one per time step, with a
prior that depends on the past (eqs. 5-9 of the paper)::

    prior      p(z_t | h_{t-1})       = N(mu_0,t, diag sigma_0,t^2)      from h_{t-1}
    encoder    q(z_t | x_t, h_{t-1})  = N(mu_t, diag sigma_t^2)          from [phi_x(x_t), h_{t-1}]
    decoder    p(x_t | z_t, h_{t-1})                                     from [phi_z(z_t), h_{t-1}]
    recurrence h_t = LSTM([phi_x(x_t), phi_z(z_t)], h_{t-1})             (h_0 = 0)

The step, the loop over time, backpropagation through time and the generative rollout are the
functions of :mod:`minivae.models.vrnn_step` (read them there, with the shapes).

Objective (per sequence; the loss is the batch mean)::

    loss = sum_t [ -log p(x_t | z_t, h_{t-1})
                   + beta * KL(q(z_t | x_t, h_{t-1}) || p(z_t | h_{t-1})) ]

with z_t = mu_t + sigma_t * eps_t one reparameterized sample per step (the noise ``eps: (N, T,
L)`` is kept in ``last_eps["z"]``; passing it back as ``eps=`` repeats the pass exactly).  With
beta = 1 and ``likelihood="gaussian"`` (per-step learned mean and log-variance) this is the
negative ELBO; ``"mse"`` uses the squared error instead of the Gaussian NLL (a Gaussian of
variance 1/2 up to a constant).  Free bits are not offered (the prior is learned, so "nats per
dimension above the prior" has no fixed reference); ``beta`` and KL schedules work.

Missing values: ``mask`` (N, T, D) or (N, T), or ``lengths`` (N,): missing entries add nothing
to the reconstruction term and are read as 0; a step with nothing observed is skipped (state
carried, no KL, no reconstruction), so trailing padding changes nothing.

Anomaly scores (:meth:`VRNN.per_step_scores`, higher = more anomalous), averaged over
``n_samples`` independent sample paths z_{1:T} ~ q:

* ``kind="nelbo"``: the per-step negative ELBO, -log p(x_t | z_t, h_{t-1}) + KL(q_t || p_t);
* ``kind="recon_prob"``: minus the reconstruction log-probability of An & Cho (2015) per step,
  -log p(x_t | z_t, h_{t-1}) with z_t ~ q (for ``"mse"`` the density N(x; mean, 1/2)).

Forecasting (:meth:`VRNN.forecast`): read the context through the posterior (filtering), then
roll out the generative model: z_t ~ p(z_t | h_{t-1}), x_t ~ p(x_t | z_t, h_{t-1}), each sampled
x_t fed back through phi_x.  Sample paths give predictive intervals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minivae._validation import (
    check_array,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.models.base import (
    Model,
    inference_method,
    prepare_sequence_batch,
    register_model,
    sample_chunks,
    tile_samples,
)
from minivae.models.lstm_autoencoder import HALF_LOG_PI  # -log N(x; m, 1/2) = (x-m)^2 + this
from minivae.models.vrnn_step import vrnn_backward, vrnn_forward, vrnn_generate
from minivae.nn.dense import Dense
from minivae.nn.functional import log_mean_exp
from minivae.nn.lstm import LSTMWeights

LIKELIHOODS = ("gaussian", "mse")
SCORE_KINDS = ("nelbo", "recon_prob")
AVERAGES = ("mean", "logmeanexp")


@register_model
class VRNN(Model):
    """Variational RNN for sequences X: (N, T, D) (see the module docstring).

    Args:
        input_dim: D, features per time step.
        hidden_size: H, width of the LSTM recurrence.
        latent_dim: L, size of z_t.
        feature_size: F, width of phi_x, phi_z and of the hidden layer of the prior, encoder
            and decoder (default H).
        likelihood: "gaussian" (per-step mean and log-variance) or "mse".
        beta: KL weight >= 0 (1 = the ELBO); a training KL schedule overrides it.
        rng: generator or seed for the weight initialisation.
        dtype: float64 (default, for gradient checks) or float32.

    Layers (attribute: parameter prefix; each Dense holds ``W`` and ``b``; the computation is
    :mod:`minivae.models.vrnn_step`): ``phi_x`` (D -> F), ``phi_z`` (L -> F), ``prior_hidden``
    (H -> F), ``prior_out`` (F -> 2L), ``enc_hidden`` (F + H -> F), ``enc_out`` (F -> 2L),
    ``dec_hidden`` (F + H -> F), ``dec_out`` (F -> 2D or D), ``rnn`` (LSTM weights ``Wx``
    (2F, 4H), ``Wh``, ``b``).

    Example::

        model = VRNN(1, 32, 4, rng=0)
        model.fit(X, epochs=20, batch_size=32, lr=3e-3, rng=0)            # X: (N, T, 1)
        scores = model.per_step_scores(X_test, rng=0, kind="nelbo")       # (N, T)
        paths = model.forecast(X_test, 20, rng=0, n_samples=100)          # (100, N, 20, 1)
    """

    input_ndim = (3,)

    def __init__(self, input_dim: int, hidden_size: int, latent_dim: int, *,
                 feature_size: int | None = None, likelihood: str = "gaussian",
                 beta: float = 1.0, rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.input_dim = D = check_positive_int(input_dim, "input_dim")
        self.hidden_size = H = check_positive_int(hidden_size, "hidden_size")
        self.latent_dim = L = check_positive_int(latent_dim, "latent_dim")
        self.feature_size = F = H if feature_size is None else check_positive_int(
            feature_size, "feature_size")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        self.beta = check_scalar(beta, "beta", low=0.0)
        self.kl_weight = self.beta
        rng = check_rng(rng)
        out = 2 * D if likelihood == "gaussian" else D
        sizes = {"phi_x": (D, F), "phi_z": (L, F), "prior_hidden": (H, F), "prior_out": (F, 2 * L),
                 "enc_hidden": (F + H, F), "enc_out": (F, 2 * L), "dec_hidden": (F + H, F),
                 "dec_out": (F, out)}
        for name, (n_in, n_out) in sizes.items():
            setattr(self, name, Dense(n_in, n_out, rng=rng, dtype=self.dtype))
        self.rnn = LSTMWeights(2 * F, H, rng=rng, dtype=self.dtype)

    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "hidden_size": self.hidden_size,
                "latent_dim": self.latent_dim, "feature_size": self.feature_size,
                "likelihood": self.likelihood, "beta": self.beta, "dtype": self.dtype.name}

    # -- inputs ---------------------------------------------------------------------------------
    def check_inputs(self, X, *, mask=None, y=None, name="X"):
        """As :meth:`Model.check_inputs`, with a hint for 2-D (univariate) arrays."""
        if isinstance(X, np.ndarray) and X.ndim != 3:
            hint = (f"; for univariate series use {name}[..., None] to get shape "
                    f"{X.shape + (1,)}") if X.ndim == 2 else ""
            raise ValueError(f"{name} must have 3 dimensions (N, T, D) for VRNN, got shape "
                             f"{X.shape}{hint}")
        return super().check_inputs(X, mask=mask, y=y, name=name)

    def _prepare(self, X: object, mask: object, lengths: object):
        """Validated X (N, T, D) in the model dtype and the full mask (N, T, D) or None."""
        return prepare_sequence_batch(self, X, mask, lengths)

    def _noise(self, shape: tuple[int, ...], rng: np.random.Generator | None,
               eps: object) -> np.ndarray:
        """eps: None (draw from rng), an array (N, T, L) or a ``last_eps`` dict {"z": ...}."""
        if isinstance(eps, dict):
            unknown = sorted(set(eps) - {"z"})
            if unknown or "z" not in eps:
                raise ValueError(f"eps must be a dict with the one key 'z' (model.last_eps), "
                                 f"got keys {sorted(eps)}")
            eps = eps["z"]
        if eps is None:
            return rng.standard_normal(shape).astype(self.dtype, copy=False)
        return check_array(eps, "eps", shape=shape, dtype=self.dtype)

    def _weights(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(params, grads) by qualified name, what the step functions read and add into."""
        P, G = {}, {}
        for name, p, g in self.parameters():
            P[name], G[name] = p, g
        return P, G

    # -- training contract ----------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None, lengths=None,
             target=None) -> tuple[float, dict[str, float]]:
        """Beta-weighted negative ELBO of a batch X: (N, T, D) (module docstring).

        Args:
            batch: X (N, T, D), NaN allowed where ``mask`` is False.
            rng: generator or seed for the noise eps (N, T, L).
            eps: the noise to reuse: ``model.last_eps`` or an (N, T, L) array.
            mask: (N, T, D) or (N, T) bool, True = observed.  lengths: (N,) valid lengths.
            target: (N, T, D) to reconstruct instead of X (denoising: X noisy, target clean).

        Returns:
            (loss, parts) with parts "loss", "reconstruction", "kl" (batch means of the sums over
            steps) and "elbo" (likelihood "gaussian" only).
        """
        if self.free_bits > 0:
            raise ValueError(f"VRNN does not support free bits (its prior is learned); got "
                             f"free_bits={self.free_bits}")
        X, mask = self._prepare(batch, mask, lengths)
        Y = self._target(target, X, mask)
        N, T, _ = X.shape
        noise = self._noise((N, T, self.latent_dim), self._need_noise(rng, eps), eps)
        P, _ = self._weights()
        nll, kl, _, caches, douts = vrnn_forward(X, noise, mask, P, self.likelihood,
                                                 need_grad=True, target=Y)
        self.last_eps = {"z": noise}
        valid = None if mask is None else mask.any(axis=2)
        self._pending = {"caches": caches, "douts": douts, "valid": valid}
        rec, kl_mean = float(nll.sum(axis=1).mean()), float(kl.sum(axis=1).mean())
        value = rec + self.kl_weight * kl_mean
        parts = {"loss": value, "reconstruction": rec, "kl": kl_mean}
        if self.likelihood == "gaussian":
            parts["elbo"] = -(rec + kl_mean)
        return value, parts

    def backward(self) -> None:
        """Accumulate parameter gradients of the last :meth:`loss` (once per loss)."""
        p = self._take_pending()
        N = p["caches"][0].h_prev.shape[0]
        w_kl = np.full((N, len(p["caches"])), self.kl_weight / N, dtype=self.dtype)
        if p["valid"] is not None:
            w_kl *= p["valid"]
        P, G = self._weights()
        vrnn_backward(p["caches"], p["douts"], 1.0 / N, w_kl, p["valid"], P, G)

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, lengths=None,
                         eps=None, target=None) -> dict[str, np.ndarray]:
        """Per-sequence "loss" (reconstruction + kl_weight * kl), "reconstruction" and "kl",
        each (N,), summed over steps, one sample path from ``rng`` (or the noise ``eps``);
        ``target`` as in :meth:`loss`."""
        X, mask = self._prepare(batch, mask, lengths)
        Y = self._target(target, X, mask)
        N, T, _ = X.shape
        noise = self._noise((N, T, self.latent_dim), self._need_noise(rng, eps), eps)
        nll, kl, *_ = vrnn_forward(X, noise, mask, self._weights()[0], self.likelihood,
                                   need_grad=False, target=Y)
        rec, kl = nll.sum(axis=1), kl.sum(axis=1)
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    @inference_method
    def posterior(self, batch, *, mask=None, lengths=None) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of q(z_t | x_t, h_{t-1}), each (N, T, L), along the path that takes
        z_t = mu_t at every step (eps = 0: deterministic).  At a skipped step (nothing observed)
        it is the encoder's output for a zero input (the state is carried there)."""
        X, mask = self._prepare(batch, mask, lengths)
        N, T, _ = X.shape
        mu = np.empty((N, T, self.latent_dim), self.dtype)
        logvar = np.empty_like(mu)
        vrnn_forward(X, np.zeros_like(mu), mask, self._weights()[0], self.likelihood,
                     need_grad=False, posterior_out=(mu, logvar))
        return mu, logvar

    # -- scores, reconstruction, sampling, forecasting ------------------------------------------
    def _sample_paths(self, X: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator,
                      n_samples: int) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        """(nll, kl, k) per chunk of k of the ``n_samples`` independent paths z_{1:T} ~ q, each
        (k, N, T); the noise of path s of sequence n is row s * N + n of one (k * N, T, L) draw
        per chunk (chunks bound the memory, :func:`~minivae.models.base.sample_chunks`)."""
        N, T, D = X.shape
        P = self._weights()[0]
        for k in sample_chunks(n_samples, N * T * max(self.hidden_size, 2 * D)):
            noise = rng.standard_normal((k * N, T, self.latent_dim)).astype(self.dtype)
            nll, kl, *_ = vrnn_forward(tile_samples(X, k), noise, tile_samples(mask, k), P,
                                       self.likelihood, need_grad=False)
            yield nll.reshape(k, N, T), kl.reshape(k, N, T), k

    def _log_prob(self, nll: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """log p(x_t | z_t, h_{t-1}) from the reconstruction term (k, N, T): -nll for
        "gaussian"; for "mse" the density N(x; mean, 1/2), -(nll + 0.5 log(pi) per entry)."""
        if self.likelihood == "gaussian":
            return -nll
        seen = self.input_dim if mask is None else mask.sum(axis=2)
        return -(nll + HALF_LOG_PI * seen)

    @inference_method
    def per_step_scores(self, X: np.ndarray, *, rng: np.random.Generator | int,
                        n_samples: int = 16, kind: str = "nelbo",
                        mask: np.ndarray | None = None,
                        lengths: np.ndarray | None = None) -> np.ndarray:
        """Anomaly score of every step, (N, T), higher = more anomalous (module docstring).

        Args:
            X: (N, T, D).
            rng: generator or seed for the sample paths (see :meth:`_sample_paths`).
            n_samples: independent sample paths z_{1:T} ~ q averaged over (>= 1).
            kind: "nelbo" (-log p(x_t | z_t, h_{t-1}) + KL(q_t || p_t): the step's terms of
                the loss with beta = 1; for "mse" the squared error stands for -log p) or
                "recon_prob" (-log p(x_t | z_t, h_{t-1}), An & Cho's reconstruction
                probability, negated; for "mse" the density N(x; mean, 1/2)).
            mask, lengths: which entries are observed; a step with nothing observed gets NaN
                (no evidence, so no score).
        """
        if kind not in SCORE_KINDS:
            raise ValueError(f"kind must be one of {SCORE_KINDS}, got {kind!r}")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_rng(rng)
        X, mask = self._prepare(X, mask, lengths)
        total = np.zeros(X.shape[:2], self.dtype)
        for nll, kl, _ in self._sample_paths(X, mask, rng, n_samples):
            score = nll + kl if kind == "nelbo" else -self._log_prob(nll, mask)
            total += score.sum(axis=0)
        total /= n_samples
        if mask is not None:
            total[~mask.any(axis=2)] = np.nan
        return total

    @inference_method
    def reconstruction_log_prob(self, X: np.ndarray, *, n_samples: int = 10,
                                rng: np.random.Generator | int, mask: np.ndarray | None = None,
                                lengths: np.ndarray | None = None, per_step: bool = True,
                                average: str = "mean") -> np.ndarray:
        """Reconstruction log-probability (An & Cho 2015) of every step, log p(x_t | z_t,
        h_{t-1}) with z_{1:T} ~ q, in nats (higher = more normal); the signature of
        :meth:`LSTMVAE.reconstruction_log_prob`, so the anomaly detectors take either model.

        Args:
            X: (N, T, D); n_samples: sample paths (>= 1); rng: as :meth:`per_step_scores`.
            per_step: True -> (N, T) (NaN at steps with nothing observed); False -> (N,), the
                sum over steps (NaN for a sequence with nothing observed).
            average: "mean" over the paths, or "logmeanexp" (log of the mean probability).
        """
        if average not in AVERAGES:
            raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_rng(rng)
        X, mask = self._prepare(X, mask, lengths)
        lps = []
        for nll, _, _ in self._sample_paths(X, mask, rng, n_samples):
            lp = self._log_prob(nll, mask)
            lps.append(lp if per_step else lp.sum(axis=2))
        lp = np.concatenate(lps, axis=0)  # (n_samples, N, T) or (n_samples, N)
        value = lp.mean(axis=0) if average == "mean" else log_mean_exp(lp, axis=0)
        if mask is not None:  # nothing observed: no evidence, so no score
            seen = mask.any(axis=2)
            value[~seen if per_step else ~seen.any(axis=1)] = np.nan
        return value

    @inference_method
    def reconstruct(self, X: np.ndarray, rng: np.random.Generator | int | None = None, *,
                    mask: np.ndarray | None = None,
                    lengths: np.ndarray | None = None) -> np.ndarray:
        """The mean of p(x_t | z_t, h_{t-1}) at every step, (N, T, D), along the path
        z_t = mu_t (default, deterministic) or z_t ~ q (``rng`` given).  Each step's z_t has
        read x_t through the encoder: this is a reconstruction, not a prediction (for that see
        :meth:`forecast`)."""
        X, mask = self._prepare(X, mask, lengths)
        N, T, D = X.shape
        shape = (N, T, self.latent_dim)
        noise = np.zeros(shape, self.dtype) if rng is None else \
            check_rng(rng).standard_normal(shape).astype(self.dtype)
        out = np.empty((N, T, D), self.dtype)
        vrnn_forward(X, noise, mask, self._weights()[0], self.likelihood, need_grad=False,
                     means_out=out)
        return out

    @inference_method
    def sample(self, n: int, T: int, rng: np.random.Generator | int) -> np.ndarray:
        """Generate n sequences of length T from the generative model (h_0 = 0; z_t ~ prior,
        x_t ~ p(x_t | z_t, h_{t-1}) sampled and fed back).  Returns (n, T, D)."""
        n = check_positive_int(n, "n")
        T = check_positive_int(T, "T")
        rng = check_rng(rng)
        h = np.zeros((n, self.hidden_size), self.dtype)
        return vrnn_generate((h, h.copy()), T, rng, self._weights()[0], self.likelihood)

    @inference_method
    def forecast(self, X: np.ndarray, horizon: int, rng: np.random.Generator | int, *,
                 n_samples: int = 100, mask: np.ndarray | None = None,
                 lengths: np.ndarray | None = None) -> np.ndarray:
        """Sample paths of the next ``horizon`` steps after each context sequence.

        Each path reads X through the posterior (z_t ~ q(z_t | x_t, h_{t-1}), its own noise),
        then rolls out the generative model from the final state (module docstring).  With
        ``lengths``, the forecast follows each sequence's last valid step.

        Args:
            X: (N, T, D) context.  horizon: steps to forecast (>= 1).
            rng: generator or seed (per chunk of paths: the context noise, then the rollout's).
            n_samples: sample paths per sequence (>= 1).
            mask, lengths: missing / padded context entries (as in :meth:`loss`).

        Returns:
            (n_samples, N, horizon, D); e.g. ``paths.mean(0)`` the point forecast and
            ``np.quantile(paths, [0.05, 0.95], axis=0)`` a 90% interval.
        """
        horizon = check_positive_int(horizon, "horizon")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_rng(rng)
        X, mask = self._prepare(X, mask, lengths)
        N, T, D = X.shape
        P = self._weights()[0]
        paths = []
        for k in sample_chunks(n_samples, N * (T + horizon) * max(self.hidden_size, 2 * D)):
            noise = rng.standard_normal((k * N, T, self.latent_dim)).astype(self.dtype)
            _, _, state, _, _ = vrnn_forward(tile_samples(X, k), noise, tile_samples(mask, k),
                                             P, self.likelihood, need_grad=False)
            xs = vrnn_generate(state, horizon, rng, P, self.likelihood)
            paths.append(xs.reshape(k, N, horizon, D))
        return np.concatenate(paths, axis=0)
