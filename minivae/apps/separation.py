"""Source separation with one VAE per source on magnitude spectrograms, then Wiener masks.

VAE-based source separation is one of the applications the review of Singh & Ogunfunmi
(Entropy, 2022) surveys; the procedure below is this module's own, not one the review
specifies.  Every source gets a VAE that turns the *mixture* spectrogram into an estimate of
*that source's* spectrogram; the estimates become soft masks through the Wiener equation and the
masks filter the mixture STFT, keeping the mixture phase.  Here is the exact procedure.

Representation
--------------
``X = stft(mixture)`` has shape (n_frames, n_freq).  Magnitudes are taken relative to the
mixture's loudest bin, ``scale = max |X|`` (computable from the mixture alone, so training and
test use the same convention), and log-compressed to [0, 1] as in
:func:`minivae.apps.signal.normalize_spectrogram`::

    u = (log(|S| / scale + eps) - log eps) / (log(1 + eps) - log eps),   eps = 10^(-range_db/20)

so silence maps to 0 and the loudest mixture bin to 1.  One training example is a *patch* of
``context`` consecutive frames, flattened to ``context * n_freq`` numbers (``context = 1`` is the
plain "one STFT column per example" setting).  Neighbouring frames matter for heartbeats: a QRS
complex at the edge of one window is a loud QRS in the next, which a single column cannot tell
from a weaker beat of the other source.

Training (:meth:`SpectrogramVAESeparator.fit`)
----------------------------------------------
Given training mixtures with their true sources, VAE_i (a :class:`SourceVAE`) is trained with

    encoder input  = the mixture patch          (``encoder_input="mixture"``, the default)
                   or the source-i patch         (``encoder_input="source"``, a plain VAE of i)
    decoder target = the source-i patch,
    loss           = -log p(target | z) + beta * KL(q(z | input) || N(0, I)),

with a Gaussian (fixed variance) or Bernoulli likelihood; ``beta = 1`` is a plain VAE and
``beta > 1`` a beta-VAE, and ``free_bits`` works as in :class:`~minivae.models.VAE` (the loss is
the library's, :mod:`minivae.objectives.elbo`; training is :func:`minivae.train.loop.fit`).
Whatever the mixture holds besides the sources (sensor noise, baseline wander) is summarised by
a stationary *noise spectrum*: the mean power per frequency bin of ``mixture - sum(sources)`` in
the training set, relative to ``scale``.

Separation (:meth:`SpectrogramVAESeparator.separate`)
-----------------------------------------------------
1. **Encode.**  Each VAE encodes the mixture patches: ``z_i = mu_i(mixture patch)``.
2. **Refine** (``method="refine"``; skipped by ``method="encode"``).  A few Adam steps on every
   ``z_i`` minimise, patch by patch, the negative log-likelihood of the mixture under the
   Gaussian variance model that underlies Wiener filtering, plus the VAE prior::

       J(z) = sum_bins [ P / V + log V ]  +  prior_weight * sum_i ||z_i||^2 / 2
       V    = sum_i r_i(z_i)^2 + noise_psd,      r_i = source i's magnitude decoded from z_i

   where ``P = |X / scale|^2`` is the mixture power.  ``P / V + log V`` is the Itakura-Saito
   divergence up to a constant: the STFT coefficient of a sum of independent zero-mean Gaussian
   sources is Gaussian with variance ``V``.  The gradient dJ/dz_i comes from the decoder's own
   backward pass (see :meth:`SpectrogramVAESeparator.latent_objective`).  Each patch keeps the
   best codes it has seen.
3. **Mask.**  Decoded patches are averaged frame by frame (in the log domain), turned back into
   magnitudes ``r_i``, and the Wiener masks ``m_i = r_i^2 / (sum_j r_j^2 + noise)`` (plus the
   noise's own mask when the noise model is on) filter the mixture STFT; the iSTFT with the
   mixture phase gives the separated signals.  Masks sum to one in every bin, so sources plus the
   noise estimate add up to the mixture exactly.

Evaluate with :func:`minivae.apps.signal.bss_eval`; :func:`oracle_separation` gives the usual
ceiling
(the same masks computed from the true sources) and the mixture itself the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from minivae._validation import (
    check_array,
    check_magnitude,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.apps.base_vae import ApplicationVAE, forward_with_vjp
from minivae.apps.signal import (
    apply_masks,
    log_compress,
    log_expand,
    oracle_masks,
    stft,
    wiener_masks,
)
from minivae.data.windows import sliding_windows, windows_to_series
from minivae.models.base import inference_method, register_model
from minivae.nn.functional import sigmoid
from minivae.nn.sequential import MLP
from minivae.objectives.losses import reconstruction_nll
from minivae.train.optim import Adam

__all__ = [
    "ENCODER_INPUTS",
    "LIKELIHOODS",
    "METHODS",
    "SeparationResult",
    "SourceVAE",
    "SpectrogramVAESeparator",
    "frames_to_patches",
    "log_normalize",
    "oracle_separation",
    "patches_to_frames",
]

LIKELIHOODS = ("gaussian", "bernoulli")
ENCODER_INPUTS = ("mixture", "source")
METHODS = ("encode", "refine")


# ============================================================================ the source VAE
@register_model
class SourceVAE(ApplicationVAE):
    """A VAE whose encoder reads one vector and whose decoder writes another.

    Generative model and posterior::

        p(z) = N(0, I),   p(y | z) = N(dec(z), var I)  or  Bernoulli(sigmoid(dec(z)))
        q(z | x) = N(mu(x), diag(exp(logvar(x))))

    Trained on pairs (x, y) = (mixture patch, source patch) it is the "reconstruct the source
    from the mixture" VAE of the separation recipe; without targets (``y = None``) the target is
    x itself and it is an ordinary VAE.  The decoder is a generative model of y either way, which
    is what the latent refinement relies on.  Loss, backward and free bits come from
    :class:`~minivae.apps.base_vae.ApplicationVAE`.

    Args:
        input_dim: D_in, encoder input size.
        hidden_sizes: encoder hidden widths; the decoder mirrors them.
        latent_dim: L.
        output_dim: D_out, decoder output size (default: input_dim).
        beta: KL weight (1 = ELBO, > 1 beta-VAE).
        free_bits: nats per latent dimension granted free (0 = off).
        likelihood: "gaussian" (fixed ``decoder_variance``; decoder outputs the mean) or
            "bernoulli" (targets in [0, 1]; decoder outputs logits).
        decoder_variance: the Gaussian's variance (ignored for "bernoulli").
        activation: hidden activation name.
        rng: generator or seed for the weights.

    Shapes: X (N, D_in), targets Y (N, D_out), z (N, L).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: Sequence[int],
        latent_dim: int,
        *,
        output_dim: int | None = None,
        beta: float = 1.0,
        free_bits: float = 0.0,
        likelihood: str = "gaussian",
        decoder_variance: float = 1e-3,
        activation: str = "relu",
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        rng = check_rng(rng)
        super().__init__(input_dim, hidden_sizes, latent_dim, beta=beta, free_bits=free_bits,
                         activation=activation, rng=rng, dtype=dtype)
        self.output_dim = (self.input_dim if output_dim is None
                           else check_positive_int(output_dim, "output_dim"))
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        self.decoder_variance = check_scalar(decoder_variance, "decoder_variance", low=0.0,
                                             low_inclusive=False)
        self.decoder = MLP([self.latent_dim, *self.hidden_sizes[::-1], self.output_dim],
                           activation=self.activation, rng=rng, dtype=self.dtype)

    def config(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim, "hidden_sizes": list(self.hidden_sizes),
            "latent_dim": self.latent_dim, "output_dim": self.output_dim, "beta": self.beta,
            "free_bits": self.free_bits, "likelihood": self.likelihood,
            "decoder_variance": self.decoder_variance, "activation": self.activation,
            "dtype": self.dtype.name,
        }

    # -- batches ----------------------------------------------------------------------------
    def check_inputs(self, X, *, mask=None, y=None, name="X"):
        """X (N, D_in) and optional targets y (N, D_out); returns (X, None, y-or-None)."""
        if mask is not None:
            raise ValueError(f"{type(self).__name__} does not take a mask")
        X = check_array(X, name, ndim=2, dtype=self.dtype)
        check_magnitude(X, name)  # |X| whose square overflows: the loss would be inf
        if X.shape[1] != self.input_dim:
            raise ValueError(f"{name} must have shape (N, {self.input_dim}), got {X.shape}")
        if y is None:
            if self.output_dim != self.input_dim:
                raise ValueError(
                    f"targets y are required: output_dim={self.output_dim} differs from "
                    f"input_dim={self.input_dim}"
                )
            return X, None, None
        # (Bernoulli targets outside [0, 1] are refused by the likelihood itself.)
        y = check_array(y, "y (targets)", shape=(X.shape[0], self.output_dim), dtype=self.dtype)
        return X, None, y

    def make_batch(self, X: np.ndarray, y: object = None) -> Any:
        return X if y is None else (X, y)

    def _split(self, batch: Any, mask: object = None) -> tuple[np.ndarray, np.ndarray, None]:
        if isinstance(batch, (tuple, list)):
            if len(batch) != 2:
                raise TypeError("a SourceVAE batch is X or a pair (X, targets)")
            X, _, Y = self.check_inputs(batch[0], mask=mask, y=batch[1])
        else:
            X, _, Y = self.check_inputs(batch, mask=mask)
        return X, (X if Y is None else Y), None

    # -- the decoder ------------------------------------------------------------------------
    def _decode(self, z: np.ndarray) -> np.ndarray:
        return self.decoder.forward(z)

    def _decode_back(self, dout: np.ndarray) -> np.ndarray:
        return self.decoder.backward(dout)

    def _nll(self, out: np.ndarray, Y: np.ndarray, mask: None, need_grad: bool):
        return reconstruction_nll(self.likelihood, out, Y, mask, need_grad=need_grad,
                                  variance=self.decoder_variance)

    def _mean(self, out: np.ndarray) -> np.ndarray:
        return sigmoid(out) if self.likelihood == "bernoulli" else out

    # -- inference ----------------------------------------------------------------------------
    def encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X (N, D_in) -> (mu, logvar) of q(z | x), each (N, L)."""
        return self.posterior(X)

    @inference_method
    def decode(self, z: np.ndarray) -> np.ndarray:
        """z (N, L) -> E[y | z] (N, D_out): the Gaussian mean or the Bernoulli probabilities."""
        self._pending = None
        return self._mean(self.decoder.forward(self._check_z(z)))

    def decode_with_grad(
        self, z: np.ndarray
    ) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """E[y | z] (N, D_out) and its vector-Jacobian product ``vjp(dmean) -> dz`` (N, L)
        (see :func:`~minivae.apps.base_vae.forward_with_vjp`)."""
        self._pending = None
        out, out_vjp = forward_with_vjp(self.decoder, self._check_z(z))
        mean = self._mean(out)

        def vjp(dmean: np.ndarray) -> np.ndarray:
            return out_vjp(dmean * mean * (1.0 - mean) if self.likelihood == "bernoulli"
                           else dmean)

        return mean, vjp


# ============================================================================ spectrogram tools
def log_normalize(rel_mag: np.ndarray, eps: float) -> np.ndarray:
    """Relative magnitudes ``|S| / scale`` (>= 0, any shape) -> log-compressed values in [0, 1].

    :func:`minivae.apps.signal.log_compress` (as ``normalize_spectrogram(method="log")``) with
    the scale supplied by the caller (the *mixture's* peak, also for the sources).  Values above
    the mixture peak are clipped to 1.
    """
    return np.clip(log_compress(rel_mag, eps), 0.0, 1.0)


def _delog(u: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`log_normalize` for u clipped to [0, 1]: (relative magnitude r,
    dr/du), the derivative zero where u was clipped."""
    r, slope = log_expand(np.clip(u, 0.0, 1.0), eps)
    return r, slope * ((u > 0.0) & (u < 1.0))


def frames_to_patches(S: np.ndarray, context: int) -> np.ndarray:
    """Overlapping patches of ``context`` consecutive frames, stride 1.

    Inputs:
    - S: (n_frames, n_freq).
    - context: C >= 1, at most n_frames.

    Returns:
    - patches: (n_frames - C + 1, C * n_freq); row p is ``S[p:p + C].ravel()`` (the windows of
      :func:`minivae.data.sliding_windows` with stride 1, flattened).
    """
    S = check_array(S, "S", ndim=2)
    C = check_positive_int(context, "context")
    n_frames, n_freq = S.shape
    if C > n_frames:
        raise ValueError(
            f"context={C} frames is longer than the spectrogram ({n_frames} frames); use a "
            "longer signal or a shorter context"
        )
    return sliding_windows(S, C).reshape(n_frames - C + 1, C * n_freq)


def patches_to_frames(P: np.ndarray, n_freq: int) -> np.ndarray:
    """Average overlapping patches back to frames (inverse of :func:`frames_to_patches` for
    consistent patches).  P: (n_patches, C * n_freq) -> (n_patches + C - 1, n_freq).

    Patch p is the window of C frames starting at frame p, so this is
    :func:`minivae.data.windows_to_series` with starts 0, 1, ..., n_patches - 1."""
    P = check_array(P, "P", ndim=2)
    n_freq = check_positive_int(n_freq, "n_freq")
    if P.shape[1] % n_freq:
        raise ValueError(f"P has {P.shape[1]} columns, not a multiple of n_freq={n_freq}")
    C = P.shape[1] // n_freq
    n_patches = P.shape[0]
    return windows_to_series(P.reshape(n_patches, C, n_freq), np.arange(n_patches),
                             n_patches + C - 1)


# ============================================================================ the separator
class SeparationResult(NamedTuple):
    """What :meth:`SpectrogramVAESeparator.separate` returns."""

    sources: np.ndarray  # (K, T) separated signals
    residual: np.ndarray  # (T,) the noise estimate (zeros when the noise model is off)
    masks: np.ndarray  # (K or K + 1, n_frames, n_freq) soft masks, summing to 1 over axis 0
    magnitudes: np.ndarray  # (K, n_frames, n_freq) decoded source magnitudes (signal units)
    objective: np.ndarray  # (n_steps + 1,) mean J per patch during refinement ([J0] for encode)


def _as_recordings(mixtures: object, sources: object) -> tuple[np.ndarray, np.ndarray]:
    """mixtures (M, T) or (T,), sources (M, K, T) or (K, T) -> float64 (M, T), (M, K, T)."""
    mix = check_array(mixtures, "mixtures", ndim=(1, 2), dtype=np.float64)
    src = check_array(sources, "sources", ndim=(2, 3), dtype=np.float64)
    if mix.ndim == 1:
        mix = mix[None]
    if src.ndim == 2:
        src = src[None]
    if src.shape[0] != mix.shape[0] or src.shape[2] != mix.shape[1]:
        raise ValueError(
            "sources must have shape (M, K, T) matching mixtures (M, T): got mixtures "
            f"{mix.shape} and sources {src.shape} (mismatched number of recordings or lengths)"
        )
    return mix, src


class SpectrogramVAESeparator:
    """One VAE per source on log-magnitude spectrogram patches; Wiener masks separate.

    See the module docstring for the procedure.

    Args:
        fs: sample rate [Hz].
        window_ms: STFT window length [ms] (Hann).
        overlap: fraction of the window shared by consecutive frames, in [0, 1) (0.5, 0.75).
        context: frames per VAE example (1 = single STFT columns).
        hidden_sizes, latent_dim: VAE architecture (one VAE per source).
        beta: KL weight (1 = VAE, > 1 beta-VAE).
        free_bits: nats per latent dimension granted free in every VAE's loss (0 = off).
        likelihood: "gaussian" (fixed ``decoder_variance``) or "bernoulli".
        decoder_variance: Gaussian variance in normalised units (1e-3 ~ 2 dB at 60 dB range).
        range_db: dynamic range of the log compression (eps = 10^(-range_db / 20)).
        encoder_input: "mixture" (encoder reads mixture patches; the VAE learns mixture ->
            source) or "source" (plain VAE of each source; the mixture is still what gets
            encoded at test time).
        noise_model: keep a stationary noise spectrum learned from the training residual.
        activation: hidden activation.
        rng: generator or seed for the weights.
    """

    def __init__(
        self,
        fs: float,
        *,
        window_ms: float = 64.0,
        overlap: float = 0.5,
        context: int = 1,
        hidden_sizes: Sequence[int] = (128,),
        latent_dim: int = 6,
        beta: float = 1.0,
        free_bits: float = 0.0,
        likelihood: str = "gaussian",
        decoder_variance: float = 1e-3,
        range_db: float = 60.0,
        encoder_input: str = "mixture",
        noise_model: bool = True,
        activation: str = "relu",
        rng: np.random.Generator | int = 0,
    ) -> None:
        self.fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
        self.window_ms = check_scalar(window_ms, "window_ms", low=0.0, low_inclusive=False)
        self.overlap = check_scalar(overlap, "overlap", low=0.0, high=1.0, high_inclusive=False)
        self.hop_ms = self.window_ms * (1.0 - self.overlap)
        self.context = check_positive_int(context, "context")
        # The settings of every source's VAE, checked here by the class that uses them.
        self.vae_settings: dict[str, Any] = {
            "hidden_sizes": hidden_sizes, "latent_dim": latent_dim, "beta": beta,
            "free_bits": free_bits, "likelihood": likelihood,
            "decoder_variance": decoder_variance, "activation": activation}
        self.latent_dim = SourceVAE(1, **self.vae_settings).latent_dim
        self.range_db = check_scalar(range_db, "range_db", low=0.0, low_inclusive=False)
        self.eps = 10.0 ** (-self.range_db / 20.0)
        if encoder_input not in ENCODER_INPUTS:
            raise ValueError(
                f"encoder_input must be one of {ENCODER_INPUTS}, got {encoder_input!r}")
        self.encoder_input = encoder_input
        self.noise_model = bool(noise_model)
        self._rng = check_rng(rng)
        self.vaes: list[SourceVAE] = []
        self.noise_psd: np.ndarray | None = None  # (n_freq,) relative power, after fit
        self.histories: list[Any] = []

    # -- framing ------------------------------------------------------------------------------
    @property
    def frame(self) -> dict[str, float]:
        """STFT keyword arguments (``window_ms``, ``hop_ms``)."""
        return {"window_ms": self.window_ms, "hop_ms": self.hop_ms}

    @property
    def n_sources(self) -> int:
        return len(self.vaes)

    def _stft(self, x: np.ndarray, name: str) -> np.ndarray:
        try:
            return stft(x, self.fs, **self.frame)
        except ValueError as exc:  # say which argument was too short
            raise ValueError(f"{name}: {exc}") from None

    def _spectra(self, mixture: np.ndarray, name: str) -> tuple[np.ndarray, float]:
        """Mixture STFT (n_frames, n_freq) and its peak magnitude (the scale)."""
        X = self._stft(mixture, name)
        scale = float(np.abs(X).max())
        if scale == 0.0:
            raise ValueError(
                f"{name} is silent (all-zero spectrum); there is nothing to separate")
        if X.shape[0] < self.context:
            raise ValueError(
                f"{name} gives {X.shape[0]} STFT frames but context={self.context} frames are "
                "needed; use a longer signal or a smaller context"
            )
        return X, scale

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        mixtures: np.ndarray,
        sources: np.ndarray,
        *,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 2e-3,
        max_examples: int | None = None,
        rng: np.random.Generator | int | None = None,
        verbose: int | bool = 0,
    ) -> SpectrogramVAESeparator:
        """Train one VAE per source.

        Inputs:
        - mixtures: (M, T) training mixtures (or one (T,)).
        - sources: (M, K, T) their true sources (or (K, T)); the mixture may hold more than
          their sum (noise): that remainder trains the noise spectrum.
        - max_examples: train on at most this many patches (a random subset; neighbouring
          patches overlap in all but one frame, so a subset loses little and saves time).
        - epochs, batch_size, lr, verbose: passed to :func:`minivae.train.loop.fit`.
        - rng: seed (or generator) of the training runs: VAE k trains with seed ``rng + k``
          (default: drawn from the separator's generator).

        Returns self.
        """
        mix, src = _as_recordings(mixtures, sources)
        K = src.shape[1]
        inputs, targets, noise = [], [[] for _ in range(K)], []
        for m in range(mix.shape[0]):
            X, scale = self._spectra(mix[m], f"mixtures[{m}]")
            u_mix = log_normalize(np.abs(X) / scale, self.eps)
            inputs.append(frames_to_patches(u_mix, self.context))
            for k in range(K):
                S = self._stft(src[m, k], f"sources[{m}, {k}]")
                targets[k].append(frames_to_patches(log_normalize(np.abs(S) / scale, self.eps),
                                                    self.context))
            R = self._stft(mix[m] - src[m].sum(axis=0), "mixtures - sum(sources)")
            noise.append(np.mean(np.abs(R / scale) ** 2, axis=0))
        X_mix = np.concatenate(inputs)
        keep = np.arange(X_mix.shape[0])
        if max_examples is not None and X_mix.shape[0] > check_positive_int(max_examples,
                                                                             "max_examples"):
            keep = np.sort(self._rng.choice(X_mix.shape[0], size=max_examples, replace=False))
        X_mix = X_mix[keep]
        self.noise_psd = np.mean(noise, axis=0) if self.noise_model else None
        self.vaes, self.histories = [], []
        # VAE k trains with seed s + k: s = rng when it is an int, else drawn from a generator.
        seed = int(rng) if isinstance(rng, (int, np.integer)) else int(
            (self._rng if rng is None else check_rng(rng)).integers(2**31))
        for k in range(K):
            Y = np.concatenate(targets[k])[keep]
            vae = SourceVAE(Y.shape[1], **self.vae_settings, rng=self._rng)
            X_in, y = (X_mix, Y) if self.encoder_input == "mixture" else (Y, None)
            hist = vae.fit(X_in, y=y, epochs=epochs, batch_size=batch_size, lr=lr,
                           rng=seed + k, verbose=verbose, diagnostics=False)
            self.vaes.append(vae)
            self.histories.append(hist)
        return self

    def _need_fit(self) -> None:
        if not self.vaes:
            raise RuntimeError("SpectrogramVAESeparator is not trained: call fit() first")

    # -- the latent objective -----------------------------------------------------------------
    def _noise_tiled(self, n_freq: int) -> np.ndarray:
        """(C * n_freq,) noise power per patch entry, plus a floor below the dynamic range that
        keeps V > 0 when every decoded source is silent."""
        floor = 1e-4 * self.eps**2
        base = np.zeros(n_freq) if self.noise_psd is None else self.noise_psd
        return np.tile(base, self.context) + floor

    def latent_objective(
        self, zs: Sequence[np.ndarray], power_patches: np.ndarray, *, prior_weight: float = 1.0
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per-patch objective J and its gradients dJ/dz_i (see the module docstring).

        Inputs:
        - zs: K arrays (n_patches, L), one latent code per patch and source.
        - power_patches: (n_patches, C * n_freq) mixture power ``|X / scale|^2`` as patches.
        - prior_weight: weight of ``||z||^2 / 2``.

        Returns:
        - J: (n_patches,) objective per patch (the total is their sum).
        - grads: K arrays (n_patches, L), dJ.sum()/dz_i.

        Chain rule, per bin: dJ/dV = (1 - P/V) / V, dV/dr_i = 2 r_i, dr_i/du_i from the log
        compression, du_i/dz_i by the decoder's backward pass.
        """
        self._need_fit()
        if len(zs) != self.n_sources:
            raise ValueError(f"zs must hold {self.n_sources} arrays (one per source), "
                             f"got {len(zs)}")
        P = check_array(power_patches, "power_patches", ndim=2, dtype=np.float64)
        n_freq = P.shape[1] // self.context
        if P.shape[1] != self.context * n_freq or P.shape[1] != self.vaes[0].output_dim:
            raise ValueError(f"power_patches must have shape (n_patches, "
                             f"{self.vaes[0].output_dim}), got {P.shape}")
        prior_weight = check_scalar(prior_weight, "prior_weight", low=0.0)
        V = self._noise_tiled(n_freq)[None, :]
        decoded = []
        for i, (vae, z) in enumerate(zip(self.vaes, zs)):
            z = check_array(z, f"zs[{i}]", shape=(P.shape[0], self.latent_dim),
                            dtype=np.float64)
            # Each source has its own decoder, so every vjp stays valid (one cached pass each).
            u, vjp = vae.decode_with_grad(z)
            r, dr_du = _delog(u, self.eps)
            decoded.append((z, r, dr_du, vjp))
            V = V + r**2
        J = np.sum(P / V + np.log(V), axis=1)
        dJ_dV = (1.0 - P / V) / V
        grads = []
        for z, r, dr_du, vjp in decoded:
            grads.append(vjp(dJ_dV * 2.0 * r * dr_du) + prior_weight * z)
            J = J + 0.5 * prior_weight * np.sum(z * z, axis=1)
        return J, grads

    # -- separation -----------------------------------------------------------------------------
    def _encoder_codes(self, u_patches: np.ndarray) -> list[np.ndarray]:
        return [vae.encode(u_patches)[0].copy() for vae in self.vaes]

    def separate(
        self,
        mixture: np.ndarray,
        *,
        method: str = "refine",
        n_steps: int = 100,
        step_size: float = 0.02,
        prior_weight: float = 1.0,
    ) -> SeparationResult:
        """Separate one mixture.

        Inputs:
        - mixture: (T,) signal.
        - method: "encode" (decode the encoder's codes) or "refine" (then ``n_steps`` Adam steps
          of size ``step_size`` on the codes; see the module docstring).
        - prior_weight: weight of the prior term during refinement.

        Returns a :class:`SeparationResult`.
        """
        self._need_fit()
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        n_steps = check_positive_int(n_steps, "n_steps")
        step_size = check_scalar(step_size, "step_size", low=0.0, low_inclusive=False)
        x = check_array(mixture, "mixture", ndim=1, dtype=np.float64)
        X, scale = self._spectra(x, "mixture")
        n_freq = X.shape[1]
        if self.context * n_freq != self.vaes[0].output_dim:
            raise ValueError(
                f"mixture's STFT has {n_freq} bins but the separator was trained with "
                f"{self.vaes[0].output_dim // self.context}; use the same fs and window"
            )
        rel = np.abs(X) / scale
        u_patches = frames_to_patches(log_normalize(rel, self.eps), self.context)
        P = frames_to_patches(rel**2, self.context)

        zs = self._encoder_codes(u_patches)
        J, grads = self.latent_objective(zs, P, prior_weight=prior_weight)
        history = [float(J.mean())]
        if method == "refine":
            best_J = J.copy()
            best = [z.copy() for z in zs]
            gbuf = [np.zeros_like(z) for z in zs]
            opt = Adam([(f"z{i}", z, g) for i, (z, g) in enumerate(zip(zs, gbuf))],
                       lr=step_size)
            for _ in range(n_steps):
                for g, d in zip(gbuf, grads):
                    g[...] = d
                opt.step()
                J, grads = self.latent_objective(zs, P, prior_weight=prior_weight)
                better = J < best_J
                best_J = np.where(better, J, best_J)
                for b, z in zip(best, zs):
                    b[better] = z[better]
                history.append(float(best_J.mean()))
            zs = best

        mags = []
        for vae, z in zip(self.vaes, zs):
            u = patches_to_frames(vae.decode(z), n_freq)  # average in the log domain
            mags.append(_delog(u, self.eps)[0] * scale)
        mags = np.stack(mags)
        layers = list(mags)
        if self.noise_psd is not None:
            layers.append(np.broadcast_to(np.sqrt(self.noise_psd) * scale, X.shape))
        masks = wiener_masks(np.stack(layers))
        est = apply_masks(X, masks, self.fs, length=x.shape[0], **self.frame)
        K = self.n_sources
        residual = est[K] if self.noise_psd is not None else np.zeros_like(x)
        return SeparationResult(est[:K], residual, masks, mags, np.asarray(history))


def oracle_separation(
    mixture: np.ndarray,
    sources: np.ndarray,
    fs: float,
    *,
    window_ms: float,
    overlap: float,
    include_residual: bool = True,
    power: float = 2.0,
) -> np.ndarray:
    """The ceiling: ideal ratio masks from the *true* source magnitudes applied to the mixture.

    Inputs:
    - mixture: (T,); sources: (K, T).
    - include_residual: treat ``mixture - sum(sources)`` as one more source (the counterpart of
      the separator's noise model), so noise is not forced into the sources' estimates.
    - power: p of the masks ``|S_k|^p / sum_j |S_j|^p`` (see
      :func:`~minivae.apps.signal.wiener_masks`): 2 (default) is the ideal Wiener-like ratio of
      powers, 1 the ratio of magnitudes.

    Returns:
    - estimates: (K, T).
    """
    x = check_array(mixture, "mixture", ndim=1, dtype=np.float64)
    src = check_array(sources, "sources", ndim=2, dtype=np.float64)
    if src.shape[1] != x.shape[0]:
        raise ValueError(f"sources must have shape (K, {x.shape[0]}), got {src.shape}")
    window_ms = check_scalar(window_ms, "window_ms", low=0.0, low_inclusive=False)
    overlap = check_scalar(overlap, "overlap", low=0.0, high=1.0, high_inclusive=False)
    frame = {"window_ms": window_ms, "hop_ms": window_ms * (1.0 - overlap)}
    layers = list(src) + ([x - src.sum(axis=0)] if include_residual else [])
    masks = oracle_masks(np.stack(layers), fs, **frame, power=power)
    est = apply_masks(stft(x, fs, **frame), masks, fs, length=x.shape[0], **frame)
    return est[: src.shape[0]]
