r"""Self-grading exercises of the later lessons (06-11): sequence decoders, anomaly detection,
imputation, latent spaces and VAE variants.

The checkers work like those of :mod:`minivae.exercises` (same grader, same
:class:`~minivae.exercises.ExerciseResult`): each calls *your* function on small seeded float64
inputs, compares what it returns with the library's own implementation (or with a numerical
gradient), and explains a mismatch: which output, where, expected vs got, and, when it recognises
it, the mistake by name.  ``NotImplementedError`` from your function is not caught, so a lesson
can tell an untouched TODO stub from a wrong answer.

Usage::

    from minivae.exercises.sequences import check_iwae_bound

    def iwae_bound(log_w):
        m = log_w.max(axis=0)
        return m + np.log(np.mean(np.exp(log_w - m), axis=0))

    result = check_iwae_bound(iwae_bound)
    print(result)
    assert result.passed, result

``SOLUTIONS[name]`` is the library's implementation with the exercise's signature (so
``EXERCISES[name].checker(SOLUTIONS[name])`` passes) and :func:`show_solution` prints the library
source it comes from.

Exercises (name: signature; lesson)
-----------------------------------
* ``repeat_vector_backward(dy) -> dx``; dy: (N, T, L), dx: (N, L) (06)
* ``free_running_decode(model, z, T) -> mean``; an autoregressive LSTMAutoencoder / LSTMVAE,
  z: (N, L), mean: (N, T, D) (06)
* ``point_adjust(y_true, y_pred) -> adjusted``; all (T,) 0/1 (07)
* ``gp_posterior(t_train, y_train, t_test, lengthscale, signal_var, noise_var) -> (mean, var)``;
  (n,), (n,), (m,) -> (m,), (m,) (08)
* ``norm_ppf(p) -> x``; the standard normal quantile function, any shape (09)
* ``iwae_bound(log_w) -> bound``; log_w: (k, N) -> (N,) (10)
* ``free_bits_kl(kl_per_dim, lambda_) -> (value, grad_weights)``; (N, L) -> float, (L,) (10)
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises import Exercise, ExerciseResult, _Grader, _Mistake, _rng
from minivae.experiments.mnist import norm_ppf as _norm_ppf_reference
from minivae.models.lstm_autoencoder import BaseLSTMAutoencoder, LSTMAutoencoder
from minivae.models.lstm_vae import LSTMVAE
from minivae.nn.decoders import autoregressive_forward
from minivae.nn.functional import log_mean_exp
from minivae.nn.lstm import lstm_step_forward
from minivae.nn.sequence import RepeatVector
from minivae.objectives.kl import free_bits_kl as _free_bits_kl_reference
from minivae.timeseries.impute import gp_posterior as _gp_posterior_reference
from minivae.timeseries.metrics import anomaly_segments
from minivae.timeseries.metrics import point_adjust as _point_adjust_reference

__all__ = [
    "EXERCISES",
    "SOLUTIONS",
    "SequenceExercise",
    "check_free_bits_kl",
    "check_free_running_decode",
    "check_gp_posterior",
    "check_iwae_bound",
    "check_norm_ppf",
    "check_point_adjust",
    "check_repeat_vector_backward",
    "show_solution",
]


# ======================================================================= RepeatVector backward
_REPEAT_SIG = ("repeat_vector_backward(dy) -> dx;  the forward was y[:, t] = x for every t "
               "(x: (N, L) -> y: (N, T, L)); dy: (N, T, L) = dL/dy, dx: (N, L) = dL/dx")

_REPEAT_MISTAKES = [
    _Mistake("x was used at EVERY one of the T steps, so its gradient is the SUM of the T "
             "step gradients, not their mean", lambda dy: dy.mean(axis=1)),
    _Mistake("only the LAST step's gradient is used; x fed all T steps: dx = dy.sum(axis=1)",
             lambda dy: dy[:, -1]),
    _Mistake("only the FIRST step's gradient is used; x fed all T steps: dx = dy.sum(axis=1)",
             lambda dy: dy[:, 0]),
    _Mistake("you summed over the BATCH axis (axis 0); every example keeps its own gradient "
             "row: sum over TIME, dx = dy.sum(axis=1)", lambda dy: dy.sum(axis=0)),
]


def _repeat_solution(dy: np.ndarray) -> np.ndarray:
    """SOLUTIONS["repeat_vector_backward"]: :meth:`minivae.nn.RepeatVector.backward`."""
    N, T, L = dy.shape
    layer = RepeatVector(T)
    layer.forward(np.zeros((N, L)))
    return layer.backward(dy)


def check_repeat_vector_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                                 seed: int = 0) -> ExerciseResult:
    """Grade ``repeat_vector_backward(dy) -> dx`` (N=3, T=5, L=4) against central differences
    of ``L = sum(RepeatVector(T).forward(x) * dy)`` with respect to x."""
    g = _Grader("repeat_vector_backward", fn, ["dx"], _REPEAT_SIG)
    rng = _rng(seed)
    N, T, L = 3, 5, 4  # all different: a sum over the wrong axis shows up as a wrong shape
    x = rng.standard_normal((N, L))
    dy = rng.standard_normal((N, T, L))
    out = g.call({"dy": dy})
    if out is not None:
        xc = x.copy()

        def loss() -> float:
            return float(np.sum(np.repeat(xc[:, None, :], T, axis=1) * dy))

        scale = float(np.sum(np.abs(np.repeat(x[:, None, :], T, axis=1) * dy)))
        g.check_grad(0, out[0], loss, xc, mistakes=_REPEAT_MISTAKES, inputs=(dy,),
                     f_scale=scale)
    return g.result(raise_on_fail, "dx = dy summed over time matches the numerical gradient")


# ===================================================================== free-running decoding
_DECODE_SIG = (
    "free_running_decode(model, z, T) -> mean;  model: an autoregressive LSTMAutoencoder or "
    "LSTMVAE (model.decoder.init_h, .init_c, .cells, .out_proj), z: (N, L); "
    "mean: (N, T, D), the predicted means, each step fed the previous step's predicted mean "
    "(a zero start token at t = 0)"
)


def _decode_variant(model: BaseLSTMAutoencoder, z: np.ndarray, T: int, *, tanh_h0: bool = True,
                    feed: str = "mean", use_c0: bool = True) -> np.ndarray:
    """The autoregressive decoder loop written with pure step functions, optionally with one
    classic mistake (``feed``: "mean" (correct), "zeros" (never feeds back), "lag" (feeds the
    output of two steps back))."""
    N = z.shape[0]
    D, H, nl = model.input_dim, model.hidden_size, model.num_layers
    dec = model.decoder
    h0 = z @ dec.init_h.params["W"] + dec.init_h.params["b"]
    h0 = np.tanh(h0) if tanh_h0 else h0
    c0 = z @ dec.init_c.params["W"] + dec.init_c.params["b"]
    hs = [h0[:, l * H:(l + 1) * H] for l in range(nl)]
    cs = [c0[:, l * H:(l + 1) * H] if use_c0 else np.zeros((N, H)) for l in range(nl)]
    W, b = dec.out_proj.params["W"], dec.out_proj.params["b"]
    means = np.zeros((N, T, D))
    prev, before = np.zeros((N, D)), np.zeros((N, D))
    for t in range(T):
        inp = prev
        for l, cell in enumerate(dec.cells):
            p = cell.params
            hs[l], cs[l], _ = lstm_step_forward(inp, hs[l], cs[l], p["Wx"], p["Wh"], p["b"])
            inp = hs[l]
        y = inp @ W + b
        means[:, t] = y[:, :D]
        if feed == "mean":
            prev = y[:, :D]
        elif feed == "lag":
            prev, before = before, y[:, :D]
    return means


_DECODE_MISTAKES = [
    _Mistake("nothing is fed back: every step reads the zero start token.  Step t must read "
             "the prediction of step t-1 (its predicted mean y[:, :D])",
             lambda model, z, T: _decode_variant(model, z, T, feed="zeros")),
    _Mistake("h_0 = tanh(init_h(z)): the tanh keeps the initial hidden state in (-1, 1) like "
             "every other LSTM hidden state",
             lambda model, z, T: _decode_variant(model, z, T, tanh_h0=False)),
    _Mistake("the initial cell state is c_0 = init_c(z) (no tanh), not zeros",
             lambda model, z, T: _decode_variant(model, z, T, use_c0=False)),
    _Mistake("off by one: step t reads the prediction of step t-2.  Update the fed value right "
             "after computing each step's output",
             lambda model, z, T: _decode_variant(model, z, T, feed="lag")),
]


def _decode_solution(model: BaseLSTMAutoencoder, z: np.ndarray, T: int) -> np.ndarray:
    """SOLUTIONS["free_running_decode"]: ``model.decode(z, T)`` (free running)."""
    return model.decode(z, T)


def check_free_running_decode(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                              seed: int = 0) -> ExerciseResult:
    """Grade ``free_running_decode(model, z, T) -> mean`` against ``model.decode(z, T)`` on two
    small random autoregressive models: an LSTMAutoencoder (output "mse", one layer, D=2) and
    an LSTMVAE (likelihood "gaussian", whose output holds [mean, log-variance], two layers)."""
    g = _Grader("free_running_decode", fn, ["mean"], _DECODE_SIG)
    rng = _rng(seed)
    models = [
        ("LSTMAutoencoder, 1 layer, output 'mse'",
         LSTMAutoencoder(2, 3, 2, decoder="autoregressive", rng=rng)),
        ("LSTMVAE, 2 layers, likelihood 'gaussian'",
         LSTMVAE(2, 3, 2, decoder="autoregressive", num_layers=2, rng=rng)),
    ]
    for case, model in models:
        for _, p, _ in model.parameters():  # generic biases (they start at 0)
            p += 0.3 * rng.standard_normal(p.shape)
        z = rng.standard_normal((4, model.latent_dim))
        T = 6
        out = g.call({"model": model, "z": z, "T": T}, case=case)
        if out is None:
            break
        want = model.decode(z, T)
        if not g.check_value(0, out[0], want, mistakes=_DECODE_MISTAKES,
                             inputs=(model, z, T), case=case):
            break
    return g.result(raise_on_fail, "your loop reproduces model.decode (free running)")


# ================================================================================ point adjust
_PA_SIG = ("point_adjust(y_true, y_pred) -> adjusted;  all (T,) of 0/1: inside every true "
           "anomaly segment hit by at least one prediction, mark the whole segment predicted; "
           "leave everything else as predicted")


def _pa_expand_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mistake: also grows predicted segments that hit nothing."""
    out = _point_adjust_reference(y_true, y_pred).copy()
    for a, b in anomaly_segments(y_pred.astype(np.int64)):
        out[a:b] = 1
    return out


