"""Gradient checks of the latent-shaping models: the GAN losses, the vector quantizer, the VQ-VAE,
the adversarial autoencoder's three phases and the VAE-GAN's three objectives.

The quantizer is piecewise: the nearest-code assignment jumps at ties, and within a piece the
quantized value does not depend on z_e at all, so the straight-through gradient d(z_e) = d(z_q)
is a *convention*, not a derivative.  Two kinds of check, each of what it can honestly test:

* ``quantizer.piecewise``: the true loss terms, at points away from ties (every z_e is much
  nearer its code than any other, so a step of h cannot change an assignment): the codebook
  loss w.r.t. the codebook and the commitment loss w.r.t. z_e are ordinary smooth functions
  there, and the finite differences see exactly the hand-written gradients;
* ``quantizer.straight_through`` and the VQ-VAE checks: the *surrogate* with the assignments and
  the stop-gradient values frozen at the base point (``forward(z_e, frozen=...)``, the model's
  ``loss(eps=last_eps)``), z_q = z_e + (z_q0 - z_e0), whose exact derivative is the
  straight-through gradient and whose value equals the loss at the base point.

The AAE's reconstruction phase goes through ``check_model``; the discriminator and generator
phases through ``phase_loss`` / ``phase_backward`` with the prior samples fixed.  The
discriminator phase is checked on the discriminator's parameters only: it holds the encoder
fixed by design (its backward computes no encoder gradient, while the loss does depend on the
encoder).  The VAE-GAN's one backward gives the encoder the gradient of beta KL + L_llike and
the decoder that of gamma L_llike + L_G: each group is checked against its own objective (the
loss part "loss" or "decoder_objective"); its discriminator on fixed images.  Networks use
tanh (no ReLU kinks): tolerance 1e-7 everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae.gradcheck.checkers import check_function, check_gradient
from minivae.gradcheck.checks._common import randomise_biases, size
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.models.aae import AdversarialAutoencoder
from minivae.models.vaegan import VAEGAN
from minivae.models.vqvae import VQVAE
from minivae.nn.quantizer import VectorQuantizer
from minivae.objectives import adversarial as gan

# A z_e counts as away from a tie when its second-nearest code is farther than the nearest by
# at least this much in squared distance (a finite-difference step h = 1e-6 moves it ~1e-6).
TIE_MARGIN = 1e-2


# ------------------------------------------------------------------------------- GAN losses
def _logits(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    return 2.0 * rng.standard_normal((n or size(rng, 2, 6), 1))


@register_check("adversarial.discriminator_loss")
def _check_discriminator_loss(rng: np.random.Generator) -> list[GradCheckResult]:
    n = size(rng, 2, 6)
    return check_function(gan.discriminator_loss,
                          {"real_logits": _logits(rng, n), "fake_logits": _logits(rng, n)},
                          gan.discriminator_loss_grad)


def _generator_check(kind: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        return check_function(lambda fake_logits: gan.generator_loss(fake_logits, kind),
                              {"fake_logits": _logits(rng)},
                              lambda fake_logits: gan.generator_loss_grad(fake_logits, kind))

    return check


for _kind in gan.GENERATOR_LOSSES:
    register_check(f"adversarial.generator_loss.{_kind}", _generator_check(_kind))


# ------------------------------------------------------------------------------- quantizer
def _quantizer_case(rng: np.random.Generator, beta: float) -> tuple[VectorQuantizer, np.ndarray]:
    """A quantizer whose codes are well apart and z_e: (N, M, d) drawn near random codes, so
    no z_e is within TIE_MARGIN of a tie."""
    K, d = size(rng, 2, 5), size(rng, 1, 3)
    q = VectorQuantizer(K, d, beta=beta, rng=rng)
    q.params["codebook"][...] = 2.0 * rng.standard_normal((K, d))
    while True:
        idx = rng.integers(0, K, (size(rng, 2, 4), size(rng, 1, 3)))
        z_e = q.params["codebook"][idx] + 0.3 * rng.standard_normal(idx.shape + (d,))
        d2 = np.sort(np.sum((z_e[..., None, :] - q.params["codebook"]) ** 2, axis=-1), axis=-1)
        if K == 1 or np.all(d2[..., 1] - d2[..., 0] > TIE_MARGIN):
            return q, z_e
        q.params["codebook"][...] = 2.0 * rng.standard_normal((K, d))


@register_check("quantizer.piecewise")
def _check_quantizer_piecewise(rng: np.random.Generator) -> list[GradCheckResult]:
    """The true codebook and commitment losses away from ties (module docstring)."""
    q, z_e = _quantizer_case(rng, beta=1.0)
    E = q.params["codebook"]
    q.forward(z_e)
    dz_e = q.backward(np.zeros_like(z_e))  # only the commitment term: 2/n (z_e - e_k)
    codebook_grad = q.grads["codebook"].copy()

    def commitment() -> float:
        q.forward(z_e)
        return q.losses["commitment"]

    def codebook() -> float:
        q.forward(z_e)
        return q.losses["codebook"]

    return [check_gradient(commitment, z_e, dz_e, name="z_e (commitment)", rng=rng),
            check_gradient(codebook, E, codebook_grad, name="codebook (codebook loss)",
                           rng=rng)]


@register_check("quantizer.straight_through")
def _check_quantizer_surrogate(rng: np.random.Generator) -> list[GradCheckResult]:
    """sum(dy * z_q) + codebook + beta * commitment with the base point's values frozen."""
    q, z_e = _quantizer_case(rng, beta=float(rng.uniform(0.1, 1.0)))
    dy = rng.standard_normal(z_e.shape)
    q.forward(z_e)
    frozen = q.last_frozen
    dz_e = q.backward(dy)
    analytic_codebook = q.grads["codebook"].copy()

    def surrogate() -> float:
        return float(np.sum(dy * q.forward(z_e, frozen=frozen)) + q.aux_loss)

    return [check_gradient(surrogate, z_e, dz_e, name="z_e", rng=rng),
            check_gradient(surrogate, q.params["codebook"], analytic_codebook, name="codebook",
                           rng=rng)]


