r"""The vanilla (Elman) recurrent network with hand-written backpropagation through time.

The simplest recurrent layer, written as the lesson writes it on the board and structured exactly
like :mod:`minivae.nn.lstm`: one time step (:func:`rnn_step_forward` /
:func:`rnn_step_backward`), a Python loop over time calling it (:func:`rnn_forward`) and the
reversed loop for backpropagation through time (:func:`rnn_backward`).  The layers below
(:class:`RNNLayer`, :class:`RNN`, :class:`RNNCell`) only validate their inputs, call these
functions and accumulate gradients.  This module also holds what the one-state recurrent layers
(this RNN and the GRU of :mod:`minivae.nn.gru`) share: the stack of layers and the single-step
cell with its LIFO cache stack.

One time step
-------------
With input ``x_t: (N, D)``, previous state ``h_{t-1}: (N, H)`` and parameters ``Wx: (D, H)``,
``Wh: (H, H)``, ``b: (H,)``::

    a_t = x_t Wx + h_{t-1} Wh + b               (N, H) pre-activation
    h_t = tanh(a_t)                             (or relu(a_t) with nonlinearity="relu")

Backpropagation through one step: ``da = dh ⊙ (1 - h_t²)`` (relu: ``dh ⊙ [a_t > 0]``), then
``dx = da Wx^T``, ``dh_{t-1} = da Wh^T``, ``dWx = x_t^T da``, ``dWh = h_{t-1}^T da``,
``db = Σ_n da``.

Why it forgets: the gradient that reaches ``h_{t-k}`` from a loss at step t is
``dL/dh_t`` multiplied by k Jacobians ``diag(1 - h²) Wh^T``; unless ``Wh``'s singular values sit
near 1 (and tanh stays unsaturated) its norm shrinks (or grows) geometrically in k: the
vanishing gradient (Bengio, Simard & Frasconi 1994; Hochreiter 1991) that the LSTM's additive
cell state and the GRU's update gate were designed against.  Lesson 05 draws it.

Mapping to PyTorch
------------------
``torch.nn.RNN(D, H, nonlinearity="tanh"|"relu", batch_first=True)`` computes
``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, so for layer ``l``::

    Wx = weight_ih_l{l}.T  (D, H)      Wh = weight_hh_l{l}.T  (H, H)
    b = bias_ih_l{l} + bias_hh_l{l}  (H,)

(PyTorch keeps two bias vectors; only their sum matters, so one is stored here.)
``tests/test_rnn_gru_torch.py`` checks outputs and every gradient against ``torch.nn.RNN``
(also stacked) to 1e-10 in float64.

Variable-length sequences, repeated input
-----------------------------------------
As the LSTM (see :mod:`minivae.nn.lstm`): ``mask: (N, T)`` bool (True = valid) or
``lengths: (N,)``; at a padded step the state is carried (``h_t = h_{t-1}``), the output is 0
and no gradient flows into that step's input or the parameters from it.  ``forward(z,
steps=T)`` feeds ``z: (N, D)`` at every step (:func:`rnn_forward_repeated`); its gradient is
the sum of the T step gradients.

Classes
-------
* :class:`RNNWeights` — ``Wx, Wh, b`` of one layer, PyTorch's init ``U(-1/sqrt(H), 1/sqrt(H))``.
* :class:`RNNLayer` — one layer over a whole sequence (forward + BPTT).
* :class:`RNN` — a stack of ``num_layers`` RNNLayers, parameters ``layers.{l}.Wx`` etc.;
  states (N, H) for one layer, (num_layers, N, H) for more (like :class:`~minivae.nn.lstm.LSTM`).
* :class:`RNNCell` — a single step, LIFO cache stack (like :class:`~minivae.nn.lstm.LSTMCell`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from minivae._validation import check_array, check_float_arrays, check_positive_int, check_rng
from minivae.nn.layer import Layer
from minivae.nn.lstm import (
    _check_features,
    _check_loop_mask,
    _check_ndim,
    _check_sequence_input,
    _check_state,
    _is_clean,
)
from minivae.nn.sequence import StackedLayers
from minivae.twins import own_cache

# The public names.  OneStateLayer, OneStateStack and OneStateCell are the parts the RNN and the
# GRU share (mixins and a base that need a subclass's weights): use RNN*/GRU* classes instead;
# check_*_args / check_gate_shapes are the step functions' internal shape checks.
__all__ = [
    "NONLINEARITIES", "RNN", "RNNCache", "RNNCell", "RNNLayer", "RNNWeights",
    "check_nonlinearity", "repeat_input", "rnn_backward", "rnn_backward_repeated", "rnn_forward",
    "rnn_forward_repeated", "rnn_step_backward", "rnn_step_forward",
]

NONLINEARITIES = ("tanh", "relu")

# What rnn_step_forward hands to rnn_step_backward: (x_t, h_prev, Wx, Wh, h, nonlinearity).
StepCache = tuple[Any, ...]


# ============================================================================ argument types
def check_nonlinearity(nonlinearity: object) -> str:
    """``"tanh"`` or ``"relu"`` (as ``torch.nn.RNN``), else an error naming the argument."""
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    return nonlinearity


def check_gate_shapes(N: int, D: int, H: int, gates: int, **arrays: np.ndarray) -> None:
    """Each array's shape from its role, for a layer with ``gates`` blocks of H columns (1 for
    the RNN, 3 for the GRU): states (N, H), Wx (D, gates*H), Wh (H, gates*H), b (gates*H,),
    bhn (H,)."""
    G = "" if gates == 1 else str(gates)
    want = {"Wx": (f"(D, {G}H)", (D, gates * H)), "Wh": (f"(H, {G}H)", (H, gates * H)),
            "b": (f"({G}H,)", (gates * H,)), "bhn": ("(H,)", (H,))}
    for name, a in arrays.items():
        desc, shape = want.get(name, ("(N, H)", (N, H)))
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {desc}={shape}, got {a.shape}")


def check_step_args(x_t: object, h_prev: object, Wx: object, Wh: object, b: object,
                    gates: int = 1, **extra: object) -> None:
    """Every array of one step is a float32/float64 ndarray of one dtype and the shape the step
    needs (x_t: (N, D), h_prev: (N, H), the weights as :func:`check_gate_shapes`), else an
    error naming it.  Per call: isinstance and shape comparisons, nothing per element."""
    check_float_arrays(x_t=x_t, h_prev=h_prev, Wx=Wx, Wh=Wh, b=b, **extra)
    _check_ndim(x_t, "x_t", 2, "(N, D)")  # type: ignore[arg-type]
    _check_ndim(h_prev, "h_prev", 2, "(N, H)")  # type: ignore[arg-type]
    (N, D), H = x_t.shape, h_prev.shape[1]  # type: ignore[attr-defined]
    check_gate_shapes(N, D, H, gates, h_prev=h_prev, Wx=Wx, Wh=Wh, b=b, **extra)


def check_loop_args(x: object, h0: object, Wx: object, Wh: object, b: object, mask: object,
                    gates: int = 1, **extra: object) -> None:
    """As :func:`check_step_args` for a whole sequence: x: (N, T, D), h0: (N, H), mask None or
    a bool array (N, T)."""
    check_float_arrays(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b, **extra)
    _check_ndim(x, "x", 3, "(N, T, D)")  # type: ignore[arg-type]
    _check_ndim(h0, "h0", 2, "(N, H)")  # type: ignore[arg-type]
    (N, T, D), H = x.shape, h0.shape[1]  # type: ignore[attr-defined]
    check_gate_shapes(N, D, H, gates, h0=h0, Wx=Wx, Wh=Wh, b=b, **extra)
    _check_loop_mask(mask, N, T)


def repeat_input(z: object, T: object) -> np.ndarray:
    """``z: (N, D)`` seen as ``x: (N, T, D)`` with ``x[:, t] = z`` for every t (a read-only
    view, nothing copied): what a repeat-vector decoder feeds."""
    check_float_arrays(z=z)
    _check_ndim(z, "z", 2, "(N, D) (one input for every step)")  # type: ignore[arg-type]
    T = check_positive_int(T, "T")
    N, D = z.shape  # type: ignore[attr-defined]
    return np.broadcast_to(z[:, None, :], (N, T, D))  # type: ignore[index]


# ============================================================================ one time step
def rnn_step_forward(x_t: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                     b: np.ndarray, nonlinearity: str = "tanh"
                     ) -> tuple[np.ndarray, StepCache]:
    """One vanilla RNN step.

    Inputs:
        x_t: (N, D) input at this step;  h_prev: (N, H) previous hidden state
        Wx: (D, H), Wh: (H, H), b: (H,);  nonlinearity: "tanh" (default) or "relu"

    Returns:
        h: (N, H) new hidden state,  cache: what :func:`rnn_step_backward` needs.
    """
    check_step_args(x_t, h_prev, Wx, Wh, b)
    a = x_t @ Wx + h_prev @ Wh + b
    h = np.tanh(a) if check_nonlinearity(nonlinearity) == "tanh" else np.maximum(a, 0.0)
    return h, (x_t, h_prev, Wx, Wh, h, nonlinearity)


def rnn_step_backward(dh: np.ndarray, cache: StepCache
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one RNN step.

    Inputs:
        dh: (N, H) dL/dh_t (from this step's output *and* from the next step)
        cache: from :func:`rnn_step_forward`

    Returns:
        dx: (N, D), dh_prev: (N, H), dWx: (D, H), dWh: (H, H), db: (H,) — this step's
        contribution only (the caller sums the parameter gradients over time steps).
    """
    x_t, h_prev, Wx, Wh, h, nonlinearity = cache
    # Through the nonlinearity, reusing its output: tanh' = 1 - tanh², relu' = [h > 0].
    da = dh * (1.0 - h * h) if nonlinearity == "tanh" else dh * (h > 0.0)
    # a = x_t Wx + h_prev Wh + b
    return da @ Wx.T, da @ Wh.T, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


