"""First-order optimizers (SGD, Momentum, Adam/AdamW) and gradient clipping.

An optimizer reads ``(name, param, grad)`` triples -- exactly what :meth:`Layer.parameters`
yields -- and ``step()`` updates every ``param`` *in place* from its ``grad``.  It never touches
the gradients: clearing them is ``model.zero_grad()`` (or :meth:`Optimizer.zero_grad`), so one
training step reads::

    model.zero_grad()
    loss = model.loss(batch, rng)          # forward
    model.backward()                       # grads += d(loss)/d(params)
    clip_grad_norm(model, 5.0)             # optional, in place
    opt.lr = lr_schedule(step)             # optional
    opt.step()                             # params -= update(grads)

Given a model (anything with ``.parameters()``) the optimizer asks it for its triples again at
every step, so it always sees the model's current arrays; given a plain list of triples it keeps
those arrays.

Numerics: per-parameter state (momentum, Adam moments) has the parameter's dtype, and every Python
float constant is cast to that dtype before it meets an array, so float32 models stay float32 and
are never silently promoted to float64 (NumPy promotes ``float32_array * np.float64(x)``).

Checkpoints: :meth:`Optimizer.state_dict` holds only strings, Python scalars and arrays, so it can
be written with ``np.savez`` and read back with ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from minivae._validation import check_float_arrays, check_positive_int, check_scalar
from minivae.twins import reference

Triple = tuple[str, np.ndarray, np.ndarray]

__all__ = [
    "Optimizer",
    "SGD",
    "Momentum",
    "Adam",
    "adam_update",
    "clip_grad_norm",
    "clip_grad_value",
    "nonfinite_grad_names",
]


# ------------------------------------------------------------------------- parameter lists
def _check_triples(triples: Iterable[object]) -> list[Triple]:
    """Validate (name, param, grad) triples; drop exact repeats of a shared parameter.

    A layer used twice inside a model (weight tying) is yielded twice by ``parameters()``, under
    two names but with the *same* param and grad arrays.  Updating it twice per step would double
    its learning rate, so the first name is kept and the repeats are dropped.
    """
    out: list[Triple] = []
    seen_names: set[str] = set()
    seen_params: dict[int, tuple[str, np.ndarray]] = {}
    for i, item in enumerate(triples):
        if not (isinstance(item, tuple) and len(item) == 3):
            raise TypeError(
                f"params[{i}] must be a (name, param, grad) tuple as yielded by "
                f"Layer.parameters(), got {type(item).__name__}"
            )
        name, p, g = item
        if not isinstance(name, str):
            raise TypeError(f"params[{i}]: name must be a str, got {type(name).__name__}")
        for arr, what in ((p, "param"), (g, "grad")):
            if not isinstance(arr, np.ndarray):
                raise TypeError(
                    f"parameter {name!r}: {what} must be a numpy array (updated in place), "
                    f"got {type(arr).__name__}"
                )
            if arr.dtype.kind != "f":
                raise TypeError(
                    f"parameter {name!r}: {what} must be floating point, got dtype {arr.dtype}"
                )
        if g.shape != p.shape or g.dtype != p.dtype:
            raise ValueError(
                f"parameter {name!r}: grad must match param in shape and dtype, got "
                f"param {p.shape} {p.dtype} and grad {g.shape} {g.dtype}"
            )
        if not p.flags.writeable:
            raise ValueError(f"parameter {name!r}: param array is read-only, cannot update it")
        if id(p) in seen_params:
            first_name, first_grad = seen_params[id(p)]
            if first_grad is not g:
                raise ValueError(
                    f"parameters {first_name!r} and {name!r} are the same array but have "
                    "different grad arrays; a shared parameter must share its gradient"
                )
            continue
        if name in seen_names:
            raise ValueError(f"duplicate parameter name {name!r}")
        seen_names.add(name)
        seen_params[id(p)] = (name, g)
        out.append((name, p, g))
    return out


def _collect(params: object, what: str = "params") -> list[Triple]:
    """Triples from a model/optimizer (anything with ``.parameters()``) or an iterable."""
    if hasattr(params, "parameters") and callable(params.parameters):
        return _check_triples(params.parameters())
    if isinstance(params, (str, bytes, np.ndarray, Mapping)) or not isinstance(params, Iterable):
        raise TypeError(
            f"{what} must be an iterable of (name, param, grad) triples or an object with "
            f".parameters() (a Layer or model), got {type(params).__name__}"
        )
    return _check_triples(params)


def nonfinite_grad_names(triples: Iterable[Triple]) -> list[str]:
    """Names of the ``(name, param, grad)`` triples whose grad has a NaN or inf entry, in order.

    No validation: the training loop calls it every step on ``model.parameters()``.
    """
    return [name for name, _, g in triples if not np.isfinite(g).all()]


# ------------------------------------------------------------------------------- base class
class Optimizer:
    """Base class: holds the parameters, the learning rate, the step count and per-parameter state.

    Args:
        params: iterable of ``(name, param, grad)`` triples, e.g. ``model.parameters()``, or the
            model itself (then its current arrays are looked up at every step).
        lr: learning rate, > 0.  The ``lr`` attribute can be reassigned between steps (that is
            how schedules drive it); reassigned values may be 0, e.g. at the end of a cosine
            schedule, but not negative.

    Subclasses list their per-parameter arrays in ``_buffers`` (allocated as zeros with the
    parameter's shape and dtype) and their scalar hyperparameters in ``_hyper``, and implement
    :meth:`_update`.
    """

    _buffers: tuple[str, ...] = ()
    _hyper: tuple[str, ...] = ()

    def __init__(self, params: object, lr: float) -> None:
        self._model = params if hasattr(params, "parameters") else None
        triples = _collect(params)
        if not triples:
            raise ValueError("params is empty: the optimizer has nothing to update")
        self._params = triples
        self._layout = {name: (p.shape, p.dtype) for name, p, _ in triples}
        self.lr = check_scalar(lr, "lr", low=0.0, low_inclusive=False)
        self.t = 0  # number of completed step() calls
        self.state: dict[str, dict[str, np.ndarray]] = {
            buf: {name: np.zeros_like(p) for name, p, _ in triples} for buf in self._buffers
        }

    # -- learning rate --------------------------------------------------------------------
    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_scalar(value, "lr", low=0.0)

    # -- parameters -----------------------------------------------------------------------
    def parameters(self) -> Iterator[Triple]:
        """The current ``(name, param, grad)`` triples (so clip functions accept an optimizer)."""
        if self._model is None:
            yield from self._params
            return
        # The model's arrays are looked up (and checked) again at every step, so arrays a layer
        # has rebound since the last step are the ones updated.
        triples = _check_triples(self._model.parameters())
        layout = {name: (p.shape, p.dtype) for name, p, _ in triples}
        if layout != self._layout:
            raise RuntimeError(
                "the model's parameters changed since this optimizer was created (names, "
                f"shapes or dtypes): expected {self._describe(self._layout)}, got "
                f"{self._describe(layout)}; create a new optimizer"
            )
        self._params = triples
        yield from self._params

    @staticmethod
    def _describe(layout: dict) -> str:
        return "{" + ", ".join(f"{n}: {s} {d}" for n, (s, d) in layout.items()) + "}"

    def zero_grad(self) -> None:
        """Set every gradient to zero in place (same as ``model.zero_grad()``)."""
        for _, _, g in self.parameters():
            g.fill(0.0)

    # -- update -----------------------------------------------------------------------------
    def step(self) -> None:
        """Update every parameter in place from its current gradient (grads are only read).

        The hyperparameters are checked again first (a few scalars: an attribute assigned
        since, e.g. ``opt.beta1 = 1.0``, is refused before it touches a parameter).  Gradients
        are not checked for NaN/inf here (that would cost a pass over every array per step);
        :func:`clip_grad_norm` raises on them, and so does the training loop.
        """
        self._validate_hyper()
        self.t += 1
        for name, p, g in self.parameters():
            self._update(name, p, g)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover - interface

    # -- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, object]:
        """Everything needed to resume: plain scalars, strings and array copies.

        Keys: ``"class"`` (the optimizer's class name), ``"lr"``, ``"t"``, the hyperparameters
        of the subclass, and ``"<buffer>/<param name>"`` for each state array (e.g.
        ``"m/encoder.W"`` for Adam).  Safe for ``np.savez`` (no pickling needed).
        """
        out: dict[str, object] = {"class": type(self).__name__, "lr": self.lr, "t": self.t}
        for key in self._hyper:
            out[key] = getattr(self, key)
        for buf, arrays in self.state.items():
            for name, arr in arrays.items():
                out[f"{buf}/{name}"] = arr.copy()
        return out

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Restore from :meth:`state_dict` (or the ``np.load`` of a file it was saved to).

        Restores the learning rate, step count and hyperparameters as well as the state arrays
        (set ``opt.lr`` afterwards to override).  Keys, parameter names and shapes must match
        exactly; arrays are copied into the existing buffers in the parameter's dtype.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict (from state_dict()), got "
                            f"{type(state).__name__}")
        keys = set(state.keys())
        expected = {"class", "lr", "t", *self._hyper}
        expected |= {f"{buf}/{name}" for buf in self._buffers for name in self._layout}
        missing, unexpected = sorted(expected - keys), sorted(keys - expected)
        cls = str(np.asarray(state["class"])) if "class" in keys else None
        if cls is not None and cls != type(self).__name__:
            raise ValueError(f"state is for a {cls} optimizer, not {type(self).__name__}")
        if missing or unexpected:
            raise ValueError(
                f"state does not match this {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        for buf in self._buffers:
            for name, (shape, _) in self._layout.items():
                _check_buffer(f"{buf}/{name}", np.asarray(state[f"{buf}/{name}"]), shape)
        t = _scalar(state["t"], int, "t")
        if np.asarray(state["t"]).dtype.kind not in "iu" or t < 0:
            raise ValueError(f"state t (the step count) must be an integer >= 0, got "
                             f"{state['t']!r}")
        old = {key: getattr(self, key) for key in ("lr", *self._hyper)}
        try:
            self.lr = _scalar(state["lr"], float, "lr")
            for key in self._hyper:
                setattr(self, key, _scalar(state[key], type(old[key]), key))
            self._validate_hyper()
        except (TypeError, ValueError):
            for key, value in old.items():  # a failed load leaves the optimizer untouched
                setattr(self, key, value)
            raise
        self.t = t
        for buf in self._buffers:
            for name, arr in self.state[buf].items():
                arr[...] = np.asarray(state[f"{buf}/{name}"]).astype(arr.dtype, copy=False)

    def _validate_hyper(self) -> None:
        """Check hyperparameters (called by subclasses' __init__ and after loading a state)."""

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._hyper)
        return f"{type(self).__name__}(lr={self.lr!r}{', ' if hyper else ''}{hyper})"


def _check_buffer(key: str, value: np.ndarray, shape: tuple[int, ...]) -> None:
    """A stored state array: the parameter's shape, floating point, finite."""
    if value.shape != shape:
        raise ValueError(f"state {key}: expected shape {shape}, got {value.shape}")
    if value.dtype.kind != "f":
        raise TypeError(f"state {key}: expected a floating-point array, got dtype {value.dtype}")
    if not np.isfinite(value).all():
        n_bad = int(value.size - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f"state {key}: {n_bad} non-finite value(s) (NaN or inf)")


def _scalar(value: object, kind: type, key: str) -> object:
    """A scalar saved by state_dict (a Python scalar, or a 0-d array after np.savez/np.load)."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise ValueError(
            f"state {key!r} must be a numeric scalar, got shape {arr.shape} dtype {arr.dtype}"
        )
    return kind(arr.item())


def _check_weight_decay(weight_decay: object) -> float:
    return check_scalar(weight_decay, "weight_decay", low=0.0)


# ----------------------------------------------------------------------------------- SGD
class SGD(Optimizer):
    """Plain stochastic gradient descent with optional L2 weight decay::

        g     = grad + weight_decay * param
        param = param - lr * g
    """

    _hyper = ("weight_decay",)

    def __init__(self, params: object, lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.weight_decay = weight_decay
        self._validate_hyper()

    def _validate_hyper(self) -> None:
        self.weight_decay = _check_weight_decay(self.weight_decay)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        dt = param.dtype.type
        if self.weight_decay:
            grad = grad + dt(self.weight_decay) * param  # new array: the model's grad is kept
        param -= dt(self.lr) * grad


# ------------------------------------------------------------------------------ Momentum
class Momentum(Optimizer):
    """SGD with (heavy-ball or Nesterov) momentum, in the form PyTorch uses::

        g     = grad + weight_decay * param
        buf   = momentum * buf + g                    (buf starts at 0, so buf_1 = g_1)
        d     = g + momentum * buf   if nesterov else   buf
        param = param - lr * d

    With a constant ``lr`` this equals the textbook velocity form v = mu v - lr g, p = p + v;
    keeping lr outside the buffer makes a learning-rate schedule act immediately.
    """

    _buffers = ("velocity",)
    _hyper = ("momentum", "nesterov", "weight_decay")

    def __init__(
        self,
        params: object,
        lr: float,
        momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self._validate_hyper()

    def _validate_hyper(self) -> None:
        self.momentum = check_scalar(
            self.momentum, "momentum", low=0.0, high=1.0, high_inclusive=False
        )
        if not isinstance(self.nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {type(self.nesterov).__name__}")
        self.nesterov = bool(self.nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
        self.weight_decay = _check_weight_decay(self.weight_decay)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        dt = param.dtype.type
        buf = self.state["velocity"][name]
        if self.weight_decay:
            grad = grad + dt(self.weight_decay) * param
        buf *= dt(self.momentum)
        buf += grad
        direction = grad + dt(self.momentum) * buf if self.nesterov else buf
        param -= dt(self.lr) * direction


# ---------------------------------------------------------------------------------- Adam
def check_adam_args(param: object, grad: object, m: object, v: object, lr: object,
                    beta1: object, beta2: object, eps: object, t: object,
                    weight_decay: object, decoupled: object) -> None:
    """The arguments of :func:`adam_update` (shared with its compiled twin, so both refuse the
    same inputs): float arrays of one dtype and shape, finite hyper-parameters in range.  Per
    call (per parameter array and step): scalar checks only, nothing per element."""
    check_float_arrays(param=param)
    for name, arr in (("grad", grad), ("m", m), ("v", v)):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"{name} must be a numpy array like param, got {type(arr).__name__}")
        if arr.dtype != param.dtype or arr.shape != param.shape:  # type: ignore[attr-defined]
            raise ValueError(f"{name} must match param (shape {param.shape}, dtype "  # type: ignore
                             f"{param.dtype}), got shape {arr.shape}, "  # type: ignore
                             f"dtype {arr.dtype}")
    check_scalar(lr, "lr", low=0.0)
    check_scalar(beta1, "beta1", low=0.0, high=1.0, high_inclusive=False)
    check_scalar(beta2, "beta2", low=0.0, high=1.0, high_inclusive=False)
    check_scalar(eps, "eps", low=0.0, low_inclusive=False)
    check_positive_int(t, "t")
    check_scalar(weight_decay, "weight_decay", low=0.0)
    if not isinstance(decoupled, (bool, np.bool_)):
        raise TypeError(f"decoupled must be True or False, got {type(decoupled).__name__}")


@reference
def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    t: int,
    weight_decay: float,
    decoupled: bool,
) -> None:
    """One Adam / AdamW step for one array, in place on ``param``, ``m`` and ``v``.

    All arrays have the same shape and dtype; ``grad`` is only read; ``t >= 1`` is the number of
    this step (1 for the first).  With ``wd = weight_decay``:

        g     = grad + wd * param                       (only when decoupled is False: L2)
        m     = beta1 * m + (1 - beta1) * g
        v     = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)                      (bias corrections: m, v start at 0)
        v_hat = v / (1 - beta2**t)
        param = param - lr * wd * param                 (only when decoupled is True: AdamW)
        param = param - lr * m_hat / (sqrt(v_hat) + eps)

    The decoupled decay uses the parameter before this step's Adam update and is scaled by
    ``lr`` (the PyTorch ``AdamW`` convention), so it follows a learning-rate schedule.

    Every Python number is cast to the arrays' dtype before it meets an array, so float32 stays
    float32.  The compiled twin ``minivae.fast.adam.adam_update`` computes the same update in
    one pass over the arrays (equal to rounding: 1e-12 relative in float64).
    """
    check_adam_args(param, grad, m, v, lr, beta1, beta2, eps, t, weight_decay, decoupled)
    dt = param.dtype.type
    if weight_decay and not decoupled:
        grad = grad + dt(weight_decay) * param
    m[...] = dt(beta1) * m + dt(1.0 - beta1) * grad
    v[...] = dt(beta2) * v + dt(1.0 - beta2) * grad**2
    m_hat = m / dt(1.0 - beta1**t)
    v_hat = v / dt(1.0 - beta2**t)
    if weight_decay and decoupled:
        param -= dt(lr * weight_decay) * param
    param -= dt(lr) * m_hat / (np.sqrt(v_hat) + dt(eps))


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``decoupled=True`` gives AdamW.

    Update for each parameter at step t = 1, 2, ... (see :func:`adam_update`)::

        g     = grad + weight_decay * param           (L2, decoupled=False)
        m     = beta1 m + (1 - beta1) g
        v     = beta2 v + (1 - beta2) g^2
        param = param - lr * weight_decay * param     (AdamW, decoupled=True)
        param = param - lr * [m / (1 - beta1^t)] / (sqrt(v / (1 - beta2^t)) + eps)

    With L2 (coupled) decay the penalty gradient is divided by sqrt(v_hat) like any other, so
    parameters with large gradients are barely decayed; AdamW shrinks every parameter by the same
    factor (1 - lr * weight_decay) per step (Loshchilov & Hutter, 2019).
    """

    _buffers = ("m", "v")
    _hyper = ("beta1", "beta2", "eps", "weight_decay", "decoupled")

    def __init__(
        self,
        params: object,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay, self.decoupled = eps, weight_decay, decoupled
        self._validate_hyper()

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    def _validate_hyper(self) -> None:
        self.beta1 = check_scalar(self.beta1, "betas[0]", low=0.0, high=1.0, high_inclusive=False)
        self.beta2 = check_scalar(self.beta2, "betas[1]", low=0.0, high=1.0, high_inclusive=False)
        self.eps = check_scalar(self.eps, "eps", low=0.0, low_inclusive=False)
        self.weight_decay = _check_weight_decay(self.weight_decay)
        if not isinstance(self.decoupled, (bool, np.bool_)):
            raise TypeError(f"decoupled must be a bool, got {type(self.decoupled).__name__}")
        self.decoupled = bool(self.decoupled)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        adam_update(
            param, grad, self.state["m"][name], self.state["v"][name],
            self.lr, self.beta1, self.beta2, self.eps, self.t, self.weight_decay, self.decoupled,
        )


# ------------------------------------------------------------------------------ clipping
def clip_grad_norm(params: object, max_norm: float) -> float:
    """Rescale all gradients together so their global L2 norm is at most ``max_norm``.

    The global norm is sqrt(sum over every grad array of sum(grad**2)), accumulated in float64.
    If it exceeds ``max_norm`` every grad is multiplied in place by max_norm / norm (the direction
    of the full gradient is kept); otherwise nothing changes.

    Args:
        params: ``(name, param, grad)`` triples, a model, or an optimizer.
        max_norm: > 0.

    Returns:
        The global norm *before* clipping (log it: spikes reveal instabilities).

    Raises:
        FloatingPointError: if the norm is NaN or inf, naming the parameters whose gradient has
            non-finite entries; the gradients are left untouched.
    """
    max_norm = check_scalar(max_norm, "max_norm", low=0.0, low_inclusive=False)
    triples = _collect(params)
    sq = 0.0
    for _, _, g in triples:
        sq += float(np.sum(np.square(g, dtype=np.float64)))
    total = math.sqrt(sq)
    if not math.isfinite(total):
        bad = nonfinite_grad_names(triples)
        if bad:
            raise FloatingPointError(
                f"gradient norm is {total}: non-finite gradient in parameter(s) {bad}"
            )
        raise FloatingPointError(
            "gradient norm overflowed to inf although every gradient entry is finite"
        )
    if total > max_norm:
        for _, _, g in triples:
            g *= g.dtype.type(max_norm / total)
    return total


def clip_grad_value(params: object, clip_value: float) -> float:
    """Clip every gradient entry to [-clip_value, clip_value] in place.

    Unlike :func:`clip_grad_norm` this changes the gradient's direction; prefer the norm version
    unless single entries explode.

    Returns:
        The largest absolute gradient entry before clipping.

    Raises:
        FloatingPointError: if any gradient has NaN/inf entries (named); nothing is changed.
    """
    clip_value = check_scalar(clip_value, "clip_value", low=0.0, low_inclusive=False)
    triples = _collect(params)
    bad = nonfinite_grad_names(triples)
    if bad:
        raise FloatingPointError(f"non-finite gradient in parameter(s) {bad}")
    largest = 0.0
    for _, _, g in triples:
        if g.size:
            largest = max(largest, float(np.max(np.abs(g))))
        np.clip(g, -clip_value, clip_value, out=g)
    return largest
