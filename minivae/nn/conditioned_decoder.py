r"""A sequence decoder stepped cell by cell, with the options of the sequence autoencoders.

:mod:`minivae.nn.decoders` has the two LSTM decoders the models use by default.  This layer is
their generalisation, for the options of :class:`~minivae.models.LSTMAutoencoder` and
:class:`~minivae.models.LSTMVAE` (``decoder="conditioned"``, ``decoder_state="encoder"``,
``decoder_cell="gru"`` / ``"rnn"``).  At step t the input is built from up to two parts::

    u_t = [ p_t , z ]          p_t: the previous value (reads_previous), z: the code (reads_latent)
    p_0 = 0 (start token);  p_t = x_{t-1} where feed_true[:, t], else y_{t-1}[:, :D]   (t >= 1)
    s^l_t = cell_l(input, s^l_{t-1})    layer 0 reads u_t, layer l+1 reads h^l_t (stacked)
    y_t   = h^top_t W + b                                                     y: (N, T, O)

and the initial state s_0 (one per layer) comes from ``initial``:

* ``"latent"``: from z, as the autoregressive decoder does it: ``h_0 = tanh(z W_h + b_h)`` and,
  for the LSTM, ``c_0 = z W_c + b_c`` (one (H,) block per layer);
* ``"zeros"``: zeros (the repeat-vector decoder);
* ``"given"``: passed to :meth:`forward` (e.g. the encoder's final state).

So reads_previous=False, reads_latent=True, initial="zeros" is the repeat-vector decoder;
reads_previous=True, reads_latent=False, initial="latent" the autoregressive one; both reads
with initial="latent" is the decoder of Cho et al. (2014), whose every step reads
[y_{t-1}, c] with its state started from tanh(V c).  Teacher forcing and the gradient through
fed-back predictions are exactly as in :mod:`minivae.nn.decoders`.

The cell is any of :data:`minivae.nn.recurrent.CELL_TYPES`, built by
:func:`~minivae.nn.recurrent.make_cell`; a state is a tuple ((h, c) for the LSTM, (h,) else).
Forward steps the cells (each pushes its step cache); backward pops them in reverse, which is
backpropagation through time written out.  This is NumPy reference code only: no compiled twin
runs it (the models use the twin-backed decoders of :mod:`minivae.nn.decoders` whenever their
options allow).

forward(z, T, x=None, feed_true=None, state=None) -> y
    z: (N, L);  x, feed_true: (N, T, D) as in :class:`~minivae.nn.decoders.AutoregressiveDecoder`
    (reads_previous only);  state: initial="given" only, a tuple of (num_layers, N, H) arrays
    ((h, c) for the LSTM);  y: (N, T, O)
backward(dy) -> dz;  backward_state(dy) -> (dz, dstate)
    dy: (N, T, O);  dz: (N, L);  dstate: like ``state`` (initial="given"), else None.
    Parameter gradients are *added* to ``grads``.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.nn.decoders import _teacher_inputs
from minivae.nn.dense import Dense
from minivae.nn.inference import chunks, whole_sequence_rows
from minivae.nn.layer import Layer
from minivae.nn.recurrent import check_cell_type, make_cell, num_states, step, step_backward

INITIAL_STATES = ("latent", "zeros", "given")


class ConditionedDecoder(Layer):
    """The cell-by-cell decoder (module docstring).

    Layers (attribute: parameter prefix): ``init_h`` (and ``init_c`` for the LSTM): Dense
    (L -> num_layers * H), initial="latent" only;  ``cells``: one cell per layer (input width
    D * reads_previous + L * reads_latent, then H);  ``out_proj``: Dense (H -> O).
    """

    def __init__(self, latent_dim: int, input_dim: int, hidden_size: int, output_dim: int, *,
                 cell: str = "lstm", num_layers: int = 1, reads_previous: bool = True,
                 reads_latent: bool = True, initial: str = "latent",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        rng = check_rng(rng)
        L, D = check_positive_int(latent_dim, "latent_dim"), check_positive_int(input_dim,
                                                                                "input_dim")
        H = check_positive_int(hidden_size, "hidden_size")
        nl = check_positive_int(num_layers, "num_layers")
        check_cell_type(cell)
        if initial not in INITIAL_STATES:
            raise ValueError(f"initial must be one of {INITIAL_STATES}, got {initial!r}")
        for value, name in ((reads_previous, "reads_previous"), (reads_latent, "reads_latent")):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
        if not (reads_previous or reads_latent):
            raise ValueError("reads_previous and reads_latent are both False: the steps would "
                             "read nothing")
        if check_positive_int(output_dim, "output_dim") < D and reads_previous:
            raise ValueError(f"output_dim must be >= input_dim={D} (the first D outputs are the "
                             f"predicted mean fed back), got {output_dim}")
        self.latent_dim, self.input_dim, self.hidden_size, self.num_layers = L, D, H, nl
        self.cell, self.initial = cell, initial
        self.reads_previous, self.reads_latent = bool(reads_previous), bool(reads_latent)
        self.n_state = num_states(cell)  # (h, c) or (h,)
        if initial == "latent":
            self.init_h = Dense(L, nl * H, rng=rng, dtype=dtype)
            if self.n_state == 2:
                self.init_c = Dense(L, nl * H, rng=rng, dtype=dtype)
        width = D * self.reads_previous + L * self.reads_latent
        self.cells = [make_cell(cell, width if l == 0 else H, H, rng=rng, dtype=dtype)
                      for l in range(nl)]
        self.out_proj = Dense(H, output_dim, rng=rng, dtype=dtype)

    # -- forward ----------------------------------------------------------------------------
    def forward(self, z: np.ndarray, T: int, x: np.ndarray | None = None,  # type: ignore[override]
                feed_true: np.ndarray | None = None,
                state: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        T = check_positive_int(T, "T")
        N = z.shape[0]
        if self.reads_previous:
            x, feed_true = _teacher_inputs(x, feed_true, (N, T, self.input_dim), self.dtype)
        elif x is not None or feed_true is not None:
            raise ValueError("x and feed_true are read only by a decoder with "
                             "reads_previous=True; this one reads z only")
        state = self._check_state(state, N)
        if self.training:  # one pass: its caches are what backward reads
            return self._run(z, T, x, feed_true, state)
        y = np.empty((N, T, self.out_proj.out_features), dtype=self.dtype)
        for r in chunks(N, whole_sequence_rows(N, T, self.hidden_size * self.num_layers)):
            y[r] = self._run(z[r], T, None if x is None else x[r],
                             None if feed_true is None else feed_true[r],
                             None if state is None else tuple(s[:, r] for s in state))
        return y

    def _check_state(self, state: object, N: int) -> tuple[np.ndarray, ...] | None:
        """``state`` for initial="given": a tuple of n_state arrays (num_layers, N, H)."""
        if self.initial != "given":
            if state is not None:
                raise ValueError(f"state is read only with initial='given', this decoder's "
                                 f"initial state is {self.initial!r}")
            return None
        if not isinstance(state, tuple) or len(state) != self.n_state:
            raise TypeError(f"state must be a tuple of {self.n_state} arrays ((h, c) for the "
                            f"LSTM, (h,) otherwise), got {type(state).__name__}")
        shape = (self.num_layers, N, self.hidden_size)
        return tuple(check_array(s, f"state[{i}]", shape=shape, dtype=self.dtype)
                     for i, s in enumerate(state))

    def _initial_state(self, z: np.ndarray, state: tuple[np.ndarray, ...] | None):
        """One state tuple per layer, and what backward needs of the initial-state map."""
        N, H, nl = z.shape[0], self.hidden_size, self.num_layers
        if self.initial == "given":
            return [tuple(s[l] for s in state) for l in range(nl)], None  # type: ignore
        if self.initial == "zeros":
            zero = np.zeros((N, H), dtype=self.dtype)
            return [(zero,) * self.n_state for _ in range(nl)], None
        h0 = np.tanh(self.init_h.forward(z))  # (N, layers * H): block l = layer l
        parts = [h0] if self.n_state == 1 else [h0, self.init_c.forward(z)]
        return [tuple(p[:, l * H:(l + 1) * H] for p in parts) for l in range(nl)], h0

    def _run(self, z: np.ndarray, T: int, x: np.ndarray | None, feed_true: np.ndarray | None,
             state: tuple[np.ndarray, ...] | None) -> np.ndarray:
        """The loop over T steps on validated inputs (module docstring)."""
        for cell in self.cells:
            cell.clear_cache()  # a forward never followed by backward left its steps there
        states, h0 = self._initial_state(z, state)
        W, b, D = self.out_proj.params["W"], self.out_proj.params["b"], self.input_dim
        N = z.shape[0]
        y = np.empty((N, T, W.shape[1]), dtype=self.dtype)
        tops = []
        prev = np.zeros((N, D), dtype=self.dtype)  # step 0 reads the start token
        for t in range(T):
            if self.reads_previous and t > 0:  # the prediction, or the true value if forced
                prev = y[:, t - 1, :D]
                if feed_true is not None:
                    prev = np.where(feed_true[:, t], x[:, t - 1], prev)  # type: ignore[index]
            parts = ([prev] if self.reads_previous else []) + ([z] if self.reads_latent else [])
            u = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
            for l, cell in enumerate(self.cells):
                states[l] = step(cell, u, states[l])
                u = states[l][0]  # layer l+1 reads layer l's h_t
            tops.append(u)
            y[:, t] = u @ W + b
        self.save_for_backward((z.shape, tops, feed_true, h0, y.shape))
        return y

    # -- backward ---------------------------------------------------------------------------
    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self.backward_state(dy)[0]

    def backward_state(self, dy: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """dy: (N, T, O) -> (dz (N, L), dstate: like ``state`` for initial="given", else None).
        Backprop through time, through every fed-back prediction and the initial state."""
        (N, L), tops, feed_true, h0, shape = self._need_cache()
        dy = self._check_dy(dy, shape, self.dtype)
        W, D, P = self.out_proj.params["W"], self.input_dim, self.input_dim * self.reads_previous
        zero = np.zeros_like(tops[0])
        dstates = [[zero] * self.n_state for _ in self.cells]  # dL/d(state of step t) per layer
        dz = np.zeros((N, L), dtype=self.dtype)
        dprev = None  # dL/d(the previous-value part of step t+1's input)
        for t in reversed(range(shape[1])):
            dy_t = dy[:, t].copy()
            if dprev is not None:  # y_t's mean was step t+1's input where it was not the truth
                dy_t[:, :D] += dprev if feed_true is None else np.where(feed_true[:, t + 1], 0.0,
                                                                         dprev)
            self.out_proj.grads["W"] += tops[t].T @ dy_t
            self.out_proj.grads["b"] += dy_t.sum(axis=0)
            dstates[-1][0] = dstates[-1][0] + dy_t @ W.T
            for l in reversed(range(self.num_layers)):
                du, dprev_state = step_backward(self.cells[l], tuple(dstates[l]))
                dstates[l] = list(dprev_state)
                if l > 0:  # layer l read layer l-1's h_t
                    dstates[l - 1][0] = dstates[l - 1][0] + du
            dprev = du[:, :P] if self.reads_previous else None
            if self.reads_latent:
                dz += du[:, P:]
        return self._initial_backward(dz, dstates, h0)

    def _initial_backward(self, dz: np.ndarray, dstates: list[list[np.ndarray]],
                          h0: np.ndarray | None):
        """Add the initial state's gradient to dz (initial="latent") or return it ("given")."""
        if self.initial == "given":
            return dz, tuple(np.stack([d[i] for d in dstates]) for i in range(self.n_state))
        if self.initial == "latent":
            dh0 = np.concatenate([d[0] for d in dstates], axis=1) * (1.0 - h0 * h0)  # tanh
            dz = dz + self.init_h.backward(dh0)
            if self.n_state == 2:
                dz = dz + self.init_c.backward(np.concatenate([d[1] for d in dstates], axis=1))
        return dz, None

    def __repr__(self) -> str:
        return (f"ConditionedDecoder({self.latent_dim}, {self.input_dim}, {self.hidden_size}, "
                f"{self.out_proj.out_features}, cell={self.cell!r}, num_layers={self.num_layers}"
                f", reads_previous={self.reads_previous}, reads_latent={self.reads_latent}, "
                f"initial={self.initial!r})")