# ============================================================================ whole sequence
class RNNCache(NamedTuple):
    """What :func:`rnn_forward` keeps for :func:`rnn_backward`: every step's cache, in order,
    and the mask (None = every step valid)."""

    steps: list[StepCache]
    mask: np.ndarray | None


def rnn_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray,
                mask: np.ndarray | None = None, nonlinearity: str = "tanh"
                ) -> tuple[np.ndarray, np.ndarray, RNNCache]:
    """One RNN layer over a whole sequence: :func:`rnn_step_forward` for t = 0 .. T-1.

    Inputs (:class:`RNNLayer` checks them; here only their types, :func:`check_loop_args`):
        x: (N, T, D), finite (padded steps are ignored; put 0 there)
        h0: (N, H) initial state;  Wx: (D, H), Wh: (H, H), b: (H,)
        mask: (N, T) bool, True = valid step, or None (every step valid).  At a padded step
            the state is carried and the output is 0.

    Returns:
        hs: (N, T, H) hidden state at each step (0 at padded steps),
        hT: (N, H) state after each sequence's last valid step,
        cache: :class:`RNNCache` for :func:`rnn_backward`.
    """
    check_loop_args(x, h0, Wx, Wh, b, mask)
    N, T, _ = x.shape
    hs = np.zeros((N, T, h0.shape[1]), dtype=h0.dtype)
    h = h0
    steps = []
    for t in range(T):
        h_new, step = rnn_step_forward(x[:, t], h, Wx, Wh, b, nonlinearity)
        steps.append(step)
        if mask is None:
            h = h_new
        else:  # a padded row keeps its state and outputs 0
            valid = mask[:, t, None]
            h = np.where(valid, h_new, h)
            h_new = np.where(valid, h_new, 0.0)
        hs[:, t] = h_new
    return hs, h, RNNCache(steps, mask)


