"""The S-VAE posterior: a von Mises-Fisher distribution on the unit sphere S^{m-1} in R^m, with
the uniform distribution on the sphere as the prior (Davidson, Falorsi, De Cao, Kipf & Tomczak,
2018, "Hyperspherical Variational Auto-Encoders"; the review's section 6.9).

    q(z | mu, kappa) = C_m(kappa) exp(kappa mu^T z),   ||z|| = ||mu|| = 1,  kappa > 0,
    C_m(kappa) = kappa^{m/2-1} / ((2 pi)^{m/2} I_{m/2-1}(kappa)).

mu is the mean direction, kappa the concentration (kappa -> 0: uniform; large kappa: a cap of
angular width ~ 1/sqrt(kappa) around mu).  Shapes: ``mu: (N, m)`` unit rows, ``kappa: (N, 1)``.

**Sampling** (paper Algorithms 1 and 2, after Ulrich 1984 and Wood 1994).  Only the component
w = mu^T z along the mean is non-trivial; it has density proportional to
exp(kappa w) (1 - w^2)^{(m-3)/2} on [-1, 1].  Wood's rejection sampler draws it with

    b = (m-1) / (2 kappa + sqrt(4 kappa^2 + (m-1)^2))     (the paper's b, rationalised)
    a = ((m-1) + 2 kappa + sqrt(4 kappa^2 + (m-1)^2)) / 4,  d = 4ab / (1+b) - (m-1) log(m-1)
    repeat:  eps ~ Beta((m-1)/2, (m-1)/2),  u ~ U(0, 1),  t = 2ab / (1 - (1-b) eps)
    until    (m-1) log t - t + d >= log u
    w = h(eps, kappa) = (1 - (1+b) eps) / (1 - (1-b) eps).

Then v ~ U(S^{m-2}) (a normalised standard normal in R^{m-1}), z' = (w, sqrt(1 - w^2) v) is a
draw around e_1, and the Householder reflection U = I - 2 u u^T / (u^T u), u = e_1 - mu (which
maps e_1 to mu) gives z = U z'.  The rationalised b avoids the cancellation of the paper's
(-2 kappa + sqrt(4 kappa^2 + (m-1)^2)) / (m-1) for large kappa, and
sqrt(1 - w^2) = 2 sqrt(b eps (1-eps)) / (1 - (1-b) eps) avoids that of 1 - w^2 near w = 1.

**The gradient.**  The paper's reparameterization keeps the *accepted* eps fixed and
differentiates z = U(mu) (h(eps, kappa), sqrt(1 - h^2) v) in mu and kappa: that is g_rep.  The
exact gradient of E_q[f(z)] adds g_cor = E[f(z) grad log(a(eps, kappa) / r(eps, kappa))], a
score-function term for the acceptance probability's dependence on kappa.  We compute g_rep only
and drop g_cor: the paper reports it small next to g_rep (Wood's sampler accepts most proposals:
at least 65% per round for m in 2..500, measured), it is a REINFORCE-style term with high
variance that needs f itself, not only its gradient, and the authors' own implementation
likewise back-propagates through h(eps, kappa) alone.  The gradient check therefore holds eps
(and v) fixed, as :meth:`VonMisesFisher.rsample` does when given them.

**KL to the uniform prior** (paper eq. 14), with A_m(kappa) = I_{m/2}(kappa) / I_{m/2-1}(kappa)
the mean resultant length E[mu^T z]:

    KL(q || U(S^{m-1})) = kappa A_m(kappa) + log C_m(kappa) + log |S^{m-1}|,
    |S^{m-1}| = 2 pi^{m/2} / Gamma(m/2).

Writing I_v(kappa) = (kappa/2)^v S_v(kappa) / Gamma(v+1) (v = m/2 - 1) every constant cancels:
KL = kappa A_m(kappa) - log S_v(kappa) = -(log S_v - kappa) - kappa (1 - A_m), computed in the
second form from :func:`~minivae.objectives.bessel.bessel_parts` (log S_v - kappa and 1 - A_m
come without cancellation; the first form would subtract two numbers ~kappa).  Against mpmath
its relative error is below 1e-12 for kappa in [1e-3, 1e7] (KL ~ kappa^2 / (2m) for small
kappa).  Its derivative, from d log I_v / d kappa = A_m + v / kappa and
A_m' = 1 - A_m^2 - (m-1) A_m / kappa, is

    d KL / d kappa = kappa A_m'(kappa) = kappa (1 - A_m^2) - (m-1) A_m       (>= 0).

KL does not depend on mu: the uniform prior has no preferred direction (no "origin gravity").

Gradient methods return the gradient of the *sum over the batch*, as in
:mod:`~minivae.objectives.distributions`.
"""

