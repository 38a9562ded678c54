"""Which objective a VAE trains: the names, their options and the dispatch to
:mod:`minivae.objectives`, shared by the MLP :class:`~minivae.models.VAE` (and CVAE) and the
:class:`~minivae.models.LSTMVAE`.  Every objective itself is written once, in
:mod:`minivae.objectives`; this module only says which function computes which choice.

* one-sample objectives: "elbo" (:func:`~minivae.objectives.elbo.negative_elbo`);
* k-sample objectives (z: (k, N, L)): "iwae", "vr", "vr_max", "elbo_stl", "iwae_stl",
  "iwae_dreg", each a value and the weights g (k, N) of the per-sample gradients, and its own
  encoder backward (:data:`SAMPLED_BACKWARD`);
* MMD objectives (one code per example and as many prior draws): "infovae", "wae".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_scalar
from minivae.information.mmd import KERNELS, default_bandwidth
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.infovae import infovae_weights, negative_infovae
from minivae.objectives.iwae import negative_iwae, negative_iwae_backward
from minivae.objectives.path_gradients import dreg_backward, negative_elbo_stl, stl_backward
from minivae.objectives.renyi import negative_vr
from minivae.objectives.wae import negative_wae

OBJECTIVES = ("elbo", "iwae", "elbo_stl", "iwae_stl", "iwae_dreg", "vr", "vr_max", "infovae",
              "wae")
#: Objectives computed from k samples per example: their encoder backward, each taking
#: (q, inside, z, dz, g, beta) with g (k, N) the weight of each sample's gradient.
SAMPLED_BACKWARD = {"iwae": negative_iwae_backward, "vr": negative_iwae_backward,
                    "vr_max": negative_iwae_backward, "elbo_stl": stl_backward,
                    "iwae_stl": stl_backward, "iwae_dreg": dreg_backward}
#: Objectives with an MMD between the batch of codes and as many prior draws.
MMD_OBJECTIVES = ("infovae", "wae")
#: Defaults of the objective options (None in the constructor).
OBJECTIVE_DEFAULTS = {"vr": {"alpha": 0.5}, "infovae": {"alpha": 0.0, "mmd_lambda": 100.0,
                                                        "kernel": "rbf"},
                      "wae": {"mmd_lambda": 10.0, "kernel": "imq"}}


def objective_options(objective: str, alpha: float | None, mmd_lambda: float | None,
                      kernel: str | None, latent_dim: int,
                      choices: tuple[str, ...] = OBJECTIVES) -> dict[str, Any]:
    """The options of an objective, defaults filled in and validated: alpha (VR's order, or
    InfoVAE's alpha), mmd_lambda, kernel and bandwidth (MMD objectives).  Options the objective
    does not use must stay None.  ``choices``: the objectives the model offers."""
    if objective not in choices:
        raise ValueError(f"objective must be one of {choices}, got {objective!r}")
    given = {"alpha": alpha, "mmd_lambda": mmd_lambda, "kernel": kernel}
    defaults = OBJECTIVE_DEFAULTS.get(objective, {})
    unused = [name for name, v in given.items() if v is not None and name not in defaults]
    if unused:
        raise ValueError(f"objective={objective!r} takes no {', '.join(unused)} (options of "
                         f"this objective: {sorted(defaults) or 'none'})")
    opts = {name: (defaults[name] if given[name] is None else given[name]) for name in defaults}
    if objective == "vr":
        opts["alpha"] = check_scalar(opts["alpha"], "alpha")
    if objective == "infovae":
        infovae_weights(opts["alpha"], opts["mmd_lambda"])  # validates both
    if objective in MMD_OBJECTIVES:
        opts["mmd_lambda"] = check_scalar(opts["mmd_lambda"], "mmd_lambda", low=0.0)
        if opts["kernel"] not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {opts['kernel']!r}")
        opts["bandwidth"] = default_bandwidth(opts["kernel"], latent_dim)
    return opts


def sampled_objective(objective: str, options: dict[str, Any], rec: np.ndarray, z: np.ndarray,
                      q: DiagonalGaussian, beta: float):
    """(value, parts, g) of a k-sample objective: rec (k, N) = -log p(x | z_i), z (k, N, L)."""
    if objective in ("vr", "vr_max"):
        alpha = options["alpha"] if objective == "vr" else -np.inf
        return negative_vr(rec, z, q, alpha, beta)
    if objective == "elbo_stl":
        return negative_elbo_stl(rec, z, q, beta)
    return negative_iwae(rec, z, q, beta)  # iwae, iwae_stl, iwae_dreg


def mmd_objective(objective: str, options: dict[str, Any], rec: np.ndarray,
                  q: DiagonalGaussian, z: np.ndarray, prior_z: np.ndarray, beta: float):
    """(value, parts, dkl, dz) of InfoVAE or WAE-MMD: rec (N,), codes z and prior draws (N, L);
    dz (N, L) is the MMD's own gradient w.r.t. the codes (WAE has no KL: dkl = 0)."""
    o = options
    if objective == "wae":
        value, parts, dz = negative_wae(rec, q, z, prior_z, lambda_=o["mmd_lambda"],
                                        kernel=o["kernel"], bandwidth=o["bandwidth"])
        return value, parts, 0.0, dz
    return negative_infovae(rec, q, z, prior_z, alpha=o["alpha"], lambda_=o["mmd_lambda"],
                            beta=beta, kernel=o["kernel"], bandwidth=o["bandwidth"])


def _check_choice(objective: object, options: object) -> None:
    """``objective`` one of :data:`OBJECTIVES`, ``options`` its dict from
    :func:`objective_options`."""
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if not isinstance(options, dict):
        raise TypeError(f"options must be the dict from objective_options(), got "
                        f"{type(options).__name__}")


def bound_alpha(objective: str, options: dict[str, Any]) -> float:
    """The Renyi order of the bound a k-sample objective estimates: 0 (IWAE and its
    estimators), VR's alpha, -inf (VR-max) or 1 (ELBO-STL)."""
    _check_choice(objective, options)
    return {"vr": options.get("alpha"), "vr_max": -np.inf, "elbo_stl": 1.0}.get(objective, 0.0)


def kl_factor(objective: str, options: dict[str, Any], beta: float) -> float:
    """The weight of the per-example KL in the loss of a one-sample objective."""
    _check_choice(objective, options)
    beta = check_scalar(beta, "beta", low=0.0)
    if objective == "wae":
        return 0.0
    if objective == "infovae":
        return (1.0 - options["alpha"]) * beta
    return beta
