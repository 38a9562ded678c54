r"""Long short-term memory (LSTM) with hand-written backpropagation through time.

This file is the lesson's LSTM, written as the lesson writes it on the board: one time step
(:func:`lstm_step_forward` / :func:`lstm_step_backward`), a Python loop over time calling it
(:func:`lstm_forward`) and the reversed loop for backpropagation through time
(:func:`lstm_backward`).  The layers below (:class:`LSTMLayer`, :class:`LSTM`,
:class:`LSTMCell`) only validate their inputs, call these functions and accumulate gradients.

The functions marked ``@reference`` are the code that runs unless :mod:`minivae.twins` has a
compiled twin installed for them (how to choose is explained there): a function with the same
signature that returns the same numbers, held to this code within 1e-12 in float64 by
``tests/test_fast_parity.py``.  ``fn.reference`` is always the code written here.

One time step
-------------
With input ``x_t: (N, D)``, previous state ``h_{t-1}, c_{t-1}: (N, H)`` and fused parameters
``Wx: (D, 4H)``, ``Wh: (H, 4H)``, ``b: (4H,)``::

    a   = x_t Wx + h_{t-1} Wh + b                   (N, 4H) pre-activations
    i   = σ(a[:, 0H:1H])    input gate
    f   = σ(a[:, 1H:2H])    forget gate
    g   = tanh(a[:, 2H:3H]) candidate cell
    o   = σ(a[:, 3H:4H])    output gate
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

A whole sequence is this step T times, ``h_0, c_0`` given (zeros by default); backpropagation
through time runs the steps' backward in reverse order, each step receiving ``dh_t`` (from its
own output ``hs[:, t]`` plus from step t+1) and ``dc_t`` (from step t+1), and summing the
parameter gradients of all steps (the same ``Wx, Wh, b`` are used at every step).

Mapping to PyTorch
------------------
The gate blocks along the 4H axis are in PyTorch's order (i, f, g, o), and PyTorch multiplies
from the other side (``W x`` with ``W: (4H, D)``), so for layer ``l``::

    Wx = weight_ih_l{l}.T        Wh = weight_hh_l{l}.T        b = bias_ih_l{l} + bias_hh_l{l}

(PyTorch keeps two redundant bias vectors; only their sum matters.)  ``tests/test_lstm_torch.py``
checks outputs and every gradient against ``torch.nn.LSTM`` to 1e-10.

Variable-length sequences
-------------------------
A boolean ``mask: (N, T)`` (True = valid step) or ``lengths: (N,)`` (prefix mask
``t < lengths[n]``) marks padding.  At a padded step the state is *carried*:
``h_t = h_{t-1}``, ``c_t = c_{t-1}``, the output ``hs[:, t]`` is 0, and no gradient flows into
that step's input or into the parameters from it.  So ``hT, cT`` are the state after each
sequence's last valid step, exactly as if the padding were not there (the same convention as
PyTorch's packed sequences).  A mask with holes (missing steps in the middle) simply skips them.
Values of ``x`` at padded steps are ignored and may be NaN (the layers put 0 there before the
loop, so that ``0 * x`` in the parameter gradients stays 0).

The same input at every step
----------------------------
A repeat-vector decoder feeds one vector z at each of T steps.  :func:`lstm_forward_repeated`
is literally :func:`lstm_forward` with ``x_t = z`` for every t, and since z was used T times its
gradient is the sum of the T step gradients (:func:`lstm_backward_repeated`; what
:class:`~minivae.nn.sequence.RepeatVector` does).  ``LSTM.forward(z, steps=T)`` calls it.  (Its
compiled twin uses the fact that ``z Wx + b`` is the same at every step and computes it once.)

Classes
-------
* :class:`LSTMWeights` — the parameters ``Wx, Wh, b`` of one layer and their initialisation
  (PyTorch's), the base of :class:`LSTMLayer` and :class:`LSTMCell`.
* :class:`LSTMLayer` — one layer over a whole sequence (forward + BPTT).
* :class:`LSTM` — a stack of ``num_layers`` LSTMLayers (layer ``l+1`` reads the ``hs`` of layer
  ``l``).  Parameters are *always* named ``layers.{l}.Wx``, ``layers.{l}.Wh``, ``layers.{l}.b``,
  also when ``num_layers == 1`` (one naming for every depth).
* :class:`LSTMCell` — a single step with parameters ``Wx, Wh, b``, for autoregressive decoding.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import (
    check_array,
    check_float_arrays,
    check_positive_int,
    check_rng,
)
from minivae.nn.functional import sigmoid
from minivae.nn.layer import Layer
from minivae.nn.sequence import StackedLayers, lengths_to_mask
from minivae.twins import own_cache, reference

# What lstm_step_forward hands to lstm_step_backward:
# (x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c).  A plain tuple keeps the step functions free
# of any class (a compiled twin of the step functions returns the same tuple).
StepCache = tuple[np.ndarray, ...]


# ============================================================================ argument types
def check_step_args(x_t: object, h_prev: object, c_prev: object, Wx: object, Wh: object,
                    b: object) -> None:
    """Every array of one step is a float32/float64 ndarray of one dtype and the shape the
    step needs (x_t: (N, D), h_prev, c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)), else
    an error naming it.  Per call: isinstance and shape comparisons, nothing per element."""
    check_float_arrays(x_t=x_t, h_prev=h_prev, c_prev=c_prev, Wx=Wx, Wh=Wh, b=b)
    _check_ndim(x_t, "x_t", 2, "(N, D)")
    _check_ndim(h_prev, "h_prev", 2, "(N, H)")
    (N, D), H = x_t.shape, h_prev.shape[1]  # type: ignore[attr-defined]
    _check_shapes(N, D, H, h_prev=h_prev, c_prev=c_prev, Wx=Wx, Wh=Wh, b=b)


def check_loop_args(x: object, h0: object, c0: object, Wx: object, Wh: object, b: object,
                    mask: object) -> None:
    """As :func:`check_step_args` for a whole sequence: x: (N, T, D), h0, c0: (N, H), the
    weights as there, mask None or a bool array (N, T)."""
    check_float_arrays(x=x, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)
    _check_ndim(x, "x", 3, "(N, T, D)")
    _check_ndim(h0, "h0", 2, "(N, H)")
    (N, T, D), H = x.shape, h0.shape[1]  # type: ignore[attr-defined]
    _check_shapes(N, D, H, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)
    _check_loop_mask(mask, N, T)


def _check_loop_mask(mask: object, N: int, T: int) -> None:
    if mask is None:
        return
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        raise TypeError(f"mask must be a bool array (N, T) or None, got "
                        f"{type(mask).__name__} {getattr(mask, 'dtype', '')}")
    if mask.shape != (N, T):
        raise ValueError(f"mask must have shape (N, T)={(N, T)}, got {mask.shape}")


def check_repeated_args(z: object, T: object, h0: object, c0: object, Wx: object, Wh: object,
                        b: object, mask: object) -> None:
    """As :func:`check_loop_args` for :func:`lstm_forward_repeated`: z: (N, D), T >= 1."""
    check_float_arrays(z=z, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)
    _check_ndim(z, "z", 2, "(N, D) (one input for every step)")
    T = check_positive_int(T, "T")
    _check_ndim(h0, "h0", 2, "(N, H)")
    (N, D), H = z.shape, h0.shape[1]  # type: ignore[attr-defined]
    _check_shapes(N, D, H, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)
    _check_loop_mask(mask, N, T)


def _check_ndim(a: np.ndarray, name: str, ndim: int, desc: str) -> None:
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {desc}, got shape {a.shape}")


def _check_shapes(N: int, D: int, H: int, **arrays: np.ndarray) -> None:
    """Each array's shape from its role: states (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)."""
    want = {"Wx": ("(D, 4H)", (D, 4 * H)), "Wh": ("(H, 4H)", (H, 4 * H)),
            "b": ("(4H,)", (4 * H,))}
    for name, a in arrays.items():
        desc, shape = want.get(name, ("(N, H)", (N, H)))
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {desc}={shape}, got {a.shape}")


