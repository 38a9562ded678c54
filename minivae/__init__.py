"""minivae: readable from-scratch NumPy variational autoencoders for time series and images.

The code is the reference a lesson shows; a few hot loops have compiled twins (Numba) that
compute the same numbers, chosen by one switch: ``MINIVAE_BACKEND=numpy|numba`` or
:func:`set_backend` (see :mod:`minivae.twins` and :mod:`minivae.fast.backend`).

The names most code needs are importable from here::

    from minivae import LSTMVAE, fit, set_backend

The packages, one concept each: :mod:`minivae.nn` (layers, the LSTM, decoders),
:mod:`minivae.objectives` (likelihoods, distributions and KLs, the ELBO), :mod:`minivae.models`,
:mod:`minivae.train` (fit, optimizers, schedules, checkpoints), :mod:`minivae.gradcheck`,
:mod:`minivae.fast` (the compiled twins and the switch), :mod:`minivae.data`,
:mod:`minivae.timeseries` (anomaly detection, metrics, imputation), :mod:`minivae.apps`
(signals, separation, volatility), :mod:`minivae.experiments`, :mod:`minivae.exercises`.
"""

from minivae.fast.backend import get_backend, set_backend, use_backend
from minivae.models import CVAE, LSTMVAE, VAE, Autoencoder, LSTMAutoencoder, Model
from minivae.train import (
    CheckpointError,
    EarlyStopping,
    History,
    TrainingDiverged,
    Validation,
    fit,
)
from minivae.train.optim import SGD, Adam, Momentum

__version__ = "0.1.0"

__all__ = [
    "CVAE",
    "LSTMVAE",
    "SGD",
    "VAE",
    "Adam",
    "Autoencoder",
    "CheckpointError",
    "EarlyStopping",
    "History",
    "LSTMAutoencoder",
    "Model",
    "Momentum",
    "TrainingDiverged",
    "Validation",
    "__version__",
    "fit",
    "get_backend",
    "set_backend",
    "use_backend",
]