def rnn_backward(dhs: np.ndarray | None, dhT: np.ndarray | None, cache: RNNCache
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time: :func:`rnn_step_backward` for t = T-1 .. 0.

    Inputs:
        dhs: (N, T, H) dL/dhs, or None (zeros); entries at padded steps are ignored
        dhT: (N, H) dL/dhT, or None (zeros);  cache: from :func:`rnn_forward`

    Returns:
        dx: (N, T, D) (exactly 0 at padded steps), dh0: (N, H),
        dWx: (D, H), dWh: (H, H), db: (H,) summed over the steps.
    """
    steps, mask = own_cache(cache, RNNCache, "rnn_forward")
    x_0, h_0, Wx, Wh = steps[0][:4]
    N, D, T = x_0.shape[0], x_0.shape[1], len(steps)
    dh = np.zeros_like(h_0) if dhT is None else dhT  # dL/dh_t from the steps after t
    dx = np.zeros((N, T, D), dtype=h_0.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wx.shape[1], dtype=Wx.dtype)
    for t in reversed(range(T)):
        dh_t = dh if dhs is None else dh + dhs[:, t]  # step t's output, and step t+1
        if mask is None:
            dx[:, t], dh, dWx_t, dWh_t, db_t = rnn_step_backward(dh_t, steps[t])
        else:  # a padded step passed its state on unchanged: its gradient goes straight through
            valid = mask[:, t, None]
            dx[:, t], dh_prev, dWx_t, dWh_t, db_t = rnn_step_backward(
                np.where(valid, dh_t, 0.0), steps[t])
            dh = np.where(valid, dh_prev, dh)
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh, dWx, dWh, db


def rnn_forward_repeated(z: np.ndarray, T: int, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                         b: np.ndarray, mask: np.ndarray | None = None,
                         nonlinearity: str = "tanh") -> tuple[np.ndarray, np.ndarray, RNNCache]:
    """:func:`rnn_forward` with the same input ``z: (N, D)`` at each of the ``T`` steps."""
    return rnn_forward(repeat_input(z, T), h0, Wx, Wh, b, mask, nonlinearity)


def rnn_backward_repeated(dhs: np.ndarray | None, dhT: np.ndarray | None, cache: RNNCache
                          ) -> tuple[np.ndarray, ...]:
    """Backward of :func:`rnn_forward_repeated`: as :func:`rnn_backward`, but ``dz: (N, D)`` is
    the sum over the steps of dL/dx_t (z was fed at every step)."""
    dx, *rest = rnn_backward(dhs, dhT, cache)
    return (dx.sum(axis=1), *rest)


# ============================================================================ parameters
class RNNWeights(Layer):
    """The parameters of one RNN layer, ``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)``, for
    :class:`RNNLayer` (a whole sequence) and :class:`RNNCell` (one step).

    PyTorch's init: every entry ~ U(-1/sqrt(H), 1/sqrt(H)).  (PyTorch draws two bias vectors
    and we draw one, so our b is U(-k, k) where PyTorch's summed bias would be triangular.)
    """

    GATES = 1  # blocks of H columns in Wx, Wh, b

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.input_size = D = check_positive_int(input_size, "input_size")
        self.hidden_size = H = check_positive_int(hidden_size, "hidden_size")
        self.nonlinearity = check_nonlinearity(nonlinearity)
        rng = check_rng(rng)
        k = 1.0 / np.sqrt(H)
        self.add_param("Wx", rng.uniform(-k, k, size=(D, H)))
        self.add_param("Wh", rng.uniform(-k, k, size=(H, H)))
        self.add_param("b", rng.uniform(-k, k, size=H))

    def add_grads(self, *grads: np.ndarray) -> None:
        """Accumulate parameter gradients, in the order of ``params`` (a backward's, or one
        step's of a loop over time)."""
        for name, g in zip(self.params, grads, strict=True):
            self.grads[name] += g

    def _loop(self, x: np.ndarray, h0: np.ndarray, mask: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray, RNNCache]:
        return rnn_forward(x, h0, *self.params.values(), mask, self.nonlinearity)

    def _loop_backward(self, dhs: np.ndarray | None, dhT: np.ndarray, cache: Any
                       ) -> tuple[np.ndarray, ...]:
        return rnn_backward(dhs, dhT, cache)

    def _step(self, x_t: np.ndarray, h_prev: np.ndarray) -> tuple[np.ndarray, StepCache]:
        return rnn_step_forward(x_t, h_prev, *self.params.values(), self.nonlinearity)

    def _step_backward(self, dh: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        return rnn_step_backward(dh, cache)

    def __repr__(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra})"


# ============================================================================ layers
class OneStateLayer:
    """forward/backward of one recurrent layer whose state is h alone (RNN, GRU), mixed into
    :class:`RNNLayer` and :class:`~minivae.nn.gru.GRULayer`: validate, run the weights' loop
    (``_loop`` / ``_loop_backward``), accumulate gradients.

    forward(x, h0=None, *, mask=None, lengths=None, steps=None) -> (hs, hT)
        x: (N, T, D), or x: (N, D) with ``steps=T`` (the same input at every step);
        h0: (N, H) (default zeros);  hs: (N, T, H) (0 at padded steps);  hT: (N, H)
    backward(dhs, dhT=None) -> (dx, dh0)
        dhs: (N, T, H) or None (zeros);  dx: (N, T, D) (exactly 0 at padded steps), or (N, D)
        summed over the steps after ``steps=T``.  Parameter gradients are *added* to ``grads``.
    """

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None, *,
                mask: np.ndarray | None = None, lengths: np.ndarray | None = None,
                steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        x, mask = _check_sequence_input(x, self.input_size, self.dtype, mask, lengths, steps)
        h0 = _check_state(h0, "h0", (x.shape[0], self.hidden_size), self.dtype)
        return self._forward(x, h0, mask, steps)

    def _forward(self, x: np.ndarray, h0: np.ndarray, mask: np.ndarray | None,
                 steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The forward on validated inputs (padded entries of x already 0)."""
        seq = x if steps is None else repeat_input(x, steps)
        hs, hT, cache = self._loop(seq, h0, mask)
        self.save_for_backward((cache, steps is not None, hs.shape))
        return hs, hT

    def backward(self, dhs: np.ndarray | None, dhT: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        cache, repeated, (N, T, H) = self._need_cache()
        dhs = None if dhs is None else check_array(dhs, "dhs", shape=(N, T, H), dtype=self.dtype)
        dhT = _check_state(dhT, "dhT", (N, H), self.dtype)
        dx, dh0, *grads = self._loop_backward(dhs, dhT, cache)
        self.add_grads(*grads)
        return (dx.sum(axis=1) if repeated else dx), dh0


class RNNLayer(OneStateLayer, RNNWeights):
    """One RNN layer over whole sequences (batch first), trained by backprop through time.

    Parameters ``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)``; equations, PyTorch mapping and the
    padding convention in the module docstring.  forward/backward: :class:`OneStateLayer`.
    """


class OneStateStack(StackedLayers):
    """A stack of ``num_layers`` one-state recurrent layers (layer ``l+1`` reads the ``hs`` of
    layer ``l``): the base of :class:`RNN` and :class:`~minivae.nn.gru.GRU`, as
    :class:`~minivae.nn.lstm.LSTM` stacks LSTMLayers.

    Parameters are named ``layers.{l}.<name>`` for every ``num_layers``, including 1.
    States: h0, hT, dh0, dhT are (N, H) when num_layers == 1, (num_layers, N, H) above.

    forward(x, h0=None, *, mask=None, lengths=None, steps=None) -> (hs, hT)
        x: (N, T, D) (or (N, D) with ``steps=T``); hs: (N, T, H) outputs of the last layer
    backward(dhs, dhT=None) -> (dx, dh0)
    """

    layer_class: Callable[..., OneStateLayer]

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 rng: np.random.Generator | int = 0, dtype: object = np.float64,
                 **layer_kwargs: Any) -> None:
        super().__init__(dtype)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        rng = check_rng(rng)
        self.layers = [
            self.layer_class(self.input_size if l == 0 else self.hidden_size, self.hidden_size,
                             rng=rng, dtype=dtype, **layer_kwargs)
            for l in range(self.num_layers)
        ]

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None, *,
                mask: np.ndarray | None = None, lengths: np.ndarray | None = None,
                steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        x, mask = _check_sequence_input(x, self.input_size, self.dtype, mask, lengths, steps)
        h0s = self._per_layer(_check_state(h0, "h0", self._state_shape(x.shape[0]), self.dtype))
        hTs = []
        hs = x
        for l, (layer, h) in enumerate(zip(self.layers, h0s)):
            # Only the first layer can have a repeated input; the ones above read its hs.
            hs, hT = layer._forward(hs, h, mask, steps if l == 0 else None)
            hTs.append(hT)
        self.save_for_backward(hs.shape[:2])
        return hs, self._stack(hTs)

    def backward(self, dhs: np.ndarray | None, dhT: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        N, _ = self._need_cache()
        dhTs = self._per_layer(_check_state(dhT, "dhT", self._state_shape(N), self.dtype))
        dh0s: list[np.ndarray] = [None] * self.num_layers  # type: ignore[list-item]
        d = dhs
        for l in reversed(range(self.num_layers)):
            # The input gradient of layer l is the output gradient (dhs) of layer l-1.
            d, dh0s[l] = self.layers[l].backward(d, dhTs[l])
        return d, self._stack(dh0s)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, "
                f"num_layers={self.num_layers})")


class RNN(OneStateStack):
    """Multi-layer vanilla RNN over whole sequences (batch first), trained by BPTT.

    ``RNN(input_size, hidden_size, *, num_layers=1, nonlinearity="tanh", rng=0, dtype=float64)``;
    parameters ``layers.{l}.Wx (D_l, H)``, ``layers.{l}.Wh (H, H)``, ``layers.{l}.b (H,)``.
    forward/backward and state shapes: :class:`OneStateStack`; equations: module docstring.

    Example::

        rnn = RNN(3, 16, num_layers=2, rng=0)
        hs, hT = rnn(x, lengths=lengths)          # x: (N, T, 3); hT: (2, N, 16)
        dx, dh0 = rnn.backward(dhs, dhT)
    """

    layer_class = RNNLayer

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 nonlinearity: str = "tanh", rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers=num_layers, rng=rng, dtype=dtype,
                         nonlinearity=nonlinearity)

    def __repr__(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().__repr__()[:-1] + extra + ")"


# ============================================================================ single step
class OneStateCell:
    """One step of a one-state recurrent layer with a LIFO stack of step caches, mixed into
    :class:`RNNCell` and :class:`~minivae.nn.gru.GRUCell` (the same contract as
    :class:`~minivae.nn.lstm.LSTMCell`, without the cell state).

    forward(x_t, h_prev=None) -> h
        x_t: (N, D); h_prev: (N, H) (default zeros); h: (N, H)
    backward(dh) -> (dx, dh_prev)
        dh: total dL/dh of that step (its own output's gradient *plus* dh_prev returned by the
        backward of the following step).

    Each forward *pushes* its cache and each backward *pops* one, so backward calls come in
    reverse order of the forward calls (LIFO)::

        h = h0
        for t in range(T):                     # forward: push T caches
            h = cell(x[:, t], h)
        dh_next = dhT
        for t in reversed(range(T)):           # backward: pop them in reverse
            dx_t, dh_next = cell.backward(dhs[:, t] + dh_next)

    Parameter gradients are *added* to ``grads`` at every backward.  :meth:`reset` empties the
    stack; in eval mode the forward pushes nothing.
    """

    def reset(self) -> None:
        """Drop every stored step cache."""
        self.cache = []

    def clear_cache(self) -> None:
        self.reset()

    @property
    def depth(self) -> int:
        """Number of forward steps still waiting for their backward."""
        return len(self.cache)

    def forward(self, x_t: np.ndarray, h_prev: np.ndarray | None = None) -> np.ndarray:
        if not (_is_clean(x_t, self.dtype) and x_t.ndim == 2):
            x_t = check_array(x_t, "x_t", ndim=2, dtype=self.dtype)
        _check_features(x_t, "x_t", self.input_size)
        h_prev = _check_state(h_prev, "h_prev", (x_t.shape[0], self.hidden_size), self.dtype)
        h, step_cache = self._step(x_t, h_prev)
        if self.training:  # (in eval mode nothing is kept for a backward)
            self.cache.append(step_cache)
        return h

    def backward(self, dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.cache:
            raise RuntimeError(
                f"{type(self).__name__}.backward called with an empty cache stack: every "
                "backward must match an earlier forward (LIFO); call forward first"
            )
        shape = self.cache[-1][1].shape  # h_prev of the most recent step: (N, H)
        if not (_is_clean(dh, self.dtype) and dh.shape == shape):
            dh = check_array(dh, "dh", shape=shape, dtype=self.dtype)
        dx, dh_prev, *grads = self._step_backward(dh, self.cache.pop())
        self.add_grads(*grads)
        return dx, dh_prev


class RNNCell(OneStateCell, RNNWeights):
    """One vanilla RNN step with parameters ``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)`` (same init
    and equations as :class:`RNN`; it calls :func:`rnn_step_forward` /
    :func:`rnn_step_backward`).  forward/backward and the LIFO stack: :class:`OneStateCell`."""

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(input_size, hidden_size, nonlinearity=nonlinearity, rng=rng,
                         dtype=dtype)
        self.cache: list[StepCache] = []  # the LIFO stack of step caches
