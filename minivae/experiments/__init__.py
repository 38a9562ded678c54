"""Reproducible experiments: ``python -m minivae.experiments NAME [options]``.

Each experiment is a module ``minivae.experiments.<name>`` with a ``main(argv) -> int`` that
parses its own options (every one has ``--quick``, ``--seed`` and ``--out``), prints its tables and
writes its figures.  The registry below maps names to modules; modules are imported only when run.
"""

from __future__ import annotations

EXPERIMENTS: dict[str, str] = {
    "timeseries": "minivae.experiments.timeseries",
    "mnist": "minivae.experiments.mnist",
    "separation": "minivae.experiments.separation",
    "volatility": "minivae.experiments.volatility",
    "mnist-anomaly": "minivae.experiments.mnist_anomaly",
    "fraud": "minivae.experiments.fraud",
    "objectives": "minivae.experiments.objectives",
    "ecg5000": "minivae.experiments.ecg5000",
    "forecast": "minivae.experiments.forecast",
    "latent": "minivae.experiments.latent",
    "latent-sharpness": "minivae.experiments.latent_sharpness",
    "denoise": "minivae.experiments.denoise",
    "latent-conditional": "minivae.experiments.latent_conditional",
    "latent-multimodal": "minivae.experiments.latent_multimodal",
    "posteriors": "minivae.experiments.posteriors",
}
