"""The mixture-of-experts multimodal VAE, MMVAE (Shi, Siddharth, Paige & Torr, 2019, "Variational
mixture-of-experts autoencoders for multi-modal deep generative models"; review section 6.4).

M views x_1..x_M of the same thing (here an MNIST image and a pen trajectory of its digit) share
one latent z.  Each modality m has an encoder (the *expert*) and a decoder:

    q_m(z | x_m) = N(mu_m, diag(exp(logvar_m))),  [mu_m, logvar_m] = enc_m(x_m)
    p(z) = N(0, I),   p(x_1..x_M | z) = prod_m p(x_m | z),  p(x_m | z) from dec_m(z)

and the joint posterior is the *mixture* of the experts, q(z | x_1..M) = (1/M) sum_m q_m(z | x_m).
The objective is the paper's stratified importance-weighted bound: k samples from *each* expert,
every sample reconstructing *every* modality and weighed against the whole mixture,

    L_k(x) = (1/M) sum_m E_{z_m1..z_mk ~ q_m} [ log (1/k) sum_i w_mi ],
    log w_mi = sum_m' log p(x_m' | z_mi) + log p(z_mi) - log (1/M) sum_m'' q_m''(z_mi | x_m''),

so an expert is trained to explain the *other* modalities from its own view: that is what makes
cross-modal generation work (z ~ q_1(z | image), then x_2 from dec_2).  k = 1 gives the
stratified ELBO.  (The paper trains the IWAE form with the DReG estimator; the gradient here is
the plain reparameterized one, sum_i w~_mi grad log w_mi with w~ the self-normalized weights.)

Gradient of log w_mi (all hand-written, see :meth:`MMVAE.backward`): through z_mi = mu_m +
sigma_m eps_mi (decoders, prior, and the mixture density, d log q/dz = sum_m'' r_m'' d log
q_m''/dz with r = the responsibilities of the experts at z), and directly through every expert's
(mu_m'', logvar_m'') in the mixture density.

Batches are one array X (N, D_1 + ... + D_M): the modalities side by side (``join`` / ``split``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.models.base import (
    Model,
    check_hidden_sizes,
    inference_method,
    register_model,
    tile_samples,
)
from minivae.models.vae import LIKELIHOODS
from minivae.nn.functional import log_mean_exp, logsumexp, sigmoid
from minivae.nn.sequential import MLP
from minivae.objectives.distributions import DiagonalGaussian, standard_normal_log_prob
from minivae.objectives.elbo import encoder_posterior
from minivae.objectives.losses import reconstruction_nll


def _check_modalities(input_dims: object, likelihoods: object, decoder_variances: object
                      ) -> tuple[list[int], list[str], list[float | None]]:
    if not isinstance(input_dims, (list, tuple)) or len(input_dims) < 2:
        raise ValueError(f"input_dims must be a list of >= 2 sizes (one per modality), got "
                         f"{input_dims!r:.80}")
    dims = [check_positive_int(d, f"input_dims[{i}]") for i, d in enumerate(input_dims)]
    for name, value in (("likelihoods", likelihoods), ("decoder_variances", decoder_variances)):
        if not isinstance(value, (list, tuple)) or len(value) != len(dims):
            raise ValueError(f"{name} must be a list of {len(dims)} entries (one per modality), "
                             f"got {value!r:.80}")
    for i, lik in enumerate(likelihoods):
        if lik not in LIKELIHOODS:
            raise ValueError(f"likelihoods[{i}] must be one of {LIKELIHOODS}, got {lik!r}")
    variances: list[float | None] = []
    for i, (lik, var) in enumerate(zip(likelihoods, decoder_variances)):
        if var is not None and lik != "gaussian":
            raise ValueError(f"decoder_variances[{i}] must be None for likelihood {lik!r}, "
                             f"got {var!r}")
        variances.append(None if var is None else check_scalar(
            var, f"decoder_variances[{i}]", low=0.0, low_inclusive=False))
    return dims, list(likelihoods), variances


@register_model
class MMVAE(Model):
    """Mixture-of-experts multimodal VAE with MLP experts and decoders (module docstring).

    Args:
        input_dims: [D_1, ..., D_M], the size of each modality (M >= 2).
        hidden_sizes: hidden widths of every encoder (decoders mirror them).
        latent_dim: L, shared by all modalities.
        likelihoods: per modality, "bernoulli" (values in [0, 1]) or "gaussian".
        decoder_variances: per modality, None (Bernoulli, or a learned per-feature Gaussian
            log-variance) or the fixed variance of a Gaussian.
        k: samples per expert and example (1: the stratified ELBO; > 1: the stratified IWAE).
        activation, rng, dtype: as for :class:`~minivae.models.vae.VAE`.

    Shapes: X (N, sum D_m); per modality x_m (N, D_m); z (N, L).
    """

    input_ndim = (2,)

    def __init__(self, input_dims: Sequence[int], hidden_sizes: list[int] | tuple[int, ...],
                 latent_dim: int, *, likelihoods: Sequence[str] = ("bernoulli", "gaussian"),
                 decoder_variances: Sequence[float | None] = (None, 1.0), k: int = 1,
                 activation: str = "relu", rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.input_dims, self.likelihoods, self.decoder_variances = _check_modalities(
            input_dims, likelihoods, decoder_variances)
        self.input_dim = sum(self.input_dims)
        self.hidden_sizes = check_hidden_sizes(hidden_sizes)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.k = check_positive_int(k, "k")
        self.activation = str(activation)
        rng = check_rng(rng)
        H, L = self.hidden_sizes, self.latent_dim
        self.encoders = [MLP([D, *H, 2 * L], activation=self.activation, rng=rng,
                             dtype=self.dtype, input_grad=False) for D in self.input_dims]
        self.decoders = [MLP([L, *H[::-1], self._out_dim(m)], activation=self.activation,
                             rng=rng, dtype=self.dtype) for m in range(self.n_modalities)]

    @property
    def n_modalities(self) -> int:
        return len(self.input_dims)

    def _out_dim(self, m: int) -> int:
        learned = self.likelihoods[m] == "gaussian" and self.decoder_variances[m] is None
        return 2 * self.input_dims[m] if learned else self.input_dims[m]

    def config(self) -> dict[str, Any]:
        return {"input_dims": list(self.input_dims), "hidden_sizes": list(self.hidden_sizes),
                "latent_dim": self.latent_dim, "likelihoods": list(self.likelihoods),
                "decoder_variances": list(self.decoder_variances), "k": self.k,
                "activation": self.activation, "dtype": self.dtype.name}

    # -- modalities ------------------------------------------------------------------------
    def split(self, X: np.ndarray) -> list[np.ndarray]:
        """X (N, sum D_m) -> [x_1 (N, D_1), ..., x_M (N, D_M)]."""
        X, _, _ = self.check_inputs(X)
        return self._split(X)

    def _split(self, X: np.ndarray) -> list[np.ndarray]:
        edges = np.cumsum([0, *self.input_dims])
        return [np.ascontiguousarray(X[:, a:b]) for a, b in zip(edges[:-1], edges[1:])]

    def join(self, *views: np.ndarray) -> np.ndarray:
        """x_1 (N, D_1), ..., x_M (N, D_M) -> X (N, sum D_m), the model's batch."""
        if len(views) != self.n_modalities:
            raise ValueError(f"views must be {self.n_modalities} arrays, got {len(views)}")
        views = tuple(check_array(v, f"views[{m}]", shape=(None, self.input_dims[m]),
                                  dtype=self.dtype) for m, v in enumerate(views))
        if len({v.shape[0] for v in views}) != 1:
            raise ValueError(f"views must have the same number of rows, got "
                             f"{[v.shape[0] for v in views]}")
        return np.concatenate(views, axis=1)

    def _check_modality(self, m: object, name: str = "modality") -> int:
        m = check_positive_int(m, name, minimum=0)
        if m >= self.n_modalities:
            raise ValueError(f"{name} must be in [0, {self.n_modalities - 1}], got {m}")
        return m

    def _batch(self, batch: object, mask: object) -> list[np.ndarray]:
        if mask is not None:
            raise ValueError("MMVAE takes no mask (every modality fully observed), got a mask")
        X, _, _ = self.check_inputs(batch)
        return self._split(X)

    # -- the bound ---------------------------------------------------------------------------
    def _experts(self, xs: list[np.ndarray]):
        """Every expert's q_m (N, L) and where its log-variance clamp passes gradients."""
        return [encoder_posterior(enc.forward(x)) for enc, x in zip(self.encoders, xs)]

    def _reconstructions(self, Z: np.ndarray, xs: list[np.ndarray], need_grad: bool):
        """-sum_m log p(x_m | z) for every sample: Z (S, N, L) -> rec (S, N), and the decoders'
        output gradients (of the sum over samples) per modality."""
        S, N, L = Z.shape
        rec, douts = np.zeros((S, N)), []
        for m, dec in enumerate(self.decoders):
            out = dec.forward(Z.reshape(S * N, L).astype(self.dtype, copy=False))
            r, d = reconstruction_nll(self.likelihoods[m], out, tile_samples(xs[m], S), None,
                                      need_grad=need_grad, variance=self.decoder_variances[m])
            rec += r.reshape(S, N)
            douts.append(d)
        return rec, douts

    def _log_weights(self, qs: list[DiagonalGaussian], Z: np.ndarray, rec: np.ndarray):
        """log w (S, N) of samples Z (S, N, L) under the mixture, and the responsibilities
        r (M, S, N) of the experts at each sample."""
        log_q = np.stack([q.log_prob(Z) for q in qs])  # (M, S, N)
        log_mix = logsumexp(log_q, axis=0) - np.log(len(qs))
        resp = np.exp(log_q - logsumexp(log_q, axis=0, keepdims=True))
        return -rec + standard_normal_log_prob(Z) - log_mix, resp

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Minus the stratified bound L_k, batch mean (module docstring).

        eps: (M, k, N, L), the noise of every expert's samples (``model.last_eps``) to reuse.
        Returns (loss, parts) with "bound" (= -loss) and "reconstruction" (mean over samples
        of -sum_m log p(x_m | z))."""
        xs = self._batch(batch, mask)
        rng = self._need_noise(rng, eps)
        M, k, N, L = self.n_modalities, self.k, xs[0].shape[0], self.latent_dim
        if eps is not None:
            eps = check_array(eps, "eps", shape=(M, k, N, L), dtype=self.dtype)
        experts = self._experts(xs)
        qs = [q for q, _ in experts]
        Z = np.stack([q.rsample(rng, n_samples=k, eps=None if eps is None else eps[m])
                      for m, q in enumerate(qs)])  # (M, k, N, L)
        self.last_eps = np.stack([q.eps for q in qs])
        rec, douts = self._reconstructions(Z.reshape(M * k, N, L), xs, need_grad=True)
        log_w, resp = self._log_weights(qs, Z.reshape(M * k, N, L), rec)
        log_w = log_w.reshape(M, k, N)
        bound = log_mean_exp(log_w, axis=1).mean(axis=0)  # (N,)
        # d loss / d(-log w_mi[n]): the self-normalized weight within expert m's k samples.
        g = (np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True)) / (N * M)).astype(
            self.dtype, copy=False)
        gf = g.reshape(M * k * N, 1)
        self._pending = {"experts": experts, "Z": Z, "g": g, "resp": resp,
                         "douts": [d * gf for d in douts]}
        value = float(-bound.mean())
        return value, {"loss": value, "bound": -value, "reconstruction": float(rec.mean())}

    def backward(self) -> None:
        """Accumulate the gradients of the last :meth:`loss` into every encoder and decoder.

        Each sample adds g * (rec(z) - log p(z) + log q_mix(z)) to the loss: d/dz collects the
        decoders' gradients, z (from -log p) and sum_m'' r_m'' d log q_m''/dz; d/d(mu_m'',
        logvar_m'') gets r_m'' d log q_m'' directly; each z_mi = mu_m + sigma_m eps_mi then
        carries its d/dz back to expert m."""
        pend = self._take_pending()
        Z, g, resp, experts = pend["Z"], pend["g"], pend["resp"], pend["experts"]
        M, k, N, L = Z.shape
        Zf, gf = Z.reshape(M * k, N, L), g.reshape(M * k, N, 1)
        dZ = sum(dec.backward(d) for dec, d in zip(self.decoders, pend["douts"]))
        dZ = dZ.reshape(M * k, N, L) + gf * Zf
        direct = []
        for m2, (q2, _) in enumerate(experts):
            per_sample = DiagonalGaussian(np.broadcast_to(q2.mu, Zf.shape),
                                          np.broadcast_to(q2.logvar, Zf.shape))
            dz_lq, dmu_lq, dlogvar_lq = per_sample.log_prob_grad(Zf)  # each (M k, N, L)
            w = gf * resp[m2][..., None]
            dZ = dZ + w * dz_lq
            direct.append((np.sum(w * dmu_lq, axis=0), np.sum(w * dlogvar_lq, axis=0)))
        dZ = dZ.reshape(M, k, N, L)
        for m, ((q, inside), enc) in enumerate(zip(experts, self.encoders)):
            dmu, dlogvar = q.rsample_backward(dZ[m])
            dh = np.concatenate([dmu + direct[m][0], (dlogvar + direct[m][1]) * inside], axis=1)
            enc.backward(dh.astype(self.dtype, copy=False))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None) -> dict[str, np.ndarray]:
        """Per-example "loss" (-L_k with the model's k) and "reconstruction", each (N,)."""
        bound, rec = self._bound(self._batch(batch, mask), self.k,
                                 self._need_noise(rng, eps), eps)
        return {"loss": -bound, "reconstruction": rec}

    def _bound(self, xs, k: int, rng, eps=None) -> tuple[np.ndarray, np.ndarray]:
        M, N, L = self.n_modalities, xs[0].shape[0], self.latent_dim
        if eps is not None:
            eps = check_array(eps, "eps", shape=(M, k, N, L), dtype=self.dtype)
        qs = [q for q, _ in self._experts(xs)]
        Z = np.stack([q.mu + q.std * (rng.standard_normal((k, N, L)) if eps is None else eps[m])
                      for m, q in enumerate(qs)]).reshape(M * k, N, L)
        rec, _ = self._reconstructions(Z, xs, need_grad=False)
        log_w, _ = self._log_weights(qs, Z, rec)
        bound = log_mean_exp(log_w.reshape(M, k, N), axis=1).mean(axis=0)
        return bound, rec.reshape(M * k, N).mean(axis=0)

    @inference_method
    def stratified_bound(self, X: np.ndarray, k: int, rng: np.random.Generator | int
                         ) -> np.ndarray:
        """Per-example stratified bound L_k (N,) in nats with k samples per expert (higher is
        better; L_k <= log p(x_1..x_M))."""
        return self._bound(self._batch(X, None), check_positive_int(k, "k"), check_rng(rng))[0]

    # -- inference and generation ----------------------------------------------------------
    @inference_method
    def encode(self, x: np.ndarray, modality: int) -> tuple[np.ndarray, np.ndarray]:
        """x_m (N, D_m) -> (mu, logvar) of the expert q_m(z | x_m), each (N, L)."""
        m = self._check_modality(modality)
        x = check_array(x, "x", shape=(None, self.input_dims[m]), dtype=self.dtype)
        q, _ = encoder_posterior(self.encoders[m].forward(x))
        return q.mu, q.logvar

    @inference_method
    def decode(self, z: np.ndarray, modality: int) -> np.ndarray:
        """z (N, L) -> E[x_m | z] (N, D_m): probabilities (Bernoulli) or the Gaussian mean."""
        m = self._check_modality(modality)
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        out = self.decoders[m].forward(z)
        if self.likelihoods[m] == "bernoulli":
            return sigmoid(out).astype(self.dtype, copy=False)
        return out[:, : self.input_dims[m]]

    def cross_generate(self, x: np.ndarray, source: int, target: int,
                       rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Modality ``target`` generated from modality ``source``: z = the mean of
        q_source(z | x) (or z ~ q_source when ``rng`` is given), then E[x_target | z]."""
        target = self._check_modality(target, "target")
        mu, logvar = self.encode(x, self._check_modality(source, "source"))
        if rng is not None:
            mu = mu + np.exp(0.5 * logvar) * check_rng(rng).standard_normal(mu.shape)
        return self.decode(mu.astype(self.dtype, copy=False), target)

    def sample(self, n: int, rng: np.random.Generator | int) -> list[np.ndarray]:
        """n joint samples: z ~ N(0, I), then E[x_m | z] for every modality."""
        n = check_positive_int(n, "n")
        z = check_rng(rng).standard_normal((n, self.latent_dim)).astype(self.dtype)
        return [self.decode(z, m) for m in range(self.n_modalities)]
