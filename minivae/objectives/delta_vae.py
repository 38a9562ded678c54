r"""delta-VAE: a committed rate through a mismatched posterior / prior pair (Razavi et al., 2019,
"Preventing posterior collapse with delta-VAEs"; the review's section 6.10).

Posterior collapse is the optimum KL(q(z | x) || p(z)) = 0: q equal to the prior for every x.
A delta-VAE makes that optimum unreachable by choosing the two families so they *cannot* match.
Here, as in the paper's sequential case, the prior is an AR(1) process over the L latent
dimensions with correlation alpha (stationary, unit variance) and the posterior a *diagonal*
Gaussian, which has no correlations at all::

    p(z) = N(0, T(alpha)),   T(alpha)_ij = alpha^|i - j|        (the rho-VAE's AR(1) matrix,
                                                                  :mod:`~minivae.objectives.rho_gaussian`)
    q(z | x) = N(mu, diag(s)),   s = exp(logvar)

The KL in closed form, written as the chain rule of the AR(1) process (k = 1 - alpha^2;
p(z_1) = N(0, 1), p(z_i | z_{i-1}) = N(alpha z_{i-1}, k)), one term per latent dimension::

    KL_1 = 1/2 [ mu_1^2 + s_1 - 1 - log s_1 ]
    KL_i = 1/2 [ ((mu_i - alpha mu_{i-1})^2 + s_i + alpha^2 s_{i-1}) / k - 1 + log k - log s_i ]
    KL   = sum_i KL_i                                                     (i = 2..L)

(KL_i = E_q[ KL(q(z_i) || p(z_i | z_{i-1})) ] >= 0, so each term is a KL of its own and free
bits can act on them one by one.)  Minimising over mu and s gives mu = 0, s_i = 1 / (T^-1)_ii
and the **committed rate**, the smallest KL any diagonal posterior can reach::

    delta(alpha) = 1/2 [ sum_i log (T^-1)_ii + (L - 1) log(1 - alpha^2) ]
                 = 1/2 [ (L - 2) log(1 + alpha^2) - log(1 - alpha^2) ]            (L >= 2)

with (T^-1)_11 = (T^-1)_LL = 1 / k and (T^-1)_ii = (1 + alpha^2) / k inside (the AR(1)
precision matrix is tridiagonal).  That is the paper's AR(1) case (section 2.2, n latent steps
per channel) with n = L and one channel; ``tests/test_delta_vae.py`` checks it against the
dense-matrix KL and its minimum.  So KL >= delta(alpha) for every x: the model pays delta nats
whatever it does, and can as well use them to carry information about x.
:func:`alpha_for_rate` inverts delta(alpha), so one chooses the rate and gets alpha.

Gradient functions return the gradient of the *sum over the batch* (scale it for a mean), as in
:mod:`~minivae.objectives.distributions`.  log(1 - alpha^2) is the rho-VAE's stable
:func:`~minivae.objectives.rho_gaussian.log_one_minus_tanh_sq` of atanh(alpha); the prior itself,
for sampling and log-densities, is the rho-VAE's :class:`RhoGaussian` with mu = 0, s = 1.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import as_dtype, check_array, check_positive_int, check_scalar
from minivae.objectives.distributions import DiagonalGaussian, check_posterior
from minivae.objectives.rho_gaussian import RhoGaussian, log_one_minus_tanh_sq

__all__ = ["ALPHA_MAX", "alpha_for_rate", "ar1_prior", "committed_rate", "delta_kl",
           "delta_kl_grad", "delta_elbo_backward"]

#: alpha is kept in [0, ALPHA_MAX]: tanh(5) = 0.99991, the rho-VAE's bound on its correlation
#: (RHO_RAW_MAX = 5; 1 - alpha^2 >= 1.8e-4 keeps every term accurate in float32 as well)
ALPHA_MAX = float(np.tanh(5.0))


def check_alpha(alpha: object) -> float:
    """alpha in [0, ALPHA_MAX] (a correlation; negative ones give the same rate, use |alpha|)."""
    return check_scalar(alpha, "alpha", low=0.0, high=ALPHA_MAX)


def _log_k(alpha: float) -> float:
    """log(1 - alpha^2), stably (rho_gaussian.log_one_minus_tanh_sq of atanh(alpha))."""
    return float(log_one_minus_tanh_sq(np.array(np.arctanh(alpha))))


def committed_rate(alpha: float, latent_dim: int) -> float:
    """delta(alpha) = min over diagonal Gaussians q of KL(q || N(0, T(alpha))), in nats:
    1/2 [sum_i log (T^-1)_ii + (L - 1) log(1 - alpha^2)] (module docstring; 0 for L = 1)."""
    alpha, L = check_alpha(alpha), check_positive_int(latent_dim, "latent_dim")
    log_k = _log_k(alpha)
    if L == 1:
        return 0.0
    log_prec = -log_k * 2 + (L - 2) * (float(np.log1p(alpha * alpha)) - log_k)  # sum log T^-1_ii
    return 0.5 * (log_prec + (L - 1) * log_k)


def alpha_for_rate(delta: float, latent_dim: int) -> float:
    """The alpha whose committed rate is ``delta`` nats for L = ``latent_dim`` (L >= 2): the
    root of delta(alpha) = delta, increasing in alpha, by bisection on alpha^2 in [0, 1).
    Raises when delta exceeds delta(ALPHA_MAX)."""
    delta = check_scalar(delta, "delta", low=0.0)
    L = check_positive_int(latent_dim, "latent_dim", minimum=2)
    top = committed_rate(ALPHA_MAX, L)
    if delta > top:
        raise ValueError(f"delta must be <= {top:.4g} nats for latent_dim={L} (alpha <= "
                         f"{ALPHA_MAX:.5f}), got {delta}")
    lo, hi = 0.0, ALPHA_MAX**2
    for _ in range(200):  # 2^-200: far below float64's resolution of alpha^2
        mid = 0.5 * (lo + hi)
        if committed_rate(np.sqrt(mid), L) < delta:
            lo = mid
        else:
            hi = mid
    return float(np.sqrt(0.5 * (lo + hi)))


def ar1_prior(alpha: float, latent_dim: int, n: int = 1, dtype: object = np.float64
              ) -> RhoGaussian:
    """The prior N(0, T(alpha)) over L dimensions for a batch of n: a
    :class:`~minivae.objectives.rho_gaussian.RhoGaussian` with mu = 0, s = 1, rho = alpha (its
    ``sample`` is the AR(1) recursion, its ``log_prob`` the chain-rule density)."""
    alpha, L = check_alpha(alpha), check_positive_int(latent_dim, "latent_dim")
    n = check_positive_int(n, "n")
    dt = as_dtype(dtype)
    return RhoGaussian(np.zeros((n, L), dtype=dt), np.zeros(n, dtype=dt),
                       np.full(n, np.arctanh(alpha), dtype=dt))


def delta_kl(q: DiagonalGaussian, alpha: float, per_dimension: bool = False) -> np.ndarray:
    """KL(q || N(0, T(alpha))) per example (N,), or its chain-rule terms (N, L) with
    ``per_dimension=True`` (module docstring; they sum to the KL)."""
    q, alpha = check_posterior(q), check_alpha(alpha)
    mu, lv = q.mu, q.logvar
    s, k, log_k = np.exp(lv), 1.0 - alpha * alpha, _log_k(alpha)
    terms = np.empty_like(mu)
    terms[:, 0] = 0.5 * (mu[:, 0] ** 2 + s[:, 0] - 1.0 - lv[:, 0])
    resid = mu[:, 1:] - alpha * mu[:, :-1]
    terms[:, 1:] = 0.5 * ((resid**2 + s[:, 1:] + alpha * alpha * s[:, :-1]) / k - 1.0 + log_k
                          - lv[:, 1:])
    return terms if per_dimension else terms.sum(axis=1)


def delta_kl_grad(q: DiagonalGaussian, alpha: float, weights: float | np.ndarray = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(dmu, dlogvar), each (N, L), of sum_{n, i} w_i KL_i[n]: the chain-rule terms weighted by
    ``weights`` (a scalar, or (L,) per term as free bits give it).

    Term i reads dimensions i and i - 1, so each dimension gets its own term's gradient and the
    next one's: with r_i = (mu_i - alpha mu_{i-1}) / k,
        dmu_i     = w_i r_i - alpha w_{i+1} r_{i+1}         (r_1 = mu_1, k = 1 for term 1)
        dlogvar_i = w_i (s_i / k_i - 1) / 2 + w_{i+1} alpha^2 s_i / (2 k)
    """
    q, alpha = check_posterior(q), check_alpha(alpha)
    L = q.mu.shape[1]
    w = (np.full(L, check_scalar(weights, "weights")) if np.ndim(weights) == 0
         else check_array(weights, "weights", shape=(L,)))
    mu, s, k = q.mu, np.exp(q.logvar), 1.0 - alpha * alpha
    r = mu.copy()
    r[:, 1:] = (mu[:, 1:] - alpha * mu[:, :-1]) / k
    k_i = np.full(L, k)
    k_i[0] = 1.0  # the first term is the plain KL to N(0, 1)
    dmu = w * r
    dmu[:, :-1] -= alpha * w[1:] * r[:, 1:]
    dlogvar = 0.5 * w * (s / k_i - 1.0)
    dlogvar[:, :-1] += 0.5 * w[1:] * alpha * alpha * s[:, :-1] / k
    return dmu, dlogvar


def delta_elbo_backward(q: DiagonalGaussian, alpha: float, dz: np.ndarray,
                        dkl: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dmu, dlogvar) of ``f(z) + sum_{n, i} dkl_i * KL_i[n]``: the decoder's gradient dz through
    the reparameterized sample plus the delta-KL gradient weighted by ``dkl`` (scalar or (L,),
    e.g. beta / N, as :func:`~minivae.objectives.kl.kl_loss_term` returns it).  The delta-VAE
    counterpart of :meth:`DiagonalGaussian.elbo_backward`."""
    q = check_posterior(q)
    dmu, dlogvar = q.rsample_backward(dz)
    kmu, klogvar = delta_kl_grad(q, alpha, dkl)
    return dmu + kmu, dlogvar + klogvar
