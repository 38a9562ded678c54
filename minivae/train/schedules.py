"""Schedules for the learning rate and the KL weight (beta), and free bits.

Every schedule is a small callable object: ``schedule(step) -> float`` with ``step`` an integer
>= 0 counted from 0 -- optimizer steps or epochs, whichever the caller counts.  They hold no state,
so evaluating one at any step, in any order, gives the same number (resuming from a checkpoint
only needs the step count).  A training loop uses them as::

    opt.lr = lr_schedule(step)
    beta = kl_schedule(step)
    loss = reconstruction + beta * kl

Learning rate: :class:`ConstantLR`, :class:`StepLR`, :class:`ExponentialLR`, :class:`CosineLR`,
:class:`LinearWarmup`.

KL weight (against posterior collapse, where the decoder learns to ignore z because the KL term
is cheapest to satisfy at the start of training): :class:`ConstantKL`, :class:`LinearKLWarmup`
(Bowman et al., 2016), :class:`CyclicalKL` (Fu et al., 2019), :class:`SigmoidKL`, and
:func:`get_kl_schedule` to build one from a config value.  :func:`free_bits_kl` implements the
free-bits objective (Kingma et al., 2016), another remedy for the same problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from minivae._validation import check_positive_int, check_scalar

__all__ = [
    "Schedule",
    "ConstantLR",
    "StepLR",
    "ExponentialLR",
    "CosineLR",
    "LinearWarmup",
    "ConstantKL",
    "LinearKLWarmup",
    "CyclicalKL",
    "SigmoidKL",
    "get_kl_schedule",
]


def _check_step(step: object) -> int:
    return check_positive_int(step, "step", minimum=0)


def _lr(value: object, name: str = "lr") -> float:
    return check_scalar(value, name, low=0.0, low_inclusive=False)


def _beta(value: object, name: str = "beta_max") -> float:
    return check_scalar(value, name, low=0.0)


class Schedule:
    """Base class: ``__call__`` validates the step and defers to :meth:`value`."""

    def __call__(self, step: int) -> float:
        return float(self.value(_check_step(step)))

    def value(self, step: int) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


# ------------------------------------------------------------------------ learning rates
class ConstantLR(Schedule):
    """lr at every step."""

    def __init__(self, lr: float) -> None:
        self.lr = _lr(lr)

    def value(self, step: int) -> float:
        return self.lr


class StepLR(Schedule):
    """Multiply by ``gamma`` every ``step_size`` steps: lr * gamma ** (step // step_size)."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = _lr(lr)
        self.step_size = check_positive_int(step_size, "step_size")
        self.gamma = check_scalar(gamma, "gamma", low=0.0, high=1.0, low_inclusive=False)

    def value(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)


class ExponentialLR(Schedule):
    """Decay by ``gamma`` every step: lr * gamma ** step."""

    def __init__(self, lr: float, gamma: float) -> None:
        self.lr = _lr(lr)
        self.gamma = check_scalar(gamma, "gamma", low=0.0, high=1.0, low_inclusive=False)

    def value(self, step: int) -> float:
        return self.lr * self.gamma**step


class CosineLR(Schedule):
    """Optional linear warmup, then a half cosine from ``lr`` down to ``min_lr`` at ``total``.

    * step < warmup:          lr * (step + 1) / warmup   (lr/warmup, 2 lr/warmup, ..., lr)
    * warmup <= step < total: min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2,
      with p = (step - warmup) / (total - warmup) going from 0 to 1
    * step >= total:          min_lr

    The warmup never gives 0, so the first update already moves the parameters.
    """

    def __init__(self, lr: float, total: int, min_lr: float = 0.0, warmup: int = 0) -> None:
        self.lr = _lr(lr)
        self.total = check_positive_int(total, "total")
        self.min_lr = check_scalar(min_lr, "min_lr", low=0.0, high=self.lr)
        self.warmup = check_positive_int(warmup, "warmup", minimum=0)
        if self.warmup >= self.total:
            raise ValueError(
                f"warmup must be < total so the cosine part has at least one step, "
                f"got warmup={self.warmup}, total={self.total}"
            )

    def value(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        p = min(1.0, (step - self.warmup) / (self.total - self.warmup))
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))


