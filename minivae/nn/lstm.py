r"""Long short-term memory (LSTM) with hand-written backpropagation through time.

This file is the NumPy *reference* implementation: a Numba kernel mirrors it, and the two
module-level functions :func:`lstm_step_forward` / :func:`lstm_step_backward` (one time step,
pure functions of their arguments) are also the solutions of the student exercises.

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
Values of ``x`` at padded steps are ignored and may be NaN.

The same input at every step
----------------------------
``LSTM.forward(z, steps=T)`` with ``z: (N, D)`` feeds z at each of the T steps: the same
numbers as ``LSTM.forward(RepeatVector(T).forward(z))``, and ``backward`` returns ``dz: (N, D)``
summed over the steps (what ``RepeatVector.backward`` would do).  The repeat-vector decoder of
the sequence VAEs uses it: on the Numba backend ``z Wx + b`` is then computed once per
sequence and its gradients need only ``sum_t da_t``.

A whole sequence: the step equations, reorganised
--------------------------------------------------
:class:`LSTMLayer` (on the NumPy backend) does not call the step functions T times: its loop,
:func:`_sequence_forward` / :func:`_sequence_backward`, computes exactly the same equations,
reorganised so that the Python loop over time does as little as possible, and
``tests/test_lstm_numpy_fast.py`` holds it to a plain loop of :func:`lstm_step_forward` /
:func:`lstm_step_backward` within 1e-12 (float64), masks included:

* What does not depend on the recurrence is done for all T steps at once, outside the loop: the
  input projection ``x_t Wx + b`` before it (one stacked product), the gradients ``dWx``,
  ``db`` and ``dx`` after it, and every factor of the gate gradient that is known from the
  forward (``σ' = σ(1 - σ)``, ``1 - tanh²``, ...) before the backward loop.  Inside remain the
  products ``h_{t-1} Wh`` (forward) and ``da_t Wh^T``, ``h_{t-1}^T da_t`` (backward) and a few
  elementwise operations per step.
* Arrays are time-major and *feature-major*: a step is a ``(4H, N)`` or ``(H, N)`` block, the
  transpose of the step functions' ``(N, 4H)``, so that each gate is one contiguous block for
  NumPy.  They are allocated once per layer and reused from call to call; nothing is allocated
  inside the loop.
* All four gate activations are one sigmoid call (one ``exp``): the candidate uses
  ``tanh(a) = 2 σ(2a) - 1``.

The step functions remain the readable statement of one step (and the exercise solutions);
:class:`LSTMCell` calls them, and the Numba kernels mirror their cache.

Classes
-------
* :class:`LSTMLayer` — one layer over a whole sequence (forward + BPTT).
* :class:`LSTM` — a stack of ``num_layers`` LSTMLayers (layer ``l+1`` reads the ``hs`` of layer
  ``l``).  Parameters are *always* named ``layers.{l}.Wx``, ``layers.{l}.Wh``, ``layers.{l}.b``,
  also when ``num_layers == 1`` (one naming for every depth).
* :class:`LSTMCell` — a single step with parameters ``Wx, Wh, b``, for autoregressive decoding.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.fast import backend, numba_kernels
from minivae.fast.workspace import buffer
from minivae.nn.functional import sigmoid
from minivae.nn.layer import Layer
from minivae.nn.sequence import lengths_to_mask
from minivae.twins import reference

# What lstm_step_forward hands to lstm_step_backward:
# (x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c).  A plain tuple keeps the step functions free
# of any class, which is what the Numba kernel mirrors.
StepCache = tuple[np.ndarray, ...]


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
    """One LSTM step (no validation: callers check shapes once per sequence).

    Inputs:
        x_t: (N, D) input at this step
        h_prev, c_prev: (N, H) previous hidden and cell state
        Wx: (D, 4H), Wh: (H, 4H), b: (4H,) fused gate parameters, blocks (i, f, g, o)

    Returns:
        h: (N, H) new hidden state, c: (N, H) new cell state,
        cache: what :func:`lstm_step_backward` needs.
    """
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


# ============================================================================ shared helpers
def _init_lstm_params(
    layer: Layer, input_size: int, hidden_size: int, rng: np.random.Generator
) -> None:
    """PyTorch's init: every entry ~ U(-1/sqrt(H), 1/sqrt(H)); then forget-gate bias = 1.

    A forget bias of 1 makes f ≈ σ(1) ≈ 0.73 at the start, so the cell state (and its gradient)
    survives many steps before the network has learned anything.  (PyTorch draws two bias vectors
    and we draw one, so our b is U(-k, k) where PyTorch's summed bias would be triangular.)
    """
    H = hidden_size
    k = 1.0 / np.sqrt(H)
    layer.add_param("Wx", rng.uniform(-k, k, size=(input_size, 4 * H)))
    layer.add_param("Wh", rng.uniform(-k, k, size=(H, 4 * H)))
    b = rng.uniform(-k, k, size=4 * H)
    b[H : 2 * H] = 1.0
    layer.add_param("b", b)


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
        N, D = x.shape
        if D != input_size:
            raise ValueError(
                f"x must have input_size={input_size} features on its last axis, got shape "
                f"{x.shape}"
            )
        return x, _check_mask(mask, lengths, N, T)
    x = check_array(x, "x", ndim=3, dtype=dtype, allow_nan=True)
    N, T, D = x.shape
    if D != input_size:
        raise ValueError(
            f"x must have input_size={input_size} features on its last axis, got shape {x.shape}"
        )
    mask = _check_mask(mask, lengths, N, T)
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


def _check_mask(mask: object, lengths: object, N: int, T: int) -> np.ndarray | None:
    """``mask: (N, T)`` bool, or ``lengths: (N,)`` turned into one, or None (every step valid)."""
    if mask is not None and lengths is not None:
        raise ValueError("pass either mask or lengths, not both")
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.shape != (N,):
            raise ValueError(f"lengths must have shape (N,)=({N},), got {lengths.shape}")
        return lengths_to_mask(lengths, T, name="lengths")
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


# ============================================================================ whole sequence
class _SequenceCache(NamedTuple):
    """What :func:`_sequence_forward` keeps for :func:`_sequence_backward`.

    Time-major and *feature-major*: one step is an ``(H, N)`` or ``(4H, N)`` block, the
    transpose of the step functions' ``(N, H)``.  Then each gate of a step (``gates[t, :H]`` is
    i, and so on) is one contiguous block, and every elementwise NumPy call in the time loop runs
    over contiguous memory: on column slices of an ``(N, 4H)`` array each call pays NumPy's
    per-row overhead N times (measured 2-4x slower at N = 64).
    """

    x1: np.ndarray  # (T, D + 1, N) the input x_t^T (0 at padded steps) and a row of ones
    gates: np.ndarray  # (T, 4H, N) activated gates [i; f; g; o] of every step
    h: np.ndarray  # (T + 1, H, N) h[t] = state entering step t (h[0] = h0^T, h[T] = hT^T)
    c: np.ndarray  # (T + 1, H, N) likewise for the cell state
    tanh_c: np.ndarray  # (T, H, N) tanh(c_t) as computed at step t
    padded: np.ndarray | None  # (T, 1, N) bool, True = padded step; None = no padding


def _sequence_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None,
    workspace: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _SequenceCache]:
    """:func:`lstm_step_forward` over all T steps, with what does not depend on the recurrence
    done once, outside the time loop (no validation: the layer checked the inputs).

    Inputs:
        x: (N, T, D), 0 at padded steps;  h0, c0: (N, H);  Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
        mask: (N, T) bool (True = valid step) or None
        workspace: a dict kept by the caller: the cache then lives in reused buffers and is
            valid only until the next call with the same dict

    Returns fresh arrays hs: (N, T, H) (0 at padded steps), hT, cT: (N, H), and the cache for
    :func:`_sequence_backward`.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    dtype = x.dtype
    # The input projection (x_t Wx + b)^T of *every* step at once, before the loop; the loop
    # then only adds the recurrent term (h_{t-1} Wh)^T.  The bias rides along as the weight of
    # an extra input that is always 1: one stacked matrix product, and after the loop one
    # product gives dWx and db together.  (Also faster than x Wx + b for small D: OpenBLAS is
    # slow on products with K = D = 1, measured 6x.)  These pre-activations are activated in
    # place, so `gates` ends up holding [i; f; g; o] of every step.
    x1 = buffer(workspace, "x1", (T, D + 1, N), dtype)  # [x_t^T; 1] of every step
    x1[:, :D] = x.transpose(1, 2, 0)
    x1[:, D] = 1.0
    Wb = np.concatenate([Wx, b[None, :]])  # (D + 1, 4H): [Wx; b]
    gates = buffer(workspace, "gates", (T, 4 * H, N), dtype)
    np.matmul(Wb.T, x1, out=gates)  # (4H, D + 1) @ (T, D + 1, N) -> (T, 4H, N)
    hs = buffer(workspace, "h", (T + 1, H, N), dtype)
    cs = buffer(workspace, "c", (T + 1, H, N), dtype)
    tanh_cs = buffer(workspace, "tanh_c", (T, H, N), dtype)
    hs[0] = h0.T
    cs[0] = c0.T
    padded = None if mask is None else ~mask.T[:, None, :]  # (T, 1, N)
    WhT = Wh.T  # (4H, H), a view: BLAS reads it transposed
    hWh = np.empty((4 * H, N), dtype=dtype)  # scratch, reused by every step
    ig = np.empty((H, N), dtype=dtype)
    # Overflow of 2a below is harmless (see there): no warning for it.
    with np.errstate(over="ignore"):
        for t in range(T):
            a = gates[t]  # (4H, N), (x_t Wx + b)^T so far
            np.matmul(WhT, hs[t], out=hWh)
            a += hWh
            i, f, g, o = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
            # All four gates with one sigmoid call, i.e. one exp over the contiguous block (a
            # NumPy tanh costs 2-3 exps): the candidate uses tanh(a) = 2 sigmoid(2a) - 1.
            # Exact up to rounding (absolute error ~1 ulp); if 2a overflows to +-inf the
            # candidate is exactly +-1, the right limit.
            g *= 2.0
            sigmoid(a, out=a)
            g *= 2.0
            g -= 1.0
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)  # c_t = f * c_{t-1} + i * g
            np.multiply(i, g, out=ig)
            c += ig
            np.tanh(c, out=tanh_cs[t])
            np.multiply(o, tanh_cs[t], out=hs[t + 1])  # h_t = o * tanh(c_t)
            if padded is not None:
                # Padded rows carry their state (their output is zeroed below).
                np.copyto(hs[t + 1], hs[t], where=padded[t])
                np.copyto(c, cs[t], where=padded[t])
    # Outputs in the caller's layout, always fresh arrays (never views of the cache).
    out = np.zeros((N, T, H), dtype=dtype)
    if mask is None:
        out[...] = hs[1:].transpose(2, 0, 1)
    else:
        np.copyto(out, hs[1:].transpose(2, 0, 1), where=mask[:, :, None])
    cache = _SequenceCache(x1, gates, hs, cs, tanh_cs, padded)
    return out, hs[T].T.copy(), cs[T].T.copy(), cache


