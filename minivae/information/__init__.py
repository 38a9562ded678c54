"""Information measures of the VAE review (Singh & Ogunfunmi, Entropy 2022, section 2.1).

* :mod:`.mmd` — the maximum mean discrepancy between two sample sets (RBF and inverse-multiquadric
  kernels; biased and unbiased estimates), with its gradient with respect to both sets: the
  divergence of InfoVAE and WAE-MMD (:mod:`minivae.objectives.infovae`,
  :mod:`minivae.objectives.wae`).

Each measure is used through its module: ``from minivae.information import mmd; mmd.mmd(x, y)``.
"""

from minivae.information import mmd

__all__ = ["mmd"]
