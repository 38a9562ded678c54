"""Training: the loop, optimizers, schedules, checkpoints and what the loop measures.

* :mod:`~minivae.train.loop` — :func:`fit` (epochs of mini-batches) and :func:`train_step`;
* :mod:`~minivae.train.guard` — what fit watches (NaN/inf, exploding parameters), the
  :class:`TrainingDiverged` error and the last good point it goes back to;
* :mod:`~minivae.train.callbacks` — :class:`EarlyStopping`, progress output, the
  :class:`Callback` interface;
* :mod:`~minivae.train.evaluation` — :class:`Validation` data, the validation loss, latent
  diagnostics per epoch;
* :mod:`~minivae.train.history` — :class:`History`, one row per epoch;
* :mod:`~minivae.train.optim` — SGD, Momentum, Adam/AdamW, gradient clipping;
* :mod:`~minivae.train.schedules` — learning-rate and KL-weight schedules;
* :mod:`~minivae.train.checkpoint` — ``.npz`` checkpoints (no pickle), and
  :mod:`~minivae.train.registry`, the table of model classes they are rebuilt from;
* :mod:`~minivae.train.diagnostics` — KL per latent dimension, active units.

Nothing in this package imports a model class: it works with any object that has the methods
of a :class:`~minivae.models.base.Model`, and the models import it (``Model.fit``,
``Model.save``).
"""

from minivae.train.callbacks import Callback, EarlyStopping
from minivae.train.checkpoint import CheckpointError
from minivae.train.evaluation import Validation
from minivae.train.guard import TrainingDiverged
from minivae.train.history import History
from minivae.train.loop import fit, train_step

__all__ = ["Callback", "CheckpointError", "EarlyStopping", "History", "TrainingDiverged",
           "Validation", "fit", "train_step"]
