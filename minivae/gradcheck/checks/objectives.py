"""Gradient checks of the objectives: every reconstruction loss (with and without a mask), the
softmax cross-entropy of classifiers, the closed-form KLs, the reparameterized sample and the
Gaussian log-density (all smooth: tolerance 1e-7)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import renamed, size
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.objectives import losses
from minivae.objectives.distributions import DiagonalGaussian


def _total(value: object) -> float:
    """Scalar of a reduced loss; the ``reduction="none"`` vector is summed (its grad convention)."""
    return float(np.sum(value))


def _loss_data(rng: np.random.Generator, masked: bool):
    shape = (size(rng), size(rng)) if rng.integers(2) else (size(rng), size(rng), size(rng))
    mask = rng.random(shape) < 0.7 if masked else None
    return shape, mask


def _with_nan(target: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Missing targets are NaN; the loss must never read them."""
    return target if mask is None else np.where(mask, target, np.nan)


def _loss_check(kind: str, masked: bool) -> Callable[[np.random.Generator], list]:
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        shape, mask = _loss_data(rng, masked)
        results: list[GradCheckResult] = []
        for reduction in losses.REDUCTIONS:
            kw = {"mask": mask, "reduction": reduction}
            if kind == "mse":
                t = _with_nan(rng.standard_normal(shape), mask)
                res = check_function(
                    lambda pred, t=t, kw=kw: _total(losses.mse(pred, t, **kw)),
                    {"pred": rng.standard_normal(shape)},
                    lambda pred, t=t, kw=kw: losses.mse_grad(pred, t, **kw),
                )
            elif kind == "bernoulli":
                t = rng.random(shape)
                t[rng.random(shape) < 0.3] = 1.0  # binary pixels as well as grey levels
                t = _with_nan(t, mask)
                res = check_function(
                    lambda logits, t=t, kw=kw: _total(losses.bernoulli_nll(logits, t, **kw)),
                    {"logits": 2.0 * rng.standard_normal(shape)},
                    lambda logits, t=t, kw=kw: losses.bernoulli_nll_grad(logits, t, **kw),
                )
            elif kind == "gaussian":
                t = _with_nan(rng.standard_normal(shape), mask)
                res = check_function(
                    lambda mean, logvar, t=t, kw=kw: _total(
                        losses.gaussian_nll(mean, logvar, t, **kw)),
                    {"mean": rng.standard_normal(shape),
                     "logvar": 0.5 * rng.standard_normal(shape)},
                    lambda mean, logvar, t=t, kw=kw: losses.gaussian_nll_grad(mean, logvar, t,
                                                                              **kw),
                )
            elif kind == "gaussian_fixed_variance":
                t = _with_nan(rng.standard_normal(shape), mask)
                var = float(rng.uniform(0.3, 2.0))
                res = check_function(
                    lambda mean, t=t, kw=kw, var=var: _total(
                        losses.gaussian_nll_fixed_variance(mean, t, variance=var, **kw)),
                    {"mean": rng.standard_normal(shape)},
                    lambda mean, t=t, kw=kw, var=var: losses.gaussian_nll_fixed_variance_grad(
                        mean, t, variance=var, **kw),
                )
            else:  # pragma: no cover - programming error
                raise ValueError(kind)
            results += renamed(res, f"[{reduction}]")
        return results

    return check


for _kind in ("mse", "bernoulli", "gaussian", "gaussian_fixed_variance"):
    register_check(f"loss.{_kind}", _loss_check(_kind, masked=False))
    register_check(f"loss.{_kind}.masked", _loss_check(_kind, masked=True))


@register_check("loss.softmax_cross_entropy")
def _check_softmax_cross_entropy(rng: np.random.Generator) -> list[GradCheckResult]:
    n, k = size(rng), size(rng) + 1
    labels = rng.integers(0, k, size=n)
    results: list[GradCheckResult] = []
    for reduction in losses.REDUCTIONS:
        res = check_function(
            lambda logits, r=reduction: _total(
                losses.softmax_cross_entropy(logits, labels, reduction=r)),
            {"logits": 3.0 * rng.standard_normal((n, k))},
            lambda logits, r=reduction: losses.softmax_cross_entropy_grad(logits, labels,
                                                                          reduction=r),
        )
        results += renamed(res, f"[{reduction}]")
    return results