def _pa_drop_false_positives(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mistake: false positives outside true segments are removed."""
    return _point_adjust_reference(y_true, y_pred) * y_true.astype(np.int64)


_PA_MISTAKES = [
    _Mistake("predictions OUTSIDE true segments must be left as they are (false positives "
             "stay false positives; only detected true segments are filled in)",
             _pa_drop_false_positives),
    _Mistake("you returned y_true: a segment is credited only if at least one of its points "
             "was predicted", lambda y_true, y_pred: y_true.astype(np.int64)),
    _Mistake("you returned the predictions unchanged: fill in every true segment that has at "
             "least one predicted point", lambda y_true, y_pred: y_pred.astype(np.int64)),
    _Mistake("you filled every true segment, also the ones no prediction touched",
             lambda y_true, y_pred: np.maximum(y_true, y_pred).astype(np.int64)),
    _Mistake("predicted segments that hit nothing were grown too; only true segments are "
             "adjusted", _pa_expand_predictions),
]


def check_point_adjust(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``point_adjust(y_true, y_pred) -> adjusted`` against
    :func:`minivae.timeseries.metrics.point_adjust`: a hand-made case (a detected segment, a missed
    one,
    a false positive, segments touching the ends) and a random one."""
    g = _Grader("point_adjust", fn, ["adjusted"], _PA_SIG)
    y_true = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1])
    y_pred = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1])
    rng = _rng(seed)
    labels = np.zeros(60, dtype=np.int64)
    for start in rng.choice(np.arange(0, 55, 6), size=4, replace=False):
        labels[start:start + int(rng.integers(2, 6))] = 1
    pred = (rng.random(60) < 0.15).astype(np.int64)
    for case, t, p in (("hand-made example", y_true, y_pred), ("random example", labels, pred)):
        out = g.call({"y_true": t, "y_pred": p}, case=case)
        if out is None:
            break
        want = _point_adjust_reference(t, p).astype(np.float64)
        if not g.check_value(0, out[0], want, mistakes=_PA_MISTAKES, inputs=(t, p), case=case):
            break
    return g.result(raise_on_fail, "matches minivae.timeseries.metrics.point_adjust")


