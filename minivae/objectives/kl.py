"""The KL term of the ELBO as it enters a loss: beta weighting and free bits.

The closed-form KL itself lives with the distributions
(:meth:`minivae.objectives.distributions.DiagonalGaussian.kl_standard_normal`); this module turns
the per-example, per-dimension KL into the number a model adds to its loss and the weights its
backward multiplies the KL gradient by.  Every model and application with a KL term uses
:func:`kl_loss_term`, so beta and free bits behave the same everywhere.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar


def free_bits_kl(kl_per_dim: np.ndarray, lambda_: float) -> tuple[float, np.ndarray]:
    """Free-bits KL term (Kingma et al., 2016, "Improved variational inference with IAF").

    Each latent dimension is granted ``lambda_`` nats for free: below that, its KL is not
    penalised, so the optimizer has no incentive to collapse it to the prior.

    Convention (matching the loss convention "sum over dimensions, mean over the batch"):

        kl_mean[l] = mean_n kl_per_dim[n, l]          (average over the minibatch first)
        value      = sum_l max(lambda_, kl_mean[l])

    The paper groups latents and takes the minibatch average per group; here every dimension is
    its own group.  ``value`` replaces the batch-mean KL in the loss.  Its gradient w.r.t.
    kl_per_dim[n, l] is grad_weights[l] / N: the batch-mean KL gradient, passed through only for
    dimensions above the floor.  So a model multiplies column l of its KL gradient (e.g.
    d KL / d mu and d KL / d logvar, shape (N, L)) by ``grad_weights[l]``.  At exactly
    kl_mean = lambda_ the max is not differentiable; the weight there is 0.

    Args:
        kl_per_dim: (N, L) per-example, per-dimension KL (``kl_standard_normal(per_dimension=
            True)``), >= 0.
        lambda_: free nats per dimension, >= 0 (0 gives the ordinary KL).

    Returns:
        value: float, the free-bits KL term.
        grad_weights: (L,) array of 0.0 / 1.0 in kl_per_dim's dtype, 1 where
            kl_mean > lambda_ (the gradient flows).
    """
    kl = check_array(kl_per_dim, "kl_per_dim", ndim=2)
    if kl.dtype.kind != "f":
        kl = kl.astype(np.float64)
    lam = check_scalar(lambda_, "lambda_", low=0.0)
    kl_mean = kl.mean(axis=0)
    value = float(np.sum(np.maximum(kl_mean, lam)))
    grad_weights = (kl_mean > lam).astype(kl.dtype)
    return value, grad_weights


def kl_loss_term(
    kl_per_dim: np.ndarray, beta: float, free_bits: float
) -> tuple[float, float, np.ndarray | float, dict[str, float]]:
    """The KL part of a (beta-, free-bits-) ELBO loss ``reconstruction + beta * term``.

    Args:
        kl_per_dim: (N, L) per-example, per-dimension KL; beta: the KL weight;
        free_bits: nats per dimension granted free (0: the ordinary batch-mean KL).

    Returns:
        kl_mean: float, the batch-mean KL (what gets reported as "kl"),
        term: the KL term beta multiplies (``free_bits_kl`` value, or kl_mean),
        dkl: d(beta * term) / d kl_per_dim[n, l], a scalar or an (L,) array (1/N included),
        extra: loss parts to report besides ("kl_free_bits" when free bits are on).
    """
    kl_per_dim = check_array(kl_per_dim, "kl_per_dim", ndim=2)
    beta = check_scalar(beta, "beta", low=0.0)
    free_bits = check_scalar(free_bits, "free_bits", low=0.0)
    N = kl_per_dim.shape[0]
    kl_mean = float(kl_per_dim.sum(axis=1).mean())
    if free_bits > 0:
        term, weights = free_bits_kl(kl_per_dim, free_bits)
        return kl_mean, term, (beta / N) * weights, {"kl_free_bits": term}
    return kl_mean, kl_mean, beta / N, {}
