"""Information measures of the VAE review (Singh & Ogunfunmi, Entropy 2022, section 2.1), each in
the setting where it can be computed:

* :mod:`.discrete` — probability mass functions: Shannon entropy, joint and conditional
  entropy, cross-entropy, KL, mutual information, Jensen-Shannon, Renyi's alpha-entropy,
  alpha-cross-entropy and alpha-divergence;
* :mod:`.gaussian` — the closed forms for Gaussians N(m, S), including the information
  potentials (QIP, CIP), Renyi's quadratic entropy and the Euclidean and Cauchy-Schwarz
  divergences;
* :mod:`.kde` — estimates from samples with a Gaussian Parzen window of bandwidth sigma (QIP,
  CIP, quadratic entropy, Euclidean and Cauchy-Schwarz divergences), each with its gradient
  with respect to the samples;
* :mod:`.kde_entropy` — Parzen resubstitution estimates of the Shannon and Renyi measures
  (entropy, cross-entropy, KL, Renyi entropy, cross-entropy and divergence, Jensen-Shannon,
  mutual information of paired samples), each with its gradient with respect to the samples;
* :mod:`.mmd` — the maximum mean discrepancy between two sample sets (RBF and inverse-multiquadric
  kernels; biased and unbiased estimates), with its gradient with respect to both sets: the
  divergence of InfoVAE and WAE-MMD (:mod:`minivae.objectives.infovae`,
  :mod:`minivae.objectives.wae`).
* :mod:`.mig` — the Mutual Information Gap (Chen et al., 2018) between codes and known factors
  of variation, a disentanglement score (discretised posterior means, plug-in MI).
* :mod:`.clustering` — Hungarian assignment, unsupervised clustering accuracy, k-means++ and a
  diagonal Gaussian mixture by EM (the baselines and the initialisation of VaDE).

The modules use the same names for the same measure (``discrete.entropy``,
``gaussian.entropy``; ``gaussian.cs_divergence``, ``kde.cs_divergence``), so they are used
through their module: ``from minivae.information import kde; kde.cs_divergence(X, Y, sigma)``,
``from minivae.information import mmd; mmd.mmd(x, y)``,
``from minivae.information import kde_entropy; kde_entropy.entropy(X, sigma)``.
"""

from minivae.information import clustering, discrete, gaussian, kde, kde_entropy, mig, mmd

__all__ = ["clustering", "discrete", "gaussian", "kde", "kde_entropy", "mmd", "mig"]
