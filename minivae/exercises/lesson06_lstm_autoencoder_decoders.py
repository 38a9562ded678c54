"""Exercises of lesson 06 (LSTM autoencoders and their decoders): the repeat-vector backward and
the free-running autoregressive decode.

* ``repeat_vector_backward(dy) -> dx``; dy: (N, T, L), dx: (N, L)
* ``free_running_decode(model, z, T) -> mean``; an autoregressive LSTMAutoencoder / LSTMVAE,
  z: (N, L), mean: (N, T, D)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.models.lstm_autoencoder import LSTMAutoencoder
from minivae.models.lstm_vae import LSTMVAE
from minivae.nn.lstm import lstm_step_forward
from minivae.nn.sequence import RepeatVector

LESSON = "06_lstm_autoencoder_decoders"

# ======================================================================= RepeatVector backward
REPEAT_SIG = ("repeat_vector_backward(dy) -> dx;  the forward was y[:, t] = x for every t "
              "(x: (N, L) -> y: (N, T, L)); dy: (N, T, L) = dL/dy, dx: (N, L) = dL/dx")

REPEAT_MISTAKES = [
    Mistake("x was used at EVERY one of the T steps, so its gradient is the SUM of the T "
            "step gradients, not their mean", lambda dy: dy.mean(axis=1)),
    Mistake("only the LAST step's gradient is used; x fed all T steps: dx = dy.sum(axis=1)",
            lambda dy: dy[:, -1]),
    Mistake("only the FIRST step's gradient is used; x fed all T steps: dx = dy.sum(axis=1)",
            lambda dy: dy[:, 0]),
    Mistake("you summed over the BATCH axis (axis 0); every example keeps its own gradient "
            "row: sum over TIME, dx = dy.sum(axis=1)", lambda dy: dy.sum(axis=0)),
]


def repeat_solution(dy: np.ndarray) -> np.ndarray:
    """SOLUTIONS["repeat_vector_backward"]: :meth:`minivae.nn.RepeatVector.backward`."""
    N, T, L = dy.shape
    layer = RepeatVector(T)
    layer.forward(np.zeros((N, L)))
    return layer.backward(dy)


def check_repeat_vector_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                                 seed: int = 0) -> ExerciseResult:
    """Grade ``repeat_vector_backward(dy) -> dx`` (N=3, T=5, L=4) against central differences
    of ``L = sum(RepeatVector(T).forward(x) * dy)`` with respect to x."""
    g = Grader("repeat_vector_backward", fn, ["dx"], REPEAT_SIG)
    rng = make_rng(seed)
    N, T, L = 3, 5, 4  # all different: a sum over the wrong axis shows up as a wrong shape
    x = rng.standard_normal((N, L))
    dy = rng.standard_normal((N, T, L))
    out = g.call({"dy": dy})
    if out is not None:
        xc = x.copy()

        def loss() -> float:
            return float(np.sum(np.repeat(xc[:, None, :], T, axis=1) * dy))

        scale = float(np.sum(np.abs(np.repeat(x[:, None, :], T, axis=1) * dy)))
        g.check_grad(0, out[0], loss, xc, mistakes=REPEAT_MISTAKES, inputs=(dy,),
                     f_scale=scale)
    return g.result(raise_on_fail, "dx = dy summed over time matches the numerical gradient")


# ===================================================================== free-running decoding
DECODE_SIG = (
    "free_running_decode(model, z, T) -> mean;  model: an autoregressive LSTMAutoencoder or "
    "LSTMVAE (model.decoder.init_h, .init_c, .cells, .out_proj), z: (N, L); "
    "mean: (N, T, D), the predicted means, each step fed the previous step's predicted mean "
    "(a zero start token at t = 0)"
)


def decode_variant(model: Any, z: np.ndarray, T: int, *, tanh_h0: bool = True,
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


DECODE_MISTAKES = [
    Mistake("nothing is fed back: every step reads the zero start token.  Step t must read "
            "the prediction of step t-1 (its predicted mean y[:, :D])",
            lambda model, z, T: decode_variant(model, z, T, feed="zeros")),
    Mistake("h_0 = tanh(init_h(z)): the tanh keeps the initial hidden state in (-1, 1) like "
            "every other LSTM hidden state",
            lambda model, z, T: decode_variant(model, z, T, tanh_h0=False)),
    Mistake("the initial cell state is c_0 = init_c(z) (no tanh), not zeros",
            lambda model, z, T: decode_variant(model, z, T, use_c0=False)),
    Mistake("off by one: step t reads the prediction of step t-2.  Update the fed value right "
            "after computing each step's output",
            lambda model, z, T: decode_variant(model, z, T, feed="lag")),
]


def decode_solution(model: Any, z: np.ndarray, T: int) -> np.ndarray:
    """SOLUTIONS["free_running_decode"]: ``model.decode(z, T)`` (free running)."""
    return model.decode(z, T)


def _decode_models(rng: np.random.Generator) -> list[tuple[str, Any]]:
    """Two small autoregressive models with generic (non-zero) biases."""
    models = [
        ("LSTMAutoencoder, 1 layer, output 'mse'",
         LSTMAutoencoder(2, 3, 2, decoder="autoregressive", rng=rng)),
        ("LSTMVAE, 2 layers, likelihood 'gaussian'",
         LSTMVAE(2, 3, 2, decoder="autoregressive", num_layers=2, rng=rng)),
    ]
    for _, model in models:
        for _, p, _ in model.parameters():
            p += 0.3 * rng.standard_normal(p.shape)
    return models


def check_free_running_decode(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                              seed: int = 0) -> ExerciseResult:
    """Grade ``free_running_decode(model, z, T) -> mean`` against ``model.decode(z, T)`` on two
    small random autoregressive models: an LSTMAutoencoder (output "mse", one layer, D=2) and
    an LSTMVAE (likelihood "gaussian", whose output holds [mean, log-variance], two layers)."""
    g = Grader("free_running_decode", fn, ["mean"], DECODE_SIG)
    rng = make_rng(seed)
    cases = ((case, {"model": model, "z": rng.standard_normal((4, model.latent_dim)), "T": 6})
             for case, model in _decode_models(rng))
    g.check_cases(cases, lambda model, z, T: model.decode(z, T), mistakes=DECODE_MISTAKES)
    return g.result(raise_on_fail, "your loop reproduces model.decode (free running)")


# ============================================================================== catalogue
EXERCISES = [
    Exercise("repeat_vector_backward", LESSON, REPEAT_SIG, check_repeat_vector_backward,
             repeat_solution,
             ("minivae.nn.sequence:RepeatVector.forward",
              "minivae.nn.sequence:RepeatVector.backward"),
             "SOLUTIONS['repeat_vector_backward'] runs minivae.nn.RepeatVector(T).forward then "
             ".backward(dy); the repeat decoder's LSTM does the same sum over steps "
             "(minivae.nn.lstm.lstm_backward_repeated)."),
    Exercise("free_running_decode", LESSON, DECODE_SIG, check_free_running_decode,
             decode_solution,
             ("minivae.nn.decoders:autoregressive_forward",),
             "SOLUTIONS['free_running_decode'] is model.decode(z, T); the decoder loop it runs "
             "is printed below."),
]
