r"""VaDE, variational deep embedding (Jiang, Zheng, Tan, Tang & Zhou, IJCAI 2017): a VAE whose
prior is a learned mixture of Gaussians, so the latent space clusters::

    c ~ Cat(pi),   z | c ~ N(m_c, diag(exp(s_c))),   x | z ~ Bernoulli(logits = dec(z))
    q(z | x) = N(mu(x), diag(exp(logvar(x)))),   [mu, logvar] = enc(x)
    q(c | x) = gamma(x) = p(c | z) at z ~ q(z | x)                  (the paper's eq. 16)

Loss (per example, mean over the batch) = -log p(x | z) + kl_weight * [sum_c gamma_c KL(q(z|x)
|| p(z|c)) + KL(gamma || pi)] with one reparameterized z: :mod:`minivae.objectives.mixture_prior`
(pi = softmax(logits); the prior's parameters are the model's ``prior_logits`` (C,),
``prior_means`` and ``prior_logvars`` (C, L), trained with everything else).  A point's cluster
is argmax_c p(c | z = mu(x)) (:meth:`VaDE.predict`).

Before training, the means start on a circle (:class:`~minivae.objectives.priors.MixturePrior`'s
means) with unit variances; the paper instead **pre-trains** (:func:`pretrain`): an autoencoder
of the same encoder and decoder sizes, then a diagonal Gaussian mixture fitted by EM on its
codes, which initialises pi, m and s; the encoder's mean head and the decoder take the
autoencoder's weights.

:class:`~minivae.models.gmvae.GMVAE` is the same model with gamma from a classifier network.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.information.clustering import GaussianMixtureFit, fit_gmm
from minivae.models.autoencoder import OUTPUTS, Autoencoder
from minivae.models.base import Model, check_hidden_sizes, inference_method, register_model
from minivae.nn.functional import sigmoid
from minivae.nn.sequential import MLP
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.elbo import encoder_posterior
from minivae.objectives.losses import fill_missing, reconstruction_nll
from minivae.objectives.mixture_prior import (
    cluster_log_posterior,
    cluster_log_posterior_backward,
    log_softmax,
    log_softmax_backward,
    mixture_kl,
    mixture_kl_backward,
)
from minivae.objectives.priors import MixturePrior

__all__ = ["VaDE", "pretrain"]


@register_model
class VaDE(Model):
    """VAE with a learned mixture-of-Gaussians prior; clusters by p(c | z) (module docstring).

    Args:
        input_dim: D (784 for MNIST).
        hidden_sizes: encoder widths, e.g. [500, 500, 2000] (the paper's); the decoder mirrors.
        latent_dim: L (the paper: 10).
        n_clusters: C, the mixture's components (10 for MNIST).
        learn_weights: learn pi (default) or keep it uniform.
        activation, output: as for :class:`~minivae.models.autoencoder.Autoencoder`
            (output "bernoulli" or "gaussian").
        rng, dtype: weight initialisation; float64 or float32.

    Shapes: X (N, D) -> mu, logvar (N, L) -> cluster probabilities (N, C).
    """

    input_ndim = (2,)

    def __init__(self, input_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 latent_dim: int, n_clusters: int = 10, *, learn_weights: bool = True,
                 activation: str = "relu", output: str = "bernoulli",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_sizes = check_hidden_sizes(hidden_sizes)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.n_clusters = check_positive_int(n_clusters, "n_clusters")
        if not isinstance(learn_weights, (bool, np.bool_)):
            raise TypeError(f"learn_weights must be a bool, got {type(learn_weights).__name__}")
        self.learn_weights = bool(learn_weights)
        if output not in OUTPUTS[:2]:
            raise ValueError(f"output must be one of {OUTPUTS[:2]}, got {output!r}")
        self.output, self.activation = output, str(activation)
        rng = check_rng(rng)
        D, L, C = self.input_dim, self.latent_dim, self.n_clusters
        self.encoder = MLP([D, *self.hidden_sizes, 2 * L], activation=self.activation, rng=rng,
                           dtype=self.dtype, input_grad=False)
        self.decoder = MLP([L, *self.hidden_sizes[::-1], D], activation=self.activation,
                           rng=rng, dtype=self.dtype)
        if self.learn_weights:
            self.add_param("prior_logits", np.zeros(C))
        self.add_param("prior_means", MixturePrior(L, scale=2.0, n_components=C).means)
        self.add_param("prior_logvars", np.zeros((C, L)))

    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "hidden_sizes": list(self.hidden_sizes),
                "latent_dim": self.latent_dim, "n_clusters": self.n_clusters,
                "learn_weights": self.learn_weights, "activation": self.activation,
                "output": self.output, "dtype": self.dtype.name}

    # -- the prior ------------------------------------------------------------------------------
    def prior(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log pi (C,), means (C, L), logvars (C, L)) of the mixture prior, float64."""
        if self.learn_weights:
            log_pi = log_softmax(self.params["prior_logits"].astype(np.float64))
        else:
            log_pi = np.full(self.n_clusters, -np.log(self.n_clusters))
        return (log_pi, self.params["prior_means"].astype(np.float64),
                self.params["prior_logvars"].astype(np.float64))

    def set_prior(self, weights: object, means: object, variances: object) -> None:
        """Set pi (C,) (ignored when pi is not learned), the means and the variances (C, L) of
        the mixture, e.g. from :func:`~minivae.information.clustering.fit_gmm`."""
        C, L = self.n_clusters, self.latent_dim
        weights = check_array(weights, "weights", shape=(C,), dtype=np.float64)
        means = check_array(means, "means", shape=(C, L), dtype=np.float64)
        variances = check_array(variances, "variances", shape=(C, L), dtype=np.float64)
        if np.any(weights <= 0) or np.any(variances <= 0):
            raise ValueError("weights and variances must be > 0")
        if self.learn_weights:
            self.params["prior_logits"][...] = np.log(weights / weights.sum())
        self.params["prior_means"][...] = means
        self.params["prior_logvars"][...] = np.log(variances)

    def _prior_backward(self, g: dict[str, np.ndarray], log_pi: np.ndarray) -> None:
        """Accumulate the prior's gradients from d/d log pi, d/d means, d/d logvars."""
        if self.learn_weights:
            self.grads["prior_logits"] += log_softmax_backward(log_pi, g["log_pi"]).astype(
                self.dtype)
        self.grads["prior_means"] += g["means"].astype(self.dtype)
        self.grads["prior_logvars"] += g["logvars"].astype(self.dtype)

    # -- q(c | x): the one thing GMVAE changes -----------------------------------------------------
    def _cluster_log_probs(self, X: np.ndarray, z: np.ndarray) -> np.ndarray:
        """log q(c | x) (N, C): VaDE's p(c | z) at the given z."""
        return cluster_log_posterior(z, *self.prior())

    def _cluster_backward(self, z: np.ndarray, log_gamma: np.ndarray, dlog_gamma: np.ndarray,
                          g: dict[str, np.ndarray]) -> np.ndarray:
        """Backprop d/d log q(c | x): returns d/dz (N, L); adds the prior's share into ``g``."""
        back = cluster_log_posterior_backward(z, *self.prior(), dlog_gamma)
        for key in ("log_pi", "means", "logvars"):
            g[key] = g[key] + back[key]
        return back["z"]

    # -- training contract ------------------------------------------------------------------------
    def _terms(self, X: np.ndarray, mask: np.ndarray | None, rng, eps, need_grad: bool):
        """One pass: q, inside, z, rec (N,), dout, log_gamma (N, C), kl (N,)."""
        Xf = fill_missing(X, mask)
        q, inside = encoder_posterior(self.encoder.forward(Xf))
        z = q.rsample(rng, eps=eps) if need_grad or eps is not None else q.sample(rng)
        out = self.decoder.forward(z.astype(self.dtype, copy=False))
        rec, dout = reconstruction_nll(self.output, out, X, mask, need_grad=need_grad)
        log_gamma = self._cluster_log_probs(Xf, z)
        kl = mixture_kl(q, log_gamma, *self.prior())
        return q, inside, z, rec, dout, log_gamma, kl

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Mean over the batch X (N, D) of -log p(x|z) + kl_weight * KL terms (module doc);
        parts "loss", "reconstruction", "kl", "elbo"."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        rng = self._need_noise(rng, eps)
        q, inside, z, rec, dout, log_gamma, kl = self._terms(X, mask, rng, eps, True)
        self.last_eps = q.eps
        n = X.shape[0]
        self._pending = {"q": q, "inside": inside, "z": z,
                         "dout": dout / n, "log_gamma": log_gamma, "weight": self.kl_weight / n}
        value = float(np.mean(rec + self.kl_weight * kl))
        r, k = float(rec.mean()), float(kl.mean())
        return value, {"loss": value, "reconstruction": r, "kl": k, "elbo": -(r + k)}

    def backward(self) -> None:
        """Accumulate the gradients of the last :meth:`loss`: decoder, q(c | x), prior, encoder."""
        p = self._take_pending()
        q, prior = p["q"], self.prior()
        dz = self.decoder.backward(p["dout"]).astype(np.float64)
        g = mixture_kl_backward(q, p["log_gamma"], *prior, weight=p["weight"])
        dz = dz + self._cluster_backward(p["z"], p["log_gamma"], g["log_gamma"], g)
        self._prior_backward(g, prior[0])
        dmu, dlogvar = q.rsample_backward(dz)
        dh = np.concatenate([dmu + g["mu"], (dlogvar + g["logvar"]) * p["inside"]], axis=1)
        self.encoder.backward(dh.astype(self.dtype, copy=False))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None) -> dict[str, np.ndarray]:
        """"loss" = reconstruction + kl_weight * kl, "reconstruction", "kl": each (N,)."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        rng = self._need_noise(rng, None)
        _, _, _, rec, _, _, kl = self._terms(X, mask, rng, None, False)
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    # -- inference ------------------------------------------------------------------------------
    @inference_method
    def posterior(self, batch, *, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of q(z | x), each (N, L)."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        q, _ = encoder_posterior(self.encoder.forward(fill_missing(X, mask)))
        return q.mu, q.logvar

    def encode(self, X: np.ndarray) -> np.ndarray:
        """X (N, D) -> the posterior means mu(x) (N, L): the codes to cluster or plot."""
        return self.posterior(X)[0]

    @inference_method
    def cluster_probabilities(self, X: np.ndarray) -> np.ndarray:
        """q(c | x) (N, C) at z = mu(x) (VaDE: p(c | mu(x)); GMVAE: its classifier)."""
        X, _, _ = self.check_inputs(X)
        q, _ = encoder_posterior(self.encoder.forward(X))
        return np.exp(self._cluster_log_probs(X, q.mu))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The cluster of each row of X (N, D): argmax_c q(c | x), ints (N,)."""
        return np.argmax(self.cluster_probabilities(X), axis=1)

    @inference_method
    def decode(self, z: np.ndarray) -> np.ndarray:
        """z (N, L) -> E[x | z] (N, D)."""
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        out = self.decoder.forward(z)
        return sigmoid(out).astype(self.dtype) if self.output == "bernoulli" else out

    def sample(self, n: int, rng: np.random.Generator | int, *,
               cluster: int | None = None) -> np.ndarray:
        """n draws of E[x | z] (n, D) with c ~ pi (or the given ``cluster``), z ~ p(z | c)."""
        n, rng = check_positive_int(n, "n"), check_rng(rng)
        log_pi, means, logvars = self.prior()
        if cluster is None:
            c = rng.choice(self.n_clusters, size=n, p=np.exp(log_pi) / np.exp(log_pi).sum())
        else:
            c = np.full(n, check_positive_int(cluster, "cluster", minimum=0))
            if c[0] >= self.n_clusters:
                raise ValueError(f"cluster must be < n_clusters={self.n_clusters}, got {c[0]}")
        z = DiagonalGaussian(means[c], logvars[c]).sample(rng)
        return self.decode(z.astype(self.dtype))


