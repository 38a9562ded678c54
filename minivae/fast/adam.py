"""Adam / AdamW update as one fused Numba loop (the NumPy reference is
:func:`minivae.train.optim.adam_update`).

The NumPy version makes about ten passes over each parameter array (and allocates temporaries);
this kernel reads ``param, grad, m, v`` once and writes ``param, m, v`` once.  It performs the
same floating-point operations in the same order, in the arrays' dtype, without fast-math
contraction, so its results match the reference to the last bit in practice (the tests allow
1e-12 / 1e-6 relative).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy", boundscheck=False, nogil=True)
def _adam_loop(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, l2, use_l2, decay,
               use_decay, inv_sqrt_bias2, eps, step):  # type: ignore[no-untyped-def]
    """In place on the flat arrays p, m, v (all scalars already in the arrays' dtype)."""
    for k in range(p.shape[0]):
        gk = g[k]
        pk = p[k]
        if use_l2:
            gk = gk + l2 * pk  # L2 penalty folded into the gradient (uses param before the step)
        mk = m[k] * beta1 + one_minus_beta1 * gk
        vk = v[k] * beta2 + one_minus_beta2 * (gk * gk)
        if use_decay:
            pk = pk * decay  # AdamW: decoupled decay, lr-scaled
        denom = math.sqrt(vk) * inv_sqrt_bias2 + eps
        m[k] = mk
        v[k] = vk
        p[k] = pk - step * mk / denom


def _flat_inplace(arr: np.ndarray, name: str) -> np.ndarray:
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous to be updated in place (shape {arr.shape})")
    return arr.reshape(-1)


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

    Same signature and semantics as :func:`minivae.train.optim.adam_update` (see there for the
    equations): all arrays have the same shape and dtype (float32 or float64), ``grad`` is only
    read, ``t >= 1`` is the number of this step.  ``param``, ``m``, ``v`` must be C-contiguous.
    """
    dtype = param.dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"param must be float32 or float64, got {dtype}")
    for name, arr in (("grad", grad), ("m", m), ("v", v)):
        if arr.dtype != dtype or arr.shape != param.shape:
            raise ValueError(
                f"{name} must match param (shape {param.shape}, dtype {dtype}), "
                f"got shape {arr.shape}, dtype {arr.dtype}"
            )
    dt = dtype.type
    # The scalar factors are computed in float64 and rounded once to the dtype, exactly as the
    # NumPy reference does.
    bias1 = 1.0 - beta1**t
    bias2 = 1.0 - beta2**t
    use_l2 = bool(weight_decay) and not decoupled
    use_decay = bool(weight_decay) and bool(decoupled)
    _adam_loop(
        _flat_inplace(param, "param"),
        np.ascontiguousarray(grad).reshape(-1),
        _flat_inplace(m, "m"),
        _flat_inplace(v, "v"),
        dt(beta1), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2),
        dt(weight_decay), use_l2,
        dt(1.0 - lr * weight_decay), use_decay,
        dt(1.0 / math.sqrt(bias2)), dt(eps), dt(lr / bias1),
    )
