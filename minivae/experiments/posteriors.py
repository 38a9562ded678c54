"""``python -m minivae.experiments posteriors``: the VAE's problems and the posteriors that
answer them (review sections 5 and 6), one part at a time.

Parts (each a module ``minivae.experiments.posteriors_<part>`` with ``run(args) -> dict``):

* ``families``: test ELBO and importance-sampled log-likelihood per posterior family
  (Gaussian, rho, IAF, von Mises-Fisher);
* ``svae``: the S-VAE (von Mises-Fisher posterior, uniform prior on the sphere) against the
  Gaussian VAE at small latent sizes;
* ``collapse``: posterior collapse under an autoregressive decoder, and delta-VAE / free bits
  bringing the KL back;
* ``disentangle``: MIG of VAE, beta-VAE, beta-TCVAE and the capacity-annealed VAE on a
  factor dataset, latent traversals;
* ``two_stage``: the 2-Stage VAE against the one-stage VAE (distribution match of the codes).

Usage::

    python -m minivae.experiments posteriors [--quick] [--parts families,svae,collapse,...]
        [--seed S | --seeds A B] [--out DIR] [--no-figures] [--data-dir DIR] [--no-verify]

The options, the contract of a part and the files written are those of every command of parts
(:mod:`minivae.experiments._parts`): each part's tables printed once, ``<--out>/<part>/``
with its results.json and figures, ``<--out>/tables.md`` and ``<--out>/results.json``.
"""

from __future__ import annotations

import sys

from minivae.experiments._parts import PartsCommand

__all__ = ["COMMAND", "PARTS", "available_parts", "main", "parse_parts", "run_part"]

#: part name -> module (imported only when the part runs)
PARTS: dict[str, str] = {
    "families": "minivae.experiments.posteriors_families",
    "svae": "minivae.experiments.posteriors_svae",
    "collapse": "minivae.experiments.posteriors_collapse",
    "disentangle": "minivae.experiments.posteriors_disentangle",
    "two_stage": "minivae.experiments.posteriors_two_stage",
}

COMMAND = PartsCommand(
    "posteriors", PARTS,
    "Richer posteriors, the S-VAE, posterior collapse, disentanglement and the 2-Stage VAE "
    "(the tables of each part printed and gathered in tables.md, its figures drawn).",
    "small sizes (about a minute a part)")

available_parts = COMMAND.available_parts
parse_parts = COMMAND.parse_parts
run_part = COMMAND.run_part
main = COMMAND.main


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