def pretrain(model: VaDE, X: np.ndarray, *, epochs: int = 10, batch_size: int = 100,
             lr: float = 1e-3, rng: np.random.Generator | int = 0, verbose: int = 0,
             posterior_variance: float = 0.1) -> tuple[Autoencoder, GaussianMixtureFit]:
    """VaDE's pre-training (Jiang et al. 2017, section 3.3): an autoencoder of the model's
    encoder and decoder sizes trained on X (N, D), then a diagonal Gaussian mixture of C
    components fitted by EM to its codes.  The model's encoder (its mean head) and decoder take
    the autoencoder's weights, the prior the mixture's pi, means and variances; the log-variance
    head starts at zero weights and a bias of log(posterior_variance * the mixture's mean
    variance per dimension), a posterior narrower than the clusters.  Returns (the
    autoencoder, the mixture fit)."""
    rng = check_rng(rng)
    check_scalar(posterior_variance, "posterior_variance", low=0.0, low_inclusive=False)
    if not isinstance(model, VaDE):
        raise TypeError(f"model must be a VaDE (or GMVAE), got {type(model).__name__}")
    ae = Autoencoder(model.input_dim, model.hidden_sizes, model.latent_dim,
                     activation=model.activation, output=model.output, rng=rng,
                     dtype=model.dtype)
    ae.fit(X, epochs=epochs, batch_size=batch_size, lr=lr, rng=rng, verbose=verbose,
           diagnostics=False)
    gmm = fit_gmm(ae.encode(X).astype(np.float64), model.n_clusters, rng=rng)
    model.decoder.load_state_dict(ae.decoder.state_dict())
    L = model.latent_dim
    for (_, mine, _), (_, theirs, _) in zip(model.encoder.parameters(), ae.encoder.parameters()):
        if mine.shape == theirs.shape:
            mine[...] = theirs
        elif mine.ndim == 2:  # the last W: (H, 2L), mean columns then log-variance columns
            mine[:, :L], mine[:, L:] = theirs, 0.0
        else:  # the last b: (2L,)
            mine[:L] = theirs
            mine[L:] = np.log(posterior_variance * gmm.variances.mean(axis=0))
    model.set_prior(gmm.weights, gmm.means, gmm.variances)
    return ae, gmm