class LinearWarmup(Schedule):
    """Ramp linearly up to a target over ``warmup_steps`` steps, then follow the target.

    value(step) = target(step) * min(1, (step + 1) / warmup_steps), where ``lr`` (the target) is
    a float or another schedule, e.g. ``LinearWarmup(StepLR(1e-3, 1000), 100)``.
    """

    def __init__(self, lr: float | Callable[[int], float], warmup_steps: int) -> None:
        self.lr = lr if callable(lr) else _lr(lr)
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps")

    def value(self, step: int) -> float:
        target = self.lr(step) if callable(self.lr) else self.lr
        return target * min(1.0, (step + 1) / self.warmup_steps)


# ---------------------------------------------------------------------------- KL weights
class ConstantKL(Schedule):
    """beta at every step (beta = 1 is the plain ELBO, beta > 1 a beta-VAE)."""

    def __init__(self, beta: float = 1.0) -> None:
        self.beta = _beta(beta, "beta")

    def value(self, step: int) -> float:
        return self.beta


class LinearKLWarmup(Schedule):
    """0 before ``start``, then a linear ramp reaching ``beta_max`` after ``warmup_steps``:

        beta(step) = beta_max * clip((step - start) / warmup_steps, 0, 1)
    """

    def __init__(self, beta_max: float, warmup_steps: int, start: int = 0) -> None:
        self.beta_max = _beta(beta_max)
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps")
        self.start = check_positive_int(start, "start", minimum=0)

    def value(self, step: int) -> float:
        return self.beta_max * min(1.0, max(0.0, (step - self.start) / self.warmup_steps))


class CyclicalKL(Schedule):
    """Cyclical annealing (Fu et al., 2019): repeat "ramp up, then hold" every cycle.

    Within each cycle of ``cycle_length`` steps, with tau = (step mod cycle_length) / cycle_length
    in [0, 1):

        beta = beta_max * min(1, tau / ratio)

    i.e. a linear ramp from 0 over the first ``ratio`` of the cycle, then ``beta_max``.  After
    ``n_cycles`` cycles (if given) beta stays at ``beta_max``; with ``n_cycles=None`` the cycles
    repeat forever.
    """

    def __init__(
        self,
        beta_max: float,
        cycle_length: int,
        n_cycles: int | None = None,
        ratio: float = 0.5,
    ) -> None:
        self.beta_max = _beta(beta_max)
        self.cycle_length = check_positive_int(cycle_length, "cycle_length")
        self.n_cycles = None if n_cycles is None else check_positive_int(n_cycles, "n_cycles")
        self.ratio = check_scalar(ratio, "ratio", low=0.0, high=1.0, low_inclusive=False)

    def value(self, step: int) -> float:
        if self.n_cycles is not None and step >= self.n_cycles * self.cycle_length:
            return self.beta_max
        tau = (step % self.cycle_length) / self.cycle_length
        return self.beta_max * min(1.0, tau / self.ratio)


class SigmoidKL(Schedule):
    """Logistic ramp (Bowman et al., 2016): beta_max * sigmoid((step - midpoint) / scale).

    ``scale`` is in steps: beta goes from 12% to 88% of ``beta_max`` between midpoint - 2 scale and
    midpoint + 2 scale.  The default scale = midpoint / 5 starts at sigmoid(-5) ~ 0.7% of beta_max.
    """

    def __init__(self, beta_max: float, midpoint: int, scale: float | None = None) -> None:
        self.beta_max = _beta(beta_max)
        self.midpoint = check_positive_int(midpoint, "midpoint", minimum=0)
        if scale is None:
            if self.midpoint == 0:
                raise ValueError("give scale explicitly when midpoint is 0 (default is midpoint/5)")
            scale = self.midpoint / 5.0
        self.scale = check_scalar(scale, "scale", low=0.0, low_inclusive=False)

    def value(self, step: int) -> float:
        x = (step - self.midpoint) / self.scale
        # Stable logistic: exp only ever sees a non-positive argument.
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return self.beta_max * s