def _sequence_backward(
    dhs: np.ndarray | None,
    dhT: np.ndarray,
    dcT: np.ndarray,
    cache: _SequenceCache,
    Wx: np.ndarray,
    Wh: np.ndarray,
    workspace: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """Backprop through time for :func:`_sequence_forward`: :func:`lstm_step_backward` at every
    step, reorganised so that only the recurrence stays inside the time loop.

    Inputs:
        dhs: (N, T, H) dL/dhs or None (zeros);  dhT, dcT: (N, H);  cache from the forward;
        Wx: (D, 4H), Wh: (H, 4H) (the forward's parameters);  workspace: scratch buffers
        reused between calls (may be the forward's dict)

    Returns fresh arrays dx: (N, T, D) (exactly 0 at padded steps), dh0, dc0: (N, H),
    dWx: (D, 4H), dWh: (H, 4H), db: (4H,) (summed over all steps).
    """
    x1, gates, hs, cs, tanh_cs, padded = cache
    T, D, N = x1.shape
    D -= 1  # x1 = [x_t^T; 1]
    H = hs.shape[1]
    dtype = gates.dtype
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))  # (T, H, N) views

    # The gate gradient of step t is (transposed, like everything here)
    #   da = [dc * g * i(1-i);  dc * c_prev * f(1-f);  dc * i * (1-g^2);  dh * tanh_c * o(1-o)]
    # with dc = dc_next + dh * o * (1 - tanh_c^2)  (see lstm_step_backward).  Only dh and dc
    # depend on later steps; the factors they multiply are known from the forward, so they are
    # computed here for all steps at once.  `da` holds these factors until step t multiplies
    # its block in place.
    da = buffer(workspace, "da", gates.shape, dtype)
    da_i, da_f, da_g, da_o = (da[:, k * H : (k + 1) * H] for k in range(4))
    np.subtract(1.0, i, out=da_i)  # g * i(1-i)   (sigma' = sigma (1 - sigma))
    da_i *= i
    da_i *= g
    np.subtract(1.0, f, out=da_f)  # c_prev * f(1-f)
    da_f *= f
    da_f *= cs[:-1]
    np.multiply(g, g, out=da_g)  # i * (1 - g^2)   (tanh' = 1 - tanh^2)
    np.subtract(1.0, da_g, out=da_g)
    da_g *= i
    np.subtract(1.0, o, out=da_o)  # tanh_c * o(1-o)
    da_o *= o
    da_o *= tanh_cs
    dc_from_h = buffer(workspace, "dc_from_h", tanh_cs.shape, dtype)
    np.multiply(tanh_cs, tanh_cs, out=dc_from_h)  # o * (1 - tanh_c^2): the path h_t -> c_t
    np.subtract(1.0, dc_from_h, out=dc_from_h)
    dc_from_h *= o

    if dhs is not None:
        dhs_t = buffer(workspace, "dhs", (T, H, N), dtype)
        dhs_t[...] = dhs.transpose(1, 2, 0)
    # (H, N) gradients carried back in time, updated in place: copies, never views of the inputs
    dh = dhT.T.copy()
    dc = dcT.T.copy()
    dh_step = np.empty((H, N), dtype=dtype)
    dc_step = np.empty((H, N), dtype=dtype)
    dWh = np.zeros_like(Wh)
    dWh_t = np.empty_like(Wh)
    scratch = None if padded is None else np.empty((H, N), dtype=dtype)
    valid = None if padded is None else ~padded
    for t in reversed(range(T)):
        # h_t feeds both the output hs[:, t] and the next step: add the two gradients.
        if dhs is None:
            np.copyto(dh_step, dh)
        else:
            np.add(dh, dhs_t[t], out=dh_step)
        np.multiply(dh_step, dc_from_h[t], out=dc_step)  # dc_t: from the next step and from h_t
        dc_step += dc
        if padded is not None:
            # A padded step computed nothing that was used: it gets zero gradient, so x[:, t]
            # and the parameters get exactly 0 from it ...
            np.copyto(dh_step, 0.0, where=padded[t])
            np.copyto(dc_step, 0.0, where=padded[t])
        da_t = da[t]  # (4H, N): the i, f, g blocks times dc, the o block times dh
        ifg = da_t[: 3 * H].reshape(3, H, N)
        ifg *= dc_step
        da_t[3 * H :] *= dh_step
        # dWh needs h_{t-1} (H, N) against da_t (4H, N): in this layout the sum over steps is
        # not one matrix product (as dWx below is), so it is accumulated here, while da_t is
        # in cache.
        np.matmul(hs[t], da_t.T, out=dWh_t)
        dWh += dWh_t
        if padded is None:
            np.multiply(dc_step, f[t], out=dc)  # dc_{t-1} = dc_t * f
            np.matmul(Wh, da_t, out=dh)  # dh_{t-1} = (da Wh^T)^T
        else:
            # ... while the carried state h_t = h_{t-1} passes its gradient straight through
            # (hs[:, t] was the constant 0 there, so dhs[:, t] is ignored).
            np.multiply(dc_step, f[t], out=scratch)
            np.copyto(dc, scratch, where=valid[t])
            np.matmul(Wh, da_t, out=scratch)
            np.copyto(dh, scratch, where=valid[t])

    # The other parameter gradients and the input gradient, for all steps at once (padded steps
    # have da = 0 and contribute nothing).  [dWx; db] = sum_t [x_t^T; 1] da_t^T.
    dWb = np.matmul(x1, da.transpose(0, 2, 1)).sum(axis=0)  # (D + 1, 4H)
    dWx, db = dWb[:D].copy(), dWb[D].copy()
    dx = np.matmul(Wx, da).transpose(2, 0, 1).copy()  # da_t Wx^T of every step -> (N, T, D)
    return dx, dh.T.copy(), dc.T.copy(), dWx, dWh, db


