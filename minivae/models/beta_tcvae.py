"""Two VAEs for disentanglement, MLP encoder and decoder as in :class:`~minivae.models.VAE`:

* :class:`BetaTCVAE` (Chen et al., 2018): the KL term split into index-code mutual information,
  total correlation and dimension-wise KL, weighted (alpha, beta, gamma); estimated per batch
  by minibatch-weighted sampling (:mod:`minivae.objectives.total_correlation`)::

      loss = mean_n -log p(x_n | z_n) + kl_weight * (alpha MI + beta TC + gamma DWKL)

* :class:`AnnealedVAE` (Burgess et al., 2018, "Understanding disentangling in beta-VAE"): the
  KL pulled towards a capacity C that grows linearly during training::

      loss = mean_n -log p(x_n | z_n) + kl_weight * gamma * |KL - C(step)|,
      C(step) = capacity_max * min(1, step / capacity_steps)

  with KL the batch-mean KL(q(z|x) || N(0, I)) (closed form).  The model counts its optimizer
  steps in :meth:`AnnealedVAE.after_step` (``fit`` calls it after every step); the count is
  part of :meth:`~AnnealedVAE.config`, so a checkpoint resumes the schedule where it stopped.

Both train with :func:`~minivae.train.fit` and save / load as checkpoints.  ``kl_weight``
(1 by default; a ``kl_schedule`` of ``fit`` sets it) scales the whole regulariser, so a KL
warm-up works as for the VAE.  ``per_example_loss``, ``elbo``, ``iwae_bound`` and the other
inference methods are the VAE's: per-example terms of the plain ELBO (TC and |KL - C| are
batch quantities).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_positive_int, check_scalar
from minivae.models.base import register_model
from minivae.models.vae import VAE
from minivae.objectives.elbo import negative_elbo, negative_elbo_backward
from minivae.objectives.total_correlation import tc_regulariser
from minivae.train.schedules import LinearKLWarmup


class _DisentanglingVAE(VAE):
    """The constructor and config the two models share (a Gaussian-latent, ELBO-trained VAE
    whose KL weight ``beta`` stays 1 and whose own weights come as extra options)."""

    def __init__(self, input_dim, hidden_sizes, latent_dim, *, likelihood, decoder_variance,
                 activation, rng, dtype) -> None:
        super().__init__(input_dim, hidden_sizes, latent_dim, beta=1.0, likelihood=likelihood,
                         decoder_variance=decoder_variance, activation=activation, rng=rng,
                         dtype=dtype)

    def _base_config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "hidden_sizes": list(self.hidden_sizes),
                "latent_dim": self.latent_dim, "likelihood": self.likelihood,
                "decoder_variance": self.decoder_variance, "activation": self.activation,
                "dtype": self.dtype.name}


@register_model
class BetaTCVAE(_DisentanglingVAE):
    """beta-TCVAE: alpha * MI + beta * TC + gamma * dimension-wise KL (module docstring).

    Args:
        input_dim, hidden_sizes, latent_dim, likelihood, decoder_variance, activation, rng,
            dtype: as for :class:`~minivae.models.VAE`.
        dataset_size: N_data, the number of training examples the batches come from (the
            minibatch-weighted-sampling estimate of log q(z) uses it); >= the batch size.
        alpha, beta, gamma: weights of MI, TC and dimension-wise KL (>= 0); the paper's
            beta-TCVAE is alpha = gamma = 1, beta > 1; all 1 is the plain ELBO.
    """

    def __init__(self, input_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 latent_dim: int, *, dataset_size: int, alpha: float = 1.0, beta: float = 6.0,
                 gamma: float = 1.0, likelihood: str = "bernoulli",
                 decoder_variance: float | None = None, activation: str = "relu",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        self.dataset_size = check_positive_int(dataset_size, "dataset_size")
        self.weights = tuple(check_scalar(v, name, low=0.0) for v, name in
                             ((alpha, "alpha"), (beta, "beta"), (gamma, "gamma")))
        super().__init__(input_dim, hidden_sizes, latent_dim, likelihood=likelihood,
                         decoder_variance=decoder_variance, activation=activation, rng=rng,
                         dtype=dtype)

    def config(self) -> dict[str, Any]:
        alpha, beta, gamma = self.weights
        return {**self._base_config(), "dataset_size": self.dataset_size, "alpha": alpha,
                "beta": beta, "gamma": gamma}

    def _elbo_loss(self, X, mask, cond, rng, eps):
        """One sample per example; parts add "mi", "tc", "dwkl" (MWS estimates, nats)."""
        q, inside = self._posterior(X, mask, cond)
        z = q.rsample(rng, eps=eps)
        self.last_eps = q.eps
        rec, dout = self._nll(self._decode_out(z, cond), X, mask, need_grad=True)
        _, parts, _ = negative_elbo(rec, q, 1.0)  # reconstruction, kl, elbo as reported
        reg, tc_parts, dz, dmu, dlogvar = tc_regulariser(z, q, self.dataset_size, *self.weights)
        w = self.kl_weight
        value = parts["reconstruction"] + w * reg
        self._pending = {"q": q, "inside": inside, "dout": dout / X.shape[0], "dz": w * dz,
                         "dmu": w * dmu, "dlogvar": w * dlogvar}
        return value, {**parts, "loss": value, **tc_parts}

    def backward(self) -> None:
        """Decoder, then the sample path (decoder's and regulariser's dz together) and the
        regulariser's direct gradients into mu and logvar (none where logvar is clamped)."""
        p = self._take_pending()
        dz = self._decoder_backward(p["dout"]) + p["dz"]
        dmu, dlogvar = p["q"].rsample_backward(dz)
        dh = np.concatenate([dmu + p["dmu"], (dlogvar + p["dlogvar"]) * p["inside"]], axis=1)
        self.encoder.backward(dh.astype(self.dtype, copy=False))


