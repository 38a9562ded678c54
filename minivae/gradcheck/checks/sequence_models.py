"""Gradient checks of the sequence models: LSTMAutoencoder and LSTMVAE with both decoders,
teacher forcing 0 / 0.5 / 1, stacked layers, masks, mask channels, free bits and beta; the
LSTM-VAE's objectives (IWAE, VR, VR-max, InfoVAE, WAE, and the decoder side of ELBO-STL,
IWAE-STL and DReG: ``models.lstm_vae.objective.*``) and the encoder side of STL / DReG against
their surrogates through the LSTM decoder (``models.lstm_vae.path.*``).  Float64, tolerance
1e-7; ``max_entries=12`` sampled entries per parameter keep them quick."""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import (
    path_surrogate,
    randomise_biases,
    sequence_batch,
    set_free_bits_in_widest_gap,
)
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import LSTMVAE, LSTMAutoencoder
from minivae.models.base import tile_samples
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.iwae import iwae_log_weights, negative_iwae
from minivae.objectives.path_gradients import (
    dreg_backward,
    dreg_weights,
    negative_elbo_stl,
    stl_backward,
)

_AE_CHECKS = {
    # name: (decoder, output, teacher_forcing, masked, num_layers, mask_input)
    "repeat": ("repeat", "mse", 1.0, False, 1, False),
    "repeat.gaussian_masked": ("repeat", "gaussian", 1.0, True, 1, True),
    "repeat.stacked": ("repeat", "mse", 1.0, False, 2, False),
    "autoregressive.tf0": ("autoregressive", "mse", 0.0, False, 1, False),
    "autoregressive.tf05_masked": ("autoregressive", "gaussian", 0.5, True, 1, False),
    "autoregressive.tf1": ("autoregressive", "mse", 1.0, False, 1, False),
    "autoregressive.stacked_tf05": ("autoregressive", "mse", 0.5, False, 2, True),
    # tf1 without missing values: every decoder input known in advance (on the numba backend
    # the decoder's twin then runs one sequence LSTM per layer).
    "autoregressive.stacked_tf1": ("autoregressive", "gaussian", 1.0, False, 2, False),
}



def make(spec):
    decoder, output, tf, masked, nl, mask_input = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        model = LSTMAutoencoder(D, H + 1, L, decoder=decoder, output=output,
                                teacher_forcing=tf, num_layers=nl, mask_input=mask_input,
                                rng=rng)
        randomise_biases(model, rng)
        batch, kwargs = sequence_batch(rng, N, T + 1, D, masked)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check

for name, spec in _AE_CHECKS.items():
    register_check(f"models.lstm_ae.{name}", make(spec))


_VAE_CHECKS = {
    # name: (decoder, likelihood, teacher_forcing, masked, num_layers, free_bits, beta)
    "repeat.gaussian": ("repeat", "gaussian", 1.0, False, 1, False, 1.0),
    "repeat.mse_masked": ("repeat", "mse", 1.0, True, 1, False, 1.0),
    "repeat.stacked_beta": ("repeat", "gaussian", 1.0, False, 2, False, 2.5),
    "repeat.free_bits": ("repeat", "gaussian", 1.0, False, 1, True, 1.0),
    "autoregressive.tf0": ("autoregressive", "gaussian", 0.0, False, 1, False, 1.0),
    "autoregressive.tf05_masked": ("autoregressive", "mse", 0.5, True, 1, False, 0.5),
    "autoregressive.tf1": ("autoregressive", "gaussian", 1.0, False, 1, False, 1.0),
    "autoregressive.stacked_tf05": ("autoregressive", "gaussian", 0.5, True, 2, False, 1.0),
    "autoregressive.stacked_tf1": ("autoregressive", "mse", 1.0, False, 2, False, 1.0),
}



def make(spec):
    decoder, likelihood, tf, masked, nl, free_bits, beta = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        if free_bits:
            N, L = N + 1, L + 1
        model = LSTMVAE(D, H + 1, L, decoder=decoder, likelihood=likelihood,
                        teacher_forcing=tf, num_layers=nl, beta=beta, rng=rng)
        randomise_biases(model, rng)
        batch, kwargs = sequence_batch(rng, N, T + 1, D, masked)
        if free_bits:
            kl = model.kl_per_dimension(batch, mask=kwargs.get("mask"))
            set_free_bits_in_widest_gap(model, kl)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check

for name, spec in _VAE_CHECKS.items():
    register_check(f"models.lstm_vae.{name}", make(spec))