# ============================================================================ one layer
class LSTMLayer(Layer):
    """One LSTM layer unrolled over a sequence; parameters ``Wx (D, 4H)``, ``Wh (H, 4H)``,
    ``b (4H,)``.  See the module docstring for the equations and the masking convention.

    Usually you want :class:`LSTM` (which stacks these).  This class runs the whole sequence:
    :func:`_sequence_forward` / :func:`_sequence_backward` on the NumPy backend (the step
    equations reorganised for speed, see the module docstring), the Numba kernel otherwise.
    The forward's cache lives in buffers the layer reuses, so only the latest forward can be
    backpropagated (as with every layer: each forward replaces ``cache``).

    forward(x, h0=None, c0=None, *, mask=None, lengths=None, steps=None) -> (hs, (hT, cT))
        x: (N, T, D), or x: (N, D) with ``steps=T``: the same input at every step (what a
        repeat-vector decoder feeds; equal to passing ``x[:, None]`` repeated T times, but
        ``x Wx + b`` is computed once on the Numba backend);  h0, c0: (N, H) (default zeros)
        hs: (N, T, H) hidden state at each step (0 at padded steps);  hT, cT: (N, H)
    backward(dhs, dhT=None, dcT=None) -> (dx, dh0, dc0)
        dhs: (N, T, H) or None (zeros);  dhT, dcT: (N, H) or None (zeros)
        dx: (N, T, D) (exactly 0 at padded steps), or (N, D) summed over the steps when the
        forward had ``steps=T``;  dh0, dc0: (N, H)
        Parameter gradients are *added* to ``grads``.
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
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        _init_lstm_params(self, self.input_size, self.hidden_size, check_rng(rng))
        # Cache and scratch arrays reused from call to call by either backend
        # (minivae/_workspace.py); only the latest forward's cache is ever read.
        self._workspace: dict[str, np.ndarray] = {}

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
        self, x: np.ndarray, h: np.ndarray, c: np.ndarray, mask: np.ndarray | None,
        steps: int | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Unroll over time on already validated inputs (padded x entries already zeroed;
        ``steps=T`` with x: (N, D) = the same input at every step)."""
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        static = steps is not None
        if backend.use_numba():
            # Same equations in one compiled loop over all T steps (minivae.fast.lstm);
            # tests/test_kernels.py holds it to this NumPy code within 1e-12 in float64.
            # The kernel keeps its (T, N, .) cache in the layer's workspace (see __init__).
            hs, hT, cT, kcache = numba_kernels().lstm_forward(
                x, h, c, Wx, Wh, b, mask, workspace=self._workspace, steps=steps)
            self.cache = ("numba", kcache, mask, hs.shape[:2] + (self.input_size,), static)
            return hs, (hT, cT)
        if static:
            # The reference path simply feeds the repeated input (backward sums dx over time).
            x = np.repeat(x[:, None], steps, axis=1)
            if mask is not None:
                x[~mask] = 0.0
        hs, hT, cT, cache = _sequence_forward(x, h, c, Wx, Wh, b, mask, self._workspace)
        self.cache = ("numpy", cache, mask, x.shape, static)
        return hs, (hT, cT)

    def backward(
        self,
        dhs: np.ndarray | None,
        dhT: np.ndarray | None = None,
        dcT: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        path, caches, mask, (N, T, D), static = self._need_cache()
        H = self.hidden_size
        # None (e.g. an encoder that only uses hT) skips reading/adding a zero array per step
        dhs = None if dhs is None else check_array(dhs, "dhs", shape=(N, T, H), dtype=self.dtype)
        dh = _check_state(dhT, "dhT", (N, H), self.dtype)  # gradient carried back in time
        dc = _check_state(dcT, "dcT", (N, H), self.dtype)
        if path == "numba":
            dx, dh0, dc0, dWx, dWh, db = numba_kernels().lstm_backward(
                dhs, dh, dc, caches, self.params["Wx"], self.params["Wh"],
                workspace=self._workspace)
            self.grads["Wx"] += dWx
            self.grads["Wh"] += dWh
            self.grads["b"] += db
            return dx, dh0, dc0
        dx, dh0, dc0, dWx, dWh, db = _sequence_backward(
            dhs, dh, dc, caches, self.params["Wx"], self.params["Wh"], self._workspace)
        self.grads["Wx"] += dWx
        self.grads["Wh"] += dWh
        self.grads["b"] += db
        if static:
            dx = dx.sum(axis=1)  # the same x fed every step: its gradient is the sum over steps
        return dx, dh0, dc0

    def __call__(self, x: np.ndarray, *args: object, **kwargs: object):  # type: ignore[override]
        return self.forward(x, *args, **kwargs)

    def __repr__(self) -> str:
        return f"LSTMLayer({self.input_size}, {self.hidden_size})"


# ============================================================================ stacked LSTM
class LSTM(Layer):
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
        see :class:`LSTMLayer`)
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
            LSTMLayer(
                self.input_size if l == 0 else self.hidden_size,
                self.hidden_size,
                rng=rng,
                dtype=dtype,
            )
            for l in range(self.num_layers)
        ]

    def _state_shape(self, N: int) -> tuple[int, ...]:
        H = self.hidden_size
        return (N, H) if self.num_layers == 1 else (self.num_layers, N, H)

    def _per_layer(self, s: np.ndarray) -> list[np.ndarray]:
        """(N, H) or (L, N, H) -> list of L arrays (N, H)."""
        return [s] if self.num_layers == 1 else list(s)

    def _stack(self, states: list[np.ndarray]) -> np.ndarray:
        return states[0] if self.num_layers == 1 else np.stack(states)

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
            # Only the first layer can have a static input; the ones above read its hs.
            hs, (hT, cT) = layer._forward(hs, h, c, mask, steps if l == 0 else None)
            hTs.append(hT)
            cTs.append(cT)
        self.cache = hs.shape[:2]
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

    def __call__(self, x: np.ndarray, *args: object, **kwargs: object):  # type: ignore[override]
        return self.forward(x, *args, **kwargs)

    def __repr__(self) -> str:
        return f"LSTM({self.input_size}, {self.hidden_size}, num_layers={self.num_layers})"


