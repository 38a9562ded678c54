"""Gradient checks of the fetal ECG study's per-source networks
(:class:`minivae.experiments.fetal_ecg.SourceNet`): the autoencoder's squared error, the VAE's
reparameterised squared error plus ``beta KL / W``, and CASS's squared error plus the
non-saturating generator loss through its signal discriminator."""

from __future__ import annotations

import dataclasses

import numpy as np

from minivae.experiments.fetal_ecg import LEARNED, TINY, SourceNet
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult


def _source_net_check(kind: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        # Small sizes and a large beta / adversarial weight, so every term moves the gradient.
        s = dataclasses.replace(TINY, window=12, hidden=6, latent=3, beta=0.5, adv_weight=0.5)
        net = SourceNet(kind, s, rng)
        x, y = rng.standard_normal((4, s.window)), rng.standard_normal((4, s.window))
        return check_model(net, (x, y), rng=rng, max_entries=20)

    return check


for _kind in LEARNED:
    register_check(f"fetal_ecg.source_net.{_kind}", _source_net_check(_kind))
