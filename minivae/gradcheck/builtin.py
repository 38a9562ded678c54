"""The built-in gradient checks: every layer, loss and distribution gradient of the core library.

Each check draws a small random shape and random float64 values from the ``rng`` it is given,
then compares analytic and numeric gradients.  Inputs of ReLU/LeakyReLU (also the hidden
pre-activations inside an MLP) are kept at least ``KINK_MARGIN`` away from the kink at 0, far
more than the ``10*h`` a central difference needs.  Everything here is smooth apart from those
kinks, so every check uses the default tolerance 1e-7.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minivae import losses
from minivae.distributions import DiagonalGaussian
from minivae.gradcheck.core import GradCheckResult, check_function, check_layer
from minivae.gradcheck.registry import REGISTRY, register_check
from minivae.nn import MLP, Dense, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from minivae.nn.layer import Layer

KINK_MARGIN = 1e-2


# ------------------------------------------------------------------------------ helpers
def _size(rng: np.random.Generator, low: int = 1, high: int = 4) -> int:
    return int(rng.integers(low, high + 1))


def _away_from_kink(x: np.ndarray, margin: float = KINK_MARGIN) -> np.ndarray:
    """Shift every entry by ``margin`` away from 0, so |x| >= margin (the ReLU kink)."""
    return np.where(x >= 0, x + margin, x - margin)


def _input(rng: np.random.Generator, features: int, *, sequence: bool | None = None) -> np.ndarray:
    """x: (N, D), or (N, T, D) when ``sequence`` (random choice when None)."""
    if sequence is None:
        sequence = bool(rng.integers(2))
    shape = (_size(rng), _size(rng), features) if sequence else (_size(rng), features)
    return rng.standard_normal(shape)


def _kinks_clear(mlp: MLP, x: np.ndarray, margin: float = KINK_MARGIN) -> bool:
    """True if every input of a ReLU/LeakyReLU inside ``mlp`` is at least ``margin`` from 0,
    and every ReLU layer passes something (all units dead would make the check vacuous)."""
    for layer in mlp.layers:
        if isinstance(layer, (ReLU, LeakyReLU)):
            if np.any(np.abs(x) < margin) or not np.any(x > 0):
                return False
        x = layer.forward(x)
    return True


def _randomise_bias(layer: Layer, rng: np.random.Generator) -> None:
    """Biases start at 0; a random bias makes the check cover the general case."""
    for name, p, _ in layer.parameters():
        if name.split(".")[-1] == "b":
            p[...] = 0.1 * rng.standard_normal(p.shape)


def _renamed(results: list[GradCheckResult], suffix: str) -> list[GradCheckResult]:
    for r in results:
        r.name = f"{r.name} {suffix}"
    return results


# ------------------------------------------------------------------------------- layers
@register_check("dense")
def _check_dense(rng: np.random.Generator) -> list[GradCheckResult]:
    D, M = _size(rng), _size(rng)
    layer = Dense(D, M, rng=rng)
    _randomise_bias(layer, rng)
    return check_layer(layer, _input(rng, D, sequence=False), rng=rng)


@register_check("dense.time_distributed")
def _check_dense_3d(rng: np.random.Generator) -> list[GradCheckResult]:
    D, M = _size(rng), _size(rng)
    layer = Dense(D, M, rng=rng)
    _randomise_bias(layer, rng)
    return check_layer(layer, _input(rng, D, sequence=True), rng=rng)


_ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "identity": Identity,
    "relu": ReLU,
    "leaky_relu": lambda: LeakyReLU(alpha=0.2),
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "softplus": Softplus,
}


def _activation_check(make: Callable[[], Layer]) -> Callable[[np.random.Generator], list]:
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        layer = make()
        x = 2.0 * _input(rng, _size(rng))
        if isinstance(layer, (ReLU, LeakyReLU)):
            x = _away_from_kink(x)
        return check_layer(layer, x, rng=rng)

    return check


for _name, _make in _ACTIVATIONS.items():
    register_check(f"activation.{_name}", _activation_check(_make))


def _mlp_check(activation: str, output_activation: str, sequence: bool) -> Callable:
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        sizes = [_size(rng), _size(rng, 2, 4), _size(rng, 2, 4), _size(rng)]
        for _ in range(1000):  # redraw until no hidden unit sits at a kink
            mlp = MLP(sizes, activation=activation, output_activation=output_activation,
                      rng=rng)
            _randomise_bias(mlp, rng)
            x = _input(rng, sizes[0], sequence=sequence)
            if _kinks_clear(mlp, x):
                return check_layer(mlp, x, rng=rng)
        raise RuntimeError(  # pragma: no cover - probability ~0 at these sizes
            f"could not draw an MLP {sizes} and input away from the ReLU kinks")

    return check


register_check("mlp.relu", _mlp_check("relu", "identity", False))
register_check("mlp.tanh_sigmoid", _mlp_check("tanh", "sigmoid", False))
register_check("mlp.leaky_relu_softplus_3d", _mlp_check("leaky_relu", "softplus", True))


# ------------------------------------------------------------------------------- losses
def _total(value: object) -> float:
    """Scalar of a reduced loss; the ``reduction="none"`` vector is summed (its grad convention)."""
    return float(np.sum(value))


def _loss_data(rng: np.random.Generator, masked: bool):
    shape = (_size(rng), _size(rng)) if rng.integers(2) else (_size(rng), _size(rng), _size(rng))
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
            results += _renamed(res, f"[{reduction}]")
        return results

    return check


for _kind in ("mse", "bernoulli", "gaussian", "gaussian_fixed_variance"):
    register_check(f"loss.{_kind}", _loss_check(_kind, masked=False))
    register_check(f"loss.{_kind}.masked", _loss_check(_kind, masked=True))


# -------------------------------------------------------------------------- distributions
def _gaussian_params(rng: np.random.Generator, shape: tuple[int, ...] | None = None
                     ) -> dict[str, np.ndarray]:
    """mu, logvar: (N, L), logvar moderate so exp(±logvar) stays O(1)."""
    shape = (_size(rng), _size(rng)) if shape is None else shape
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
    for K in (None, _size(rng, 2, 3)):
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
        results += res if K is None else _renamed(res, f"(K={K})")
    return results


@register_check("gaussian.log_prob")
def _check_log_prob(rng: np.random.Generator) -> list[GradCheckResult]:
    """log N(z; mu, exp(logvar)) w.r.t. z, mu, logvar; also z with a leading sample axis."""
    results: list[GradCheckResult] = []
    params = _gaussian_params(rng)
    for K in (None, _size(rng, 2, 3)):
        shape = params["mu"].shape if K is None else (K, *params["mu"].shape)
        inputs = {"z": rng.standard_normal(shape), **params}

        def f(z, mu, logvar):
            return float(np.sum(DiagonalGaussian(mu, logvar).log_prob(z)))

        def grad(z, mu, logvar):
            return DiagonalGaussian(mu, logvar).log_prob_grad(z)

        res = check_function(f, inputs, grad)
        results += res if K is None else _renamed(res, f"(K={K})")
    return results


#: Names of the checks above: the core library, without plugins (``--builtin`` on the CLI).
BUILTIN_CHECKS: tuple[str, ...] = tuple(
    name for name, fn in REGISTRY.items() if fn.__module__ == __name__
)
