r"""The gated recurrent unit (GRU) with hand-written backpropagation through time.

Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder for statistical
machine translation", in the variant PyTorch implements (the reset gate applied *after* the
hidden matrix product).  Structured exactly like :mod:`minivae.nn.lstm`: one time step
(:func:`gru_step_forward` / :func:`gru_step_backward`), a Python loop over time
(:func:`gru_forward`) and the reversed loop for BPTT (:func:`gru_backward`); the layers
(:class:`GRULayer`, :class:`GRU`, :class:`GRUCell`) validate, call them and accumulate gradients
(their forward/backward, stacking and LIFO cache stack are shared with the vanilla RNN, see
:class:`~minivae.nn.rnn.OneStateLayer`, :class:`~minivae.nn.rnn.OneStateStack`,
:class:`~minivae.nn.rnn.OneStateCell`).

One time step
-------------
With input ``x_t: (N, D)``, previous state ``h_{t-1}: (N, H)`` and parameters ``Wx: (D, 3H)``,
``Wh: (H, 3H)``, ``b: (3H,)``, ``bhn: (H,)`` (blocks along 3H in PyTorch's order r, z, n)::

    ax  = x_t Wx + b                            (N, 3H) input part of the three gates
    ah  = h_{t-1} Wh                            (N, 3H) hidden part
    r   = σ(ax[:, 0H:1H] + ah[:, 0H:1H])        reset gate
    z   = σ(ax[:, 1H:2H] + ah[:, 1H:2H])        update gate
    hn  = ah[:, 2H:3H] + bhn                    the hidden part of the candidate
    n   = tanh(ax[:, 2H:3H] + r ⊙ hn)           candidate state
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

Why it remembers: ``dh_{t-1}`` receives ``z ⊙ dh_t`` directly (no matrix, no squashing), so
where the update gate is near 1 the gradient passes many steps almost unchanged, like the
LSTM's cell state.

Backward of one step (``dh = dL/dh_t``)::

    dn = dh ⊙ (1 - z)          dz = dh ⊙ (h_{t-1} - n)          dh_{t-1} = dh ⊙ z + ...
    dan = dn ⊙ (1 - n²)        dr = dan ⊙ hn                    dhn = dan ⊙ r
    dar = dr ⊙ r(1 - r)        daz = dz ⊙ z(1 - z)
    dax = [dar, daz, dan]      dah = [dar, daz, dhn]
    dx = dax Wx^T    dh_{t-1} += dah Wh^T    dWx = x_t^T dax    dWh = h_{t-1}^T dah
    db = Σ_n dax     dbhn = Σ_n dhn

Mapping to PyTorch
------------------
``torch.nn.GRU(D, H, batch_first=True)`` has, for layer ``l``, ``weight_ih_l{l}: (3H, D)``,
``weight_hh_l{l}: (3H, H)`` and two biases ``bias_ih_l{l}, bias_hh_l{l}: (3H,)``, blocks
(r, z, n), and computes ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz +
W_hz h + b_hz)``, ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``, ``h' = (1 - z) ⊙ n + z ⊙ h``.
So::

    Wx = weight_ih_l{l}.T   (D, 3H)           Wh = weight_hh_l{l}.T   (H, 3H)
    b  = bias_ih_l{l} + [bias_hh_l{l}[:2H], 0]   (3H,)
    bhn = bias_hh_l{l}[2H:]                        (H,)

For r and z only the sum of the two biases matters, so one vector is stored; ``b_hn`` sits
inside ``r ⊙ (...)`` and is *not* redundant with ``b_in``, so it is its own parameter ``bhn``.
``tests/test_rnn_gru_torch.py`` checks outputs and every gradient against ``torch.nn.GRU``
(also stacked) to 1e-10 in float64.

Variable-length sequences (mask / lengths: the state is carried at padded steps, output 0) and
the repeated input (``forward(z, steps=T)``) work as for the LSTM (:mod:`minivae.nn.lstm`).

Classes
-------
* :class:`GRUWeights` — ``Wx, Wh, b, bhn`` of one layer, PyTorch's init
  ``U(-1/sqrt(H), 1/sqrt(H))``.
* :class:`GRULayer` — one layer over a whole sequence (forward + BPTT).
* :class:`GRU` — a stack of ``num_layers`` GRULayers, parameters ``layers.{l}.Wx`` etc.
* :class:`GRUCell` — a single step, LIFO cache stack (like :class:`~minivae.nn.lstm.LSTMCell`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from minivae._validation import check_positive_int, check_rng
from minivae.nn.functional import sigmoid
from minivae.nn.layer import Layer
from minivae.nn.rnn import (
    OneStateCell,
    OneStateLayer,
    OneStateStack,
    check_loop_args,
    check_step_args,
    repeat_input,
)
from minivae.twins import own_cache

# What gru_step_forward hands to gru_step_backward: (x_t, h_prev, Wx, Wh, r, z, n, hn).
StepCache = tuple[np.ndarray, ...]


# ============================================================================ one time step
def gru_step_forward(x_t: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                     b: np.ndarray, bhn: np.ndarray) -> tuple[np.ndarray, StepCache]:
    """One GRU step (PyTorch's equations, module docstring).

    Inputs:
        x_t: (N, D) input at this step;  h_prev: (N, H) previous hidden state
        Wx: (D, 3H), Wh: (H, 3H), b: (3H,) gate parameters, blocks (r, z, n);
        bhn: (H,) the bias of the hidden part of the candidate (inside r ⊙ (...))

    Returns:
        h: (N, H) new hidden state,  cache: what :func:`gru_step_backward` needs.
    """
    check_step_args(x_t, h_prev, Wx, Wh, b, gates=3, bhn=bhn)
    H = h_prev.shape[1]
    ax = x_t @ Wx + b  # (N, 3H): the input's share of all three blocks in one product
    ah = h_prev @ Wh  # (N, 3H): the state's share
    r = sigmoid(ax[:, 0 * H : 1 * H] + ah[:, 0 * H : 1 * H])
    z = sigmoid(ax[:, 1 * H : 2 * H] + ah[:, 1 * H : 2 * H])
    hn = ah[:, 2 * H : 3 * H] + bhn  # the reset gate scales the state's share only
    n = np.tanh(ax[:, 2 * H : 3 * H] + r * hn)
    h = (1.0 - z) * n + z * h_prev
    return h, (x_t, h_prev, Wx, Wh, r, z, n, hn)


def gru_step_backward(dh: np.ndarray, cache: StepCache) -> tuple[np.ndarray, ...]:
    """Backward pass of one GRU step.

    Inputs:
        dh: (N, H) dL/dh_t (from this step's output *and* from the next step)
        cache: from :func:`gru_step_forward`

    Returns:
        dx: (N, D), dh_prev: (N, H), dWx: (D, 3H), dWh: (H, 3H), db: (3H,), dbhn: (H,) — this
        step's contribution only (the caller sums the parameter gradients over time steps).
    """
    x_t, h_prev, Wx, Wh, r, z, n, hn = cache
    # h = (1 - z) * n + z * h_prev
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    # n = tanh(an), an = ax_n + r * hn;  tanh' = 1 - tanh²
    dan = dn * (1.0 - n * n)
    dr = dan * hn
    dhn = dan * r
    # through the sigmoids, reusing their outputs: σ' = σ(1 - σ)
    dar = dr * r * (1.0 - r)
    daz = dz * z * (1.0 - z)
    dax = np.concatenate([dar, daz, dan], axis=1)  # (N, 3H): d(x Wx + b)
    dah = np.concatenate([dar, daz, dhn], axis=1)  # (N, 3H): d(h_prev Wh)
    dx = dax @ Wx.T
    dh_prev = dh * z + dah @ Wh.T  # the direct path through z, and through the gates
    return dx, dh_prev, x_t.T @ dax, h_prev.T @ dah, dax.sum(axis=0), dhn.sum(axis=0)


# ============================================================================ whole sequence
class GRUCache(NamedTuple):
    """What :func:`gru_forward` keeps for :func:`gru_backward`: every step's cache, in order,
    and the mask (None = every step valid)."""

    steps: list[StepCache]
    mask: np.ndarray | None


def gru_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray,
                bhn: np.ndarray, mask: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, GRUCache]:
    """One GRU layer over a whole sequence: :func:`gru_step_forward` for t = 0 .. T-1.

    Inputs (:class:`GRULayer` checks them; here only their types, ``check_loop_args``):
        x: (N, T, D), finite (padded steps are ignored; put 0 there)
        h0: (N, H) initial state;  Wx: (D, 3H), Wh: (H, 3H), b: (3H,), bhn: (H,)
        mask: (N, T) bool, True = valid step, or None (every step valid).  At a padded step
            the state is carried and the output is 0.

    Returns:
        hs: (N, T, H) hidden state at each step (0 at padded steps),
        hT: (N, H) state after each sequence's last valid step,
        cache: :class:`GRUCache` for :func:`gru_backward`.
    """
    check_loop_args(x, h0, Wx, Wh, b, mask, gates=3, bhn=bhn)
    N, T, _ = x.shape
    hs = np.zeros((N, T, h0.shape[1]), dtype=h0.dtype)
    h = h0
    steps = []
    for t in range(T):
        h_new, step = gru_step_forward(x[:, t], h, Wx, Wh, b, bhn)
        steps.append(step)
        if mask is None:
            h = h_new
        else:  # a padded row keeps its state and outputs 0
            valid = mask[:, t, None]
            h = np.where(valid, h_new, h)
            h_new = np.where(valid, h_new, 0.0)
        hs[:, t] = h_new
    return hs, h, GRUCache(steps, mask)


def gru_backward(dhs: np.ndarray | None, dhT: np.ndarray | None, cache: GRUCache
                 ) -> tuple[np.ndarray, ...]:
    """Backpropagation through time: :func:`gru_step_backward` for t = T-1 .. 0.

    Inputs:
        dhs: (N, T, H) dL/dhs, or None (zeros); entries at padded steps are ignored
        dhT: (N, H) dL/dhT, or None (zeros);  cache: from :func:`gru_forward`

    Returns:
        dx: (N, T, D) (exactly 0 at padded steps), dh0: (N, H),
        dWx: (D, 3H), dWh: (H, 3H), db: (3H,), dbhn: (H,) summed over the steps.
    """
    steps, mask = own_cache(cache, GRUCache, "gru_forward")
    x_0, h_0, Wx, Wh = steps[0][:4]
    N, D, T, H = x_0.shape[0], x_0.shape[1], len(steps), h_0.shape[1]
    dh = np.zeros_like(h_0) if dhT is None else dhT  # dL/dh_t from the steps after t
    dx = np.zeros((N, T, D), dtype=h_0.dtype)
    grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(3 * H, dtype=Wx.dtype),
             np.zeros(H, dtype=Wx.dtype)]  # dWx, dWh, db, dbhn
    for t in reversed(range(T)):
        dh_t = dh if dhs is None else dh + dhs[:, t]  # step t's output, and step t+1
        if mask is None:
            dx[:, t], dh, *step_grads = gru_step_backward(dh_t, steps[t])
        else:  # a padded step passed its state on unchanged: its gradient goes straight through
            valid = mask[:, t, None]
            dx[:, t], dh_prev, *step_grads = gru_step_backward(
                np.where(valid, dh_t, 0.0), steps[t])
            dh = np.where(valid, dh_prev, dh)
        for total, g in zip(grads, step_grads):
            total += g
    return (dx, dh, *grads)


def gru_forward_repeated(z: np.ndarray, T: int, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                         b: np.ndarray, bhn: np.ndarray, mask: np.ndarray | None = None
                         ) -> tuple[np.ndarray, np.ndarray, GRUCache]:
    """:func:`gru_forward` with the same input ``z: (N, D)`` at each of the ``T`` steps."""
    return gru_forward(repeat_input(z, T), h0, Wx, Wh, b, bhn, mask)


def gru_backward_repeated(dhs: np.ndarray | None, dhT: np.ndarray | None, cache: GRUCache
                          ) -> tuple[np.ndarray, ...]:
    """Backward of :func:`gru_forward_repeated`: as :func:`gru_backward`, but ``dz: (N, D)`` is
    the sum over the steps of dL/dx_t (z was fed at every step)."""
    dx, *rest = gru_backward(dhs, dhT, cache)
    return (dx.sum(axis=1), *rest)


# ============================================================================ parameters
class GRUWeights(Layer):
    """The parameters of one GRU layer, ``Wx (D, 3H)``, ``Wh (H, 3H)``, ``b (3H,)``,
    ``bhn (H,)``, for :class:`GRULayer` (a whole sequence) and :class:`GRUCell` (one step).

    PyTorch's init: every entry ~ U(-1/sqrt(H), 1/sqrt(H)) (for r and z PyTorch draws two
    biases whose sum acts; we draw one).
    """

    GATES = 3  # blocks of H columns in Wx, Wh, b: (r, z, n)

    def __init__(self, input_size: int, hidden_size: int, *,
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.input_size = D = check_positive_int(input_size, "input_size")
        self.hidden_size = H = check_positive_int(hidden_size, "hidden_size")
        rng = check_rng(rng)
        k = 1.0 / np.sqrt(H)
        self.add_param("Wx", rng.uniform(-k, k, size=(D, 3 * H)))
        self.add_param("Wh", rng.uniform(-k, k, size=(H, 3 * H)))
        self.add_param("b", rng.uniform(-k, k, size=3 * H))
        self.add_param("bhn", rng.uniform(-k, k, size=H))

    def add_grads(self, *grads: np.ndarray) -> None:
        """Accumulate parameter gradients (dWx, dWh, db, dbhn), in the order of ``params``."""
        for name, g in zip(self.params, grads, strict=True):
            self.grads[name] += g

    def _loop(self, x: np.ndarray, h0: np.ndarray, mask: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray, GRUCache]:
        return gru_forward(x, h0, *self.params.values(), mask)

    def _loop_backward(self, dhs: np.ndarray | None, dhT: np.ndarray, cache: Any
                       ) -> tuple[np.ndarray, ...]:
        return gru_backward(dhs, dhT, cache)

    def _step(self, x_t: np.ndarray, h_prev: np.ndarray) -> tuple[np.ndarray, StepCache]:
        return gru_step_forward(x_t, h_prev, *self.params.values())

    def _step_backward(self, dh: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        return gru_step_backward(dh, cache)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"


# ============================================================================ layers
class GRULayer(OneStateLayer, GRUWeights):
    """One GRU layer over whole sequences (batch first), trained by backprop through time.

    Parameters ``Wx (D, 3H)``, ``Wh (H, 3H)``, ``b (3H,)``, ``bhn (H,)``; equations, PyTorch
    mapping and padding in the module docstring.

    forward(x, h0=None, *, mask=None, lengths=None, steps=None) -> (hs, hT)
    backward(dhs, dhT=None) -> (dx, dh0)      (shapes: :class:`~minivae.nn.rnn.OneStateLayer`)
    """


class GRU(OneStateStack):
    """Multi-layer GRU over whole sequences (batch first), trained by backprop through time.

    ``GRU(input_size, hidden_size, *, num_layers=1, rng=0, dtype=float64)``; parameters
    ``layers.{l}.Wx (D_l, 3H)``, ``layers.{l}.Wh (H, 3H)``, ``layers.{l}.b (3H,)``,
    ``layers.{l}.bhn (H,)``.  States h0, hT: (N, H) for one layer, (num_layers, N, H) above.

    forward(x, h0=None, *, mask=None, lengths=None, steps=None) -> (hs, hT)
        x: (N, T, D) (or (N, D) with ``steps=T``); hs: (N, T, H) outputs of the last layer
    backward(dhs, dhT=None) -> (dx, dh0)

    Example::

        gru = GRU(3, 16, num_layers=2, rng=0)
        hs, hT = gru(x, lengths=lengths)          # x: (N, T, 3); hT: (2, N, 16)
        dx, dh0 = gru.backward(dhs, dhT)
    """

    layer_class = GRULayer


# ============================================================================ single step
class GRUCell(OneStateCell, GRUWeights):
    """One GRU step with parameters ``Wx (D, 3H)``, ``Wh (H, 3H)``, ``b (3H,)``, ``bhn (H,)``
    (same init and equations as :class:`GRU`; it calls :func:`gru_step_forward` /
    :func:`gru_step_backward`).

    forward(x_t, h_prev=None) -> h;  backward(dh) -> (dx, dh_prev), LIFO like
    :class:`~minivae.nn.lstm.LSTMCell` (see :class:`~minivae.nn.rnn.OneStateCell`).
    """

    def __init__(self, input_size: int, hidden_size: int, *,
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)
        self.cache: list[StepCache] = []  # the LIFO stack of step caches