# ------------------------------------------------------------------------------- VQ-VAE
def _vqvae_check(output: str, ema: bool):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        D, H = size(rng, 2, 5), size(rng, 2, 5)
        model = VQVAE(D, [H], size(rng, 2, 5), size(rng, 1, 3), groups=size(rng, 1, 3),
                      beta=float(rng.uniform(0.1, 1.0)), ema=ema, output=output,
                      activation="tanh", rng=rng)
        randomise_biases(model, rng)
        # codes spread like the encoder outputs, so several codes are in use
        model.quantizer.params["codebook"][...] = rng.standard_normal(
            model.quantizer.params["codebook"].shape)
        N = size(rng, 2, 4)
        X = rng.random((N, D)) if output == "bernoulli" else rng.standard_normal((N, D))
        return check_model(model, X, rng=rng)

    return check


for _output, _ema in (("bernoulli", False), ("gaussian", False), ("bernoulli", True)):
    register_check(f"vqvae.{_output}{'.ema' if _ema else ''}", _vqvae_check(_output, _ema))


# ------------------------------------------------------------------------------- AAE
def _aae_case(rng: np.random.Generator, prior: str) -> tuple[AdversarialAutoencoder, np.ndarray]:
    D, H = size(rng, 2, 5), size(rng, 2, 4)
    L = 2 if prior == "swiss_roll" else size(rng, 1, 3)
    model = AdversarialAutoencoder(D, [H], L, prior=prior, disc_hidden=[size(rng, 2, 4)],
                                   activation="tanh", rng=rng)
    randomise_biases(model, rng)
    return model, rng.random((size(rng, 2, 4), D))


class _Phase:
    """One of the AAE's regularisation phases with the model contract ``check_model`` uses:
    ``loss(X, rng|eps)`` = ``phase_loss(phase, X, prior samples)``, ``backward`` =
    ``phase_backward``; the prior samples are the replayable noise."""

    def __init__(self, model: AdversarialAutoencoder, phase: str) -> None:
        self.model, self.phase, self.dtype = model, phase, model.dtype
        self.last_eps: np.ndarray | None = None

    def parameters(self) -> Any:
        return self.model.parameters()

    def zero_grad(self) -> None:
        self.model.zero_grad()

    def loss(self, X: np.ndarray, *, rng: Any = None, eps: Any = None):
        z_prior = self.model.prior.sample(len(X), rng) if eps is None else eps
        self.last_eps = z_prior
        return self.model.phase_loss(self.phase, X, z_prior)

    def backward(self) -> None:
        self.model.phase_backward()


def _aae_check(prior: str, phase: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        model, X = _aae_case(rng, prior)
        if phase == "reconstruction":
            return check_model(model, X, rng=rng)
        params = None
        if phase == "discriminator":  # the encoder is held fixed (module docstring)
            params = [n for n, _, _ in model.parameters() if n.startswith("discriminator.")]
        return check_model(_Phase(model, phase), X, rng=rng, params=params)

    return check


for _prior in ("gaussian", "mixture", "swiss_roll"):
    for _phase in ("reconstruction", "discriminator", "generator"):
        register_check(f"aae.{_prior}.{_phase}", _aae_check(_prior, _phase))


# ------------------------------------------------------------------------------- VAE-GAN
class _Objective:
    """A model seen through one entry of its loss parts (``key``): the VAE-GAN's encoder and
    decoder objectives come from one ``loss`` / ``backward``, each checked on its own group."""

    def __init__(self, model: Any, key: str) -> None:
        self.model, self.key, self.dtype = model, key, model.dtype

    @property
    def last_eps(self) -> Any:
        return self.model.last_eps

    def parameters(self) -> Any:
        return self.model.parameters()

    def zero_grad(self) -> None:
        self.model.zero_grad()

    def loss(self, batch: Any, **kwargs: Any):
        _, parts = self.model.loss(batch, **kwargs)
        return parts[self.key], parts

    def backward(self) -> None:
        self.model.backward()


class _DiscriminatorPhase(_Objective):
    """The VAE-GAN's discriminator loss on fixed images [real; reconstructed; sampled]."""

    last_eps = None

    def loss(self, images: np.ndarray, **kwargs: Any):
        return self.model.discriminator_loss(images)

    def backward(self) -> None:
        self.model.discriminator_backward()


def _vaegan_check(group: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        D, N = size(rng, 2, 5), size(rng, 2, 4)
        model = VAEGAN(D, [size(rng, 2, 4)], size(rng, 1, 3), disc_hidden=[size(rng, 2, 4), 2],
                       gamma=float(rng.uniform(0.2, 2.0)), beta=float(rng.uniform(0.5, 2.0)),
                       activation="tanh", rng=rng)
        randomise_biases(model, rng)
        names = [n for n, _, _ in model.parameters() if n.startswith(group)]
        X = rng.random((N, D))
        if group == "disc_":
            return check_model(_DiscriminatorPhase(model, ""), rng.random((3 * N, D)), rng=rng,
                               params=names)
        key = "loss" if group == "encoder." else "decoder_objective"
        return check_model(_Objective(model, key), X, rng=rng, params=names)

    return check


for _group, _name in (("encoder.", "encoder"), ("decoder.", "decoder"), ("disc_", "discriminator")):
    register_check(f"vaegan.{_name}", _vaegan_check(_group))
