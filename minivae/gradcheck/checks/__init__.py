"""Every registered gradient check of the library, one module per area.

Importing this package registers them all (``python -m minivae.gradcheck`` runs them).  The
library's own modules never import the checker: the checks live here, beside it.

* :mod:`.layers` — Dense, activations, MLPs;
* :mod:`.objectives` — reconstruction losses, KLs, the reparameterized sample, log-densities;
* :mod:`.lstm` — the LSTM layer (stacked, lengths, masks) and cell;
* :mod:`.recurrent_cells` — the vanilla RNN and GRU layers and cells, the cell-type factory;
* :mod:`.models` — Autoencoder, VAE (beta, free bits, IWAE, masks), CVAE;
* :mod:`.sequence_models` — LSTMAutoencoder and LSTMVAE, both decoders, teacher forcing, and
  the LSTM-VAE's objectives (IWAE, VR, InfoVAE, WAE, STL, DReG);
* :mod:`.sequence_options` — the sequence autoencoders' encoder/decoder options (conditioned
  decoder, decoder state from the encoder, bidirectional encoder, GRU / RNN cells);
* :mod:`.apps` — the separation and volatility VAEs;
* :mod:`.forecast` — the LSTMForecaster (rollout, teacher forcing, masks, stacked);
* :mod:`.information` — the KDE information measures (QIP, CIP, quadratic entropy, Euclidean
  and Cauchy-Schwarz divergences) and the ITL autoencoder;
* :mod:`.denoising` — the sequence models' ``target=`` path and the Denoising wrapper;
* :mod:`.variational` — MMD, InfoVAE, WAE, VR-alpha / VR-max, STL and DReG (objectives and VAE).
* :mod:`.vrnn` — the VRNN (likelihoods, beta, missing entries / steps, lengths) and its step.
* :mod:`.latent` — GAN losses, the vector quantizer (piecewise and straight-through), VQ-VAE,
  the adversarial autoencoder's three phases.
* :mod:`.rho_vae` — the rho-VAE posterior (AR(1) sample, its closed-form KL, their ELBO backward).
* :mod:`.mixture_vae` — the mixture-prior KL, VaDE's p(c | z), the VaDE and GMVAE models.
* :mod:`.conditional_multimodal` — the CVAE with a learned prior p(z | c), its deterministic
  baseline, and the MMVAE's stratified bound.
* :mod:`.posteriors` — the VAE with each posterior family (rho, IAF) through loss / backward.
* :mod:`.vmf` — the S-VAE's von Mises-Fisher posterior (reparameterized sample, KL to the
  uniform prior on the sphere, encoder map) and log I_v against its ratio.
* :mod:`.disentangle` — the beta-TCVAE regulariser (MI, TC, dimension-wise KL by minibatch-weighted
  sampling), BetaTCVAE and AnnealedVAE.
* :mod:`.pixel_vae` — the row-LSTM image decoder, the delta-VAE KL, the PixelVAE model.
"""

from minivae.gradcheck.checks import (
    apps,
    conditional_multimodal,
    denoising,
    disentangle,
    fetal_ecg,
    forecast,
    information,
    latent,
    layers,
    lstm,
    mixture_vae,
    models,
    objectives,
    pixel_vae,
    posteriors,
    recurrent_cells,
    rho_vae,
    sequence_models,
    sequence_options,
    variational,
    vmf,
    vrnn,
)
from minivae.gradcheck.registry import REGISTRY

#: The checks of the core layers, losses and distributions (``--builtin``): quick, no models.
BUILTIN_CHECKS: tuple[str, ...] = tuple(
    name for name, fn in REGISTRY.items() if fn.__module__ in (layers.__name__, objectives.__name__)
)

__all__ = [
    "BUILTIN_CHECKS", "apps", "information", "layers", "lstm", "models", "objectives",
    "sequence_models", "variational",
    "recurrent_cells",
    "vrnn",
    "forecast",
    "sequence_options",
    "latent",
    "denoising",
    "rho_vae",
    "mixture_vae",
    "conditional_multimodal",
    "posteriors",
    "vmf",
    "disentangle",
    "pixel_vae",
    "fetal_ecg",
]
