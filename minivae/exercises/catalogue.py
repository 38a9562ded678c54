"""Every exercise of every lesson in one catalogue, their solutions, and :func:`show_solution`.

Each lesson module (``lesson01_autoencoders``, ..., ``lesson10_vae_variants``,
``lesson12_information_measures``, ``lesson13_shaping_the_prior``,
``lesson14_sequence_latents``, ``lesson16_vae_problems``; lesson 11 has none) lists its
own exercises; this module only gathers them, so a name is defined once and found in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from minivae.exercises import (
    lesson01_autoencoders,
    lesson02_vae_elbo_kl,
    lesson03_reparameterization,
    lesson04_gradient_checking,
    lesson05_rnn_lstm_bptt,
    lesson06_lstm_autoencoder_decoders,
    lesson07_lstm_vae_anomaly_detection,
    lesson08_missing_values,
    lesson09_mnist_latent_spaces,
    lesson10_vae_variants,
    lesson12_information_measures,
    lesson13_shaping_the_prior,
    lesson14_sequence_latents,
    lesson16_vae_problems,
)
from minivae.exercises.exercise import Exercise

LESSONS = (
    lesson01_autoencoders,
    lesson02_vae_elbo_kl,
    lesson03_reparameterization,
    lesson04_gradient_checking,
    lesson05_rnn_lstm_bptt,
    lesson06_lstm_autoencoder_decoders,
    lesson07_lstm_vae_anomaly_detection,
    lesson08_missing_values,
    lesson09_mnist_latent_spaces,
    lesson10_vae_variants,
    lesson12_information_measures,
    lesson13_shaping_the_prior,
    lesson14_sequence_latents,
    lesson16_vae_problems,
)

#: name -> :class:`Exercise` (signature, checker, solution, library source, lesson).
EXERCISES: dict[str, Exercise] = {ex.name: ex for lesson in LESSONS for ex in lesson.EXERCISES}


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    return EXERCISES[name]


class Solutions(Mapping[str, Callable[..., Any]]):
    """name -> the solution, looked up when you ask for it: the library function itself where
    its signature is the exercise's (``SOLUTIONS["lstm_step_forward"] is
    minivae.nn.lstm.lstm_step_forward``), else a small adapter around library code.
    ``EXERCISES[name].checker(SOLUTIONS[name])`` passes."""

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return _exercise(name).solution_function()

    def __iter__(self) -> Iterator[str]:
        return iter(EXERCISES)

    def __len__(self) -> int:
        return len(EXERCISES)


SOLUTIONS = Solutions()


def show_solution(name: str) -> str:
    """The library source code that solves exercise ``name``, as a string ready to print: a
    header (signature, how the solution relates to the library) and the code that runs."""
    return _exercise(name).solution_text()
