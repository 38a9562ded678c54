r"""The VAE-GAN (Larsen, Sønderby, Larochelle & Winther, "Autoencoding beyond pixels using a
learned similarity metric", ICML 2016): a VAE whose reconstruction is judged in the feature
space of a GAN discriminator instead of pixel by pixel.

    X: (N, D) --encoder--> q(z | x) --z--> decoder --> x~ = sigmoid(logits): (N, D)
    z_p ~ N(0, I) --decoder--> x_p
    discriminator: F (first hidden layer: the features Dis_l) then a head -> logit of "real"

Losses (paper, section 2; means over the batch):

    L_prior = KL(q(z | x) || N(0, I))
    L_llike = 0.5 ||F(x~) - F(x)||^2           (a unit-variance Gaussian on the features)
    L_G     = gen(D(x~)) + gen(D(x_p))         (non-saturating by default)
    L_D     = 0.5 [disc(D(x), D(x~)) + disc(D(x), D(x_p))]   (x real, x~ and x_p fake)

and each network takes a step on its own objective:

    encoder        <- grad of  beta L_prior + L_llike
    decoder        <- grad of  gamma L_llike + L_G
    discriminator  <- grad of  L_D

How it runs with :func:`~minivae.train.loop.fit`: :meth:`VAEGAN.loss` / :meth:`backward` give
the encoder and the decoder their gradients (fit's optimizer steps them); the discriminator's
gradient of that pass is set to 0 (so fit's Adam never moves it).  :meth:`after_step` (called
by ``train_step`` after the optimizer step) is the discriminator phase, on the images of the
same pass, with its own Adam (learning rate ``disc_lr``).  The value :meth:`loss` returns is
the encoder's objective (the negative ELBO with the feature likelihood); ``parts`` also holds
the decoder's objective ("decoder_objective"), L_llike ("feature_loss") and L_G ("g_loss").

The two gradients of one backward are the gradients of two different functions, so the
gradient checks compare the encoder's against the encoder objective and the decoder's against
the decoder objective (``gradcheck/checks/latent.py``).  Since the decoder receives
gamma L_llike + L_G and the encoder only L_llike through z, backward runs the decoder twice
(backpropagation is linear in the upstream gradient): once with L_llike (its d/dz goes to the
encoder) and once with (gamma - 1) L_llike + L_G, so the decoder's total is the right one.

Why the first recipe collapsed, and the recipe that trains.  A 5000-image MNIST trial with the
VAE's defaults (beta 1, gamma 1, a 256-wide feature layer) collapsed: the KL fell to 0.03 nats
and every sample was the same speckled image, the discriminator winning (accuracy 0.99).  Two
causes (measured on 5000 images, 3-8 epochs, 784-256-16):

1. The encoder's likelihood was too weak.  L_llike is a unit-variance Gaussian on the features;
   for a random first layer of width H that is worth about 0.3 ||x~ - x||^2, a few nats for a
   good reconstruction against the ~25 nats of KL that carrying z costs, so the encoder's best
   move was to carry nothing (posterior collapse), and the decoder was left a plain GAN.
   ``beta`` = 0.1 or 0.02 (the features' variance, in other words) kept z used (KL 10 and 25
   nats after 3 epochs), but the samples stayed speckled and alike.
2. The feature layer was a narrow window on the image.  A 256-wide ReLU layer sees at most a
   256-dimensional projection of the 784 pixels: speckle in its null space costs no feature
   loss, and the GAN gradient filled it.  A 1024-wide feature layer (``disc_hidden`` =
   (1024, 128)) leaves no such room: with beta 0.02 the samples became diverse digits.
   beta = 0.05 with gamma = 20 (the feature loss outweighing the GAN term) gave the sharpest.

With both, the discriminator still pulls ahead slowly (accuracy 0.94 -> 0.99 over 8 epochs);
``disc_min_loss`` = 0.6 balances the players as Larsen et al.'s code does: the discriminator
skips its step while its loss is below 0.6 (the balanced game sits at 2 log 2 ~ 1.39).  These
are the defaults; ``python -m minivae.experiments latent-sharpness`` trains it on MNIST.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_rng, check_scalar
from minivae.models.base import check_hidden_sizes, inference_method, register_model
from minivae.models.vae import VAE
from minivae.nn.functional import sigmoid
from minivae.nn.sequential import MLP
from minivae.objectives import adversarial as gan
from minivae.objectives.elbo import negative_elbo, negative_elbo_backward
from minivae.train.optim import Adam

__all__ = ["VAEGAN"]


@register_model
class VAEGAN(VAE):
    """VAE with a discriminator whose first hidden layer gives the reconstruction loss.

    Args:
        input_dim, hidden_sizes, latent_dim, activation, rng, dtype: as for
            :class:`~minivae.models.vae.VAE` (Bernoulli decoder: images in [0, 1]).
        disc_hidden: widths of the discriminator's hidden layers; the first is the feature
            layer Dis_l (D -> disc_hidden[0] -> ... -> 1).
        gamma: weight of L_llike in the decoder's objective (the paper's gamma).
        gen_loss: "non_saturating" (default) or "minimax".
        disc_lr: learning rate of the discriminator phase (Adam).
        disc_min_loss: the discriminator skips its step while its loss L_D is below this
            (None: it always steps); ``after_step`` reports "d_updated" (1 or 0).
        beta: the KL's weight (default 0.05: see "the recipe that trains" above).

    Shapes: X: (N, D); z, z_p: (N, L); features (N, disc_hidden[0]).
    """

    def __init__(self, input_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 latent_dim: int, *, disc_hidden: list[int] | tuple[int, ...] = (1024, 128),
                 gamma: float = 20.0, gen_loss: str = "non_saturating", disc_lr: float = 1e-4,
                 disc_min_loss: float | None = 0.6, beta: float = 0.05, activation: str = "relu",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        rng = check_rng(rng)  # one stream: encoder, decoder, then the discriminator
        super().__init__(input_dim, hidden_sizes, latent_dim, beta=beta, activation=activation,
                         rng=rng, dtype=dtype)
        self.disc_hidden = check_hidden_sizes(disc_hidden, "disc_hidden")
        if not self.disc_hidden:
            raise ValueError("disc_hidden must name at least the feature layer's width, got []")
        self.gamma = check_scalar(gamma, "gamma", low=0.0)
        if gen_loss not in gan.GENERATOR_LOSSES:
            raise ValueError(f"gen_loss must be one of {gan.GENERATOR_LOSSES}, got {gen_loss!r}")
        self.gen_loss = gen_loss
        self.disc_lr = check_scalar(disc_lr, "disc_lr", low=0.0, low_inclusive=False)
        self.disc_min_loss = (None if disc_min_loss is None
                              else check_scalar(disc_min_loss, "disc_min_loss", low=0.0))
        h = self.disc_hidden
        self.disc_features = MLP([self.input_dim, h[0]], activation=self.activation,
                                 output_activation=self.activation, rng=rng, dtype=self.dtype)
        self.disc_head = MLP([*h, 1], activation=self.activation, rng=rng, dtype=self.dtype)
        self._images: np.ndarray | None = None
        self._pending_disc: np.ndarray | None = None
        self._disc_optimizer: Adam | None = None

    def config(self) -> dict[str, Any]:
        cfg = {key: value for key, value in super().config().items()
               if key in ("input_dim", "hidden_sizes", "latent_dim", "beta", "activation",
                          "dtype")}
        return {**cfg, "disc_hidden": list(self.disc_hidden), "gamma": self.gamma,
                "gen_loss": self.gen_loss, "disc_lr": self.disc_lr,
                "disc_min_loss": self.disc_min_loss}

    def _disc_params(self):
        return [t for t in self.parameters() if t[0].startswith("disc_")]

    def discriminate(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """images (M, D) -> (features F (M, H), logits (M, 1)), keeping both caches."""
        images = check_array(images, "images", shape=(None, self.input_dim), dtype=self.dtype)
        features = self.disc_features.forward(images)
        return features, self.disc_head.forward(features)

    # -- encoder and decoder phase (fit's loss / backward) ------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Encoder objective beta KL + L_llike (returned) and the decoder's (in parts).
        ``eps``: the pair (eps of q (N, L), prior draws z_p (N, L)) of ``last_eps``."""
        if mask is not None:
            raise ValueError("VAEGAN does not take a mask: its discriminator sees whole images")
        X, _, _ = self._split_batch(batch, None)
        rng = self._need_noise(rng, eps)
        if eps is not None and not (isinstance(eps, tuple) and len(eps) == 2):
            raise TypeError("eps must be the pair (eps, prior draws) that model.last_eps holds")
        q, inside = self._posterior(X, None, None)
        z = q.rsample(rng, eps=None if eps is None else eps[0])
        n = X.shape[0]
        z_p = (rng.standard_normal(z.shape).astype(self.dtype) if eps is None
               else check_array(eps[1], "eps[1]", shape=z.shape, dtype=self.dtype))
        self.last_eps = (q.eps, z_p)
        probs = sigmoid(self._decode_out(np.concatenate([z, z_p]), None))  # (2N, D)
        features, logits = self.discriminate(np.concatenate([X, probs]))   # (3N, .)
        diff = features[n: 2 * n] - features[:n]
        llike = 0.5 * np.sum(diff ** 2, axis=1)  # (N,)
        fake = logits[n:]
        g_value = 2.0 * gan.generator_loss(fake, self.gen_loss)  # mean over x~ and x_p, x2
        d_fake = 2.0 * gan.generator_loss_grad(fake, self.gen_loss)
        value, parts, dkl = negative_elbo(llike, q, self.kl_weight)
        self._images = np.concatenate([X, probs])
        self._pending = {"q": q, "inside": inside, "probs": probs, "dkl": dkl, "n": n,
                         "dllike": diff / n, "dfake": d_fake}
        dec = self.gamma * parts["reconstruction"] + g_value
        return value, {**parts, "feature_loss": parts["reconstruction"], "g_loss": g_value,
                       "decoder_objective": dec}

    def _image_chain(self, df: np.ndarray, dlogit: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Backprop upstream gradients on the 3N features and logits to the decoder's logits
        (2N, D) (through the discriminator and the sigmoid); returns d/dz (2N, L)."""
        df = df + self.disc_head.backward(dlogit)
        dimages = self.disc_features.backward(df)[len(probs) // 2:]
        return self._decoder_backward(dimages * probs * (1.0 - probs))

    def backward(self) -> None:
        p = self._take_pending()
        n, probs = p["n"], p["probs"]
        H = p["dllike"].shape[1]
        zero_f, zero_logit = np.zeros((n, H)), np.zeros((3 * n, 1))
        # chain A: L_llike alone -> decoder gets grad(L_llike), encoder gets its d/dz
        df_a = np.concatenate([zero_f, p["dllike"], zero_f]).astype(self.dtype)
        dz = self._image_chain(df_a, zero_logit.astype(self.dtype), probs)[:n]
        # chain B: (gamma - 1) L_llike + L_G -> decoder total: gamma L_llike + L_G
        df_b = np.concatenate([zero_f, (self.gamma - 1.0) * p["dllike"], zero_f])
        dlogit = np.concatenate([np.zeros((n, 1)), p["dfake"]])
        self._image_chain(df_b.astype(self.dtype), dlogit.astype(self.dtype), probs)
        dh = negative_elbo_backward(p["q"], p["inside"], dz, p["dkl"])
        self.encoder.backward(dh.astype(self.dtype, copy=False))
        for _, _, g in self._disc_params():  # the discriminator learns only in after_step
            g.fill(0.0)

    # -- discriminator phase -------------------------------------------------------------------
    def discriminator_loss(self, images: np.ndarray) -> tuple[float, dict[str, float]]:
        """L_D on images (3N, D) = [real; reconstructions; samples], keeping what
        :meth:`discriminator_backward` needs."""
        images = check_array(images, "images", ndim=2, dtype=self.dtype)
        if images.shape[0] % 3 or images.shape[1] != self.input_dim:
            raise ValueError(f"images must be (3N, {self.input_dim}): real, reconstructed and "
                             f"sampled rows, got {images.shape}")
        n = images.shape[0] // 3
        _, logits = self.discriminate(images)
        real, rec, smp = logits[:n], logits[n:2 * n], logits[2 * n:]
        value = 0.5 * (gan.discriminator_loss(real, rec) + gan.discriminator_loss(real, smp))
        dr1, drec = gan.discriminator_loss_grad(real, rec)
        dr2, dsmp = gan.discriminator_loss_grad(real, smp)
        self._pending_disc = 0.5 * np.concatenate([dr1 + dr2, drec, dsmp])
        accuracy = np.mean(np.concatenate([real > 0, rec < 0, smp < 0]))
        return value, {"d_loss": value, "d_accuracy": float(accuracy)}

    def discriminator_backward(self) -> None:
        """Add d(L_D)/d(discriminator parameters)."""
        dlogit = self._pending_disc
        if dlogit is None:
            raise RuntimeError("discriminator_backward() needs a preceding discriminator_loss()")
        self._pending_disc = None
        self.disc_features.backward(self.disc_head.backward(dlogit.astype(self.dtype)))

    def after_step(self) -> dict[str, float]:
        """The discriminator phase on the images of the last :meth:`loss` (called by
        ``train_step`` after the optimizer step)."""
        if self._images is None:
            raise RuntimeError("after_step() needs a preceding loss() call")
        images, self._images = self._images, None
        if self._disc_optimizer is None:
            self._disc_optimizer = Adam(self._disc_params(), lr=self.disc_lr)
        self.zero_grad()
        value, parts = self.discriminator_loss(images)
        # Balancing the players (Larsen et al.'s code): a discriminator already this far ahead
        # skips its step, so the decoder's GAN gradient does not vanish against a perfect judge.
        update = self.disc_min_loss is None or value >= self.disc_min_loss
        if update:
            self.discriminator_backward()
            self._disc_optimizer.step()
        self._pending_disc = None
        self.zero_grad()
        return {**parts, "d_updated": float(update)}

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None) -> dict[str, np.ndarray]:
        """Per example: L_llike (as "reconstruction", the feature distance to the
        reconstruction at one posterior sample) + beta KL."""
        if mask is not None:
            raise ValueError("VAEGAN does not take a mask: its discriminator sees whole images")
        X, _, _ = self._split_batch(batch, None)
        rng = self._need_noise(rng, eps)
        q, _ = self._posterior(X, None, None)
        z = q.rsample(rng, eps=eps)
        probs = sigmoid(self._decode_out(z, None))
        f = self.disc_features.forward(np.concatenate([X, probs]))
        rec = 0.5 * np.sum((f[len(X):] - f[: len(X)]) ** 2, axis=1)
        kl = q.kl_standard_normal()
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    def release_caches(self) -> None:
        super().release_caches()
        self._images = None
        self._pending_disc = None
