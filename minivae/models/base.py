"""The Model interface shared by every autoencoder in minivae.

A model is a :class:`~minivae.nn.Layer` (so ``parameters()``, ``zero_grad()`` and
``state_dict()`` walk its encoder and decoder generically) with a training contract on top:

``loss(batch, *, rng=None, eps=None, mask=None) -> (value, parts)``
    One forward pass over a mini-batch.  ``value`` is the scalar objective (a Python float, mean
    over the batch, summed over data dimensions: the convention of
    :mod:`minivae.objectives.losses`) and
    ``parts`` a dict of floats for logging (``"loss"``, ``"reconstruction"``, ``"kl"``, ...).
    Everything :meth:`backward` needs is kept.  A stochastic model stores the noise it drew in
    ``self.last_eps``; passing it back as ``eps=`` repeats exactly the same pass, which is what
    lets a finite-difference gradient check perturb one parameter and see the same noise.
``backward()``
    *Adds* d(value)/d(param) into every ``grads`` array (call ``zero_grad()`` first).
``per_example_loss(batch, ...) -> {"loss": (N,), "reconstruction": (N,), "kl": (N,)}``
    Per-example terms, no gradient bookkeeping (evaluation, anomaly scores).

Inference methods (``encode``, ``decode``, ``reconstruct``, ``sample``, ``per_example_loss``,
``posterior``, the bounds and scores) are marked :func:`inference_method`: they run in inference
mode (:mod:`minivae.nn.inference`), where no layer keeps a backward cache and the sequence
layers work in bounded chunks, so their memory does not grow with what training would keep.
``posterior(batch, *, mask=None) -> (mu, logvar) | None``
    Parameters of q(z|x) for diagnostics (KL per latent dimension, active units); ``None`` for
    deterministic models.
``config()`` / ``from_config(config)``
    The constructor arguments that fix the architecture, as a JSON-able dict; a checkpoint
    stores it and rebuilds the model from it.

``batch`` is whatever the model consumes: an array ``X: (N, D)`` or ``(N, T, D)`` for plain
models, a tuple ``(X, y)`` for conditional ones.  :meth:`Model.make_batch` builds it from arrays
so the training loop needs no knowledge of the model type.

The KL weight (beta) is the attribute ``kl_weight``; the training loop sets it every step from a
schedule.  ``free_bits`` is the free-bits lambda (0 disables it).

New model classes opt in to checkpoint loading with the :func:`register_model` decorator: the
checkpoint stores the class name and :func:`get_model_class` finds the class again (both live in
:mod:`minivae.train.registry`, next to the checkpoint code).

Imports run one way: this module imports :mod:`minivae.train` (for :meth:`Model.fit`,
:meth:`Model.save`, :meth:`Model.load`); nothing in ``train/`` imports a model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from os import PathLike
from typing import Any, TypeVar

import numpy as np

from minivae._validation import (
    check_array,
    check_magnitude,
    check_mask,
    check_rng,
    check_scalar,
)
from minivae.nn.inference import inference
from minivae.nn.layer import Layer
from minivae.nn.sequence import lengths_to_mask
from minivae.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minivae.train.history import History
from minivae.train.loop import fit
from minivae.train.registry import MODEL_REGISTRY, get_model_class, register_model

# The registry is re-exported here and from minivae.models: models register with
# ``from minivae.models.base import register_model``.
__all__ = ["MODEL_REGISTRY", "Model", "check_hidden_sizes", "get_model_class", "inference_method",
           "register_model"]

Batch = Any  # an array X, or a tuple (X, y) for conditional models
M = TypeVar("M", bound=Callable[..., Any])
# Decoding many latent samples at once (IWAE bounds, reconstruction probabilities) is done in
# chunks of about this many output numbers, so memory stays bounded (4M float64 = 32 MB).
SAMPLE_CHUNK_ELEMENTS = 1 << 22


def prepare_sequence_batch(model: Model, X: object, mask: object, lengths: object):
    """Validate a batch of sequences for ``model``.  Returns X (N, T, D) in the model dtype (NaN
    allowed where unobserved) and the full observation mask (N, T, D) bool, or None when all is
    observed; ``lengths`` (N,) is a prefix mask combined with ``mask`` (N, T) or (N, T, D)."""
    if lengths is not None:
        X = check_array(X, "X", ndim=3, dtype=model.dtype, allow_nan=True)
        N, T = X.shape[:2]
        steps = lengths_to_mask(lengths, T, name="lengths", N=N)
        if mask is not None:  # (X finite where observed: checked below, on the result)
            mask = check_mask(mask, X, per_step=True, finite=False)
            steps = mask & (steps if mask.ndim == 2 else steps[:, :, None])
        mask = steps
    X, mask, _ = model.check_inputs(X, mask=mask)
    if mask is None:
        return X, None
    full = mask if mask.shape == X.shape else np.broadcast_to(mask[:, :, None], X.shape)
    if full.all():
        return X, None  # identical numbers, less work
    return X, np.ascontiguousarray(full)


def sample_chunks(k: int, per_sample: int) -> Iterator[int]:
    """The sizes of the chunks in which to decode ``k`` latent samples of ``per_sample`` output
    numbers each: at most :data:`SAMPLE_CHUNK_ELEMENTS` numbers (but >= 1 sample) a chunk."""
    chunk = max(1, SAMPLE_CHUNK_ELEMENTS // per_sample)
    for start in range(0, k, chunk):
        yield min(chunk, k - start)


def tile_samples(a: np.ndarray | None, k: int) -> np.ndarray | None:
    """(N, ...) -> (k * N, ...), row i * N + n = a[n]: the data (or mask) of each example next
    to its k latent samples z.reshape(k * N, L).  None stays None."""
    return None if a is None else np.tile(a, (k,) + (1,) * (a.ndim - 1))


def inference_method(method: M) -> M:
    """Mark a model method as inference (encode, reconstruct, sample, score): it runs under
    :func:`minivae.nn.inference.inference`, so no layer keeps a backward cache and the
    sequence layers work in bounded chunks; the model's previous mode is restored afterwards.
    What an earlier :meth:`Model.loss` left for :meth:`Model.backward` is dropped."""

    @functools.wraps(method)
    def run(self: Model, *args: Any, **kwargs: Any) -> Any:
        self._pending = None
        with inference(self):
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


class Model(Layer):
    """Base class of every minivae model (see the module docstring for the contract).

    Subclasses implement :meth:`loss`, :meth:`backward`, :meth:`per_example_loss` and
    :meth:`config`; optionally :meth:`posterior` (latent-variable models), and override
    :meth:`check_inputs` / :meth:`make_batch` when their batches are not a single array.

    Attributes:
        beta: the KL weight the model was built with (1 for a plain VAE).
        kl_weight: the KL weight used by the next :meth:`loss` call; equals ``beta`` unless a
            training loop with a KL schedule is running.
        free_bits: free-bits lambda in nats per latent dimension (0 = off).
        last_eps: the noise of the last stochastic pass (``None`` for deterministic models).
    """

    #: allowed numbers of dimensions of X; sequence models set (3,)
    input_ndim: tuple[int, ...] = (2, 3)

    def __init__(self, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.beta = 1.0
        self._kl_weight = 1.0
        self._free_bits = 0.0
        self.last_eps: np.ndarray | None = None
        # What backward() needs from the last loss(); None means "no loss to backprop".
        self._pending: dict[str, Any] | None = None

    # -- KL weight and free bits ----------------------------------------------------------------
    @property
    def kl_weight(self) -> float:
        """Weight of the KL term in the training objective (beta); must be >= 0."""
        return self._kl_weight

    @kl_weight.setter
    def kl_weight(self, value: float) -> None:
        self._kl_weight = check_scalar(value, "kl_weight", low=0.0)

    @property
    def free_bits(self) -> float:
        """Free-bits lambda (nats per latent dimension); 0 disables it."""
        return self._free_bits

    @free_bits.setter
    def free_bits(self, value: float) -> None:
        self._free_bits = check_scalar(value, "free_bits", low=0.0)

    # -- the training contract ------------------------------------------------------------------
    def loss(
        self,
        batch: Batch,
        *,
        rng: np.random.Generator | int | None = None,
        eps: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[float, dict[str, float]]:  # pragma: no cover - interface
        """Forward pass on a mini-batch; returns (scalar objective, parts)."""
        raise NotImplementedError

    def backward(self) -> None:  # type: ignore[override]  # pragma: no cover - interface
        """Accumulate parameter gradients of the last :meth:`loss`."""
        raise NotImplementedError

    def per_example_loss(
        self,
        batch: Batch,
        *,
        rng: np.random.Generator | int | None = None,
        mask: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:  # pragma: no cover - interface
        """Per-example ``"loss"``, ``"reconstruction"`` and ``"kl"``, each of shape (N,)."""
        raise NotImplementedError

    def posterior(
        self, batch: Batch, *, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(mu, logvar) of q(z|x), each (N, L); ``None`` when the model has no latent posterior
        (the batch is still validated: bad input is an error, not a silent None)."""
        self.check_inputs(batch, mask=mask)
        return None

    def config(self) -> dict[str, Any]:  # pragma: no cover - interface
        """Constructor arguments fixing the architecture (JSON-able; no rng)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """Build a model from :meth:`config` output (weights freshly initialised)."""
        return cls(**config)

    def release_caches(self) -> None:
        """Drop every layer's cache and what :meth:`loss` kept for :meth:`backward`."""
        super().release_caches()
        self._pending = None

    # -- helpers shared by models and the training loop ---------------------------------------
    def _need_noise(self, rng: object, eps: object) -> np.random.Generator | None:
        """The generator of a stochastic pass, or None when ``eps`` (the noise to reuse) is
        given and ``rng`` is not; refuses neither being given."""
        if eps is None and rng is None:
            raise ValueError(
                f"{type(self).__name__} draws noise: pass rng= (a numpy Generator or int seed) "
                "or eps= (the noise to reuse, e.g. model.last_eps)"
            )
        return None if rng is None else check_rng(rng)

    @staticmethod
    def _ignored_noise(rng: object, eps: object = None) -> None:
        """A deterministic model accepts ``rng`` and ``eps`` for interface compatibility and
        ignores them, but still refuses an rng that is not a generator or seed and an eps that
        is not None or a dict (``model.last_eps``)."""
        if rng is not None:
            check_rng(rng)
        if eps is not None and not isinstance(eps, dict):
            raise TypeError(f"eps must be None or a dict (model.last_eps), got "
                            f"{type(eps).__name__}")

    def _take_pending(self) -> dict[str, Any]:
        """The state stored by the last loss(), consumed so a second backward() fails loudly."""
        pending = self._pending
        if pending is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() needs a preceding loss() call (and may run "
                "once per loss: any other forward pass in between overwrites the cached values)"
            )
        self._pending = None
        return pending

    def check_inputs(
        self,
        X: object,
        *,
        mask: object = None,
        y: object = None,
        name: str = "X",
    ) -> tuple[np.ndarray, np.ndarray | None, Any]:
        """Validate data for this model; returns ``(X, mask, y)`` with X in the model dtype.

        X: one of ``input_ndim`` dimensions, last axis ``input_dim`` when the model has one;
        NaN only where ``mask`` (same shape, or (N, T) for sequences) is False.
        """
        X = check_array(X, name, ndim=self.input_ndim, dtype=self.dtype,
                        allow_nan=mask is not None)
        check_magnitude(X, name)  # |X| whose square overflows: the loss would be inf
        input_dim = getattr(self, "input_dim", None)
        if input_dim is not None and X.shape[-1] != input_dim:
            raise ValueError(
                f"{name} must have {input_dim} features on its last axis for this "
                f"{type(self).__name__}, got shape {X.shape}"
            )
        if mask is not None:
            mask = check_mask(mask, X, "mask" if name == "X" else f"mask for {name}", data=name,
                              per_step=True)
        if y is not None:
            raise ValueError(f"{type(self).__name__} takes no labels, but y was given")
        return X, mask, None

    def _target(self, target: object, X: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """The reconstruction target of a sequence model's loss: X itself (``target=None``),
        or a clean target of X's shape for a denoising objective (the model reads X and is
        scored against the target).  NaN only where ``mask`` (already checked) is False."""
        if target is None:
            return X
        Y = check_array(target, "target", shape=X.shape, dtype=self.dtype,
                        allow_nan=mask is not None)
        check_magnitude(Y, "target")
        if mask is not None:
            check_mask(mask, Y, data="target")
        return Y

    def make_batch(self, X: np.ndarray, y: object = None) -> Batch:
        """The ``batch`` object :meth:`loss` expects for inputs X (and labels y)."""
        if y is not None:
            raise ValueError(f"{type(self).__name__} takes no labels, but y was given")
        return X

    # -- conveniences -------------------------------------------------------------------------
    def fit(self, X: np.ndarray, **kwargs: Any) -> History:
        """Train on X; see :func:`minivae.train.loop.fit` for the keyword arguments.

        The returned history is also kept as ``self.history_`` (the marker of a trained model
        that e.g. :class:`~minivae.timeseries.anomaly.AnomalyDetector` looks for).
        """
        self.history_ = fit(self, X, **kwargs)
        return self.history_

    def save(self, path: str | PathLike, optimizer: object = None, history: object = None) -> None:
        """Write a checkpoint (see :func:`minivae.train.checkpoint.save_checkpoint`)."""
        save_checkpoint(path, self, optimizer=optimizer, history=history)

    @classmethod
    def load(cls, path: str | PathLike) -> Model:
        """Rebuild a model from a checkpoint written by :meth:`save`.

        Called on a subclass (``VAE.load``), the checkpoint must hold that class (or a subclass).
        """
        ckpt = load_checkpoint(path)
        if not isinstance(ckpt.model, cls):
            raise CheckpointError(
                str(path), f"holds a {type(ckpt.model).__name__}, not a {cls.__name__}"
            )
        return ckpt.model

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        except NotImplementedError:  # pragma: no cover - incomplete subclass
            args = ""
        return f"{type(self).__name__}({args})"


def check_hidden_sizes(hidden_sizes: object, name: str = "hidden_sizes") -> list[int]:
    """A (possibly empty) sequence of positive layer widths, returned as a list of ints."""
    if isinstance(hidden_sizes, (int, np.integer)) and not isinstance(hidden_sizes, bool):
        hidden_sizes = [hidden_sizes]
    if not isinstance(hidden_sizes, Sequence) or isinstance(hidden_sizes, str):
        raise TypeError(
            f"{name} must be a sequence of positive ints, got {type(hidden_sizes).__name__}"
        )
    sizes = []
    for i, h in enumerate(hidden_sizes):
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)):
            raise TypeError(f"{name}[{i}] must be an integer, got {type(h).__name__} {h!r}")
        if h < 1:
            raise ValueError(f"{name}[{i}] must be >= 1, got {h}")
        sizes.append(int(h))
    return sizes
