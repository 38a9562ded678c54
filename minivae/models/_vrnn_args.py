"""Argument checks of the VRNN step functions (:mod:`minivae.models.vrnn_step`).

Like the LSTM's :func:`~minivae.nn.lstm.check_step_args` they are cheap (isinstance, dtype and
shape comparisons, nothing per element), so every public step function runs them on every call
and a wrong argument is an error naming it, not an IndexError three calls deeper.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import (
    check_float_arrays,
    check_mask,
    check_positive_int,
    check_rng,
    check_scalar,
)

KINDS = ("gaussian", "mse")
#: The parameters the step functions read, by the model's names, with their shapes in terms of
#: D (input), F (features), L (latent), H (hidden) and O (decoder output: 2D or D).
WEIGHT_SHAPES = {
    "phi_x.W": "D F", "phi_x.b": "F", "phi_z.W": "L F", "phi_z.b": "F",
    "prior_hidden.W": "H F", "prior_hidden.b": "F", "prior_out.W": "F 2L", "prior_out.b": "2L",
    "enc_hidden.W": "F+H F", "enc_hidden.b": "F", "enc_out.W": "F 2L", "enc_out.b": "2L",
    "dec_hidden.W": "F+H F", "dec_hidden.b": "F", "dec_out.W": "F O", "dec_out.b": "O",
    "rnn.Wx": "2F 4H", "rnn.Wh": "H 4H", "rnn.b": "4H",
}


def _size(expr: str, sizes: dict[str, int]) -> int:
    """'F+H' -> sizes F + H, '2L' -> 2 * L, ..."""
    total = 0
    for term in expr.split("+"):
        factor = int(term[:-1]) if term[:-1] else 1
        total += factor * sizes[term[-1]]
    return total


def check_weights(P: object, name: str = "P") -> dict[str, int]:
    """P: a dict of every VRNN weight (:data:`WEIGHT_SHAPES`), float arrays of one dtype and
    consistent shapes.  Returns the sizes {"D", "F", "L", "H", "O"}."""
    if not isinstance(P, dict):
        raise TypeError(f"{name} must be a dict of the VRNN's weights by name (e.g. from "
                        f"VRNN._weights()), got {type(P).__name__}")
    missing = [k for k in WEIGHT_SHAPES if k not in P]
    if missing:
        raise ValueError(f"{name} lacks the weights {missing}")
    check_float_arrays(**{f"{name}[{k!r}]": P[k] for k in WEIGHT_SHAPES})
    D, F = _shape(P, "phi_x.W", 2, name)
    sizes = {"D": D, "F": F, "L": _shape(P, "phi_z.W", 2, name)[0],
             "H": _shape(P, "rnn.Wh", 2, name)[0], "O": _shape(P, "dec_out.b", 1, name)[0]}
    if sizes["O"] not in (D, 2 * D):
        raise ValueError(f"{name}['dec_out.b'] must have D={D} or 2D={2 * D} entries, got "
                         f"{sizes['O']}")
    for key, dims in WEIGHT_SHAPES.items():
        want = tuple(_size(d, sizes) for d in dims.split())
        if P[key].shape != want:
            raise ValueError(f"{name}[{key!r}] must have shape ({dims.replace(' ', ', ')})="
                             f"{want}, got {P[key].shape}")
    return sizes


def _shape(P: dict, key: str, ndim: int, name: str) -> tuple[int, ...]:
    if P[key].ndim != ndim:
        raise ValueError(f"{name}[{key!r}] must have {ndim} dimensions, got shape "
                         f"{P[key].shape}")
    return P[key].shape


def check_grads(G: object, P: dict) -> None:
    """G: a dict with an array of P's shape and dtype for every weight (added into in place)."""
    if not isinstance(G, dict):
        raise TypeError(f"G must be a dict of gradient arrays by weight name, got "
                        f"{type(G).__name__}")
    for key in WEIGHT_SHAPES:
        g = G.get(key)
        if not isinstance(g, np.ndarray) or g.shape != P[key].shape or g.dtype != P[key].dtype:
            got = f"{g.dtype} {g.shape}" if isinstance(g, np.ndarray) else type(g).__name__
            raise ValueError(f"G[{key!r}] must be a {P[key].dtype} array of shape "
                             f"{P[key].shape} (the weight's), got {got}")


def check_shaped(dtype: np.dtype, **arrays: tuple[Any, tuple[int, ...], str]) -> None:
    """Each argument name=(array, shape, description) is a float ndarray of ``dtype`` and that
    shape, e.g. ``x_t=(x_t, (N, D), "(N, D)")``."""
    for name, (a, shape, desc) in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype != dtype:
            got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise TypeError(f"{name} must be a {dtype} numpy array (the weights' dtype), got "
                            f"{got}")
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {desc}={shape}, got {a.shape}")


