"""The 2-Stage VAE (Dai & Wipf, "Diagnosing and enhancing VAE models", ICLR 2019).

A VAE trained well reconstructs well, yet its samples can be poor: the codes of the data,
q(z) = (1/N) sum_n q(z | x_n) (the aggregate posterior), do not fill the prior N(0, I).  Some
regions the prior visits often hold no data's code (the decoder has never been trained there),
while the data's codes crowd elsewhere.  Sampling z ~ N(0, I) then decodes codes the decoder
has never seen.  Dai & Wipf's remedy: keep the first VAE and learn the distribution of its codes
with a second VAE::

    stage 1:  x (N, D)  --VAE 1-->  z (N, L1)       trained on the data
    stage 2:  z (N, L1) --VAE 2-->  u (N, L2)       trained on stage 1's codes (posterior means)

    sampling: u ~ N(0, I)  ->  z ~ p(z | u) (stage-2 decoder)  ->  x = E[x | z] (stage-1 decoder)

Stage 2 is an ordinary Gaussian VAE on low-dimensional data (L1 numbers per example) with a
learned decoder variance; its latent size L2 is by default L1, as in the paper.  Their
argument: stage 1 finds the data's manifold, stage 2 (whose data now fill all L1 dimensions)
can then match its aggregate posterior to N(0, I), so u ~ N(0, I) is decoded from where the
codes really are.

This module only composes: both stages are the library's
:class:`~minivae.models.vae.VAE` (its objective, its gradients, its ``fit``); nothing of the
VAE is rewritten here.  Departures from the paper: the stage-1 likelihood is the library's
(Bernoulli for MNIST by default, where the paper learns a Gaussian variance gamma); the learned
decoder variance of stage 2 is the library's, one per dimension (the paper's is one scalar
gamma); z is drawn from p(z | u) rather than set to its mean (see :meth:`sample_codes`); and
both networks are small MLPs.

Shapes: X (N, D) data, z (N, L1) stage-1 codes, u (N, L2) stage-2 codes.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

from minivae._validation import check_positive_int, check_rng
from minivae.models.base import check_hidden_sizes, register_model
from minivae.models.vae import VAE
from minivae.nn.layer import Layer
from minivae.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minivae.train.history import History

__all__ = ["TwoStageVAE"]


@register_model
class TwoStageVAE(Layer):
    """Two VAEs in sequence: ``stage1`` on the data, ``stage2`` on stage 1's posterior means.

    Args:
        input_dim: D, features per example (784 for MNIST).
        hidden_sizes: stage 1's encoder widths (its decoder mirrors them).
        latent_dim: L1, stage 1's latent size (= stage 2's data size).
        stage2_hidden: stage 2's encoder widths (default (256, 256); its decoder mirrors them).
        stage2_latent: L2, stage 2's latent size (default None: L1, as in the paper).
        likelihood: stage 1's likelihood, "bernoulli" (data in [0, 1]) or "gaussian".
        beta: stage 1's KL weight (stage 2 always trains the plain ELBO, beta = 1).
        rng: generator or seed for both stages' initial weights.
        dtype: float64 (default) or float32, for both stages.

    Attributes:
        stage1, stage2: the two :class:`~minivae.models.vae.VAE` (stage 2 with a Gaussian
            likelihood whose per-dimension variance its decoder learns).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: list[int] | tuple[int, ...],
        latent_dim: int,
        *,
        stage2_hidden: list[int] | tuple[int, ...] = (256, 256),
        stage2_latent: int | None = None,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        super().__init__(dtype)
        rng = check_rng(rng)
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        stage2_hidden = check_hidden_sizes(stage2_hidden, "stage2_hidden")
        stage2_latent = latent_dim if stage2_latent is None else check_positive_int(
            stage2_latent, "stage2_latent")
        self.stage1 = VAE(input_dim, hidden_sizes, latent_dim, beta=beta, likelihood=likelihood,
                          rng=rng, dtype=self.dtype)
        self.stage2 = VAE(latent_dim, stage2_hidden, stage2_latent, likelihood="gaussian",
                          rng=rng, dtype=self.dtype)

    # -- architecture and checkpoints ----------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able), as a checkpoint stores them."""
        s1, s2 = self.stage1, self.stage2
        return {"input_dim": s1.input_dim, "hidden_sizes": list(s1.hidden_sizes),
                "latent_dim": s1.latent_dim, "stage2_hidden": list(s2.hidden_sizes),
                "stage2_latent": s2.latent_dim, "likelihood": s1.likelihood, "beta": s1.beta,
                "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TwoStageVAE:
        """A new pair of the stored architecture (weights freshly initialised)."""
        return cls(**config)

    def save(self, path: str | PathLike) -> None:
        """Write both stages to one checkpoint file (``param/stage1.*``, ``param/stage2.*``;
        see :mod:`minivae.train.checkpoint`: ``np.savez``, loaded without pickle)."""
        save_checkpoint(path, self)

    @classmethod
    def load(cls, path: str | PathLike) -> TwoStageVAE:
        """The pair stored by :meth:`save` (a :class:`CheckpointError` if the file holds
        anything else)."""
        model = load_checkpoint(path).model
        if not isinstance(model, cls):
            raise CheckpointError(str(path), f"holds a {type(model).__name__}, not a "
                                             f"{cls.__name__}")
        return model

    # -- training -------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, *, epochs: int = 10, stage2_epochs: int | None = None,
            batch_size: int = 64, lr: float | None = None,
            rng: np.random.Generator | int = 0, verbose: int = 0) -> dict[str, History]:
        """Train stage 1 on X (N, D), then stage 2 on stage 1's posterior means of X.

        ``stage2_epochs`` defaults to ``epochs``; ``lr`` (default the loop's, 1e-3) and
        ``batch_size`` serve both stages.  Returns {"stage1": History, "stage2": History}.
        """
        rng = check_rng(rng)
        epochs = check_positive_int(epochs, "epochs")
        # checked before stage 1 trains, so a bad value cannot waste a stage-1 run
        stage2_epochs = epochs if stage2_epochs is None else check_positive_int(
            stage2_epochs, "stage2_epochs")
        h1 = self.fit_stage1(X, epochs=epochs, batch_size=batch_size, lr=lr, rng=rng,
                             verbose=verbose)
        h2 = self.fit_stage2(X, epochs=stage2_epochs, batch_size=batch_size, lr=lr, rng=rng,
                             verbose=verbose)
        return {"stage1": h1, "stage2": h2}

    def fit_stage1(self, X: np.ndarray, *, epochs: int = 10, batch_size: int = 64,
                   lr: float | None = None, rng: np.random.Generator | int = 0,
                   verbose: int = 0) -> History:
        """Train stage 1 (an ordinary VAE) on X (N, D); returns its History."""
        return self.stage1.fit(X, epochs=epochs, batch_size=batch_size, lr=lr,
                               rng=check_rng(rng), verbose=verbose)

    def fit_stage2(self, X: np.ndarray, *, epochs: int = 10, batch_size: int = 64,
                   lr: float | None = None, rng: np.random.Generator | int = 0,
                   verbose: int = 0) -> History:
        """Train stage 2 on the codes :meth:`codes` of X (N, D) (stage 1 stays fixed);
        returns its History."""
        return self.stage2.fit(self.codes(X), epochs=epochs, batch_size=batch_size, lr=lr,
                               rng=check_rng(rng), verbose=verbose)

    # -- inference -------------------------------------------------------------------------------
    def codes(self, X: np.ndarray) -> np.ndarray:
        """Stage 1's posterior means mu(x), (N, L1): the data of stage 2."""
        return self.stage1.encode(X)[0]

    def sample_codes(self, n: int, rng: np.random.Generator | int, *,
                     mean: bool = False) -> np.ndarray:
        """n stage-1 codes from stage 2, (n, L1): u ~ N(0, I_L2), then z ~ p(z | u) (default)
        or z = E[z | u] (``mean=True``).

        Why draw z rather than take the mean: the paper's stage-2 decoder variance gamma goes
        to 0, where both are the same; a small stage 2 trained for minutes keeps a sizeable
        learned variance, and its means alone are pulled towards the centre of the codes
        (their spread is visibly smaller than the held-out codes', and their MMD to them
        larger: measured in ``python -m minivae.experiments posteriors --parts two_stage``).
        """
        return self.stage2.sample(check_positive_int(n, "n"), check_rng(rng), mean=mean)

    def sample(self, n: int, rng: np.random.Generator | int) -> np.ndarray:
        """n examples: u ~ N(0, I) -> z ~ p(z | u) -> E[x | z] (pixel probabilities for a
        Bernoulli stage 1), (n, D).  ``self.stage1.sample(n, rng)`` is the one-stage
        sampler (z ~ N(0, I)) to compare with."""
        return self.stage1.decode(self.sample_codes(n, rng))