@register_model
class AnnealedVAE(_DisentanglingVAE):
    """Capacity-annealed VAE: gamma * |KL - C| with C ramped linearly (module docstring).

    Args:
        input_dim, hidden_sizes, latent_dim, likelihood, decoder_variance, activation, rng,
            dtype: as for :class:`~minivae.models.VAE`.
        gamma: the weight of |KL - C| (> 0; the paper uses 1000 on dSprites, nats summed over
            4096 pixels).
        capacity_max: C at the end of the ramp, in nats (>= 0; the paper: 25).
        capacity_steps: optimizer steps of the ramp (>= 1).
        capacity_step: steps already taken (0 for a new model; a checkpoint stores the count).
    """

    def __init__(self, input_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 latent_dim: int, *, gamma: float = 100.0, capacity_max: float = 25.0,
                 capacity_steps: int = 10000, capacity_step: int = 0,
                 likelihood: str = "bernoulli", decoder_variance: float | None = None,
                 activation: str = "relu", rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        self.gamma = check_scalar(gamma, "gamma", low=0.0, low_inclusive=False)
        self.schedule = LinearKLWarmup(check_scalar(capacity_max, "capacity_max", low=0.0),
                                       check_positive_int(capacity_steps, "capacity_steps"))
        self.capacity_step = check_positive_int(capacity_step, "capacity_step", minimum=0)
        super().__init__(input_dim, hidden_sizes, latent_dim, likelihood=likelihood,
                         decoder_variance=decoder_variance, activation=activation, rng=rng,
                         dtype=dtype)

    @property
    def capacity(self) -> float:
        """C at the current step, in nats."""
        return self.schedule(self.capacity_step)

    def config(self) -> dict[str, Any]:
        return {**self._base_config(), "gamma": self.gamma,
                "capacity_max": self.schedule.beta_max,
                "capacity_steps": self.schedule.warmup_steps,
                "capacity_step": self.capacity_step}

    def after_step(self) -> dict[str, float]:
        """Called by ``fit`` after each optimizer step: one more step of the capacity ramp."""
        self.capacity_step += 1
        return {}

    def _elbo_loss(self, X, mask, cond, rng, eps):
        """One sample per example; parts add "capacity" (C of this step, nats)."""
        q, inside = self._posterior(X, mask, cond)
        z = q.rsample(rng, eps=eps)
        self.last_eps = q.eps
        rec, dout = self._nll(self._decode_out(z, cond), X, mask, need_grad=True)
        _, parts, _ = negative_elbo(rec, q, 1.0)
        c, w = self.capacity, self.kl_weight * self.gamma
        value = parts["reconstruction"] + w * abs(parts["kl"] - c)
        # d(w |KL - C|) / d KL[n, l] = w sign(KL - C) / N (KL is the batch mean)
        dkl = w * float(np.sign(parts["kl"] - c)) / X.shape[0]
        self._pending = {"kind": "elbo", "q": q, "inside": inside, "dout": dout / X.shape[0],
                         "dkl": dkl}
        return value, {**parts, "loss": value, "capacity": c}

    def backward(self) -> None:
        """Decoder, then the reparameterized sample and the closed-form KL's gradient."""
        p = self._take_pending()
        dz = self._decoder_backward(p["dout"])
        dh = negative_elbo_backward(p["q"], p["inside"], dz, p["dkl"])
        self.encoder.backward(dh.astype(self.dtype, copy=False))
