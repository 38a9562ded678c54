r"""Sequence decoders: from a latent code z to T steps of output.

Two decoders, as in the code people actually write; both are layers (``forward``/``backward``,
``params``/``grads``) built from :mod:`minivae.nn.lstm` and :class:`~minivae.nn.dense.Dense`.

Repeat-vector decoder (e.g. Srivastava et al. 2015, the Keras recipe): :class:`RepeatDecoder`
-----------------------------------------------------------------------------------------------
z is the input of an LSTM at *every* one of the T steps, starting from a zero state, and a
time-distributed Dense maps each h_t to the output::

    h_t, c_t = LSTM step(z, h_{t-1}, c_{t-1}),   h_0 = c_0 = 0        (stacked: num_layers)
    y_t      = h_t W + b                                               y: (N, T, O)

Autoregressive (seq2seq) decoder: :class:`AutoregressiveDecoder`
----------------------------------------------------------------
The state starts from z and step t reads the previous value: a zero start token at t = 0, then
x_{t-1} — the true value where it is *teacher forced*, else the decoder's own prediction (the
predicted mean, the first D outputs of y_{t-1})::

    h_0 = tanh(z W_h + b_h),  c_0 = z W_c + b_c        one (H,) block per layer
    u_0 = 0;   u_t = x_{t-1} where feed_true[:, t], else y_{t-1}[:, :D]        (t >= 1)
    h_t, c_t = LSTM step(u_t, h_{t-1}, c_{t-1})        (stacked LSTM cells, layer l+1 reads h of l)
    y_t = h_t W + b                                     (the top layer's h_t)

``feed_true: (N, T, D)`` bool says, entry by entry, "feed the true value here" (its column
t = 0 is ignored: step 0 reads the start token); ``None`` means free running (every input after
the start token is the prediction).  Where a prediction is fed back **the gradient flows through
it** (full backpropagation through the feedback loop: the loss is differentiated exactly as it
was computed).  The loop is :func:`autoregressive_forward`, its backward
:func:`autoregressive_backward`; :mod:`minivae.twins` may run a compiled twin of them (equal to
this code within 1e-12 in float64).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import check_array, check_float_arrays, check_positive_int, check_rng
from minivae.nn.dense import Dense
from minivae.nn.inference import chunk_shape, chunks, whole_sequence_rows
from minivae.nn.layer import Layer
from minivae.nn.lstm import LSTM, LSTMCell, StepCache, lstm_step_backward, lstm_step_forward
from minivae.twins import own_cache, reference

CellParams = tuple[np.ndarray, np.ndarray, np.ndarray]  # (Wx, Wh, b) of one LSTM cell


# ============================================================================ repeat vector
class RepeatDecoder(Layer):
    """z -> an LSTM fed z at each of T steps -> a Dense at every step (module docstring).

    Layers (attribute: parameter prefix): ``lstm``: :class:`~minivae.nn.LSTM` (L -> H,
    ``num_layers``), ``out_proj``: Dense (H -> O).

    forward(z, T) -> y
        z: (N, L);  y: (N, T, O)
    backward(dy) -> dz
        dy: (N, T, O);  dz: (N, L), summed over the T steps z was fed to.
        Parameter gradients are *added* to ``grads``.
    """

    def __init__(self, latent_dim: int, hidden_size: int, output_dim: int, *,
                 num_layers: int = 1, rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        super().__init__(dtype)
        rng = check_rng(rng)
        for value, name in ((latent_dim, "latent_dim"), (hidden_size, "hidden_size"),
                            (output_dim, "output_dim")):
            check_positive_int(value, name)
        self.lstm = LSTM(latent_dim, hidden_size, num_layers=num_layers, rng=rng, dtype=dtype)
        self.out_proj = Dense(hidden_size, output_dim, rng=rng, dtype=dtype)

    def forward(self, z: np.ndarray, T: int) -> np.ndarray:  # type: ignore[override]
        T = check_positive_int(T, "T")
        if not self.training:
            return self._forward_in_chunks(z, T)
        hs, _ = self.lstm.forward(z, steps=T)  # (N, T, H), one pass: backward reads its cache
        return self.out_proj.forward(hs)

    def _forward_in_chunks(self, z: np.ndarray, T: int) -> np.ndarray:
        """Inference (eval mode): chunks of rows, and of steps that start from the state the
        previous chunk ended in, so step t computes what it computes in one pass
        (:mod:`minivae.nn.inference`); only y (N, T, O) is ever whole."""
        z = check_array(z, "z", ndim=2, dtype=self.dtype)
        N = z.shape[0]
        rows, steps = chunk_shape(N, T, self.lstm.hidden_size)
        y = np.empty((N, T, self.out_proj.out_features), dtype=self.dtype)
        for r in chunks(N, rows):
            h = c = None  # zeros: the decoder starts from a zero state
            for t in chunks(T, steps):
                hs, (h, c) = self.lstm.forward(z[r], h, c, steps=t.stop - t.start)
                y[r, t] = self.out_proj.forward(hs)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dhs = self.out_proj.backward(dy)
        dz, _, _ = self.lstm.backward(dhs)  # (N, L): the sum over the steps
        return dz

    def __repr__(self) -> str:
        lstm = self.lstm
        return (f"RepeatDecoder({lstm.input_size}, {lstm.hidden_size}, "
                f"{self.out_proj.out_features}, num_layers={lstm.num_layers})")


# ============================================================================ autoregressive
class DecoderCache(NamedTuple):
    """What :func:`autoregressive_forward` keeps for :func:`autoregressive_backward`."""

    steps: list[list[StepCache]]  # steps[t][l]: the step cache of layer l at step t
    tops: list[np.ndarray]  # tops[t]: (N, H) the top layer's h_t, the output Dense's input
    W: np.ndarray  # (H, O) the output weights
    feed_true: np.ndarray | None  # (N, T, D) bool, or None (free running)


def check_decoder_args(h0s: object, c0s: object, cells: object, W: object, b: object,
                       x: object, feed_true: object) -> None:
    """The types :func:`autoregressive_forward` relies on (shared with its compiled twin, so
    both refuse the same inputs): lists of states and cells, float arrays of one dtype,
    ``feed_true`` None or a bool array."""
    for name, seq in (("h0s", h0s), ("c0s", c0s), ("cells", cells)):
        if not isinstance(seq, (list, tuple)) or not seq:
            raise TypeError(f"{name} must be a non-empty list (one entry per layer), got "
                            f"{type(seq).__name__}")
    if not all(isinstance(c, (list, tuple)) and len(c) == 3 for c in cells):  # type: ignore
        raise TypeError("cells must hold one (Wx, Wh, b) triple per layer")
    arrays = {"W": W, "b": b} if x is None else {"W": W, "b": b, "x": x}
    for l, (h, c, (Wx, Wh, bl)) in enumerate(zip(h0s, c0s, cells)):  # type: ignore[arg-type]
        arrays.update({f"h0s[{l}]": h, f"c0s[{l}]": c, f"cells[{l}][0]": Wx,
                       f"cells[{l}][1]": Wh, f"cells[{l}][2]": bl})
    check_float_arrays(**arrays)
    if feed_true is not None and not (isinstance(feed_true, np.ndarray)
                                      and feed_true.dtype == bool and feed_true.ndim == 3):
        raise TypeError(f"feed_true must be None or a boolean numpy array (N, T, D), got "
                        f"{type(feed_true).__name__} {getattr(feed_true, 'dtype', '')}")


@reference
def autoregressive_forward(
    h0s: list[np.ndarray],
    c0s: list[np.ndarray],
    cells: list[CellParams],
    W: np.ndarray,
    b: np.ndarray,
    T: int,
    x: np.ndarray | None = None,
    feed_true: np.ndarray | None = None,
) -> tuple[np.ndarray, DecoderCache]:
    """The autoregressive decoder's loop over T steps (equations in the module docstring).

    Inputs (no validation: :class:`AutoregressiveDecoder` checks them):
        h0s, c0s: one (N, H) initial state per layer
        cells: one (Wx, Wh, b) per layer: (D, 4H), (H, 4H), (4H,) for layer 0, then (H, 4H), ...
        W: (H, O), b: (O,) the output Dense, O >= D (the first D outputs are the mean fed back)
        T: number of steps
        x: (N, T, D) true values, read where ``feed_true`` is True (finite there), or None
        feed_true: (N, T, D) bool, True = step t reads x[:, t-1] (column 0 ignored), or None
            (free running)

    Returns:
        y: (N, T, O) the outputs, and the cache for :func:`autoregressive_backward`.
    """
    check_decoder_args(h0s, c0s, cells, W, b, x, feed_true)
    N, D = h0s[0].shape[0], cells[0][0].shape[0]
    hs, cs = list(h0s), list(c0s)
    y = np.empty((N, T, W.shape[1]), dtype=W.dtype)
    steps, tops = [], []
    u = np.zeros((N, D), dtype=W.dtype)  # step 0 reads the start token
    for t in range(T):
        if t > 0:  # the previous predicted mean, or the true value where teacher forced
            u = y[:, t - 1, :D]
            if feed_true is not None:
                u = np.where(feed_true[:, t], x[:, t - 1], u)  # type: ignore[index]
        caches = []
        for l, (Wx, Wh, bl) in enumerate(cells):
            hs[l], cs[l], cache = lstm_step_forward(u, hs[l], cs[l], Wx, Wh, bl)
            caches.append(cache)
            u = hs[l]  # layer l+1 reads layer l's h_t
        steps.append(caches)
        tops.append(u)
        y[:, t] = u @ W + b
    return y, DecoderCache(steps, tops, W, feed_true)


@reference
def autoregressive_backward(
    dy: np.ndarray, cache: DecoderCache
) -> tuple[list[np.ndarray], list[np.ndarray], list[CellParams], np.ndarray, np.ndarray]:
    """Backprop through time and through every fed-back prediction.

    Inputs:
        dy: (N, T, O) dL/dy;  cache: from :func:`autoregressive_forward`

    Returns:
        dh0s, dc0s: one (N, H) per layer;  dcells: one (dWx, dWh, db) per layer;
        dW: (H, O), db: (O,) — gradients summed over the steps.
    """
    steps, tops, W, feed_true = own_cache(cache, DecoderCache, "autoregressive_forward")
    D = steps[0][0][0].shape[1]  # the width of layer 0's input x_t
    dh = [np.zeros_like(tops[0]) for _ in steps[0]]  # dL/dh_t of each layer, from step t+1
    dc = [np.zeros_like(tops[0]) for _ in steps[0]]
    dcells = [(np.zeros_like(c[3]), np.zeros_like(c[4]), np.zeros(c[3].shape[1], dtype=W.dtype))
              for c in steps[0]]
    dW, db = np.zeros_like(W), np.zeros(W.shape[1], dtype=W.dtype)
    du = None  # dL/d(input of step t+1)
    for t in reversed(range(len(steps))):
        dy_t = dy[:, t].copy()
        if du is not None:  # y_t's mean was step t+1's input where it was not the true value
            dy_t[:, :D] += du if feed_true is None else np.where(feed_true[:, t + 1], 0.0, du)
        dW += tops[t].T @ dy_t
        db += dy_t.sum(axis=0)
        dh[-1] = dh[-1] + dy_t @ W.T
        for l in reversed(range(len(dh))):
            du, dh[l], dc[l], dWx, dWh, dbl = lstm_step_backward(dh[l], dc[l], steps[t][l])
            for grad, step_grad in zip(dcells[l], (dWx, dWh, dbl)):
                grad += step_grad
            if l > 0:  # layer l read layer l-1's h_t
                dh[l - 1] = dh[l - 1] + du
    return dh, dc, dcells, dW, db


class AutoregressiveDecoder(Layer):
    """The autoregressive LSTM decoder (module docstring): state from z, previous value in.

    Layers (attribute: parameter prefix): ``init_h``, ``init_c``: Dense (L -> num_layers * H),
    ``cells``: list of :class:`~minivae.nn.LSTMCell` (D -> H, then H -> H), ``out_proj``:
    Dense (H -> O), O >= D.  The cells and ``out_proj`` hold the parameters the loop
    :func:`autoregressive_forward` reads; their gradients are accumulated here.

    forward(z, T, x=None, feed_true=None) -> y
        z: (N, L);  x: (N, T, D) the true sequence (may be NaN where it is not fed);
        feed_true: (N, T, D) bool, True = step t reads the true x[:, t-1] (teacher forcing),
        None = free running (then x is not needed);  y: (N, T, O)
    backward(dy) -> dz
        dy: (N, T, O);  dz: (N, L).  Parameter gradients are *added* to ``grads``.
    """

    def __init__(self, latent_dim: int, input_dim: int, hidden_size: int, output_dim: int, *,
                 num_layers: int = 1, rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        super().__init__(dtype)
        rng = check_rng(rng)
        L, D = check_positive_int(latent_dim, "latent_dim"), check_positive_int(input_dim,
                                                                                "input_dim")
        H, nl = check_positive_int(hidden_size, "hidden_size"), check_positive_int(
            num_layers, "num_layers")
        if check_positive_int(output_dim, "output_dim") < D:
            raise ValueError(f"output_dim must be >= input_dim={D} (the first D outputs are the "
                             f"predicted mean fed back), got {output_dim}")
        self.latent_dim, self.input_dim, self.hidden_size, self.num_layers = L, D, H, nl
        self.init_h = Dense(L, nl * H, rng=rng, dtype=dtype)
        self.init_c = Dense(L, nl * H, rng=rng, dtype=dtype)
        self.cells = [LSTMCell(D if l == 0 else H, H, rng=rng, dtype=dtype) for l in range(nl)]
        self.out_proj = Dense(H, output_dim, rng=rng, dtype=dtype)

    def forward(self, z: np.ndarray, T: int, x: np.ndarray | None = None,  # type: ignore[override]
                feed_true: np.ndarray | None = None) -> np.ndarray:
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        T = check_positive_int(T, "T")
        x, feed_true = self._check_teacher(x, feed_true, (z.shape[0], T, self.input_dim))
        if self.training:  # one pass: its cache is what backward reads
            return self._run(z, T, x, feed_true)
        # Inference (eval mode): every step feeds the next, so the loop sees all T steps, on
        # chunks of rows small enough to bound the memory (minivae.nn.inference).
        N = z.shape[0]
        y = np.empty((N, T, self.out_proj.out_features), dtype=self.dtype)
        for r in chunks(N, whole_sequence_rows(N, T, self.hidden_size * self.num_layers)):
            y[r] = self._run(z[r], T, None if x is None else x[r],
                             None if feed_true is None else feed_true[r])
        return y

    def _run(self, z: np.ndarray, T: int, x: np.ndarray | None,
             feed_true: np.ndarray | None) -> np.ndarray:
        """The decoder on validated inputs: initial state from z, then the loop."""
        H = self.hidden_size
        h0 = np.tanh(self.init_h.forward(z))  # (N, layers * H): block l = layer l
        c0 = self.init_c.forward(z)
        blocks = [slice(l * H, (l + 1) * H) for l in range(self.num_layers)]
        cells = [(c.params["Wx"], c.params["Wh"], c.params["b"]) for c in self.cells]
        y, cache = autoregressive_forward(
            [h0[:, s] for s in blocks], [c0[:, s] for s in blocks], cells,
            self.out_proj.params["W"], self.out_proj.params["b"], T, x, feed_true)
        self.save_for_backward((h0, cache, y.shape))
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        h0, cache, shape = self._need_cache()
        dy = self._check_dy(dy, shape, self.dtype)
        dh0s, dc0s, dcells, dW, db = autoregressive_backward(dy, cache)
        for cell, grads in zip(self.cells, dcells):
            cell.add_grads(*grads)
        self.out_proj.grads["W"] += dW
        self.out_proj.grads["b"] += db
        dh0 = np.concatenate(dh0s, axis=1) * (1.0 - h0 * h0)  # through h_0 = tanh(.)
        return self.init_h.backward(dh0) + self.init_c.backward(np.concatenate(dc0s, axis=1))

    def _check_teacher(self, x: object, feed_true: object, shape: tuple[int, int, int]):
        return _teacher_inputs(x, feed_true, shape, self.dtype)

    def __repr__(self) -> str:
        return (f"AutoregressiveDecoder({self.latent_dim}, {self.input_dim}, {self.hidden_size}, "
                f"{self.out_proj.out_features}, num_layers={self.num_layers})")


def _teacher_inputs(x: object, feed_true: object, shape: tuple[int, int, int],
                    dtype: np.dtype) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(x, feed_true) of a decoder that reads previous values, validated: both None (free
    running), or x: (N, T, D) in ``dtype``, finite wherever feed_true: (N, T, D) bool feeds it.
    (Shared with :class:`~minivae.nn.conditioned_decoder.ConditionedDecoder`.)"""
    if feed_true is None:
        if x is not None:
            raise ValueError("x is read only where feed_true is True: pass feed_true "
                             f"(an {shape} bool array) with x, or neither (free running)")
        return None, None
    feed_true = np.asarray(feed_true)
    if feed_true.dtype != np.bool_ or feed_true.shape != shape:
        raise ValueError(f"feed_true must be a bool array of shape (N, T, D)={shape}, got "
                         f"{feed_true.dtype} {feed_true.shape}")
    if x is None:
        raise ValueError("feed_true given without x: the true values to feed are missing")
    x = check_array(x, "x", shape=shape, dtype=dtype, allow_nan=True)
    if not np.isfinite(x[:, :-1][feed_true[:, 1:]]).all():
        raise ValueError("x must be finite wherever feed_true feeds it (x[:, t-1] where "
                         "feed_true[:, t]); set feed_true False at missing values")
    return x, feed_true
