r"""Self-grading exercises: checkers that run *your* function and explain what is wrong.

Every lesson in ``lessons/`` has exercises of the form "write ``dense_backward``", and the
checkers here grade them.  A checker calls your function on small, seeded float64 inputs and
compares what it returns with

* the **numerical gradient** (central differences, :mod:`minivae.gradcheck`) for every
  gradient you compute, or
* the **library's own implementation** for forward values,

then tells you *which* output is wrong, *where* (the index of the worst entry), *expected vs
got*, and what the pattern of the mismatch suggests: a flipped sign, a factor of 2, a transposed
matrix, a missing sum over the batch, a missing term, a wrong shape.  Common mistakes are also
recognised by name (e.g. "you used the variance where the standard deviation belongs").

Usage::

    from minivae.exercises import check_dense_backward

    def dense_backward(dy, x, W, b):
        dx = dy @ W.T
        dW = x.T @ dy
        db = dy.sum(axis=0)
        return dx, dW, db

    result = check_dense_backward(dense_backward)
    print(result)              # the teaching message
    assert result.passed, result

Every checker returns an :class:`ExerciseResult` (``passed``, ``message``; ``str(result)`` is the
message).  With ``raise_on_fail=True`` a failure raises :class:`ExerciseFailed` (an
``AssertionError``) carrying the same message.  ``seed`` changes the random test inputs.
``NotImplementedError`` raised by your function is *not* caught, so a lesson can tell an
untouched TODO stub apart from a wrong answer.

Solutions are the library's own code: ``SOLUTIONS[name]`` is the library function (or a thin
adapter around it) with the exercise's signature, so ``check_X(SOLUTIONS["X"])`` passes, and
:func:`show_solution` prints the library source that runs.  :data:`EXERCISES` lists every
exercise with its signature and lesson.

The package: :mod:`.grader` (the grader and its messages), :mod:`.exercise` (what an exercise
is), one module per lesson with exercises (``lesson01_autoencoders`` ...
``lesson12_information_measures``) and
:mod:`.catalogue` (all of them, ``SOLUTIONS``, ``show_solution``).

Exercises (lesson: name(signature))
-----------------------------------
* 01: ``dense_forward(x, W, b) -> y``, ``dense_backward(dy, x, W, b) -> (dx, dW, db)``,
  ``sigmoid_backward(dy, y) -> dx``, ``relu_backward(dy, x) -> dx``,
  ``bce_with_logits(logits, target) -> nll``
* 02: ``kl_standard_normal(mu, logvar) -> kl``, ``kl_grad(mu, logvar) -> (dmu, dlogvar)``,
  ``gaussian_nll(mean, logvar, target) -> nll``,
  ``gaussian_nll_grad(mean, logvar, target) -> (dmean, dlogvar)``
* 03: ``reparameterize(mu, logvar, eps) -> z``,
  ``reparameterize_backward(dz, mu, logvar, eps) -> (dmu, dlogvar)``
* 04: ``numerical_gradient(f, x, h) -> grad``
* 05: ``lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)``,
  ``lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``,
  ``lstm_forward(x, h0, c0, Wx, Wh, b, mask=None) -> (hs, hT, cT, cache)``,
  ``lstm_backward(dhs, dhT, dcT, cache) -> (dx, dh0, dc0, dWx, dWh, db)``
* 06: ``repeat_vector_backward(dy) -> dx``, ``free_running_decode(model, z, T) -> mean``
* 07: ``point_adjust(y_true, y_pred) -> adjusted``
* 08: ``gp_posterior(t_train, y_train, t_test, lengthscale, signal_var, noise_var)
  -> (mean, var)``
* 09: ``norm_ppf(p) -> x``
* 10: ``iwae_bound(log_w) -> bound``, ``free_bits_kl(kl_per_dim, lambda_) -> (value,
  grad_weights)``
* 12: ``kde_qip(X, sigma) -> V``, ``kde_qip_grad(X, sigma) -> dX``,
  ``cs_divergence(X, Y, sigma) -> D``
* 13: ``quantizer_backward(dz_q, z_e, codebook, beta) -> (dz_e, dcodebook)``
* 14: ``gru_step_backward(dh, cache) -> (dx, dh_prev, dWx, dWh, db, dbhn)``
* 16: ``rho_kl(mu, logvar, rho_raw) -> kl``,
  ``rho_kl_grad(mu, logvar, rho_raw) -> (dmu, dlogvar, drho_raw)``
"""

from minivae.exercises.catalogue import EXERCISES, SOLUTIONS, show_solution
from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseFailed, ExerciseResult
from minivae.exercises.lesson01_autoencoders import (
    check_bce_with_logits,
    check_dense_backward,
    check_dense_forward,
    check_relu_backward,
    check_sigmoid_backward,
)
from minivae.exercises.lesson02_vae_elbo_kl import (
    check_gaussian_nll,
    check_gaussian_nll_grad,
    check_kl_grad,
    check_kl_standard_normal,
)
from minivae.exercises.lesson03_reparameterization import (
    check_reparameterize,
    check_reparameterize_backward,
)
from minivae.exercises.lesson04_gradient_checking import check_numerical_gradient
from minivae.exercises.lesson05_rnn_lstm_bptt import (
    check_lstm_backward,
    check_lstm_forward,
    check_lstm_step_backward,
    check_lstm_step_forward,
)
from minivae.exercises.lesson06_lstm_autoencoder_decoders import (
    check_free_running_decode,
    check_repeat_vector_backward,
)
from minivae.exercises.lesson07_lstm_vae_anomaly_detection import check_point_adjust
from minivae.exercises.lesson08_missing_values import check_gp_posterior
from minivae.exercises.lesson09_mnist_latent_spaces import check_norm_ppf
from minivae.exercises.lesson10_vae_variants import check_free_bits_kl, check_iwae_bound
from minivae.exercises.lesson12_information_measures import (
    check_cs_divergence,
    check_kde_qip,
    check_kde_qip_grad,
)
from minivae.exercises.lesson13_shaping_the_prior import check_quantizer_backward
from minivae.exercises.lesson14_sequence_latents import check_gru_step_backward
from minivae.exercises.lesson16_vae_problems import check_rho_kl, check_rho_kl_grad

__all__ = [
    "EXERCISES",
    "SOLUTIONS",
    "Exercise",
    "ExerciseFailed",
    "ExerciseResult",
    "check_bce_with_logits",
    "check_cs_divergence",
    "check_dense_backward",
    "check_dense_forward",
    "check_free_bits_kl",
    "check_free_running_decode",
    "check_gaussian_nll",
    "check_gaussian_nll_grad",
    "check_gp_posterior",
    "check_gru_step_backward",
    "check_iwae_bound",
    "check_kde_qip",
    "check_kde_qip_grad",
    "check_kl_grad",
    "check_kl_standard_normal",
    "check_lstm_backward",
    "check_lstm_forward",
    "check_lstm_step_backward",
    "check_lstm_step_forward",
    "check_norm_ppf",
    "check_numerical_gradient",
    "check_point_adjust",
    "check_quantizer_backward",
    "check_relu_backward",
    "check_reparameterize",
    "check_reparameterize_backward",
    "check_rho_kl",
    "check_rho_kl_grad",
    "check_repeat_vector_backward",
    "check_sigmoid_backward",
    "show_solution",
]
