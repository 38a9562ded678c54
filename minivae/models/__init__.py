"""Models: every one subclasses :class:`Model` and registers itself for checkpoint loading.

* :class:`Autoencoder`: deterministic MLP autoencoder;
* :class:`VAE`: variational autoencoder (beta-VAE, free bits, IWAE objective and bound; the
  objectives of :mod:`minivae.models.objective_choice`);
* :class:`CVAE`: VAE conditioned on a one-hot class label;
* :class:`PriorCVAE`: CVAE on a real-valued condition with a learned prior p(z | c) (Sohn et al.
  2015), and :class:`ConditionalRegressor`, its deterministic baseline;
* :class:`MMVAE`: mixture-of-experts multimodal VAE, stratified bound (Shi et al. 2019);
* :class:`LSTMAutoencoder`, :class:`LSTMVAE`: sequence models on (N, T, D) (the LSTM-VAE
  offers the VAE's objectives too);
* :class:`LSTMForecaster`: LSTM encoder + autoregressive decoder forecasting the next k steps;
* :class:`ITLAutoencoder`: deterministic codes pulled to a prior by a KDE divergence (CS or
  Euclidean), Santana, Emigh & Principe 2016;
* :class:`VQVAE`: discrete codes from a codebook, straight-through gradient (van den Oord et al.
  2017); :class:`AdversarialAutoencoder`: codes matched to a prior by a discriminator
  (Makhzani et al. 2016); :class:`VAEGAN`: reconstruction in a discriminator's feature space
  (Larsen et al. 2016).
* :class:`Denoising`: the denoising objective around a sequence autoencoder (corrupted input,
  clean target).
* :class:`BetaTCVAE`, :class:`AnnealedVAE`: disentangling VAEs (total-correlation penalty,
  Chen et al. 2018; capacity annealing, Burgess et al. 2018).
* :class:`PixelVAE`: an autoregressive row-LSTM image decoder (PixelVAE-style), with free bits
  and the delta-VAE's AR(1) prior against posterior collapse.
"""

from minivae.models.aae import AdversarialAutoencoder
from minivae.models.autoencoder import Autoencoder
from minivae.models.base import (
    MODEL_REGISTRY,
    Model,
    get_model_class,
    register_model,
)
from minivae.models.beta_tcvae import AnnealedVAE, BetaTCVAE
from minivae.models.cvae import CVAE, one_hot
from minivae.models.cvae_prior import ConditionalRegressor, PriorCVAE
from minivae.models.denoising import Denoising
from minivae.models.itl_autoencoder import ITLAutoencoder
from minivae.models.lstm_autoencoder import LSTMAutoencoder
from minivae.models.lstm_forecaster import LSTMForecaster
from minivae.models.lstm_vae import LSTMVAE
from minivae.models.mmvae import MMVAE
from minivae.models.pixel_vae import PixelVAE
from minivae.models.two_stage_vae import TwoStageVAE
from minivae.models.vae import VAE, BaseVAE
from minivae.models.vaegan import VAEGAN
from minivae.models.vqvae import VQVAE
from minivae.models.vrnn import VRNN

__all__ = [
    "AdversarialAutoencoder",
    "Autoencoder",
    "BaseVAE",
    "CVAE",
    "ConditionalRegressor",
    "PriorCVAE",
    "Denoising",
    "ITLAutoencoder",
    "LSTMAutoencoder",
    "LSTMForecaster",
    "LSTMVAE",
    "MMVAE",
    "MODEL_REGISTRY",
    "Model",
    "VAE",
    "VRNN",
    "TwoStageVAE",
    "VAEGAN",
    "VQVAE",
    "get_model_class",
    "one_hot",
    "register_model",
    "AnnealedVAE",
    "BetaTCVAE",
    "PixelVAE",
]
