r"""The VQ-VAE (van den Oord, Vinyals & Kavukcuoglu, "Neural discrete representation learning",
NeurIPS 2017) with MLP encoder and decoder::

    X: (N, D) --encoder--> z_e: (N, M*d) -> (N, M, d) --quantizer--> z_q: (N, M, d)
              -> (N, M*d) --decoder--> reconstruction: (N, D)

Each example is coded by M = ``groups`` discrete codes from one codebook of K vectors of size
d (the paper's convolutional encoder gives one code per spatial position; an MLP gives M code
slots), so the discrete latent is M indices in [0, K).  The objective (paper, equation 3)::

    loss = reconstruction_nll(x | z_q) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2

(mean over the batch; the squared norms sum over the M slots and d), with the straight-through
gradient d(z_e) = d(z_q) (:mod:`minivae.nn.quantizer`).  With ``ema=True`` the codebook term is
dropped and the codebook follows moving averages, applied by :meth:`VQVAE.after_step`, which
:func:`~minivae.train.loop.train_step` calls after the optimizer step (an EMA update is not a
gradient: it never runs inside :meth:`backward`).

The prior of the paper is uniform over the K^M codes, so the KL term is the constant M log K
and is left out of the loss (reported as "kl" = 0 here, as for the plain autoencoder); the
paper fits an autoregressive prior over the codes afterwards, which this module does not.

Gradient checks replay a pass with its assignments and stop-gradient values frozen
(``loss(batch, eps=model.last_eps)``; ``last_eps`` holds them): the check sees the smooth
surrogate whose exact derivative is the straight-through gradient, equal in value to the loss.

Code usage: :meth:`VQVAE.code_statistics` (perplexity, dead codes on a data set);
:meth:`VQVAE.reseed_dead_codes` and the callback :class:`ReseedDeadCodes` move dead codes onto
encoder outputs, with an explicit rng.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.models.autoencoder import Autoencoder
from minivae.models.base import inference_method, register_model
from minivae.nn.quantizer import VectorQuantizer, code_perplexity, code_usage
from minivae.objectives.losses import fill_missing, reconstruction_nll
from minivae.train.callbacks import Callback

__all__ = ["VQVAE", "ReseedDeadCodes"]


@register_model
class VQVAE(Autoencoder):
    """VQ-VAE with an MLP encoder/decoder and M code slots per example.

    Args:
        input_dim, hidden_sizes, activation, output, rng, dtype: as for
            :class:`~minivae.models.autoencoder.Autoencoder`.
        num_codes: K, codebook size.
        code_dim: d, size of one code.
        groups: M, codes per example (the encoder outputs M * d numbers).
        beta: commitment weight (0.25 in the paper).
        ema: EMA codebook updates instead of the codebook loss; ``decay`` their decay.

    Shapes: X: (N, D) -> z_e, z_q: (N, M * d) -> reconstruction (N, D); codes (N, M).
    """

    def __init__(self, input_dim: int, hidden_sizes: list[int] | tuple[int, ...],
                 num_codes: int, code_dim: int, *, groups: int = 1, beta: float = 0.25,
                 ema: bool = False, decay: float = 0.99, activation: str = "relu",
                 output: str = "bernoulli", rng: np.random.Generator | int = 0,
                 dtype: object = np.float64) -> None:
        code_dim = check_positive_int(code_dim, "code_dim")
        self.groups = check_positive_int(groups, "groups")
        rng = check_rng(rng)
        super().__init__(input_dim, hidden_sizes, self.groups * code_dim, activation=activation,
                         output=output, rng=rng, dtype=dtype)
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta=beta, ema=ema, decay=decay,
                                         rng=rng, dtype=self.dtype)

    def config(self) -> dict[str, Any]:
        q = self.quantizer
        cfg = {**super().config(), "num_codes": q.num_codes, "code_dim": q.code_dim,
               "groups": self.groups, "beta": q.beta, "ema": q.ema, "decay": q.decay}
        cfg.pop("latent_dim")
        return cfg

    # -- shapes ---------------------------------------------------------------------------------
    def _slots(self, z: np.ndarray) -> np.ndarray:
        """(N, M * d) -> (N, M, d)."""
        return z.reshape(z.shape[0], self.groups, self.quantizer.code_dim)

    def _flat(self, z: np.ndarray) -> np.ndarray:
        return z.reshape(z.shape[0], self.latent_dim)

    # -- inference ------------------------------------------------------------------------------
    @inference_method
    def encode(self, X: np.ndarray) -> np.ndarray:
        """X: (N, D) -> z_q: (N, M * d), the quantized code the decoder reads."""
        X, _, _ = self.check_inputs(X)
        z_e = self._slots(self.encoder.forward(X))
        return self._flat(self.quantizer.params["codebook"][self.quantizer.nearest(z_e)])

    @inference_method
    def encode_indices(self, X: np.ndarray) -> np.ndarray:
        """X: (N, D) -> the chosen codes (N, M), ints in [0, K)."""
        X, _, _ = self.check_inputs(X)
        return self.quantizer.nearest(self._slots(self.encoder.forward(X)))

    @inference_method
    def decode_indices(self, indices: np.ndarray) -> np.ndarray:
        """codes (N, M) -> reconstruction (N, D) (probabilities for "bernoulli")."""
        idx = np.asarray(indices)
        if idx.ndim != 2 or idx.shape[1] != self.groups:
            raise ValueError(f"indices must have shape (N, {self.groups}), got {idx.shape}")
        code_usage(idx, self.quantizer.num_codes)  # integer codes in range
        z = self._flat(self.quantizer.params["codebook"][idx])
        return self._output_mean(self.decoder.forward(z))

    @inference_method
    def code_statistics(self, X: np.ndarray) -> dict[str, Any]:
        """Codebook usage on X: {"perplexity", "dead_codes" (never chosen), "counts" (K,)}."""
        idx = self.encode_indices(X)
        counts = code_usage(idx, self.quantizer.num_codes)
        return {"perplexity": code_perplexity(idx, self.quantizer.num_codes),
                "dead_codes": int(np.sum(counts == 0)), "counts": counts}

    # -- training contract ----------------------------------------------------------------------
    def _forward(self, X: np.ndarray, mask: np.ndarray | None, need_grad: bool, frozen=None):
        z_e = self._slots(self.encoder.forward(fill_missing(X, mask)))
        z_q = self.quantizer.forward(z_e, frozen=frozen)
        out = self.decoder.forward(self._flat(z_q))
        return reconstruction_nll(self.output, out, X, mask, need_grad=need_grad)

    def loss(self, batch, *, rng=None, eps=None, mask=None) -> tuple[float, dict[str, float]]:
        """Mean reconstruction + codebook loss (not with ema) + beta * commitment.  ``eps``:
        the ``last_eps`` of an earlier pass, replayed with its codes and stop-gradient values
        frozen (the gradient check's surrogate); ``rng`` is accepted and ignored."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        if rng is not None:
            check_rng(rng)
        if eps is not None and not isinstance(eps, dict):
            raise TypeError(f"eps must be None or model.last_eps (a dict), got "
                            f"{type(eps).__name__}")
        rec, dout = self._forward(X, mask, need_grad=True, frozen=eps)
        q = self.quantizer
        self.last_eps = q.last_frozen
        self._pending = {"dout": dout / X.shape[0]}
        recon = float(rec.mean())
        value = recon + q.aux_loss
        idx = q.last_indices
        return value, {"loss": value, "reconstruction": recon, "kl": 0.0,
                       "codebook": q.losses["codebook"], "commitment": q.losses["commitment"],
                       "perplexity": code_perplexity(idx, q.num_codes)}

    def backward(self) -> None:
        pending = self._take_pending()
        dz_q = self.decoder.backward(pending["dout"])
        dz_e = self.quantizer.backward(self._slots(dz_q))
        self.encoder.backward(self._flat(dz_e))

    def after_step(self) -> dict[str, float]:
        """Called by ``train_step`` after the optimizer step: the EMA codebook update (with
        the statistics of this step's forward); nothing without ema."""
        if self.quantizer.ema:
            self.quantizer.ema_update()
        return {}

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None) -> dict[str, np.ndarray]:
        """Per example: reconstruction + (codebook) + beta * commitment; "kl" is 0."""
        X, mask, _ = self.check_inputs(batch, mask=mask)
        self._ignored_noise(rng)
        z_e = self._slots(self.encoder.forward(fill_missing(X, mask)))
        z_q = self.quantizer.forward(z_e)
        rec, _ = reconstruction_nll(self.output, self.decoder.forward(self._flat(z_q)), X,
                                    mask, need_grad=False)
        sq = np.sum((z_e - z_q) ** 2, axis=(1, 2))
        q = self.quantizer
        vq = (q.beta + (0.0 if q.ema else 1.0)) * sq
        return {"loss": rec + vq, "reconstruction": rec.copy(), "kl": np.zeros_like(rec)}

    def reseed_dead_codes(self, X: np.ndarray, rng: np.random.Generator | int, *,
                          min_count: int = 1) -> int:
        """Codes chosen fewer than ``min_count`` times on X move onto encoder outputs of X
        (drawn with ``rng``); returns how many moved."""
        min_count = check_positive_int(min_count, "min_count")
        rng = check_rng(rng)
        X = check_array(X, "X", ndim=2, dtype=self.dtype)
        z_e = self.encode_z_e(X)
        counts = code_usage(self.quantizer.nearest(z_e), self.quantizer.num_codes)
        dead = np.flatnonzero(counts < min_count)
        return int(self.quantizer.reseed(dead, z_e, rng).size) if dead.size else 0

    @inference_method
    def encode_z_e(self, X: np.ndarray) -> np.ndarray:
        """X: (N, D) -> the encoder outputs before quantization, (N, M, d)."""
        X, _, _ = self.check_inputs(X)
        return self._slots(self.encoder.forward(X))


class ReseedDeadCodes(Callback):
    """At the end of every ``every``-th epoch, re-seed the VQ-VAE's dead codes (chosen fewer
    than ``min_count`` times on ``X``) from encoder outputs of ``X``, drawn with ``rng``.
    ``moved`` lists how many codes moved each time."""

    def __init__(self, X: np.ndarray, rng: np.random.Generator | int, *, every: int = 1,
                 min_count: int = 1) -> None:
        self.X = check_array(X, "X", ndim=2)
        self.rng = check_rng(rng)
        self.every = check_positive_int(every, "every")
        self.min_count = check_positive_int(min_count, "min_count")
        self.moved: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any], model: Any) -> bool:
        if not isinstance(model, VQVAE):
            raise TypeError(f"ReseedDeadCodes needs a VQVAE, got {type(model).__name__}")
        if epoch % self.every == 0:
            self.moved.append(model.reseed_dead_codes(self.X, self.rng,
                                                      min_count=self.min_count))
        return False
