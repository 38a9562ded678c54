"""Every registered gradient check of the library, one module per area.

Importing this package registers them all (``python -m minivae.gradcheck`` runs them).  The
library's own modules never import the checker: the checks live here, beside it.

* :mod:`.layers` — Dense, activations, MLPs;
* :mod:`.objectives` — reconstruction losses, KLs, the reparameterized sample, log-densities;
* :mod:`.lstm` — the LSTM layer (stacked, lengths, masks) and cell;
* :mod:`.recurrent_cells` — the vanilla RNN and GRU layers and cells, the cell-type factory;
* :mod:`.models` — Autoencoder, VAE (beta, free bits, IWAE, masks), CVAE;
* :mod:`.sequence_models` — LSTMAutoencoder and LSTMVAE, both decoders, teacher forcing, and
  the LSTM-VAE's objectives (IWAE, VR, InfoVAE, WAE, STL, DReG);
* :mod:`.apps` — the separation and volatility VAEs;
* :mod:`.information` — the KDE information measures (QIP, CIP, quadratic entropy, Euclidean
  and Cauchy-Schwarz divergences) and the ITL autoencoder;
* :mod:`.variational` — MMD, InfoVAE, WAE, VR-alpha / VR-max, STL and DReG (objectives and VAE).
* :mod:`.vrnn` — the VRNN (likelihoods, beta, missing entries / steps, lengths) and its step.
"""

from minivae.gradcheck.checks import (
    apps,
    information,
    layers,
    lstm,
    models,
    objectives,
    recurrent_cells,
    sequence_models,
    variational,
    vrnn,
)
from minivae.gradcheck.registry import REGISTRY

#: The checks of the core layers, losses and distributions (``--builtin``): quick, no models.
BUILTIN_CHECKS: tuple[str, ...] = tuple(
    name for name, fn in REGISTRY.items() if fn.__module__ in (layers.__name__, objectives.__name__)
)

__all__ = [
    "BUILTIN_CHECKS", "apps", "information", "layers", "lstm", "models", "objectives",
    "sequence_models", "variational",
    "recurrent_cells",
    "vrnn",
]