_KL_SCHEDULES: dict[str, tuple[type[Schedule], str]] = {
    # name -> (class, the argument the single number after "name:" sets)
    "constant": (ConstantKL, "beta"),
    "linear": (LinearKLWarmup, "warmup_steps"),
    "cyclical": (CyclicalKL, "cycle_length"),
    "sigmoid": (SigmoidKL, "midpoint"),
}
_KL_DEFAULT_BETA_MAX = 1.0


def _parse_number(text: str, what: str, spec: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"KL schedule {spec!r}: {what} must be a number, got {text!r}") from None


def get_kl_schedule(spec: object, *, default_beta_max: float = 1.0) -> Callable[[int], float]:
    """Build a KL-weight schedule from a config value.

    Accepted ``spec``:

    * a number: constant beta, ``0.5`` -> ``ConstantKL(0.5)``;
    * a schedule object (any callable ``step -> float``): returned unchanged;
    * a string ``"NAME:VALUE[,key=value...]"``, where VALUE sets the main argument:

      - ``"constant:0.5"``  -> ConstantKL(beta=0.5)
      - ``"linear:1000"``   -> LinearKLWarmup(beta_max=1, warmup_steps=1000)
      - ``"cyclical:500"``  -> CyclicalKL(beta_max=1, cycle_length=500)
      - ``"sigmoid:2000"``  -> SigmoidKL(beta_max=1, midpoint=2000)

      and optional keyword arguments follow, e.g. ``"linear:1000,beta_max=0.5,start=200"`` or
      ``"cyclical:500,n_cycles=4,ratio=0.5"``.  A bare number string ``"0.5"`` is constant.

    ``default_beta_max`` is the ``beta_max`` of a string spec that does not name one (the
    values above show the default 1).  :func:`minivae.train.loop.fit` passes the model's ``beta``,
    so ``VAE(..., beta=4).fit(X, kl_schedule="linear:1000")`` warms the KL weight up to 4.
    """
    if isinstance(spec, bool):
        raise TypeError("KL schedule spec must be a number, a schedule or a string, got a bool")
    if isinstance(spec, (int, float, np.integer, np.floating)):
        return ConstantKL(float(spec))
    if isinstance(spec, str):
        return _parse_kl_spec(spec, default_beta_max)
    if callable(spec):
        return spec
    raise TypeError(
        "KL schedule spec must be a number, a schedule (callable step -> beta) or a string like "
        f"'linear:1000', got {type(spec).__name__}"
    )


def _parse_kl_spec(spec: str, default_beta_max: float = _KL_DEFAULT_BETA_MAX) -> Schedule:
    text = spec.strip().lower()
    if ":" not in text:
        try:
            return ConstantKL(float(text))
        except ValueError:
            pass
        raise ValueError(
            f"KL schedule {spec!r} not understood: expected a number or 'NAME:VALUE' with NAME "
            f"one of {sorted(_KL_SCHEDULES)}, e.g. 'linear:1000'"
        )
    name, rest = (part.strip() for part in text.split(":", 1))
    if name not in _KL_SCHEDULES:
        raise ValueError(
            f"KL schedule {spec!r}: unknown name {name!r}, expected one of {sorted(_KL_SCHEDULES)}"
        )
    cls, main_arg = _KL_SCHEDULES[name]
    parts = rest.split(",")
    kwargs: dict[str, int | float] = {main_arg: _parse_number(parts[0], main_arg, spec)}
    if cls is not ConstantKL:
        kwargs["beta_max"] = float(default_beta_max)
    for part in parts[1:]:
        if "=" not in part:
            raise ValueError(f"KL schedule {spec!r}: expected key=value after ',', got {part!r}")
        key, val = (s.strip() for s in part.split("=", 1))
        kwargs[key] = _parse_number(val, key, spec)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # an unknown keyword: say which ones exist
        raise ValueError(f"KL schedule {spec!r}: {exc}") from None