# ================================================================================ GP posterior
_GP_SIG = (
    "gp_posterior(t_train, y_train, t_test, lengthscale, signal_var, noise_var) -> (mean, var);"
    "  k(t, t') = signal_var * exp(-(t - t')^2 / (2 lengthscale^2)), noise_var on the diagonal "
    "of the training covariance; mean = K_*^T (K + s^2 I)^-1 y, var = k(t*, t*) - K_*^T "
    "(K + s^2 I)^-1 K_* (the latent function's variance, without noise); t_train, y_train: "
    "(n,), t_test: (m,); mean, var: (m,)"
)


def _gp_reference(t, y, ts, lengthscale, signal_var, noise_var) -> tuple[np.ndarray, np.ndarray]:
    params = {"lengthscale": lengthscale, "signal_var": signal_var, "noise_var": noise_var}
    mean, std = _gp_posterior_reference(t, y, ts, params, return_std=True)
    return mean, std**2


def _gp_variant(t, y, ts, ell, sv, nv, *, noise=True, noisy_var=False, std=False, ls_sq=True):
    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return sv * np.exp(-0.5 * (a[:, None] - b[None, :]) ** 2 / (ell**2 if ls_sq else ell))

    K = k(t, t) + (nv if noise else 1e-10) * np.eye(t.size)
    Ks = k(t, ts)
    mean = Ks.T @ np.linalg.solve(K, y)
    var = sv - np.sum(Ks * np.linalg.solve(K, Ks), axis=0) + (nv if noisy_var else 0.0)
    return mean, np.sqrt(np.maximum(var, 0.0)) if std else var


