"""Training: the loop, optimizers, schedules, checkpoints and the diagnostics it logs.

* :mod:`~minivae.train.loop` — :func:`fit` and :class:`History`;
* :mod:`~minivae.train.optim` — SGD, Momentum, Adam/AdamW, gradient clipping;
* :mod:`~minivae.train.schedules` — learning-rate and KL-weight schedules;
* :mod:`~minivae.train.checkpoint` — ``.npz`` checkpoints (no pickle);
* :mod:`~minivae.train.diagnostics` — KL per latent dimension, active units.
"""
