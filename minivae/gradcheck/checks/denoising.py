"""Gradient checks of the denoising objective: the sequence models' ``target=`` path (read one
input, reconstruct another; teacher forcing then feeds the target's previous values; the VRNN's
per-step reconstruction terms score the target), directly
and through the :class:`~minivae.models.Denoising` wrapper with each corruption kind (the
corrupted input is replayed from ``last_eps`` so every finite difference sees the same noise).
Float64, tolerance 1e-7 (smooth functions of the parameters); ``max_entries=12`` sampled
entries per parameter keep them quick."""

from __future__ import annotations

from minivae.data.corruption import Corruption
from minivae.gradcheck.checks._common import randomise_biases, sequence_batch
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import LSTMVAE, Denoising, LSTMAutoencoder
from minivae.models.vrnn import VRNN

_TARGET_CHECKS = {
    # name: (model class, decoder, output / likelihood, teacher forcing, masked)
    "lstm_ae.repeat": (LSTMAutoencoder, "repeat", "mse", 1.0, False),
    "lstm_ae.autoregressive_tf05_masked": (LSTMAutoencoder, "autoregressive", "gaussian", 0.5,
                                           True),
    "lstm_vae.repeat": (LSTMVAE, "repeat", "gaussian", 1.0, False),
    "lstm_vae.autoregressive_tf1_masked": (LSTMVAE, "autoregressive", "mse", 1.0, True),
    "lstm_ae.conditioned_tf05_masked": (LSTMAutoencoder, "conditioned", "gaussian", 0.5, True),
    "lstm_vae.conditioned_tf05": (LSTMVAE, "conditioned", "gaussian", 0.5, False),
    "vrnn.gaussian": (VRNN, None, "gaussian", None, False),
    "vrnn.mse_masked": (VRNN, None, "mse", None, True),
}


def _model(cls, D, H, L, decoder, out, tf, rng):
    if cls is VRNN:  # one latent per step: no decoder choice, no teacher forcing
        model = VRNN(D, H, L, likelihood=out, rng=rng)
        randomise_biases(model, rng)
        return model
    kind = "output" if cls is LSTMAutoencoder else "likelihood"
    model = cls(D, H, L, decoder=decoder, teacher_forcing=tf, rng=rng, **{kind: out})
    randomise_biases(model, rng)
    return model


def make_target(spec):
    """loss(X, target=Y) with X and Y independent: the gradient of the loss scored against Y."""
    cls, decoder, out, tf, masked = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        model = _model(cls, D, H + 1, L, decoder, out, tf, rng)
        X, kwargs = sequence_batch(rng, N, T + 1, D, masked)
        Y = X + 0.5 * rng.standard_normal(X.shape)  # NaN where X is missing, like X
        return check_model(model, X, rng=rng, loss_kwargs={**kwargs, "target": Y},
                           max_entries=12)

    return check


for name, spec in _TARGET_CHECKS.items():
    register_check(f"denoising.target.{name}", make_target(spec))


_WRAPPER_CHECKS = {
    # name: (model class, decoder, output, teacher forcing, masked, corruption)
    "gaussian.lstm_ae": (LSTMAutoencoder, "repeat", "mse", 1.0, True,
                         Corruption("gaussian", std=0.3)),
    "masking.lstm_ae_autoregressive": (LSTMAutoencoder, "autoregressive", "mse", 0.5, False,
                                       Corruption("masking", fraction=0.3)),
    "salt_and_pepper.lstm_vae": (LSTMVAE, "repeat", "gaussian", 1.0, False,
                                 Corruption("salt_and_pepper", fraction=0.2)),
    "poisson.lstm_vae": (LSTMVAE, "repeat", "mse", 1.0, False, Corruption("poisson", rate=5.0)),
    "process.lstm_vae_autoregressive": (LSTMVAE, "autoregressive", "gaussian", 0.5, True,
                                        Corruption("process", snr_db=(0.0, 10.0), fs=125.0)),
    "gaussian.vrnn": (VRNN, None, "gaussian", None, True, Corruption("gaussian", std=0.3)),
}


def make_wrapper(spec):
    """Denoising(model, corruption): loss / backward through the wrapper."""
    cls, decoder, out, tf, masked, corruption = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        model = Denoising(_model(cls, D, H + 1, L, decoder, out, tf, rng), corruption)
        X, kwargs = sequence_batch(rng, N, T + 2, D, masked)
        return check_model(model, X, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check


for name, spec in _WRAPPER_CHECKS.items():
    register_check(f"denoising.{name}", make_wrapper(spec))
