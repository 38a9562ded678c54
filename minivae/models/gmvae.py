r"""GMVAE: a Gaussian-mixture VAE with a categorical inference network, after Dilokthanakul,
Mediano, Garnelo, Lee, Salimbeni, Arulkumaran & Shanahan, "Deep unsupervised clustering with
Gaussian mixture variational autoencoders" (2016).

minivae builds the *simpler variant* the paper's idea is usually taught with, not the paper's
two-level model (whose component means and variances are themselves networks of a second latent
w, with a "z-prior" term)::

    c ~ Uniform{1..C} (or a learned pi),   z | c ~ N(m_c, diag(exp(s_c))),   x | z ~ decoder
    q(c | x) = softmax(classifier(x)),     q(z | x) = N(mu(x), diag(exp(logvar(x))))

and the same negative ELBO as VaDE (:mod:`minivae.objectives.mixture_prior`) with gamma =
q(c | x) from the classifier, whose gradient runs back through the classifier (there is no
path from gamma to z).  Everything else (prior parameters, pre-training with
:func:`~minivae.models.vade.pretrain`, prediction) is :class:`~minivae.models.vade.VaDE`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_rng
from minivae.models.base import check_hidden_sizes, register_model
from minivae.models.vade import VaDE
from minivae.nn.sequential import MLP
from minivae.objectives.mixture_prior import log_softmax, log_softmax_backward

__all__ = ["GMVAE"]


@register_model
class GMVAE(VaDE):
    """Mixture-prior VAE whose q(c | x) is a classifier network (module docstring).

    Args:
        input_dim, hidden_sizes, latent_dim, n_clusters, activation, output, rng, dtype: as
            for :class:`~minivae.models.vade.VaDE`.
        classifier_hidden: the classifier's hidden widths (D -> ... -> C); default the first
            encoder width.
        learn_weights: False (default): p(c) uniform, as in Dilokthanakul et al.; True: learned.
    """

    def __init__(self, input_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 latent_dim: int, n_clusters: int = 10, *,
                 classifier_hidden: list[int] | tuple[int, ...] | None = None,
                 learn_weights: bool = False, activation: str = "relu",
                 output: str = "bernoulli", rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        rng = check_rng(rng)  # one stream: encoder, decoder, then the classifier
        super().__init__(input_dim, hidden_sizes, latent_dim, n_clusters,
                         learn_weights=learn_weights, activation=activation, output=output,
                         rng=rng, dtype=dtype)
        default = self.hidden_sizes[:1]
        self.classifier_hidden = check_hidden_sizes(
            default if classifier_hidden is None else classifier_hidden, "classifier_hidden")
        self.classifier = MLP([self.input_dim, *self.classifier_hidden, self.n_clusters],
                              activation=self.activation, rng=rng, dtype=self.dtype,
                              input_grad=False)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "classifier_hidden": list(self.classifier_hidden)}

    def _cluster_log_probs(self, X: np.ndarray, z: np.ndarray) -> np.ndarray:
        """log q(c | x) = log softmax(classifier(x)): (N, C); z is not used."""
        return log_softmax(self.classifier.forward(X).astype(np.float64))

    def _cluster_backward(self, z: np.ndarray, log_gamma: np.ndarray, dlog_gamma: np.ndarray,
                          g: dict[str, np.ndarray]) -> np.ndarray:
        """Backprop through the classifier (its cache is the loss's forward pass); no d/dz."""
        self.classifier.backward(log_softmax_backward(log_gamma, dlog_gamma).astype(self.dtype))
        return np.zeros_like(z, dtype=np.float64)