_GP_MISTAKES = [
    _Mistake("the noise variance is missing from the training covariance: invert "
             "K + noise_var * I (observations are noisy; without it the mean interpolates the "
             "noise exactly)", lambda *a: _gp_variant(*a, noise=False)),
    _Mistake("var includes the observation noise; the exercise asks for the variance of the "
             "latent function f(t*), k(t*, t*) - K_*^T (K + s^2 I)^-1 K_*",
             lambda *a: _gp_variant(*a, noisy_var=True)),
    _Mistake("you returned the standard deviation; return the variance",
             lambda *a: _gp_variant(*a, std=True)),
    _Mistake("the kernel divides by 2 * lengthscale^2 (squared), not 2 * lengthscale",
             lambda *a: _gp_variant(*a, ls_sq=False)),
]


def check_gp_posterior(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``gp_posterior(t_train, y_train, t_test, lengthscale, signal_var, noise_var) ->
    (mean, var)`` against :func:`minivae.timeseries.impute.gp_posterior` (n=8 noisy training
    points, m=6
    test times inside and outside the data)."""
    g = _Grader("gp_posterior", fn, ["mean", "var"], _GP_SIG)
    rng = _rng(seed)
    t = np.sort(rng.choice(np.arange(0, 30), size=8, replace=False)).astype(np.float64)
    y = np.sin(t / 4.0) + 0.1 * rng.standard_normal(8)
    ts = np.array([t[0] + 0.5, t[2] + 1.0, t[4], 0.5 * (t[5] + t[6]), t[-1] + 2.0, 40.0])
    ell, sv, nv = 3.0, 1.3, 0.05
    out = g.call({"t_train": t, "y_train": y, "t_test": ts, "lengthscale": ell,
                  "signal_var": sv, "noise_var": nv})
    if out is not None:
        want = _gp_reference(t, y, ts, ell, sv, nv)
        for k in (0, 1):
            g.check_value(k, out[k], want[k], mistakes=_GP_MISTAKES,
                          inputs=(t, y, ts, ell, sv, nv))
    return g.result(raise_on_fail, "mean and var match minivae.timeseries.impute.gp_posterior")


def _gp_solution(t_train, y_train, t_test, lengthscale, signal_var, noise_var):
    """SOLUTIONS["gp_posterior"]: :func:`minivae.timeseries.impute.gp_posterior` (std squared)."""
    return _gp_reference(np.asarray(t_train, float), np.asarray(y_train, float),
                         np.asarray(t_test, float), lengthscale, signal_var, noise_var)


# ================================================================================== norm_ppf
_PPF_SIG = ("norm_ppf(p) -> x;  the inverse CDF of N(0, 1): Phi(x) = p, elementwise, for p in "
            "(0, 1) of any shape; Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))")


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(x, float) / math.sqrt(2.0)))


_PPF_MISTAKES = [
    _Mistake("you computed the CDF Phi(p); the quantile function is its INVERSE: find x with "
             "Phi(x) = p (e.g. by bisection on Phi, which is increasing)", _norm_cdf),
    _Mistake("the result is mirrored: that is the quantile of 1 - p.  Small p must give "
             "negative x", lambda p: -_norm_ppf_reference(p)),
    _Mistake("the equal-probability grid maps p linearly to z; use the inverse CDF so the grid "
             "is denser where the prior has more mass",
             lambda p: (np.asarray(p, float) - 0.5) * 4.0),
]


def check_norm_ppf(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                   seed: int = 0) -> ExerciseResult:
    """Grade ``norm_ppf(p) -> x`` against :func:`minivae.experiments.mnist.norm_ppf` (Wichura's
    AS 241) on a 1-D array of probabilities from 1e-3 to 0.999 and on a 2-D array (relative
    tolerance 1e-7: bisection to 1e-12 is plenty)."""
    g = _Grader("norm_ppf", fn, ["x"], _PPF_SIG)
    rng = _rng(seed)
    p1 = np.array([1e-3, 0.02, 0.05, 0.2, 0.35, 0.62, 0.8, 0.95, 0.999])
    p2 = rng.uniform(0.01, 0.99, size=(2, 3))
    for case, p in (("1-D p", p1), ("2-D p", p2)):
        out = g.call({"p": p}, case=case)
        if out is None:
            break
        if not g.check_value(0, out[0], _norm_ppf_reference(p), mistakes=_PPF_MISTAKES,
                             inputs=(p,), case=case):
            break
    return g.result(raise_on_fail, "matches the normal quantile function")


def _norm_ppf_solution(p: np.ndarray) -> np.ndarray:
    """SOLUTIONS["norm_ppf"]: :func:`minivae.experiments.mnist.norm_ppf`."""
    return np.asarray(_norm_ppf_reference(p), dtype=np.float64)


# ================================================================================ IWAE bound
_IWAE_SIG = ("iwae_bound(log_w) -> bound;  log_w: (k, N) log importance weights log p(x, z_i) - "
             "log q(z_i | x) of k samples per example; bound: (N,) = log (1/k) sum_i w_i, "
             "computed stably (log_w may be around -1000)")

_IWAE_MISTAKES = [
    _Mistake("that is the mean of the log-weights, (1/k) sum_i log w_i: the ELBO estimate.  "
             "The IWAE bound takes the log of the MEAN WEIGHT, log (1/k) sum_i w_i (>= by "
             "Jensen)", lambda log_w: log_w.mean(axis=0)),
    _Mistake("the 1/k is missing: log (1/k) sum_i w_i = logsumexp(log_w) - log k",
             lambda log_w: log_mean_exp(log_w, axis=0) + np.log(log_w.shape[0])),
    _Mistake("that is the largest log-weight only: add log (1/k) sum_i exp(log_w_i - max)",
             lambda log_w: log_w.max(axis=0)),
]


def check_iwae_bound(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                     seed: int = 0) -> ExerciseResult:
    """Grade ``iwae_bound(log_w) -> bound`` against :func:`minivae.nn.functional.log_mean_exp`
    on moderate log-weights (k=5, N=3) and on log-weights near -1000, where exp underflows to 0
    unless the maximum is subtracted first."""
    g = _Grader("iwae_bound", fn, ["bound"], _IWAE_SIG)
    rng = _rng(seed)
    moderate = 2.0 * rng.standard_normal((5, 3))
    extreme = -1000.0 + 3.0 * rng.standard_normal((50, 4))
    for case, log_w in (("k=5, moderate log-weights", moderate),
                        ("k=50, log-weights near -1000", extreme)):
        out = g.call({"log_w": log_w}, case=case)
        if out is None:
            break
        want = log_mean_exp(log_w, axis=0)
        if not g.check_value(0, out[0], want, mistakes=_IWAE_MISTAKES, inputs=(log_w,),
                             case=case):
            if not np.all(np.isfinite(out[0])):
                g.fail("log of a sum of exponentials underflows: subtract the max first, "
                       "log mean exp(a) = m + log mean exp(a - m) with m = max(a)")
            break
    return g.result(raise_on_fail, "log (1/k) sum_i w_i is right and stable")


def _iwae_solution(log_w: np.ndarray) -> np.ndarray:
    """SOLUTIONS["iwae_bound"]: :func:`minivae.nn.functional.log_mean_exp` over the samples."""
    return log_mean_exp(np.asarray(log_w, dtype=np.float64), axis=0)


# ================================================================================= free bits
_FB_SIG = ("free_bits_kl(kl_per_dim, lambda_) -> (value, grad_weights);  kl_per_dim: (N, L) "
           "per-example, per-dimension KL; value = sum_l max(lambda_, mean_n kl_per_dim[n, l]) "
           "(a float); grad_weights: (L,), 1.0 where the batch-mean KL of dimension l exceeds "
           "lambda_ (the gradient flows), else 0.0")


def _fb_per_example(kl, lam):
    return float(np.mean(np.sum(np.maximum(kl, lam), axis=1))), (kl.mean(0) > lam) * 1.0


def _fb_total(kl, lam):
    total = float(kl.mean(axis=0).sum())
    return max(total, lam * kl.shape[1]), (kl.mean(0) > lam) * 1.0


_FB_MISTAKES = [
    _Mistake("the max is taken per EXAMPLE; free bits average the KL over the batch first and "
             "then apply max(lambda, .) per dimension", _fb_per_example),
    _Mistake("the floor is applied to the TOTAL KL (max(L * lambda, sum_l KL_l)); free bits "
             "apply it to every dimension separately", _fb_total),
    _Mistake("grad_weights is inverted: the gradient flows (weight 1) where the KL is ABOVE "
             "the floor; below it the term is the constant lambda",
             lambda kl, lam: (_free_bits_kl_reference(kl, lam)[0],
                              1.0 - _free_bits_kl_reference(kl, lam)[1])),
    _Mistake("that is min(lambda, KL) per dimension; free bits use max",
             lambda kl, lam: (float(np.sum(np.minimum(kl.mean(0), lam))),
                              (kl.mean(0) > lam) * 1.0)),
]


def check_free_bits_kl(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``free_bits_kl(kl_per_dim, lambda_) -> (value, grad_weights)`` against
    :func:`minivae.objectives.kl.free_bits_kl` (N=6, L=5, some dimensions above and some below
    lambda)."""
    g = _Grader("free_bits_kl", fn, ["value", "grad_weights"], _FB_SIG)
    rng = _rng(seed)
    scale = np.array([0.02, 0.9, 0.1, 2.0, 0.4])
    kl = rng.exponential(1.0, size=(6, 5)) * scale
    lam = 0.25
    out = g.call({"kl_per_dim": kl, "lambda_": lam})
    if out is not None:
        value, weights = _free_bits_kl_reference(kl, lam)
        g.check_value(0, out[0], np.asarray(value), mistakes=_FB_MISTAKES, inputs=(kl, lam))
        g.check_value(1, out[1], np.asarray(weights, dtype=np.float64), mistakes=_FB_MISTAKES,
                      inputs=(kl, lam))
    return g.result(raise_on_fail, "matches minivae.objectives.kl.free_bits_kl")


# ================================================================================ catalogue
#: The same record as the first catalogue's (:class:`minivae.exercises.Exercise`).
SequenceExercise = Exercise


def _point_adjust_solution(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """SOLUTIONS["point_adjust"]: :func:`minivae.timeseries.metrics.point_adjust`."""
    return _point_adjust_reference(y_true, y_pred)


def _free_bits_solution(kl_per_dim: np.ndarray, lambda_: float) -> tuple[float, np.ndarray]:
    """SOLUTIONS["free_bits_kl"]: :func:`minivae.objectives.kl.free_bits_kl`."""
    return _free_bits_kl_reference(kl_per_dim, lambda_)


_CATALOGUE = [
    ("repeat_vector_backward", _REPEAT_SIG, check_repeat_vector_backward, _repeat_solution,
     (RepeatVector.backward,), "06_lstm_autoencoder_decoders"),
    ("free_running_decode", _DECODE_SIG, check_free_running_decode, _decode_solution,
     (autoregressive_forward,), "06_lstm_autoencoder_decoders"),
    ("point_adjust", _PA_SIG, check_point_adjust, _point_adjust_solution,
     (_point_adjust_reference,), "07_lstm_vae_anomaly_detection"),
    ("gp_posterior", _GP_SIG, check_gp_posterior, _gp_solution,
     (_gp_posterior_reference,), "08_missing_values"),
    ("norm_ppf", _PPF_SIG, check_norm_ppf, _norm_ppf_solution, (_norm_ppf_reference,),
     "09_mnist_latent_spaces"),
    ("iwae_bound", _IWAE_SIG, check_iwae_bound, _iwae_solution, (log_mean_exp,),
     "10_vae_variants"),
    ("free_bits_kl", _FB_SIG, check_free_bits_kl, _free_bits_solution,
     (_free_bits_kl_reference,), "10_vae_variants"),
]

#: name -> :class:`SequenceExercise` (signature, checker, solution, library source, lesson).
EXERCISES: dict[str, SequenceExercise] = {row[0]: SequenceExercise(*row) for row in _CATALOGUE}

#: name -> the library's implementation with the exercise's signature.
SOLUTIONS: dict[str, Callable[..., Any]] = {name: ex.solution for name, ex in EXERCISES.items()}


def show_solution(name: str) -> str:
    """The library source code that solves exercise ``name``, as a string ready to print."""
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    ex = EXERCISES[name]
    parts = [f"# Exercise {name}: {ex.signature}"]
    for obj in ex.library_source:
        module = getattr(obj, "__module__", "?")
        parts.append(f"# --- from {module}: {obj.__qualname__}")
        parts.append(textwrap.dedent(inspect.getsource(obj)).rstrip())
    return "\n".join(parts)
