r"""An autoregressive image decoder: an LSTM over the rows of an image (PixelVAE-style).

The review's section 6.8 (PixelVAE, Gulrajani et al. 2017) pairs a VAE with a decoder that is
autoregressive over the pixels, so the decoder can model local structure by itself.  This is the
smallest decoder of that kind that still shows the effect: an image of R rows of C pixels is a
sequence of R steps, and the LSTM reads row r-1 (and the code z) to predict row r::

    u_r = [ x_{r-1} , z ]         x_{-1} = 0 (a blank row before the first)    u: (N, R, C + L)
    hs  = LSTM(u)                  the library's LSTM, zero initial state        hs: (N, R, H)
    logits_r = hs_r W + b          Bernoulli logits of the C pixels of row r     (N, R, C)

    p(x | z) = prod_r prod_c Bernoulli(x_rc; sigmoid(logits_rc))

Where z enters (``z_input``):

* ``"every_row"`` (default): z is concatenated to the input of every step, as above: the
  strongest path a one-layer decoder can give it;
* ``"initial"``: z only sets the initial state, ``h_0 = tanh(z W_0 + b_0)``, ``c_0 = 0``, and
  the steps read the previous row alone (``u_r = x_{r-1}``), as in the sentence VAE of Bowman
  et al. (2016).  What z says must then survive R steps of the recurrence, and the decoder
  learns to do without it far more easily: the setting in which collapse is the rule.

The pixels of one row are independent given the rows above and z; everything the rows above
tell is in hs_r.

Training uses *teacher forcing*: the true row x_{r-1} is the input of step r, so one call of the
LSTM over the whole sequence (and its backpropagation through time) computes every row's logits.
Sampling cannot: it runs the same LSTM one step at a time, drawing each row from its logits with
an explicit generator and feeding it to the next step (:meth:`RowLSTMDecoder.sample`).

forward(z, x) -> logits
    z: (N, L);  x: (N, R, C) the image itself (teacher forcing);  logits: (N, R, C)
backward(dlogits) -> dz
    dlogits: (N, R, C);  dz: (N, L), summed over the R steps that read z.  (x is data: no
    gradient is returned for it.)  Parameter gradients are *added* to ``grads``.
sample(z, rng) -> x
    z: (N, L);  x: (N, R, C) in {0, 1}, row by row.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.nn.dense import Dense
from minivae.nn.functional import sigmoid
from minivae.nn.inference import inference
from minivae.nn.layer import Layer
from minivae.nn.lstm import LSTM

__all__ = ["Z_INPUTS", "RowLSTMDecoder", "shifted_rows"]

#: where the decoder reads z: concatenated to every step's input, or through the initial state
Z_INPUTS = ("every_row", "initial")


def shifted_rows(x: np.ndarray) -> np.ndarray:
    """The teacher-forcing input rows: x: (N, R, C) -> (N, R, C) with row r = x[:, r - 1] and
    row 0 blank (zeros).  What step r of the decoder reads besides z."""
    x = check_array(x, "x", ndim=3)
    prev = np.zeros_like(x)
    prev[:, 1:] = x[:, :-1]
    return prev


class RowLSTMDecoder(Layer):
    """The row-LSTM decoder (module docstring).

    Args:
        latent_dim: L;  image_shape: (R, C) rows and pixels per row;  hidden_size: H.
        z_input: "every_row" or "initial" (module docstring).
        rng: generator or seed for the initialisation;  dtype: float64 or float32.

    Layers (attribute: parameter prefix): ``lstm``: :class:`~minivae.nn.lstm.LSTM`
    (C + L -> H, or C -> H with z_input="initial", one layer);  ``out_proj``:
    :class:`~minivae.nn.dense.Dense` (H -> C);  ``init_h``: Dense (L -> H), "initial" only.
    """

    def __init__(self, latent_dim: int, image_shape: tuple[int, int], hidden_size: int, *,
                 z_input: str = "every_row", rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.latent_dim = L = check_positive_int(latent_dim, "latent_dim")
        self.image_shape = check_image_shape(image_shape)
        self.hidden_size = H = check_positive_int(hidden_size, "hidden_size")
        if z_input not in Z_INPUTS:
            raise ValueError(f"z_input must be one of {Z_INPUTS}, got {z_input!r}")
        self.z_input = z_input
        rng = check_rng(rng)
        C = self.image_shape[1]
        self.lstm = LSTM(C + L if z_input == "every_row" else C, H, rng=rng, dtype=dtype)
        self.out_proj = Dense(H, C, rng=rng, dtype=dtype)
        if z_input == "initial":
            self.init_h = Dense(L, H, rng=rng, dtype=dtype)

    def _check_z(self, z: object) -> np.ndarray:
        return check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)

    def forward(self, z: np.ndarray, x: np.ndarray) -> np.ndarray:  # type: ignore[override]
        """z: (N, L), x: (N, R, C) -> logits (N, R, C) of every row given the rows above."""
        z = self._check_z(z)
        x = check_array(x, "x", shape=(z.shape[0], *self.image_shape), dtype=self.dtype)
        N, R, C = x.shape
        u, h0 = self._inputs(z, shifted_rows(x))
        hs, _ = self.lstm.forward(u, h0)
        self.save_for_backward((N, R, C, h0))
        return self.out_proj.forward(hs)

    def _inputs(self, z: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The LSTM's input u (N, R', ...) for rows ``prev`` (N, R', C) and its initial h0
        (None: zeros): [prev, z] at every step, or prev with h0 = tanh(z W_0 + b_0)."""
        if self.z_input == "initial":
            return prev, np.tanh(self.init_h.forward(z))
        N, R = prev.shape[:2]
        return np.concatenate([prev, np.broadcast_to(z[:, None, :], (N, R, z.shape[1]))],
                              axis=2), None

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        """dlogits: (N, R, C) -> dz: (N, L): the sum over rows of the z part of each step's
        input gradient (z read at every step), or back through h0 = tanh(z W_0 + b_0)."""
        N, R, C, h0 = self._need_cache()
        dlogits = self._check_dy(dlogits, (N, R, C), self.dtype)
        dhs = self.out_proj.backward(dlogits)
        du, dh0, _ = self.lstm.backward(dhs)
        if self.z_input == "initial":
            return self.init_h.backward(dh0 * (1.0 - h0 * h0))
        return du[:, :, C:].sum(axis=1)

    def sample(self, z: np.ndarray, rng: np.random.Generator | int, *,
               mean_last: bool = False) -> np.ndarray:
        """Draw x ~ p(x | z) row by row: z: (N, L) -> x: (N, R, C) in {0, 1}.

        Step r reads the row drawn at step r-1, so the rows come one LSTM step at a time (the
        state (h, c) carried from step to step).  ``mean_last=True`` returns the pixel
        probabilities of each row instead of its draw (the rows fed on are still draws): a
        smoother picture of the same samples.  Runs in inference mode (no backward caches).
        """
        z = self._check_z(z)
        rng = check_rng(rng)
        N, (R, C) = z.shape[0], self.image_shape
        out = np.empty((N, R, C), dtype=self.dtype)
        prev = np.zeros((N, 1, C), dtype=self.dtype)
        c = None
        with inference(self):
            _, h = self._inputs(z, prev)
            for r in range(R):
                u, _ = self._inputs(z, prev)  # one step: (N, 1, C + L) or (N, 1, C)
                hs, (h, c) = self.lstm.forward(u, h, c)
                p = sigmoid(self.out_proj.forward(hs[:, 0]))
                draw = (rng.random(p.shape) < p).astype(self.dtype)
                out[:, r] = p if mean_last else draw
                prev = draw[:, None, :]
        return out

    def __repr__(self) -> str:
        return (f"RowLSTMDecoder({self.latent_dim}, image_shape={self.image_shape}, "
                f"hidden_size={self.hidden_size}, z_input={self.z_input!r})")


def check_image_shape(image_shape: object) -> tuple[int, int]:
    """(R, C): two positive ints (rows, pixels per row)."""
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise TypeError(f"image_shape must be a pair (rows, columns) of positive ints, got "
                        f"{image_shape!r}")
    return (check_positive_int(image_shape[0], "image_shape[0]"),
            check_positive_int(image_shape[1], "image_shape[1]"))