# -------------------------------------------------------------------------- distributions
def _gaussian_params(rng: np.random.Generator, shape: tuple[int, ...] | None = None
                     ) -> dict[str, np.ndarray]:
    """mu, logvar: (N, L), logvar moderate so exp(±logvar) stays O(1)."""
    shape = (size(rng), size(rng)) if shape is None else shape
    return {"mu": rng.standard_normal(shape), "logvar": 0.5 * rng.standard_normal(shape)}


@register_check("kl.standard_normal")
def _check_kl_standard_normal(rng: np.random.Generator) -> list[GradCheckResult]:
    return check_function(
        lambda mu, logvar: float(np.sum(DiagonalGaussian(mu, logvar).kl_standard_normal())),
        _gaussian_params(rng),
        lambda mu, logvar: DiagonalGaussian(mu, logvar).kl_standard_normal_grad(),
    )


@register_check("kl.gaussians")
def _check_kl_gaussians(rng: np.random.Generator) -> list[GradCheckResult]:
    p = _gaussian_params(rng)
    q = _gaussian_params(rng, p["mu"].shape)

    def f(mu_p, logvar_p, mu_q, logvar_q):
        return float(np.sum(DiagonalGaussian(mu_p, logvar_p).kl(DiagonalGaussian(mu_q, logvar_q))))

    def grad(mu_p, logvar_p, mu_q, logvar_q):
        return DiagonalGaussian(mu_p, logvar_p).kl_grad(DiagonalGaussian(mu_q, logvar_q))

    inputs = {"mu_p": p["mu"], "logvar_p": p["logvar"], "mu_q": q["mu"], "logvar_q": q["logvar"]}
    return check_function(f, inputs, grad)


@register_check("gaussian.rsample")
def _check_rsample(rng: np.random.Generator) -> list[GradCheckResult]:
    """z = mu + exp(0.5 logvar) * eps with the noise held fixed, for 1 and for K samples."""
    results: list[GradCheckResult] = []
    params = _gaussian_params(rng)
    for K in (None, size(rng, 2, 3)):
        shape = params["mu"].shape if K is None else (K, *params["mu"].shape)
        eps, dz = rng.standard_normal(shape), rng.standard_normal(shape)

        def f(mu, logvar, eps=eps, dz=dz, K=K):
            z = DiagonalGaussian(mu, logvar).rsample(None, n_samples=K, eps=eps)
            return float(np.sum(z * dz))

        def grad(mu, logvar, eps=eps, dz=dz, K=K):
            q = DiagonalGaussian(mu, logvar)
            q.rsample(None, n_samples=K, eps=eps)
            return q.rsample_backward(dz)

        # sum(z * dz) is a sum of terms of both signs: give the noise floor their size.
        z = DiagonalGaussian(**params).rsample(None, n_samples=K, eps=eps)
        res = check_function(f, params, grad, f_scale=float(np.sum(np.abs(z * dz))))
        results += res if K is None else renamed(res, f"(K={K})")
    return results


@register_check("gaussian.log_prob")
def _check_log_prob(rng: np.random.Generator) -> list[GradCheckResult]:
    """log N(z; mu, exp(logvar)) w.r.t. z, mu, logvar; also z with a leading sample axis."""
    results: list[GradCheckResult] = []
    params = _gaussian_params(rng)
    for K in (None, size(rng, 2, 3)):
        shape = params["mu"].shape if K is None else (K, *params["mu"].shape)
        inputs = {"z": rng.standard_normal(shape), **params}

        def f(z, mu, logvar):
            return float(np.sum(DiagonalGaussian(mu, logvar).log_prob(z)))

        def grad(z, mu, logvar):
            return DiagonalGaussian(mu, logvar).log_prob_grad(z)

        res = check_function(f, inputs, grad)
        results += res if K is None else renamed(res, f"(K={K})")
    return results
