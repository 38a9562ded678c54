r"""The denoising objective (Vincent et al., 2008) as a wrapper around any sequence autoencoder.

A denoising autoencoder reads a *corrupted* input x~ ~ C(x~ | x) and is trained to reconstruct
the *clean* x::

    loss(x) = L(x, g(f(x~))),        x~ = corruption(x, rng)

where L is the wrapped model's own objective (the squared error or Gaussian NLL of an
:class:`~minivae.models.LSTMAutoencoder`, the negative ELBO of an
:class:`~minivae.models.LSTMVAE`, with its KL of q(z | x~)) with the clean x as its target.  A
fresh corruption is drawn at every training step from the step's ``rng``, so the model never
sees the same noisy copy twice and cannot memorise the noise.  The corruptions are those of
:mod:`minivae.data.corruption` (Gaussian, salt-and-pepper, Poisson, masking, or a noise process
such as realistic ECG noise at a chosen SNR).

:class:`Denoising` keeps the Model contract, so ``fit``, validation, early stopping and
checkpoints work unchanged; the wrapped model must accept ``target=`` in ``loss`` and
``per_example_loss`` (the LSTM models do).  ``last_eps = {"input": x~, "model": the wrapped
model's last_eps}``: passing it back as ``eps=`` repeats the same corrupted input and the same
model noise, which is what a gradient check needs.

Missing values: entries that are NaN (mask False) stay NaN in x~ and are ignored by the loss
(the corruption is applied to the data with missing entries set to 0).

Example::

    from minivae.data.corruption import Corruption
    dae = Denoising(LSTMAutoencoder(1, 32, 16, rng=0), Corruption("gaussian", std=0.3))
    dae.fit(X_clean, epochs=20, lr=3e-3, rng=0)       # X_clean: (N, T, 1)
    X_hat = dae.denoise(X_noisy)
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from minivae._validation import check_array, check_rng
from minivae.data.corruption import Corruption
from minivae.models.base import Model, get_model_class, inference_method, register_model


@register_model
class Denoising(Model):
    """Train ``model`` to reconstruct clean inputs from corrupted ones (module docstring).

    Args:
        model: a :class:`Model` whose ``loss`` and ``per_example_loss`` accept ``target=``
            (LSTMAutoencoder, LSTMVAE); its parameters are this model's (names ``model.*``).
        corruption: a :class:`~minivae.data.corruption.Corruption`, or its config dict.

    Attributes ``beta``, ``kl_weight`` and ``free_bits`` are the wrapped model's.
    """

    def __init__(self, model: Model, corruption: Corruption | dict[str, Any]) -> None:
        if not isinstance(model, Model) or isinstance(model, Denoising):
            raise TypeError(f"model must be a minivae Model (not a Denoising), got "
                            f"{type(model).__name__}")
        for method in ("loss", "per_example_loss"):
            if "target" not in inspect.signature(getattr(model, method)).parameters:
                raise TypeError(f"{type(model).__name__}.{method} takes no target= keyword; "
                                "denoising needs a model that can reconstruct a separate "
                                "target (e.g. LSTMAutoencoder, LSTMVAE)")
        if isinstance(corruption, dict):
            corruption = Corruption.from_config(corruption)
        if not isinstance(corruption, Corruption):
            raise TypeError(f"corruption must be a Corruption or its config dict, got "
                            f"{type(corruption).__name__}")
        super().__init__(model.dtype)
        self.model = model
        self.corruption = corruption
        self.input_ndim = model.input_ndim
        self.beta = model.beta

    # -- the wrapped model's KL weight and free bits ----------------------------------------
    @property
    def kl_weight(self) -> float:
        return self.model.kl_weight

    @kl_weight.setter
    def kl_weight(self, value: float) -> None:
        if hasattr(self, "model"):  # (Model.__init__ runs before the model is attached)
            self.model.kl_weight = value

    @property
    def free_bits(self) -> float:
        return self.model.free_bits

    @free_bits.setter
    def free_bits(self, value: float) -> None:
        if hasattr(self, "model"):
            self.model.free_bits = value

    @property
    def input_dim(self) -> int | None:
        return getattr(self.model, "input_dim", None)

    # -- corruption ---------------------------------------------------------------------------
    def corrupt(self, X: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
        """x~ = corruption(X) with NaN (missing) entries kept NaN: same shape, model dtype."""
        X = check_array(X, "X", ndim=self.input_ndim, dtype=self.dtype, allow_nan=True)
        missing = np.isnan(X)
        noisy = self.corruption(np.where(missing, 0.0, X).astype(self.dtype, copy=False), rng)
        noisy[missing] = np.nan
        return noisy

    def _noisy_input(self, batch: Any, rng: Any, eps: object) -> tuple[np.ndarray, Any, Any]:
        """(x~, rng as a Generator or None, the wrapped model's eps): x~ from ``eps["input"]``
        when given, else drawn from ``rng``."""
        if eps is not None and (not isinstance(eps, dict) or set(eps) - {"input", "model"}):
            raise TypeError("eps must be None or a dict with keys 'input' and 'model' (as in "
                            f"model.last_eps), got {eps!r:.80}")
        given = eps or {}
        rng = None if rng is None else check_rng(rng)
        if given.get("input") is not None:
            X = check_array(batch, "X", ndim=self.input_ndim, dtype=self.dtype, allow_nan=True)
            noisy = check_array(given["input"], "eps['input']", shape=X.shape, dtype=self.dtype,
                                allow_nan=True)
            return noisy, rng, given.get("model")
        if rng is None:
            raise ValueError("Denoising draws a corruption: pass rng= (a numpy Generator or int "
                             "seed) or eps= (model.last_eps)")
        return self.corrupt(batch, rng), rng, given.get("model")

    # -- training contract ----------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None,
             **kwargs: Any) -> tuple[float, dict[str, float]]:
        """The wrapped model's loss on x~ = corruption(batch) with the clean batch as target.

        ``kwargs`` (e.g. ``lengths``) go to the wrapped model's loss.  Returns its (value,
        parts)."""
        noisy, rng, inner_eps = self._noisy_input(batch, rng, eps)
        value, parts = self.model.loss(noisy, rng=rng, eps=inner_eps, mask=mask, target=batch,
                                       **kwargs)
        self.last_eps = {"input": noisy, "model": self.model.last_eps}
        self._pending = {"model": True}
        return value, parts

    def backward(self) -> None:
        """The wrapped model's backward (the corruption has no parameters)."""
        self._take_pending()
        self.model.backward()

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, eps=None,
                         **kwargs: Any) -> dict[str, np.ndarray]:
        """The wrapped model's per-example terms on a corrupted copy (drawn from ``rng``, or
        ``eps["input"]``), scored against the clean batch."""
        noisy, rng, inner_eps = self._noisy_input(batch, rng, eps)
        return self.model.per_example_loss(noisy, rng=rng, mask=mask, eps=inner_eps,
                                           target=batch, **kwargs)

    def posterior(self, batch, *, mask=None, **kwargs: Any):
        """The wrapped model's q(z | x) of the batch as given (diagnostics; None if it has no
        latent posterior)."""
        return self.model.posterior(batch, mask=mask, **kwargs)

    def check_inputs(self, X, *, mask=None, y=None, name="X"):
        return self.model.check_inputs(X, mask=mask, y=y, name=name)

    def make_batch(self, X: np.ndarray, y: object = None) -> Any:
        return self.model.make_batch(X, y)

    # -- inference ------------------------------------------------------------------------------
    def denoise(self, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        """The wrapped model's reconstruction of a noisy X (its ``reconstruct``: the LSTM-VAE
        decodes the posterior mean).  X: (N, T, D) -> (N, T, D)."""
        return self.model.reconstruct(X, **kwargs)

    reconstruct = denoise

    # -- checkpoints ------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {"model_class": type(self.model).__name__, "model": self.model.config(),
                "corruption": self.corruption.config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Denoising:
        model = get_model_class(config["model_class"]).from_config(config["model"])
        return cls(model, Corruption.from_config(config["corruption"]))
