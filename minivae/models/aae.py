r"""The adversarial autoencoder (AAE; Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial
autoencoders", ICLR workshop 2016): a deterministic autoencoder whose codes are made to look
like samples of a chosen prior by a discriminator on the code space::

    X: (N, D) --encoder--> z: (N, L) --decoder--> reconstruction: (N, D)
    z_p: (N, L) ~ p(z)  (Gaussian, a mixture of 10 Gaussians, a 2-D swiss roll: any prior one
    can sample, see :mod:`minivae.objectives.priors`)
    discriminator: z -> logit of "z came from the prior"

Training alternates three phases on every mini-batch (the paper, section 2):

1. **reconstruction**: encoder and decoder take a gradient step on the reconstruction loss;
2. **discriminator**: the discriminator takes a step on L_D(D(z_p), D(z)) (prior samples are
   "real", codes "fake"; the encoder is held fixed);
3. **generator**: the encoder takes a step on L_G(D(z)) (codes called real), the
   non-saturating loss by default (:mod:`minivae.objectives.adversarial`).

How it runs with :func:`~minivae.train.loop.fit` (one loss/backward/optimizer step per batch):
:meth:`AdversarialAutoencoder.loss` / :meth:`backward` are phase 1, stepped by fit's optimizer
(the discriminator's gradient in this phase is exactly 0, so fit's Adam never moves it:
its moments stay 0).  Phases 2 and 3 run in :meth:`after_step`, which
:func:`~minivae.train.loop.train_step` calls after the optimizer step; each phase steps its own
parameter group (discriminator; encoder) with its own Adam of learning rate ``reg_lr``, on the
same batch and the prior samples drawn in phase 1 (``last_eps``).  Phases 2 and 3 are the
losses :meth:`phase_loss` ("discriminator", "generator") with :meth:`phase_backward`, each
gradient-checked.  Their losses and D's accuracy are logged as ``d_loss``, ``g_loss``,
``d_accuracy``.  Caveat: if fit rolls back after a divergence, the parameters go back but the
two phase optimizers keep their moments.

:meth:`per_example_loss` and the validation loss are the reconstruction only: how well the
codes match the prior is a property of the whole set of codes (measure it with samples, e.g.
:func:`minivae.information.mmd.mmd` between codes and prior draws).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_rng, check_scalar
from minivae.models.autoencoder import Autoencoder
from minivae.models.base import check_hidden_sizes, register_model
from minivae.nn.sequential import MLP
from minivae.objectives import adversarial as gan
from minivae.objectives.losses import fill_missing
from minivae.objectives.priors import make_prior
from minivae.train.optim import Adam

__all__ = ["AdversarialAutoencoder", "PHASES"]

PHASES = ("discriminator", "generator")


@register_model
class AdversarialAutoencoder(Autoencoder):
    """Autoencoder whose codes are matched to a prior by a code discriminator.

    Args:
        input_dim, hidden_sizes, latent_dim, activation, output, rng, dtype: as for
            :class:`~minivae.models.autoencoder.Autoencoder`.
        prior: "gaussian", "mixture" (10 Gaussians on a circle), "swiss_roll" (2-D) or
            "laplace"; ``prior_kwargs`` its extra arguments (``scale``, ``std``, ...).
        disc_hidden: widths of the discriminator's hidden layers (L -> ... -> 1 logit).
        gen_loss: "non_saturating" (default) or "minimax".
        reg_lr: learning rate of the discriminator and generator phases (Adam).

    Shapes: X: (N, D) -> z: (N, L) -> reconstruction: (N, D); prior samples (N, L).
    """

    def __init__(self, input_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 latent_dim: int, *, prior: str = "gaussian",
                 prior_kwargs: dict[str, Any] | None = None,
                 disc_hidden: list[int] | tuple[int, ...] = (64, 64),
                 gen_loss: str = "non_saturating", reg_lr: float = 1e-3,
                 activation: str = "relu", output: str = "bernoulli",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        rng = check_rng(rng)  # one stream: encoder, decoder, then the discriminator
        super().__init__(input_dim, hidden_sizes, latent_dim, activation=activation,
                         output=output, rng=rng, dtype=dtype)
        if prior_kwargs is not None and not isinstance(prior_kwargs, dict):
            raise TypeError(f"prior_kwargs must be a dict of prior arguments or None, got "
                            f"{type(prior_kwargs).__name__}")
        self.prior = make_prior(prior, self.latent_dim, **dict(prior_kwargs or {}))
        self.disc_hidden = check_hidden_sizes(disc_hidden, "disc_hidden")
        if gen_loss not in gan.GENERATOR_LOSSES:
            raise ValueError(f"gen_loss must be one of {gan.GENERATOR_LOSSES}, got {gen_loss!r}")
        self.gen_loss = gen_loss
        self.reg_lr = check_scalar(reg_lr, "reg_lr", low=0.0, low_inclusive=False)
        self.discriminator = MLP([self.latent_dim, *self.disc_hidden, 1],
                                 activation=self.activation, rng=rng, dtype=self.dtype)
        self._phase_data: tuple[np.ndarray, np.ndarray] | None = None
        self._phase_pending: dict[str, Any] | None = None
        self._phase_optimizers: dict[str, Adam] = {}

    def config(self) -> dict[str, Any]:
        prior = self.prior.config()
        name = prior.pop("name")
        prior.pop("dim")
        return {**super().config(), "prior": name, "prior_kwargs": prior,
                "disc_hidden": list(self.disc_hidden), "gen_loss": self.gen_loss,
                "reg_lr": self.reg_lr}

    # -- phase 1: reconstruction (fit's loss / backward) -----------------------------------------
    def _prior_draw(self, n: int, rng: object, eps: object) -> np.ndarray:
        """The prior samples of this batch: ``eps`` replayed, or n fresh draws from ``rng``."""
        rng = self._need_noise(rng, eps)
        if rng is not None:
            return self.prior.sample(n, rng).astype(self.dtype)
        return check_array(eps, "eps", shape=(n, self.latent_dim), dtype=self.dtype)

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Phase 1: mean reconstruction loss.  Also draws the batch's prior samples (from
        ``rng``, or ``eps`` replayed) for the phases of :meth:`after_step`."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        z_prior = self._prior_draw(X.shape[0], rng, eps)
        filled = fill_missing(X, mask)
        rec, dout = self._forward(X, mask, need_grad=True)
        self.last_eps = z_prior
        self._pending = {"dout": dout / X.shape[0]}
        self._phase_data = (filled, z_prior)
        value = float(rec.mean())
        return value, {"loss": value, "reconstruction": value, "kl": 0.0}

    # -- phases 2 and 3 ---------------------------------------------------------------------------
    def phase_loss(self, phase: str, X: np.ndarray, z_prior: np.ndarray
                   ) -> tuple[float, dict[str, float]]:
        """The loss of phase "discriminator" (L_D on D(z_prior) real, D(encoder(X)) fake) or
        "generator" (L_G on D(encoder(X))), keeping what :meth:`phase_backward` needs.
        X: (N, D) (no NaN), z_prior: (N, L)."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        X, _, _ = self.check_inputs(X)
        z_prior = check_array(z_prior, "z_prior", shape=(X.shape[0], self.latent_dim),
                              dtype=self.dtype)
        z = self.encoder.forward(X)
        if phase == "discriminator":
            logits = self.discriminator.forward(np.concatenate([z_prior, z]))
            real, fake = logits[: len(z_prior)], logits[len(z_prior):]
            value = gan.discriminator_loss(real, fake)
            d_real, d_fake = gan.discriminator_loss_grad(real, fake)
            self._phase_pending = {"phase": phase, "dlogits": np.concatenate([d_real, d_fake])}
            accuracy = 0.5 * (np.mean(real > 0) + np.mean(fake < 0))
            return value, {"d_loss": value, "d_accuracy": float(accuracy)}
        fake = self.discriminator.forward(z)
        value = gan.generator_loss(fake, self.gen_loss)
        self._phase_pending = {"phase": phase, "dlogits": gan.generator_loss_grad(fake,
                                                                                  self.gen_loss)}
        return value, {"g_loss": value}

    def phase_backward(self) -> None:
        """Add the gradients of the last :meth:`phase_loss`: the discriminator's for phase
        "discriminator" (the encoder is held fixed: no encoder gradient); for "generator" the
        encoder's (through the discriminator, whose gradients are added too but not used)."""
        pending, self._phase_pending = self._phase_pending, None
        if pending is None:
            raise RuntimeError("phase_backward() needs a preceding phase_loss() call")
        dz = self.discriminator.backward(pending["dlogits"].astype(self.dtype, copy=False))
        if pending["phase"] == "generator":
            self.encoder.backward(dz)

    def _optimizer(self, phase: str) -> Adam:
        """Adam on the discriminator (phase "discriminator") or the encoder ("generator")."""
        if phase not in self._phase_optimizers:
            group = "discriminator." if phase == "discriminator" else "encoder."
            triples = [t for t in self.parameters() if t[0].startswith(group)]
            self._phase_optimizers[phase] = Adam(triples, lr=self.reg_lr)
        return self._phase_optimizers[phase]

    def after_step(self) -> dict[str, float]:
        """Phases 2 and 3 on the batch and prior samples of the last :meth:`loss` (called by
        ``train_step`` after phase 1's optimizer step); returns their logged parts."""
        if self._phase_data is None:
            raise RuntimeError("after_step() needs a preceding loss() call")
        X, z_prior = self._phase_data
        self._phase_data = None
        parts: dict[str, float] = {}
        for phase in PHASES:
            self.zero_grad()
            _, phase_parts = self.phase_loss(phase, X, z_prior)
            self.phase_backward()
            self._optimizer(phase).step()
            parts.update(phase_parts)
        self.zero_grad()
        return parts

    def release_caches(self) -> None:
        super().release_caches()
        self._phase_data = self._phase_pending = None