# ----------------------------------------------------------------- the LSTM-VAE's objectives
#: name: (objective, options, decoder, teacher_forcing, likelihood); every check masked.
_OBJECTIVE_CHECKS = {
    "iwae": ("iwae", {}, "repeat", 1.0, "gaussian"),
    "iwae.autoregressive_tf05": ("iwae", {}, "autoregressive", 0.5, "gaussian"),
    "vr": ("vr", {"alpha": 0.5}, "autoregressive", 1.0, "gaussian"),
    "vr_max": ("vr_max", {}, "repeat", 1.0, "gaussian"),
    "infovae": ("infovae", {}, "repeat", 1.0, "gaussian"),
    "mmd_vae.autoregressive_tf05": ("infovae", {"alpha": 1.0, "mmd_lambda": 10.0,
                                                "kernel": "imq"}, "autoregressive", 0.5, "mse"),
    "wae": ("wae", {}, "repeat", 1.0, "mse"),
    "wae.autoregressive_tf0": ("wae", {}, "autoregressive", 0.0, "gaussian"),
    "elbo_stl": ("elbo_stl", {}, "repeat", 1.0, "mse"),
    "iwae_stl": ("iwae_stl", {}, "autoregressive", 0.5, "gaussian"),
    "iwae_dreg": ("iwae_dreg", {}, "repeat", 1.0, "gaussian"),
}


def make_objective(spec):
    """The LSTM-VAE trained with an objective of :mod:`minivae.models.objective_choice`,
    through loss / backward.  STL / DReG: decoder parameters only (their encoder gradient is an
    estimator: ``models.lstm_vae.path.*`` checks it against its surrogate)."""
    objective, options, decoder, tf, likelihood = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        model = LSTMVAE(D, H + 1, L, decoder=decoder, likelihood=likelihood, teacher_forcing=tf,
                        objective=objective, k=3, rng=rng, **options)
        randomise_biases(model, rng)
        batch, kwargs = sequence_batch(rng, N + 1, T + 1, D, True)
        params = None
        if objective in ("elbo_stl", "iwae_stl", "iwae_dreg"):
            params = [name for name, _, _ in model.parameters() if name.startswith("decoder.")]
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, params=params,
                           max_entries=12)

    return check

for name, spec in _OBJECTIVE_CHECKS.items():
    register_check(f"models.lstm_vae.objective.{name}", make_objective(spec))


def make_path(kind):
    """STL / DReG through the LSTM decoder: the encoder-side gradient (w.r.t. the encoder's
    (mu, logvar); the encoder's own backward is the ELBO's, checked above) equals the exact
    gradient of the estimator's surrogate, log q(z | x) with the base point's (mu0, logvar0)
    and, for DReG, the per-sample weights held at the base point (as in
    :mod:`minivae.gradcheck.checks.variational`)."""
    loss = negative_elbo_stl if kind == "elbo_stl" else negative_iwae
    backward = dreg_backward if kind == "iwae_dreg" else stl_backward

    def check(rng):
        n, T, D, H, L, k = (int(v) + 1 for v in rng.integers(0, 3, size=6))
        model = LSTMVAE(D, H, L, objective=kind, k=k, rng=rng)
        randomise_biases(model, rng)
        X, kwargs = sequence_batch(rng, n, T + 1, D, True)
        X, mask = tile_samples(X, k), tile_samples(kwargs["mask"], k)  # row i * n + j: sample i
        mu0, logvar0 = 0.5 * rng.standard_normal((n, L)), 0.3 * rng.standard_normal((n, L))
        eps, q0, beta = rng.standard_normal((k, n, L)), DiagonalGaussian(mu0, logvar0), 1.0

        def decoded(mu, logvar, need_grad):
            q = DiagonalGaussian(mu, logvar)
            z = q.rsample(None, n_samples=k, eps=eps)  # (k, n, L)
            rec, dout = model._nll(model._decode(z.reshape(k * n, L), T + 1), X, mask,
                                   need_grad=need_grad)
            return q, z, rec.reshape(k, n), dout

        q_b, z_b, rec_b, _ = decoded(mu0, logvar0, False)
        g0 = loss(rec_b, z_b, q_b, beta)[2]
        weight0 = g0 * dreg_weights(g0, beta)  # DReG's per-sample weights, held constant

        def f(mu, logvar):
            _, z, rec, _ = decoded(mu, logvar, False)
            log_w = iwae_log_weights(rec, z, q0, beta)
            return path_surrogate(kind, log_w, weight0)

        def grad(mu, logvar):
            q, z, rec, dout = decoded(mu, logvar, True)
            g = loss(rec, z, q, beta)[2]
            dz = model._decode_backward(dout * g.reshape(k * n, 1, 1)).reshape(z.shape)
            dh = backward(q, np.ones_like(mu, dtype=bool), z, dz, g, beta)
            return dh[:, :L], dh[:, L:]

        return check_function(f, {"mu": mu0, "logvar": logvar0}, grad)

    return check

for kind in ("elbo_stl", "iwae_stl", "iwae_dreg"):
    register_check(f"models.lstm_vae.path.{kind}", make_path(kind))
