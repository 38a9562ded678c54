"""Masked dense layers and MADE (Germain et al., 2015, "MADE: Masked Autoencoder for
Distribution Estimation"): an MLP whose output i sees only the inputs that come before i in a
chosen ordering, so the network is autoregressive in one forward pass.

The masks come from *degrees*.  With an ordering of the L inputs (a permutation, drawn from a
seed), input i gets the degree d_i = its position + 1 in 1..L.  Hidden unit j gets a degree
m_j in 1..L-1 (cycled, so every degree is present); an input reaches a hidden unit when
m_j >= d_i, and a hidden unit reaches output i when d_i > m_j.  Every path from input i' to
output i then has d_i' <= m_j < d_i: output i depends only on inputs earlier in the ordering
(and the first one on none of them).

* :class:`MaskedDense`: y = x @ (W * M) + b, M a fixed 0/1 matrix (N, D) -> (N, M);
* :func:`made_order`, :func:`made_masks`: the seeded ordering and the two masks;
* :class:`MADE`: z (N, L) and an unmasked context c (N, C) -> n_heads outputs, each (N, L),
  output i of each head autoregressive in z: ``h = tanh(z @ (W1 * M1) + c @ Wc + b1)``,
  ``[head_1, ..., head_k] = h @ (W2 * [M2 ... M2]) + b2``.  Used by the inverse autoregressive
  flow (:mod:`minivae.objectives.iaf`).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.nn.activations import Tanh
from minivae.nn.dense import Dense
from minivae.nn.layer import Layer


class MaskedDense(Dense):
    """Affine map with a fixed connectivity mask: ``y = x @ (W * mask) + b``, ``mask`` the
    boolean ``connectivity`` (True: input d reaches output m) as 0/1 numbers.

    Shapes: x: (N, D), mask and W: (D, M), b: (M,), y: (N, M).  Masked weights start at 0 and
    their gradient is 0 (``grads["W"] += (x^T dy) * mask``), so they stay 0 under any optimizer;
    the product with the mask in forward makes that an invariant, not a hope.
    """

    def __init__(self, connectivity: np.ndarray, *, rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        connectivity = check_array(connectivity, "connectivity", ndim=2)
        if connectivity.dtype.kind != "b":
            raise TypeError(f"connectivity must be a boolean array (D, M), got dtype "
                            f"{connectivity.dtype}")
        super().__init__(connectivity.shape[0], connectivity.shape[1], rng=rng, dtype=dtype)
        self.mask = connectivity.astype(self.dtype)
        self.params["W"] *= self.mask

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, "x", ndim=2, dtype=self.dtype)
        if x.shape[1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} features, got shape {x.shape}")
        self.save_for_backward(x)
        return x @ (self.params["W"] * self.mask) + self.params["b"]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: (N, M) -> dx (N, D); adds (x^T dy) * mask to grads["W"], sum(dy) to grads["b"]."""
        x = self._need_cache()
        dy = self._check_dy(dy, (x.shape[0], self.out_features), self.dtype)
        self.grads["W"] += (x.T @ dy) * self.mask
        self.grads["b"] += dy.sum(axis=0)
        return dy @ (self.params["W"] * self.mask).T

    def __repr__(self) -> str:
        return f"MaskedDense({self.in_features}, {self.out_features})"


def made_order(n_inputs: int, seed: int) -> np.ndarray:
    """A seeded ordering of ``n_inputs`` inputs: a permutation of 0..n_inputs-1 (position of
    each input in the autoregressive order)."""
    n_inputs = check_positive_int(n_inputs, "n_inputs")
    return check_rng(seed).permutation(n_inputs)


def made_masks(order: np.ndarray, hidden_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The MADE masks of one hidden layer: (input -> hidden (L, H), hidden -> output (H, L)).

    order: (L,) a permutation of 0..L-1; input i has degree d_i = order[i] + 1.  Hidden unit j
    has degree m_j = 1 + (j mod (L - 1)) (0 when L = 1: then no input reaches it).
    """
    order = check_array(order, "order", ndim=1)
    L = order.shape[0]
    if order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(L)):
        raise ValueError(f"order must be a permutation of 0..{L - 1}, got {order}")
    H = check_positive_int(hidden_size, "hidden_size")
    d_in = order + 1
    m_hidden = np.zeros(H, dtype=np.int64) if L == 1 else 1 + np.arange(H) % (L - 1)
    return d_in[:, None] <= m_hidden[None, :], d_in[None, :] > m_hidden[:, None]


class MADE(Layer):
    """Autoregressive network with a context: (z (N, L), c (N, C)) -> n_heads arrays (N, L),
    output i of every head a function of c and of the z_j before i in ``order`` only.

    h = tanh(z @ (W1 * M1) + c @ Wc + bc + b1),  out = h @ (W2 * M2) + b2  (heads side by side).
    """

    def __init__(self, order: np.ndarray, context_size: int, hidden_size: int, *,
                 n_heads: int = 2, rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        super().__init__(dtype)
        rng = check_rng(rng)
        m_in, m_out = made_masks(order, hidden_size)
        self.latent_dim = m_in.shape[0]
        self.n_heads = check_positive_int(n_heads, "n_heads")
        self.inp = MaskedDense(m_in, rng=rng, dtype=self.dtype)
        self.ctx = Dense(check_positive_int(context_size, "context_size"), hidden_size,
                         rng=rng, dtype=self.dtype)
        self.act = Tanh(self.dtype)
        self.out = MaskedDense(np.tile(m_out, (1, self.n_heads)), rng=rng, dtype=self.dtype)

    def forward(self, z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
        """z: (N, L), c: (N, C) -> n_heads arrays, each (N, L)."""
        h = self.act.forward(self.inp.forward(z) + self.ctx.forward(c))
        out = self.out.forward(h)
        L = self.latent_dim
        return tuple(out[:, i * L:(i + 1) * L] for i in range(self.n_heads))

    def backward(self, *douts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The heads' gradients, each (N, L) -> (dz (N, L), dc (N, C)); accumulates grads."""
        if len(douts) != self.n_heads:
            raise ValueError(f"backward takes {self.n_heads} head gradients, got {len(douts)}")
        dh = self.act.backward(self.out.backward(np.concatenate(douts, axis=-1)))
        return self.inp.backward(dh), self.ctx.backward(dh)

    def __repr__(self) -> str:
        return (f"MADE(L={self.latent_dim}, context={self.ctx.in_features}, "
                f"hidden={self.inp.out_features}, heads={self.n_heads})")