# ============================================================================ one time step
@reference
def lstm_step_forward(
    x_t: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, StepCache]:
    """One LSTM step (types checked, by :func:`check_step_args`; callers check shapes once per
    sequence).

    Inputs:
        x_t: (N, D) input at this step
        h_prev, c_prev: (N, H) previous hidden and cell state
        Wx: (D, 4H), Wh: (H, 4H), b: (4H,) fused gate parameters, blocks (i, f, g, o)

    Returns:
        h: (N, H) new hidden state, c: (N, H) new cell state,
        cache: what :func:`lstm_step_backward` needs.
    """
    check_step_args(x_t, h_prev, c_prev, Wx, Wh, b)
    H = h_prev.shape[1]
    a = x_t @ Wx + h_prev @ Wh + b  # (N, 4H): all four gates in one matrix product
    i = sigmoid(a[:, 0 * H : 1 * H])
    f = sigmoid(a[:, 1 * H : 2 * H])
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H : 4 * H])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    cache = (x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)
    return h, c, cache


@reference
def lstm_step_backward(
    dh: np.ndarray, dc: np.ndarray, cache: StepCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one LSTM step.

    Inputs:
        dh: (N, H) dL/dh_t (from this step's output *and* from the next step)
        dc: (N, H) dL/dc_t coming from the next step
        cache: from :func:`lstm_step_forward`

    Returns:
        dx: (N, D), dh_prev: (N, H), dc_prev: (N, H),
        dWx: (D, 4H), dWh: (H, 4H), db: (4H,) — this step's contribution only (the caller sums
        the parameter gradients over time steps).
    """
    x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    # h = o * tanh(c): the output gate sees tanh(c); c also receives gradient through tanh.
    do = dh * tanh_c
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    # c = f * c_prev + i * g
    df = dc * c_prev
    di = dc * g
    dg = dc * i
    dc_prev = dc * f
    # Through the nonlinearities, reusing their outputs: σ' = σ(1-σ), tanh' = 1 - tanh².
    da = np.concatenate(
        [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g * g), do * o * (1.0 - o)],
        axis=1,
    )  # (N, 4H), same block order as the forward
    # a = x_t Wx + h_prev Wh + b
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x_t.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


# ============================================================================ whole sequence
class LSTMCache(NamedTuple):
    """What :func:`lstm_forward` keeps for :func:`lstm_backward`: every step's cache, in order,
    and the mask (None = every step valid)."""

    steps: list[StepCache]
    mask: np.ndarray | None


@reference
def lstm_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMCache]:
    """One LSTM layer over a whole sequence: :func:`lstm_step_forward` for t = 0 .. T-1.

    Inputs (:class:`LSTMLayer` checks them; here only their types, :func:`check_loop_args`):
        x: (N, T, D), finite (padded steps are ignored; put 0 there)
        h0, c0: (N, H) initial state;  Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
        mask: (N, T) bool, True = valid step, or None (every step valid).  At a padded step
            the state is carried and the output is 0.

    Returns:
        hs: (N, T, H) hidden state at each step (0 at padded steps),
        hT, cT: (N, H) state after each sequence's last valid step,
        cache: :class:`LSTMCache` for :func:`lstm_backward`.
    """
    check_loop_args(x, h0, c0, Wx, Wh, b, mask)
    N, T, _ = x.shape
    hs = np.zeros((N, T, h0.shape[1]), dtype=h0.dtype)
    h, c = h0, c0
    steps = []
    for t in range(T):
        h_new, c_new, step = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        steps.append(step)
        if mask is None:
            h, c = h_new, c_new
        else:  # a padded row keeps its state and outputs 0
            valid = mask[:, t, None]
            h, c = np.where(valid, h_new, h), np.where(valid, c_new, c)
            h_new = np.where(valid, h_new, 0.0)
        hs[:, t] = h_new
    return hs, h, c, LSTMCache(steps, mask)


@reference
def lstm_backward(
    dhs: np.ndarray | None,
    dhT: np.ndarray | None,
    dcT: np.ndarray | None,
    cache: LSTMCache,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time: :func:`lstm_step_backward` for t = T-1 .. 0.

    Inputs:
        dhs: (N, T, H) dL/dhs, or None (zeros: e.g. an encoder that only uses hT); entries at
            padded steps are ignored (hs is 0 there whatever the parameters)
        dhT, dcT: (N, H) dL/dhT, dL/dcT, or None (zeros)
        cache: from :func:`lstm_forward`

    Returns:
        dx: (N, T, D) (exactly 0 at padded steps), dh0, dc0: (N, H),
        dWx: (D, 4H), dWh: (H, 4H), db: (4H,) summed over the steps.
    """
    steps, mask = own_cache(cache, LSTMCache, "lstm_forward")
    x_0, h_0, _, Wx, Wh = steps[0][:5]
    N, D, T = x_0.shape[0], x_0.shape[1], len(steps)
    dh = np.zeros_like(h_0) if dhT is None else dhT  # dL/dh_t from the steps after t
    dc = np.zeros_like(h_0) if dcT is None else dcT
    dx = np.zeros((N, T, D), dtype=h_0.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wx.shape[1], dtype=Wx.dtype)
    for t in reversed(range(T)):
        dh_t = dh if dhs is None else dh + dhs[:, t]  # step t's output, and step t+1
        if mask is None:
            dx[:, t], dh, dc, dWx_t, dWh_t, db_t = lstm_step_backward(dh_t, dc, steps[t])
        else:  # a padded step passed its state on unchanged: its gradients go straight through
            valid = mask[:, t, None]
            dx[:, t], dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(
                np.where(valid, dh_t, 0.0), np.where(valid, dc, 0.0), steps[t])
            dh, dc = np.where(valid, dh_prev, dh), np.where(valid, dc_prev, dc)
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh, dc, dWx, dWh, db


@reference
def lstm_forward_repeated(
    z: np.ndarray,
    T: int,
    h0: np.ndarray,
    c0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMCache]:
    """:func:`lstm_forward` fed the same input ``z: (N, D)`` at each of T steps (a repeat-vector
    decoder), i.e. ``x_t = z`` for every t.  Other inputs and the returns as there."""
    check_repeated_args(z, T, h0, c0, Wx, Wh, b, mask)
    x = np.repeat(z[:, None, :], T, axis=1)  # (N, T, D): z at every step
    return lstm_forward(x, h0, c0, Wx, Wh, b, mask)


@reference
def lstm_backward_repeated(
    dhs: np.ndarray | None,
    dhT: np.ndarray | None,
    dcT: np.ndarray | None,
    cache: LSTMCache,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`lstm_forward_repeated`: as :func:`lstm_backward`, but ``dz: (N, D)``
    is the sum over the steps of dL/dx_t (z was fed at every step)."""
    dx, dh0, dc0, dWx, dWh, db = lstm_backward(dhs, dhT, dcT, cache)
    return dx.sum(axis=1), dh0, dc0, dWx, dWh, db


# ======================================================================= parameters, input checks
class LSTMWeights(Layer):
    """The parameters of one LSTM layer, ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``, for
    :class:`LSTMLayer` (a whole sequence) and :class:`LSTMCell` (one step).

    PyTorch's init: every entry ~ U(-1/sqrt(H), 1/sqrt(H)); then forget-gate bias = 1.  A forget
    bias of 1 makes f ≈ σ(1) ≈ 0.73 at the start, so the cell state (and its gradient) survives
    many steps before the network has learned anything.  (PyTorch draws two bias vectors and we
    draw one, so our b is U(-k, k) where PyTorch's summed bias would be triangular.)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        super().__init__(dtype)
        self.input_size = D = check_positive_int(input_size, "input_size")
        self.hidden_size = H = check_positive_int(hidden_size, "hidden_size")
        rng = check_rng(rng)
        k = 1.0 / np.sqrt(H)
        self.add_param("Wx", rng.uniform(-k, k, size=(D, 4 * H)))
        self.add_param("Wh", rng.uniform(-k, k, size=(H, 4 * H)))
        b = rng.uniform(-k, k, size=4 * H)
        b[H : 2 * H] = 1.0
        self.add_param("b", b)

    def add_grads(self, dWx: np.ndarray, dWh: np.ndarray, db: np.ndarray) -> None:
        """Accumulate parameter gradients (a backward's, or one step's of a loop over time)."""
        self.grads["Wx"] += dWx
        self.grads["Wh"] += dWh
        self.grads["b"] += db

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"


def _check_features(x: np.ndarray, name: str, input_size: int) -> None:
    """The last axis of an input holds the layer's ``input_size`` features."""
    if x.shape[-1] != input_size:
        raise ValueError(f"{name} must have input_size={input_size} features on its last axis, "
                         f"got shape {x.shape}")


def _check_sequence_input(
    x: object,
    input_size: int,
    dtype: np.dtype,
    mask: object = None,
    lengths: object = None,
    steps: object = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate ``x: (N, T, D)`` (or ``x: (N, D)`` with ``steps=T``, the same input at every
    step) and the optional mask/lengths.

    Returns ``(x, mask)`` where padded entries of x are replaced by 0 (so NaN there is harmless)
    and mask is ``(N, T)`` bool or None (None = every step valid, the fast path).
    """
    if steps is not None:
        T = check_positive_int(steps, "steps")
        x = check_array(x, "x", ndim=2, dtype=dtype)  # one input for every step: all finite
        _check_features(x, "x", input_size)
        return x, _check_step_mask(mask, lengths, x.shape[0], T)
    x = check_array(x, "x", ndim=3, dtype=dtype, allow_nan=True)
    _check_features(x, "x", input_size)
    N, T, _ = x.shape
    mask = _check_step_mask(mask, lengths, N, T)
    valid = np.ones((N, T), dtype=bool) if mask is None else mask
    finite = np.isfinite(x).all(axis=2)
    bad = valid & ~finite
    if np.any(bad):
        n_bad = int(bad.sum())
        where = "" if mask is None else " at valid (unmasked) steps"
        raise ValueError(
            f"x contains non-finite values (NaN or inf) at {n_bad} time step(s){where}; "
            "mark missing steps with mask or lengths (padded steps may hold NaN)"
        )
    if mask is not None:
        x = np.where(mask[:, :, None], x, 0.0).astype(dtype, copy=False)
    return x, mask


def _check_step_mask(mask: object, lengths: object, N: int, T: int) -> np.ndarray | None:
    """``mask: (N, T)`` bool, or ``lengths: (N,)`` turned into one, or None (every step valid)."""
    if mask is not None and lengths is not None:
        raise ValueError("pass either mask or lengths, not both")
    if lengths is not None:
        return lengths_to_mask(lengths, T, name="lengths", N=N)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(
                f"mask must be a bool array (True = valid step), got dtype {mask.dtype}"
            )
        if mask.shape != (N, T):
            raise ValueError(f"mask must have shape (N, T)=({N}, {T}), got {mask.shape}")
    return mask


def _check_state(s: object, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An initial state (or its gradient) of exactly ``shape``; None means zeros."""
    if s is None:
        return np.zeros(shape, dtype=dtype)
    if _is_clean(s, dtype) and s.shape == shape:  # type: ignore[union-attr]
        return s  # type: ignore[return-value]
    return check_array(s, name, shape=shape, dtype=dtype)


def _is_clean(a: object, dtype: np.dtype) -> bool:
    """True when ``a`` is a non-empty ndarray of exactly ``dtype`` with only finite entries:
    :func:`check_array` would accept it unchanged.  The fast path of the per-step checks of
    :class:`LSTMCell` (called T times per sequence): finiteness from one sum, which is NaN or
    inf whenever an entry is.  A non-finite sum may also be an overflow of finite entries, so
    False only means "let check_array decide" (and raise its usual errors)."""
    return (
        type(a) is np.ndarray
        and a.dtype == dtype
        and a.size > 0
        and bool(np.isfinite(np.add.reduce(a, axis=None)))
    )


# ============================================================================ layers
class LSTMLayer(LSTMWeights):
    """One LSTM layer over whole sequences (batch first), trained by backprop through time.

    Parameters ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``; equations, PyTorch mapping and the
    padding convention in the module docstring.  ``forward`` runs :func:`lstm_forward` (or
    :func:`lstm_forward_repeated`), ``backward`` the matching backward function.

    forward(x, h0=None, c0=None, *, mask=None, lengths=None, steps=None) -> (hs, (hT, cT))
        x: (N, T, D), or x: (N, D) with ``steps=T``: the same input at every step (what a
        repeat-vector decoder feeds);  h0, c0: (N, H) (default zeros)
        hs: (N, T, H) hidden state at each step (0 at padded steps);  hT, cT: (N, H)
    backward(dhs, dhT=None, dcT=None) -> (dx, dh0, dc0)
        dhs: (N, T, H) or None (zeros);  dhT, dcT: (N, H) or None (zeros)
        dx: (N, T, D) (exactly 0 at padded steps), or (N, D) summed over the steps when the
        forward had ``steps=T``;  dh0, dc0: (N, H)
        Parameter gradients are *added* to ``grads``.
    """

    def forward(
        self,
        x: np.ndarray,
        h0: np.ndarray | None = None,
        c0: np.ndarray | None = None,
        *,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        steps: int | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        x, mask = _check_sequence_input(x, self.input_size, self.dtype, mask, lengths, steps)
        shape = (x.shape[0], self.hidden_size)
        h0 = _check_state(h0, "h0", shape, self.dtype)
        c0 = _check_state(c0, "c0", shape, self.dtype)
        return self._forward(x, h0, c0, mask, steps)

    def _forward(
        self, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, mask: np.ndarray | None,
        steps: int | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The forward on validated inputs (padded entries of x already 0)."""
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        if steps is None:
            hs, hT, cT, cache = lstm_forward(x, h0, c0, Wx, Wh, b, mask)
        else:  # x: (N, D) fed at every one of the T = steps steps
            hs, hT, cT, cache = lstm_forward_repeated(x, steps, h0, c0, Wx, Wh, b, mask)
        self.save_for_backward((cache, steps is not None, hs.shape))
        return hs, (hT, cT)

    def backward(
        self,
        dhs: np.ndarray | None,
        dhT: np.ndarray | None = None,
        dcT: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cache, repeated, (N, T, H) = self._need_cache()
        # None (e.g. an encoder that only uses hT) skips adding a zero array at every step
        dhs = None if dhs is None else check_array(dhs, "dhs", shape=(N, T, H), dtype=self.dtype)
        dhT = _check_state(dhT, "dhT", (N, H), self.dtype)
        dcT = _check_state(dcT, "dcT", (N, H), self.dtype)
        backward = lstm_backward_repeated if repeated else lstm_backward
        dx, dh0, dc0, dWx, dWh, db = backward(dhs, dhT, dcT, cache)
        self.add_grads(dWx, dWh, db)
        return dx, dh0, dc0


class LSTM(StackedLayers):
    """Multi-layer LSTM over whole sequences (batch first), trained by backprop through time.

    Equations, PyTorch mapping and padding semantics: see the module docstring.

    Parameters live in ``self.layers`` (a list of :class:`LSTMLayer`) and are named
    ``layers.{l}.Wx (D_l, 4H)``, ``layers.{l}.Wh (H, 4H)``, ``layers.{l}.b (4H,)`` with
    ``D_0 = input_size`` and ``D_l = H`` above — for every ``num_layers``, including 1.

    State shapes follow the depth, kept as simple as possible:
        num_layers == 1:  h0, c0, hT, cT (and dh0, dc0, dhT, dcT) are (N, H)
        num_layers  > 1:  they are (num_layers, N, H), index l = layer l (like PyTorch)

    forward(x, h0=None, c0=None, *, mask=None, lengths=None, steps=None) -> (hs, (hT, cT))
        x: (N, T, D); mask: (N, T) bool (True = valid) or lengths: (N,) ints in [1, T]
        or x: (N, D) with ``steps=T``: the same input at every step (a repeat-vector decoder;
        see :func:`lstm_forward_repeated`)
        hs: (N, T, H) outputs of the last layer (0 at padded steps)
    backward(dhs, dhT=None, dcT=None) -> (dx, dh0, dc0)
        dhs: (N, T, H) or None (zeros, e.g. an encoder that only uses hT); dx: (N, T, D)
        ((N, D), summed over the steps, after a forward with ``steps=T``)
        Parameter gradients are *added* to ``grads``.

    Example::

        lstm = LSTM(3, 16, num_layers=2, rng=0)
        hs, (hT, cT) = lstm(x, lengths=lengths)       # x: (N, T, 3); hT: (2, N, 16)
        dx, dh0, dc0 = lstm.backward(dhs, dhT, None)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        super().__init__(dtype)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        rng = check_rng(rng)
        self.layers = [
            LSTMLayer(self.input_size if l == 0 else self.hidden_size, self.hidden_size,
                      rng=rng, dtype=dtype)
            for l in range(self.num_layers)
        ]

    def forward(
        self,
        x: np.ndarray,
        h0: np.ndarray | None = None,
        c0: np.ndarray | None = None,
        *,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        steps: int | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        x, mask = _check_sequence_input(x, self.input_size, self.dtype, mask, lengths, steps)
        shape = self._state_shape(x.shape[0])
        h0s = self._per_layer(_check_state(h0, "h0", shape, self.dtype))
        c0s = self._per_layer(_check_state(c0, "c0", shape, self.dtype))
        hTs, cTs = [], []
        hs = x
        for l, (layer, h, c) in enumerate(zip(self.layers, h0s, c0s)):
            # hs of the layer below is 0 at padded steps, the same mask keeps it ignored.
            # Only the first layer can have a repeated input; the ones above read its hs.
            hs, (hT, cT) = layer._forward(hs, h, c, mask, steps if l == 0 else None)
            hTs.append(hT)
            cTs.append(cT)
        self.save_for_backward(hs.shape[:2])
        return hs, (self._stack(hTs), self._stack(cTs))

    def backward(
        self,
        dhs: np.ndarray | None,
        dhT: np.ndarray | None = None,
        dcT: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        N, T = self._need_cache()
        shape = self._state_shape(N)
        dhTs = self._per_layer(_check_state(dhT, "dhT", shape, self.dtype))
        dcTs = self._per_layer(_check_state(dcT, "dcT", shape, self.dtype))
        dh0s: list[np.ndarray] = [None] * self.num_layers  # type: ignore[list-item]
        dc0s: list[np.ndarray] = [None] * self.num_layers  # type: ignore[list-item]
        d = dhs
        for l in reversed(range(self.num_layers)):
            # The input gradient of layer l is the output gradient (dhs) of layer l-1.
            d, dh0s[l], dc0s[l] = self.layers[l].backward(d, dhTs[l], dcTs[l])
        return d, self._stack(dh0s), self._stack(dc0s)

    def __repr__(self) -> str:
        return f"LSTM({self.input_size}, {self.hidden_size}, num_layers={self.num_layers})"


# ============================================================================ single step
class LSTMCell(LSTMWeights):
    """One LSTM step with parameters ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)`` (same init,
    equations and gate order as :class:`LSTM`; it calls the step functions
    :func:`lstm_step_forward` / :func:`lstm_step_backward`).

    forward(x_t, h_prev=None, c_prev=None) -> (h, c)
        x_t: (N, D); h_prev, c_prev: (N, H) (default zeros); h, c: (N, H)
    backward(dh, dc=None) -> (dx, dh_prev, dc_prev)
        dh: total dL/dh of that step (its own output's gradient *plus* dh_prev returned by the
        backward of the following step); dc: dc_prev from the following step (None = zeros).

    Autoregressive decoding calls the cell T times per sequence, so each forward *pushes* its
    cache on a stack and each backward *pops* one: backward calls must come in reverse order
    of the forward calls (LIFO), like backprop through time done by hand::

        h, c = h0, c0
        for t in range(T):                     # forward: push T caches
            h, c = cell(x[:, t], h, c)
        dh_next, dc_next = dhT, dcT
        for t in reversed(range(T)):           # backward: pop them in reverse
            dx_t, dh_next, dc_next = cell.backward(dhs[:, t] + dh_next, dc_next)

    Parameter gradients are *added* to ``grads`` at every backward.  :meth:`reset` empties the
    stack (e.g. after a forward that will never be backpropagated); in eval mode (inference,
    :mod:`minivae.nn.inference`) the forward pushes nothing.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)
        self.cache: list[StepCache] = []  # the LIFO stack of step caches

    def reset(self) -> None:
        """Drop every stored step cache."""
        self.cache = []

    def clear_cache(self) -> None:
        self.reset()

    @property
    def depth(self) -> int:
        """Number of forward steps still waiting for their backward."""
        return len(self.cache)

    def forward(  # type: ignore[override]
        self,
        x_t: np.ndarray,
        h_prev: np.ndarray | None = None,
        c_prev: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        if not (_is_clean(x_t, self.dtype) and x_t.ndim == 2):  # type: ignore[union-attr]
            x_t = check_array(x_t, "x_t", ndim=2, dtype=self.dtype)
        _check_features(x_t, "x_t", self.input_size)  # type: ignore[arg-type]
        shape = (x_t.shape[0], self.hidden_size)  # type: ignore[union-attr]
        h_prev = _check_state(h_prev, "h_prev", shape, self.dtype)
        c_prev = _check_state(c_prev, "c_prev", shape, self.dtype)
        h, c, step_cache = lstm_step_forward(
            x_t, h_prev, c_prev, self.params["Wx"], self.params["Wh"], self.params["b"]
        )
        if self.training:  # (in eval mode nothing is kept for a backward)
            self.cache.append(step_cache)
        return h, c

    def backward(  # type: ignore[override]
        self, dh: np.ndarray, dc: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.cache:
            raise RuntimeError(
                "LSTMCell.backward called with an empty cache stack: every backward must match "
                "an earlier forward (LIFO); call forward first"
            )
        shape = self.cache[-1][1].shape  # h_prev of the most recent step: (N, H)
        if not (_is_clean(dh, self.dtype) and dh.shape == shape):
            dh = check_array(dh, "dh", shape=shape, dtype=self.dtype)
        dc = _check_state(dc, "dc", shape, self.dtype)
        step_cache = self.cache.pop()
        dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh, dc, step_cache)
        self.add_grads(dWx, dWh, db)
        return dx, dh_prev, dc_prev