# ============================================================================ single step
class LSTMCell(Layer):
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
    stack (e.g. after an evaluation-only forward that will never be backpropagated).
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
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        _init_lstm_params(self, self.input_size, self.hidden_size, check_rng(rng))
        self.cache: list[StepCache] = []  # the LIFO stack of step caches

    def reset(self) -> None:
        """Drop every stored step cache."""
        self.cache = []

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
        N, D = x_t.shape  # type: ignore[union-attr]
        if D != self.input_size:
            raise ValueError(
                f"x_t must have input_size={self.input_size} features on its last axis, "
                f"got shape {x_t.shape}"
            )
        shape = (N, self.hidden_size)
        h_prev = _check_state(h_prev, "h_prev", shape, self.dtype)
        c_prev = _check_state(c_prev, "c_prev", shape, self.dtype)
        h, c, step_cache = lstm_step_forward(
            x_t, h_prev, c_prev, self.params["Wx"], self.params["Wh"], self.params["b"]
        )
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
        self.grads["Wx"] += dWx
        self.grads["Wh"] += dWh
        self.grads["b"] += db
        return dx, dh_prev, dc_prev

    def __call__(self, x_t: np.ndarray, *args: object, **kwargs: object):  # type: ignore[override]
        return self.forward(x_t, *args, **kwargs)

    def __repr__(self) -> str:
        return f"LSTMCell({self.input_size}, {self.hidden_size})"
