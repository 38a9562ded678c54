"""Models: every one subclasses :class:`Model` and registers itself for checkpoint loading.

* :class:`Autoencoder`: deterministic MLP autoencoder;
* :class:`VAE`: variational autoencoder (beta-VAE, free bits, IWAE objective and bound; the
  objectives of :mod:`minivae.models.objective_choice`);
* :class:`CVAE`: VAE conditioned on a one-hot class label;
* :class:`LSTMAutoencoder`, :class:`LSTMVAE`: sequence models on (N, T, D) (the LSTM-VAE
  offers the VAE's objectives too);
* :class:`ITLAutoencoder`: deterministic codes pulled to a prior by a KDE divergence (CS or
  Euclidean), Santana, Emigh & Principe 2016.
"""

from minivae.models.autoencoder import Autoencoder
from minivae.models.base import (
    MODEL_REGISTRY,
    Model,
    get_model_class,
    register_model,
)
from minivae.models.cvae import CVAE, one_hot
from minivae.models.itl_autoencoder import ITLAutoencoder
from minivae.models.lstm_autoencoder import LSTMAutoencoder
from minivae.models.lstm_vae import LSTMVAE
from minivae.models.vae import VAE, BaseVAE
from minivae.models.vrnn import VRNN

__all__ = [
    "Autoencoder",
    "BaseVAE",
    "CVAE",
    "ITLAutoencoder",
    "LSTMAutoencoder",
    "LSTMVAE",
    "MODEL_REGISTRY",
    "Model",
    "VAE",
    "VRNN",
    "get_model_class",
    "one_hot",
    "register_model",
]