def check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind  # type: ignore[return-value]


def batch_size(a: object, name: str, ndim: int, desc: str) -> int:
    """N of an (N, ...) argument that must have ``ndim`` dimensions."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array {desc}, got {type(a).__name__}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {desc}, got shape {a.shape}")
    return a.shape[0]


def _check_state(state: object, N: int, H: int, dtype: np.dtype, name: str = "state") -> None:
    if not isinstance(state, tuple) or len(state) != 2:
        raise TypeError(f"{name} must be a tuple (h, c) of two (N, H) arrays, got "
                        f"{type(state).__name__}")
    check_shaped(dtype, **{f"{name}[0] (h)": (state[0], (N, H), "(N, H)"),
                           f"{name}[1] (c)": (state[1], (N, H), "(N, H)")})


def check_forward_args(X: object, eps: object, mask: object, P: object, kind: object,
                       state: object, posterior_out: object, means_out: object):
    """The arguments of :func:`~minivae.models.vrnn_step.vrnn_forward`; returns the mask."""
    sizes = check_weights(P)
    check_kind(kind)
    dtype = P["rnn.Wh"].dtype  # type: ignore[index]
    N = batch_size(X, "X", 3, "(N, T, D)")
    T = X.shape[1]  # type: ignore[union-attr]
    check_shaped(dtype, X=(X, (N, T, sizes["D"]), "(N, T, D)"),
                 eps=(eps, (N, T, sizes["L"]), "(N, T, L)"))
    if mask is not None:
        mask = check_mask(mask, X, data="X")  # X finite where observed
    elif not np.all(np.isfinite(X)):
        raise ValueError("X has non-finite values but no mask marks them missing")
    if state is not None:
        _check_state(state, N, sizes["H"], dtype)
    if posterior_out is not None:
        if not isinstance(posterior_out, tuple) or len(posterior_out) != 2:
            raise TypeError("posterior_out must be None or a tuple of two (N, T, L) arrays")
        check_shaped(dtype, **{f"posterior_out[{i}]": (a, (N, T, sizes["L"]), "(N, T, L)")
                               for i, a in enumerate(posterior_out)})
    if means_out is not None:
        check_shaped(dtype, means_out=(means_out, (N, T, sizes["D"]), "(N, T, D)"))
    return mask


def check_backward_args(caches: object, douts: object, dout_scale: object, w_kl: object,
                        valid: object, P: object, G: object, cache_type: type) -> None:
    """The arguments of :func:`~minivae.models.vrnn_step.vrnn_backward` (``cache_type``: its
    StepCache class)."""
    sizes = check_weights(P)
    check_grads(G, P)
    if not isinstance(caches, list) or not caches or not all(
            isinstance(c, cache_type) for c in caches):
        raise TypeError("caches must be the non-empty list of StepCaches of vrnn_forward("
                        "need_grad=True)")
    T, (N, _) = len(caches), caches[0].h_prev.shape
    if not isinstance(douts, list) or len(douts) != T:
        raise TypeError(f"douts must be a list of T={T} arrays (N, 2D or D), as vrnn_forward "
                        f"returns them, got {type(douts).__name__}")
    dtype = P["rnn.Wh"].dtype  # type: ignore[index]
    check_shaped(dtype, **{f"douts[{t}]": (d, (N, sizes["O"]), "(N, 2D or D)")
                           for t, d in enumerate(douts)})
    check_scalar(dout_scale, "dout_scale")
    check_shaped(dtype, w_kl=(w_kl, (N, T), "(N, T)"))
    if valid is not None and (not isinstance(valid, np.ndarray) or valid.dtype != bool
                              or valid.shape != (N, T)):
        raise TypeError(f"valid must be None or a bool array of shape (N, T)=({N}, {T})")


def check_generate_args(state: object, T: object, rng: object, P: object,
                        kind: object) -> tuple[int, np.random.Generator, int]:
    """The arguments of :func:`~minivae.models.vrnn_step.vrnn_generate`; returns (T, rng, D)."""
    sizes = check_weights(P)
    check_kind(kind)
    if not isinstance(state, tuple) or len(state) != 2:
        raise TypeError(f"state must be a tuple (h, c) of two (M, H) arrays, got "
                        f"{type(state).__name__}")
    M = batch_size(state[0], "state[0] (h)", 2, "(M, H)")
    _check_state(state, M, sizes["H"], P["rnn.Wh"].dtype)  # type: ignore[index]
    return check_positive_int(T, "T"), check_rng(rng), sizes["D"]
