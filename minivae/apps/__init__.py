"""Signal and finance applications of the review (Singh & Ogunfunmi, Entropy 2022).

* :mod:`~minivae.apps.signal` — STFT / inverse STFT, Wiener masks, BSS-Eval SDR/SIR/SAR;
* :mod:`~minivae.apps.separation` — one VAE per source on spectrograms;
* :mod:`~minivae.apps.volatility` — implied-volatility surface completion with a VAE.
"""
