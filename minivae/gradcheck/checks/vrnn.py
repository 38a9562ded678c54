"""Gradient checks of the VRNN (:class:`~minivae.models.VRNN`): every parameter of the prior,
encoder, decoder, feature maps and LSTM recurrence, through the hand-written BPTT, with fixed
noise eps (``last_eps``).  Float64, tolerance 1e-7 (the default); ``max_entries=12`` sampled
entries per parameter keep the CLI quick (``tests/test_vrnn.py`` checks every entry of every
parameter once).

Variants: both likelihoods, beta != 1, per-entry missing values, whole steps missing in the
middle of a sequence (state carried across them) and padded variable lengths, and a feature size
different from the hidden size.  One check of the step alone
(:func:`~minivae.models.vrnn_step.vrnn_step_backward`) tests the gradients the step passes
back to h_{t-1} and c_{t-1}, which the model checks see only through later steps.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import randomise_biases, sequence_batch
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import VRNN
from minivae.models.vrnn_step import vrnn_step_backward, vrnn_step_forward
from minivae.objectives.losses import reconstruction_nll

_CHECKS = {
    # name: (likelihood, beta, missing, feature_size) with missing None, "entries", "steps"
    # (whole steps missing inside sequences) or "lengths" (padded tails)
    "gaussian": ("gaussian", 1.0, None, None),
    "mse": ("mse", 1.0, None, None),
    "gaussian.beta": ("gaussian", 0.5, None, 2),
    "gaussian.masked_entries": ("gaussian", 1.0, "entries", None),
    "mse.missing_steps": ("mse", 1.0, "steps", 3),
    "gaussian.lengths": ("gaussian", 2.0, "lengths", None),
}


def _batch(rng: np.random.Generator, N: int, T: int, D: int, missing: str | None):
    """X and the loss keywords for one kind of missing data."""
    if missing in (None, "entries"):
        return sequence_batch(rng, N, T, D, missing == "entries")
    X = rng.standard_normal((N, T, D))
    if missing == "lengths":
        lengths = rng.integers(1, T + 1, size=N)
        lengths[0] = T
        return X, {"lengths": lengths}
    steps = rng.random((N, T)) < 0.6
    steps[:, 0] = True
    return np.where(steps[:, :, None], X, np.nan), {"mask": steps}


def make(spec):
    likelihood, beta, missing, feature_size = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        model = VRNN(D, H, L, feature_size=feature_size, likelihood=likelihood, beta=beta,
                     rng=rng)
        randomise_biases(model, rng)
        batch, kwargs = _batch(rng, N + 1, T + 2, D, missing)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check


for name, spec in _CHECKS.items():
    register_check(f"models.vrnn.{name}", make(spec))


@register_check("models.vrnn.step")
def check_step(rng):
    """One step: a random linear function of (h_t, c_t, out) plus the weighted KL, as a
    function of h_{t-1} and c_{t-1}; the step's backward must give its gradients."""
    N, D, H, L = (int(v) for v in rng.integers(1, 4, size=4))
    model = VRNN(D, H, L, rng=rng)
    randomise_biases(model, rng)
    P, G = model._weights()
    x, eps = rng.standard_normal((N, D)), rng.standard_normal((N, L))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    wh, wc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    w_kl = rng.random((N, 1))

    def f(h_prev, c_prev):
        h, c, out, q, p, _ = vrnn_step_forward(x, eps, h_prev, c_prev, P)
        nll, _ = reconstruction_nll("gaussian", out, x, None, need_grad=False, variance=None)
        return float(np.sum(wh * h) + np.sum(wc * c) + nll.sum() + np.sum(w_kl[:, 0] * q.kl(p)))

    def grads(h_prev, c_prev):
        _, _, out, _, _, cache = vrnn_step_forward(x, eps, h_prev, c_prev, P)
        _, dout = reconstruction_nll("gaussian", out, x, None, need_grad=True, variance=None)
        return vrnn_step_backward(wh, wc, dout, w_kl, cache, P, G)

    return check_function(f, {"h_prev": h0, "c_prev": c0}, grads, rng=rng)