from __future__ import annotations

import math

import numpy as np

from minivae._validation import (
    as_dtype,
    check_array,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.nn.functional import sigmoid, softplus
from minivae.objectives.bessel import bessel_parts, log_bessel_iv

MU_NORM_TOL = 1e-5   # mu's rows must have norm 1 to within this (finite differences move it 1e-6)
KAPPA_OFFSET = 1.0   # the encoder's kappa = softplus(h) + KAPPA_OFFSET (see vmf_encoder_posterior)
# Beyond any useful posterior (a cap of angular width ~1e-4); the KL's gradient in kappa is two
# terms ~m-1 cancelling to ~(m-1) / (2 kappa), relative error ~1e-6 at 1e5 (see kl_uniform_grad)
KAPPA_MAX = 1e8
MAX_REJECTION_ROUNDS = 1000  # measured: >= 65% accepted per round for m in 2..500, any kappa


def log_uniform_sphere(m: int) -> float:
    """log of the uniform density on S^{m-1}: -log |S^{m-1}| = -log(2 pi^{m/2} / Gamma(m/2))."""
    m = check_positive_int(m, "m", minimum=2)
    return -(math.log(2.0) + 0.5 * m * math.log(math.pi) - math.lgamma(0.5 * m))


def _wood_parameters(m: int, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    """(b, a, d, s) of Wood's sampler for S^{m-1}, each kappa's shape, with
    s = sqrt(4 kappa^2 + (m-1)^2) (needed by the gradient: db/dkappa = -2b / s).  The caller
    has checked m >= 2 and kappa > 0."""
    s = np.hypot(2.0 * kappa, m - 1.0)  # no overflow of 4 kappa^2 for huge kappa
    b = (m - 1.0) / (2.0 * kappa + s)
    a = 0.25 * ((m - 1.0) + 2.0 * kappa + s)
    d = 4.0 * a * b / (1.0 + b) - (m - 1.0) * math.log(m - 1.0)
    return b, a, d, s


def wood_eps(m: int, kappa: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
    """Accepted eps ~ Beta((m-1)/2, (m-1)/2) of Wood's rejection sampler, one per entry of
    ``kappa`` (any shape, > 0); proposals and accept/reject uniforms both from ``rng``."""
    m = check_positive_int(m, "m", minimum=2)
    rng = check_rng(rng)
    kappa = check_array(kappa, "kappa").astype(np.float64, copy=False)
    if np.any(kappa <= 0) or np.any(kappa > KAPPA_MAX):
        raise ValueError(f"kappa must lie in (0, KAPPA_MAX = {KAPPA_MAX:g}], got values in "
                         f"[{float(kappa.min()):.4g}, {float(kappa.max()):.4g}]")
    b, a, d, _ = _wood_parameters(m, kappa)
    eps = np.empty(kappa.shape)
    todo = np.ones(kappa.shape, dtype=bool)
    half = 0.5 * (m - 1.0)
    for _ in range(MAX_REJECTION_ROUNDS):
        idx = np.flatnonzero(todo)
        if idx.size == 0:
            return eps
        e = rng.beta(half, half, idx.size)
        log_u = np.log1p(-rng.random(idx.size))  # log of a uniform in (0, 1]
        bb, aa = b.flat[idx], a.flat[idx]
        t = 2.0 * aa * bb / (1.0 - (1.0 - bb) * e)
        ok = (m - 1.0) * np.log(t) - t + d.flat[idx] >= log_u
        eps.flat[idx[ok]] = e[ok]
        todo.flat[idx[ok]] = False
    raise RuntimeError(f"Wood's sampler did not accept within {MAX_REJECTION_ROUNDS} rounds")


def _w_and_r(b: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """w = h(eps, kappa), r = sqrt(1 - w^2) (in its cancellation-free form) and the shared
    denominator D = 1 - (1-b) eps."""
    den = 1.0 - (1.0 - b) * eps
    w = (1.0 - (1.0 + b) * eps) / den
    r = 2.0 * np.sqrt(b * eps * (1.0 - eps)) / den
    return w, r, den


def _householder_vector(mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, c) of the reflection U = I - c u u^T, u = e_1 - mu, c = 2 / (u^T u), which maps e_1
    to a unit mu (c = 0, U = I, where mu = e_1 exactly).  mu: (N, m) -> (N, m), (N, 1)."""
    u = -mu.copy()
    u[:, 0] += 1.0
    uu = np.sum(u * u, axis=1, keepdims=True)
    return u, np.divide(2.0, uu, out=np.zeros_like(uu), where=uu > 0)


def _householder(mu: np.ndarray, x: np.ndarray) -> np.ndarray:
    """U x for x: (..., N, m) -> (..., N, m) (see :func:`_householder_vector`)."""
    u, c = _householder_vector(mu)
    return x - c * u * np.sum(u * x, axis=-1, keepdims=True)


class VonMisesFisher:
    """vMF(mu, kappa) on S^{m-1} for a batch: mu (N, m) unit rows, kappa (N, 1) > 0, m >= 2.

    ``rsample`` keeps its noise ``eps`` (..., N, m), the accepted Beta draw and the tangent
    direction v packed together, so ``rsample_backward`` (and a finite-difference check that
    passes the same eps) sees the same sample path.  Computed in float64.
    """

    def __init__(self, mu: np.ndarray, kappa: np.ndarray) -> None:
        mu = check_array(mu, "mu", ndim=2).astype(np.float64, copy=False)
        if mu.shape[1] < 2:
            raise ValueError(f"mu must have m >= 2 columns (a point on S^(m-1)), got {mu.shape}")
        norms = np.linalg.norm(mu, axis=1)
        if np.any(np.abs(norms - 1.0) > MU_NORM_TOL):
            raise ValueError(f"mu's rows must be unit vectors (|norm - 1| <= {MU_NORM_TOL}), got "
                             f"norms in [{norms.min():.6g}, {norms.max():.6g}]")
        kappa = check_array(kappa, "kappa", shape=(mu.shape[0], 1), dtype=np.float64)
        if np.any(kappa <= 0) or np.any(kappa > KAPPA_MAX):
            raise ValueError(f"kappa must lie in (0, KAPPA_MAX = {KAPPA_MAX:g}], got values in "
                             f"[{float(kappa.min()):.4g}, {float(kappa.max()):.4g}]")
        self.mu, self.kappa = mu, kappa
        self.eps: np.ndarray | None = None
        self._cache: tuple[np.ndarray, ...] | None = None

    @property
    def latent_dim(self) -> int:
        """m: the sphere S^{m-1} lives in R^m."""
        return int(self.mu.shape[1])

    @property
    def order(self) -> float:
        """v = m/2 - 1, the order of the Bessel function in the normaliser."""
        return 0.5 * self.latent_dim - 1.0

    def mean_resultant_length(self) -> np.ndarray:
        """A_m(kappa) = I_{m/2}(kappa) / I_{m/2-1}(kappa) = E[mu^T z]: (N, 1), in (0, 1)."""
        return bessel_parts(self.order, self.kappa)[2]

    def mean(self) -> np.ndarray:
        """E[z] = A_m(kappa) mu: (N, m) (inside the ball: the sphere's mean is not on it)."""
        return self.mean_resultant_length() * self.mu

    # -- sampling --------------------------------------------------------------------------------
    def _noise(self, rng, n_samples, eps) -> np.ndarray:
        """The packed noise (..., N, m): drawn from ``rng``, or the given ``eps`` checked."""
        N, m = self.mu.shape
        lead = () if n_samples is None else (check_positive_int(n_samples, "n_samples"),)
        if eps is not None:
            eps = check_array(eps, "eps", shape=(*lead, N, m), dtype=np.float64)
            if np.any((eps[..., 0] < 0) | (eps[..., 0] > 1)):
                raise ValueError("eps[..., 0] (the accepted Beta draws) must lie in [0, 1]")
            norms = np.linalg.norm(eps[..., 1:], axis=-1)
            if np.any(np.abs(norms - 1.0) > MU_NORM_TOL):
                raise ValueError("eps[..., 1:] (the tangent directions v) must be unit vectors")
            return eps
        rng = check_rng(rng)
        beta_draws = wood_eps(m, np.broadcast_to(self.kappa, (*lead, N, 1)), rng)
        v = rng.standard_normal((*lead, N, m - 1))
        return np.concatenate([beta_draws, v / np.linalg.norm(v, axis=-1, keepdims=True)], -1)

    def rsample(self, rng: np.random.Generator | int | None, n_samples: int | None = None,
                eps: np.ndarray | None = None) -> np.ndarray:
        """Reparameterized sample: z (N, m), or (K, N, m) with ``n_samples=K``.

        The noise is kept in ``self.eps``, packed with z's shape: ``eps[..., :1]`` the accepted
        Beta draw of Wood's sampler, ``eps[..., 1:]`` the tangent direction v (unit rows of
        length m - 1).  Pass ``eps`` to replay that sample path (no draw from ``rng`` then).
        """
        eps = self._noise(rng, n_samples, eps)
        b = _wood_parameters(self.latent_dim, self.kappa)[0]
        w, r, den = _w_and_r(b, eps[..., :1])
        z_prime = np.concatenate([w, r * eps[..., 1:]], axis=-1)
        self.eps, self._cache = eps, (z_prime, r, den)
        return _householder(self.mu, z_prime)

    def sample(self, rng: np.random.Generator | int, n_samples: int | None = None) -> np.ndarray:
        """Like :meth:`rsample` but keeps no noise (for drawing samples, not training)."""
        kept = self.eps, self._cache
        z = self.rsample(rng, n_samples)
        self.eps, self._cache = kept
        return z

    def rsample_backward(self, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backprop through :meth:`rsample` with eps and v held fixed (g_rep; see the module
        docstring): returns (dmu (N, m), dkappa (N, 1)), summed over the K samples if any.

        Through z = x - c u (u.x), x = z' = (w, r v), u = e_1 - mu, c = 2 / (u.u):
        dx = U dz; du = -c [(u.x) dz + (u.dz) x - c (u.dz)(u.x) u]; dmu = -du.  Then
        dw = dx_1, dr = dx_{2:}.v, and with D = 1 - (1-b) eps:
        dw/db = -2 eps (1-eps) / D^2, dr/db = r (1/(2b) - eps/D), db/dkappa = -2b / s.
        """
        if self._cache is None or self.eps is None:
            raise RuntimeError("rsample_backward called before rsample: no sample path is stored")
        x, r, den = self._cache
        dz = check_array(dz, "dz", shape=x.shape)
        u, c = _householder_vector(self.mu)
        u_dz = np.sum(u * dz, axis=-1, keepdims=True)
        u_x = np.sum(u * x, axis=-1, keepdims=True)
        dx = dz - c * u * u_dz
        dmu = c * (u_x * dz + u_dz * x - c * u_dz * u_x * u)
        dw, dr = dx[..., :1], np.sum(dx[..., 1:] * self.eps[..., 1:], axis=-1, keepdims=True)
        b, _, _, s = _wood_parameters(self.latent_dim, self.kappa)
        eps = self.eps[..., :1]
        db = dw * (-2.0 * eps * (1.0 - eps) / den**2) + dr * r * (0.5 / b - eps / den)
        dkappa = db * (-2.0 * b / s)
        if dz.ndim == 3:  # K samples, one set of parameters
            dmu, dkappa = dmu.sum(0), dkappa.sum(0)
        return dmu, dkappa

    # -- density and KL ------------------------------------------------------------------------
    def log_normaliser(self) -> np.ndarray:
        """log C_m(kappa) = (m/2 - 1) log kappa - (m/2) log(2 pi) - log I_{m/2-1}(kappa): (N, 1)."""
        m, v = self.latent_dim, self.order
        return v * np.log(self.kappa) - 0.5 * m * math.log(2.0 * math.pi) \
            - log_bessel_iv(v, self.kappa)

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """log q(z) = log C_m(kappa) + kappa mu^T z for z: (N, m) or (K, N, m) on the sphere
        -> (N,) or (K, N).  (A density with respect to the sphere's surface measure, the same
        measure as :func:`log_uniform_sphere`'s, so their difference is a log-ratio.)"""
        z = check_array(z, "z", ndim=(2, 3)).astype(np.float64, copy=False)
        if z.shape[-2:] != self.mu.shape:
            raise ValueError(f"z must end with shape {self.mu.shape}, got {z.shape}")
        norms = np.linalg.norm(z, axis=-1)
        if np.any(np.abs(norms - 1.0) > MU_NORM_TOL):
            raise ValueError(f"z's rows must be unit vectors (points on the sphere), got norms "
                             f"in [{norms.min():.6g}, {norms.max():.6g}]")
        return (self.log_normaliser() + self.kappa * np.sum(self.mu * z, axis=-1,
                                                            keepdims=True))[..., 0]

    def kl_uniform(self) -> np.ndarray:
        """KL(q || U(S^{m-1})) per example, (N,): kappa A - log S = -(log S - kappa) -
        kappa (1 - A), the second form free of the cancellation of two terms ~kappa."""
        _, log_s_minus_kappa, _, complement = bessel_parts(self.order, self.kappa)
        return (-log_s_minus_kappa - self.kappa * complement)[:, 0]

    def kl_uniform_grad(self) -> np.ndarray:
        """d/dkappa of the summed KL: kappa (1 - A^2) - (m-1) A = kappa (1 - A)(1 + A) - (m-1) A,
        (N, 1) (mu: no gradient).  1 - A comes from the Bessel code accurate to ~1e-12
        relative (it is ~(m-1) / (2 kappa) for large kappa), but the two terms, each ~m - 1,
        still cancel to ~(m-1) / (2 kappa): against mpmath the relative error is 1e-14 up to
        kappa = 10, 2e-11 at 300, 2e-9 at 5000, 7e-7 at 1e5 (absolute: below 1e-11 always,
        negligible next to the decoder's gradient)."""
        _, _, A, complement = bessel_parts(self.order, self.kappa)
        return self.kappa * complement * (1.0 + A) - (self.latent_dim - 1.0) * A

    def elbo_backward(self, dz: np.ndarray, dkl: float) -> tuple[np.ndarray, np.ndarray]:
        """(dmu, dkappa) of ``f(z) + dkl * sum_n KL[n]``: the decoder's gradient dz through the
        sample (g_rep) plus the KL gradient weighted by ``dkl`` (e.g. beta / N)."""
        dkl = check_scalar(dkl, "dkl")
        dmu, dkappa = self.rsample_backward(dz)
        return dmu, dkappa + dkl * self.kl_uniform_grad()


# -- from an encoder's output and back ------------------------------------------------------------
def _check_vmf(q: object) -> VonMisesFisher:
    if not isinstance(q, VonMisesFisher):
        raise TypeError(f"q must be a VonMisesFisher, got {type(q).__name__}")
    return q


def _direction(h_mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h_mu / ||h_mu|| (N, m), ||h_mu|| (N, 1)), dividing by max |h_mu| first (no overflow of
    the squares).  An all-zero row (a zero input through zero biases) has no direction: it is
    read as e_1, with norm 0."""
    scale = np.max(np.abs(h_mu), axis=1, keepdims=True)
    unit = np.divide(h_mu, scale, out=np.zeros_like(h_mu), where=scale > 0)
    unit[scale[:, 0] == 0, 0] = 1.0
    length = np.linalg.norm(unit, axis=1, keepdims=True)
    return unit / length, np.where(scale > 0, scale * length, 0.0)


def vmf_encoder_posterior(h: np.ndarray) -> tuple[VonMisesFisher, np.ndarray]:
    """q(z | x) from an encoder's output h: (N, m + 1): the first m columns an unnormalised
    direction, mu = h_mu / ||h_mu||, the last one the concentration, kappa = softplus(h_k) + 1.

    Why + 1 (KAPPA_OFFSET, as in the paper's code): kappa -> 0 is the uniform prior itself, the
    encoder's cheapest way to zero the KL -- a collapsed code that tells the decoder nothing.
    Keeping kappa >= 1 sets a floor on each example's KL (a committed rate, in the spirit of
    delta-VAE; e.g. 0.0830 nats at m = 3) and keeps Wood's sampler and the Bessel functions away
    from the kappa -> 0 end, where the sample's dependence on kappa is weakest.

    A row whose h_mu is all zero (a zero input through zero biases) has no direction: it is read
    as e_1, and no gradient passes to its h_mu.  Returns (q, h): the encoder output itself is
    what :func:`vmf_encoder_backward` needs (the norms of h_mu and the softplus slope
    sigmoid(h_k)).
    """
    h = check_array(h, "h", ndim=2).astype(np.float64, copy=False)
    if h.shape[1] < 3:
        raise ValueError(f"h must have m + 1 >= 3 columns (m >= 2 direction columns and the "
                         f"concentration), got shape {h.shape}")
    m = h.shape[1] - 1
    mu, _ = _direction(h[:, :m])
    kappa = softplus(h[:, m:]) + KAPPA_OFFSET
    if np.any(kappa > KAPPA_MAX):
        raise ValueError(f"h's concentration column gives kappa up to {float(kappa.max()):.4g} "
                         f"> KAPPA_MAX = {KAPPA_MAX:g}")
    return VonMisesFisher(mu, kappa), h


def vmf_encoder_backward(q: VonMisesFisher, inside: np.ndarray, dz: np.ndarray,
                         dkl: float) -> np.ndarray:
    """d loss / d h (N, m + 1) for the encoder's backward pass, the loss being
    ``f(z) + dkl * sum_n KL[n]`` with dz = df/dz (N, m) (1/N included), dkl e.g. beta / N, and
    ``inside`` the h that :func:`vmf_encoder_posterior` returned.

    Through mu = h_mu / ||h_mu||: dh_mu = (dmu - mu (mu . dmu)) / ||h_mu|| (only the part of
    dmu across the sphere passes); through kappa = softplus(h_k) + 1: dh_k = dkappa sigmoid(h_k).
    """
    N, m = _check_vmf(q).mu.shape
    h = check_array(inside, "inside", shape=(N, m + 1), dtype=np.float64)
    dmu, dkappa = q.elbo_backward(dz, dkl)
    _, norms = _direction(h[:, :m])
    tangential = dmu - q.mu * np.sum(q.mu * dmu, axis=1, keepdims=True)
    # a zero row was read as e_1 without a derivative: no gradient reaches its direction
    dh_mu = np.divide(tangential, norms, out=np.zeros_like(tangential), where=norms > 0)
    return np.concatenate([dh_mu, dkappa * sigmoid(h[:, m:])], axis=1)


# -- the posterior family of a VAE (registered as "vmf" in minivae.objectives.posteriors) ----------
class VMFFamily:
    """The S-VAE: q = vMF(mu, kappa) on S^{m-1}, h = [h_mu, h_kappa] (N, m + 1), prior
    U(S^{m-1}), KL in closed form.  ``latent_dim`` is m (z lives in R^m, on the unit sphere).

    The family protocol of :mod:`minivae.objectives.posteriors`: ``make``/``backward`` are
    :func:`vmf_encoder_posterior`/:func:`vmf_encoder_backward`; ``kl`` is
    :meth:`VonMisesFisher.kl_uniform`; the prior's log-density is the constant
    -log |S^{m-1}| and its draws are normalised standard normals.
    """

    name = "vmf"
    analytic_kl = True
    objectives = ("elbo",)

    def __init__(self, latent_dim: int, dtype: object = np.float64) -> None:
        self.latent_dim = check_positive_int(latent_dim, "latent_dim", minimum=2)
        self.dtype = as_dtype(dtype)
        self._log_uniform = log_uniform_sphere(self.latent_dim)

    @property
    def width(self) -> int:
        return self.latent_dim + 1

    def make(self, h: np.ndarray) -> tuple[VonMisesFisher, np.ndarray]:
        h = check_array(h, "h", ndim=2)
        if h.shape[1] != self.width:
            raise ValueError(f"h must have latent_dim + 1 = {self.width} columns, got shape "
                             f"{h.shape}")
        return vmf_encoder_posterior(h)

    def backward(self, q: VonMisesFisher, inside: np.ndarray, dz: np.ndarray,
                 dkl: float) -> np.ndarray:
        return vmf_encoder_backward(q, inside, dz, dkl)

    def kl(self, q: VonMisesFisher) -> np.ndarray:
        return _check_vmf(q).kl_uniform()

    def log_prior(self, z: np.ndarray) -> np.ndarray:
        """log U(z) = -log |S^{m-1}| for every z: (..., N, m) -> (..., N)."""
        z = check_array(z, "z", ndim=(2, 3))
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must end with {self.latent_dim} columns, got {z.shape}")
        return np.full(z.shape[:-1], self._log_uniform)

    def sample_prior(self, rng: np.random.Generator | int, n: int) -> np.ndarray:
        """n uniform draws on S^{m-1}: normalised standard normals, (n, m)."""
        n = check_positive_int(n, "n")
        g = check_rng(rng).standard_normal((n, self.latent_dim))
        return (g / np.linalg.norm(g, axis=1, keepdims=True)).astype(self.dtype)

    def code(self, q: VonMisesFisher) -> np.ndarray:
        """The mode mu (N, m) (on the sphere, where the decoder was trained; the mean A mu is
        inside the ball)."""
        return _check_vmf(q).mu

    def summary(self, q: VonMisesFisher) -> None:
        """None: a vMF has no per-dimension Gaussian marginals."""
        _check_vmf(q)
        return None
