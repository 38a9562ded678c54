r"""Vector quantization with a straight-through gradient (van den Oord, Vinyals & Kavukcuoglu,
"Neural discrete representation learning", NeurIPS 2017): the bottleneck of the VQ-VAE.

A codebook of K vectors e_1 ... e_K (each of size d) replaces every encoder output z_e by its
nearest code::

    k(n)  = argmin_k ||z_e[n] - e_k||^2          nearest-code lookup
    z_q[n] = e_{k(n)}                           z_e: (..., d) -> z_q: (..., d)

The lookup is piecewise constant in z_e, so it has no useful derivative.  The paper's
**straight-through** convention copies the decoder's gradient to the encoder unchanged::

    d(loss)/d(z_e) := d(loss)/d(z_q)             (the convention: d(z_e) = d(z_q))

i.e. the forward value is ``z_q = z_e + sg[e_k - z_e]`` with sg the stop-gradient (the
identity forward, derivative 0).  Two extra terms train the codebook and keep the encoder near
it (n = the number of examples, axis 0; sums over every other axis)::

    codebook loss   = (1/n) sum ||sg[z_e] - e_k||^2      d/d e_k   = (2/n) sum_{k(.)=k} (e_k - z_e)
    commitment loss = (1/n) sum ||z_e - sg[e_k]||^2      d/d z_e   = (2/n) (z_e - e_k)

Both have the same value; they differ in which side the gradient reaches.  The layer's
objective is ``codebook + beta * commitment`` (:attr:`VectorQuantizer.aux_loss`) and
:meth:`VectorQuantizer.backward` returns ``d(upstream)/d(z_q) + beta * d(commitment)/d(z_e)``
and adds the codebook-loss gradient into ``grads["codebook"]``.

**EMA codebook** (``ema=True``, the paper's appendix A.1): the codebook loss is dropped and the
codes follow exponential moving averages of the encoder outputs assigned to them::

    N_k <- decay N_k + (1 - decay) n_k          (n_k: batch count of code k)
    m_k <- decay m_k + (1 - decay) sum_{k(.)=k} z_e
    e_k  = m_k / N_k   (N_k Laplace-smoothed with ``epsilon`` so an unused code divides by > 0)

That is not a gradient, so it never runs inside ``backward``: :meth:`ema_update` applies the
statistics of the last training forward, called after the optimizer step (the model's
``after_step`` hook, which :func:`minivae.train.loop.train_step` calls).

**Replay with frozen values** (the gradient check): ``forward(z_e, frozen=...)`` with the
``frozen`` dict of an earlier pass (``last_frozen``: the assignments and the values under sg)
evaluates the *surrogate* whose exact derivative is the straight-through gradient::

    z_q = z_e + (z_q0 - z_e0),  codebook = (1/n) sum ||z_e0 - e_{k0}||^2,
    commitment = (1/n) sum ||z_e - z_q0||^2

At the frozen point its value equals the true loss; a finite-difference check of it is a
check of the hand-written straight-through backward (the true function is piecewise constant
in z_e and would give 0).

Code usage: :func:`code_perplexity` (exp of the entropy of the usage frequencies: K when every
code is used equally, 1 when one code takes everything); :meth:`VectorQuantizer.reseed` moves
dead codes onto encoder outputs drawn with an explicit rng.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.nn.layer import Layer

__all__ = ["VectorQuantizer", "code_perplexity", "code_usage"]


def code_usage(indices: object, num_codes: int) -> np.ndarray:
    """How often each code was chosen: indices (any shape, ints in [0, K)) -> counts (K,)."""
    num_codes = check_positive_int(num_codes, "num_codes")
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must be integer code indices, got dtype {idx.dtype}")
    if idx.size == 0:
        raise ValueError("indices is empty; need at least one code assignment")
    if idx.min() < 0 or idx.max() >= num_codes:
        raise ValueError(f"indices must lie in [0, {num_codes}), got values in "
                         f"[{idx.min()}, {idx.max()}]")
    return np.bincount(idx.ravel(), minlength=num_codes)


def code_perplexity(indices: object, num_codes: int) -> float:
    """exp(-sum_k p_k log p_k), p_k the fraction of assignments to code k (0 log 0 = 0)."""
    counts = code_usage(indices, num_codes)
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


class VectorQuantizer(Layer):
    """Nearest-code lookup with a straight-through backward (module docstring).

    Args:
        num_codes: K, codebook size.
        code_dim: d, size of each code (the last axis of z_e).
        beta: weight of the commitment loss (the paper uses 0.25).
        ema: update the codebook by moving averages (:meth:`ema_update`) instead of the
            codebook loss's gradient.
        decay, epsilon: the EMA decay and the Laplace smoothing of the counts.
        rng, dtype: initialisation (codes uniform in [-1/K, 1/K]) and float dtype.

    Shapes: z_e: (..., d) -> z_q: (..., d); the losses average over axis 0 (the examples) and
    sum over the rest.  After a forward: ``last_indices`` (the codes, z_e's shape without d),
    ``losses`` ({"codebook", "commitment"}), ``last_frozen`` (see the module docstring).
    """

    def __init__(self, num_codes: int, code_dim: int, *, beta: float = 0.25, ema: bool = False,
                 decay: float = 0.99, epsilon: float = 1e-5,
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.num_codes = check_positive_int(num_codes, "num_codes")
        self.code_dim = check_positive_int(code_dim, "code_dim")
        self.beta = check_scalar(beta, "beta", low=0.0)
        if not isinstance(ema, (bool, np.bool_)):
            raise TypeError(f"ema must be a bool, got {type(ema).__name__}")
        self.ema = bool(ema)
        self.decay = check_scalar(decay, "decay", low=0.0, high=1.0, high_inclusive=False)
        self.epsilon = check_scalar(epsilon, "epsilon", low=0.0, low_inclusive=False)
        K = self.num_codes
        self.add_param("codebook", check_rng(rng).uniform(-1.0 / K, 1.0 / K, (K, self.code_dim)))
        # EMA state (not parameters: no gradient; a checkpoint restarts it from the codebook)
        self.ema_count = np.zeros(K)
        self.ema_sum = self.params["codebook"].astype(np.float64)
        self._ema_stats: tuple[np.ndarray, np.ndarray] | None = None
        self.last_indices: np.ndarray | None = None
        self.last_frozen: dict[str, np.ndarray] | None = None
        self.losses: dict[str, float] = {}

    def _check_z(self, z_e: object) -> np.ndarray:
        z_e = check_array(z_e, "z_e", dtype=self.dtype)  # finite: inf has no nearest code
        if z_e.ndim < 2 or z_e.shape[-1] != self.code_dim:
            raise ValueError(f"z_e must have shape (N, ..., {self.code_dim}) (last axis = "
                             f"code_dim), got {z_e.shape}")
        return z_e

    def nearest(self, z_e: object) -> np.ndarray:
        """k(n) = argmin_k ||z_e[n] - e_k||^2: (..., d) -> (...,) ints.  Ties go to the
        lowest index (np.argmin)."""
        z_e = self._check_z(z_e)
        flat = z_e.reshape(-1, self.code_dim)
        E = self.params["codebook"]
        # ||z||^2 is the same for every k: argmin of ||e_k||^2 - 2 z.e_k
        d2 = np.sum(E * E, axis=1)[None, :] - 2.0 * (flat @ E.T)
        return np.argmin(d2, axis=1).reshape(z_e.shape[:-1])

    def forward(self, z_e: np.ndarray, *, frozen: dict[str, np.ndarray] | None = None
                ) -> np.ndarray:
        """z_e: (N, ..., d) -> z_q (straight-through value); ``frozen``: replay (docstring)."""
        z_e = self._check_z(z_e)
        E = self.params["codebook"]
        if frozen is None:
            idx = self.nearest(z_e)
            z_e0, z_q0 = z_e.copy(), E[idx]
        else:
            idx, z_e0, z_q0 = self._check_frozen(frozen, z_e.shape)
        n = z_e.shape[0]
        z_q = z_e + (z_q0 - z_e0)  # = e_k in value; d z_q / d z_e = I
        self.losses = {"codebook": float(np.sum((z_e0 - E[idx]) ** 2) / n),
                       "commitment": float(np.sum((z_e - z_q0) ** 2) / n)}
        self.last_indices, self.last_frozen = idx, {"indices": idx, "z_e": z_e0, "z_q": z_q0}
        if self.training and self.ema and frozen is None:
            flat_idx, flat_z = idx.ravel(), z_e.reshape(-1, self.code_dim)
            sums = np.zeros((self.num_codes, self.code_dim))
            np.add.at(sums, flat_idx, flat_z)
            self._ema_stats = (np.bincount(flat_idx, minlength=self.num_codes), sums)
        self.save_for_backward((z_e, idx, z_e0, z_q0))
        return z_q

    def _check_frozen(self, frozen: object, shape: tuple[int, ...]):
        if not isinstance(frozen, dict) or set(frozen) != {"indices", "z_e", "z_q"}:
            raise TypeError("frozen must be the dict last_frozen of an earlier forward "
                            "(keys 'indices', 'z_e', 'z_q')")
        idx = np.asarray(frozen["indices"])
        if idx.shape != shape[:-1] or idx.dtype.kind not in "iu":
            raise ValueError(f"frozen['indices'] must be ints of shape {shape[:-1]}, got "
                             f"{idx.dtype} {idx.shape}")
        z_e0 = check_array(frozen["z_e"], "frozen['z_e']", shape=shape, dtype=self.dtype)
        z_q0 = check_array(frozen["z_q"], "frozen['z_q']", shape=shape, dtype=self.dtype)
        return idx, z_e0, z_q0

    @property
    def aux_loss(self) -> float:
        """The quantizer's own objective of the last forward: beta * commitment, plus the
        codebook loss unless the codebook is an EMA."""
        if not self.losses:
            raise RuntimeError("aux_loss needs a forward pass first")
        codebook = 0.0 if self.ema else self.losses["codebook"]
        return codebook + self.beta * self.losses["commitment"]

    def backward(self, dz_q: np.ndarray) -> np.ndarray:
        """dz_q: d(upstream)/d(z_q) -> d(upstream + aux_loss)/d(z_e); adds the codebook-loss
        gradient into grads["codebook"] (not with ema)."""
        z_e, idx, z_e0, z_q0 = self._need_cache()
        dz_q = self._check_dy(dz_q, z_e.shape, self.dtype)
        n = z_e.shape[0]
        dz_e = dz_q + (2.0 * self.beta / n) * (z_e - z_q0)  # straight through + commitment
        if not self.ema:
            E = self.params["codebook"]
            d_codes = (2.0 / n) * (E[idx] - z_e0).reshape(-1, self.code_dim)
            np.add.at(self.grads["codebook"], idx.ravel(), d_codes)
        return dz_e

    def ema_update(self) -> None:
        """Move the codes to the moving averages, with the statistics of the last training
        forward (consumed: a second call without a forward raises)."""
        if not self.ema:
            raise RuntimeError("ema_update: this quantizer trains its codebook by gradient "
                               "(ema=False)")
        if self._ema_stats is None:
            raise RuntimeError("ema_update needs a training forward first (its statistics "
                               "are used once)")
        counts, sums = self._ema_stats
        self._ema_stats = None
        g = self.decay
        self.ema_count = g * self.ema_count + (1.0 - g) * counts
        self.ema_sum = g * self.ema_sum + (1.0 - g) * sums
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        self.params["codebook"][...] = self.ema_sum / np.maximum(smoothed, self.epsilon)[:, None]

    def reseed(self, codes: object, z_e: object, rng: np.random.Generator | int) -> np.ndarray:
        """Move the codes ``codes`` (ints) onto encoder outputs drawn (without replacement
        where possible) from ``z_e``: (..., d); returns the codes moved.  Their EMA state
        restarts at count 1 (so the next EMA update keeps them where they were put)."""
        codes = np.unique(code_usage(codes, self.num_codes).nonzero()[0]) if np.size(codes) \
            else np.zeros(0, dtype=int)
        pool = self._check_z(z_e).reshape(-1, self.code_dim)
        if codes.size == 0:
            return codes
        rng = check_rng(rng)
        rows = rng.choice(pool.shape[0], size=codes.size, replace=pool.shape[0] < codes.size)
        self.params["codebook"][codes] = pool[rows]
        self.ema_count[codes] = 1.0
        self.ema_sum[codes] = pool[rows]
        return codes

    def clear_cache(self) -> None:
        self.cache = None
        self._ema_stats = None

    def config(self) -> dict[str, Any]:
        return {"num_codes": self.num_codes, "code_dim": self.code_dim, "beta": self.beta,
                "ema": self.ema, "decay": self.decay, "epsilon": self.epsilon}

    def __repr__(self) -> str:
        return f"VectorQuantizer({self.num_codes}, {self.code_dim}, beta={self.beta}, " \
               f"ema={self.ema})"
