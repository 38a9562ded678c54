"""Signal and finance applications of VAEs, two of the areas the review of Singh & Ogunfunmi
(Entropy 2022, "An Overview of Variational Autoencoders for Source Separation, Finance, and
Bio-Signal Applications") surveys.  The procedures and experiments here are this library's own.

* :mod:`~minivae.apps.base_vae` — what the applications' VAEs share (MLP encoder, the library's
  ELBO);
* :mod:`~minivae.apps.signal` — STFT / inverse STFT, Wiener masks, BSS-Eval SDR/SIR/SAR;
* :mod:`~minivae.apps.separation` — one VAE per source on spectrograms;
* :mod:`~minivae.apps.nmf` — supervised NMF separation (a baseline);
* :mod:`~minivae.apps.ica` — FastICA for multi-channel mixtures (a baseline);
* :mod:`~minivae.apps.volatility` — implied-volatility surface completion with a VAE.
* :mod:`~minivae.apps.vol_generation` — new surfaces from the VAE's latent space (prior or a
  KDE of the training codes) and their share free of calendar / butterfly arbitrage.
"""
