r"""One time step of the VRNN (Chung et al. 2015), forward and backward, and the loops over time.

This is the code :class:`~minivae.models.vrnn.VRNN` runs, written as the lesson writes it: small
pieces of one step, the step (:func:`vrnn_step_forward` / :func:`vrnn_step_backward`), a loop
over time (:func:`vrnn_forward`), the reversed loop of backpropagation through time
(:func:`vrnn_backward`) and the generative rollout (:func:`vrnn_generate`).

One step (eqs. 5-9 of the paper), input ``x_t: (N, D)``, state ``h_{t-1}, c_{t-1}: (N, H)``,
noise ``eps_t: (N, L)``, feature size F::

    phi_x  = tanh(x_t W_x + b_x)                                  (N, F)  features of x_t
    prior:   [mu_0, logvar_0] = tanh(h_{t-1} W_p1 + b_p1) W_p2 + b_p2      p(z_t | h_{t-1})
    encoder: [mu, logvar] = tanh([phi_x, h_{t-1}] W_e1 + b_e1) W_e2 + b_e2  q(z_t | x_t, h_{t-1})
    z_t    = mu + exp(logvar / 2) * eps_t                         (N, L)  reparameterized
    phi_z  = tanh(z_t W_z + b_z)                                  (N, F)  features of z_t
    decoder: out = tanh([phi_z, h_{t-1}] W_d1 + b_d1) W_d2 + b_d2          p(x_t | z_t, h_{t-1})
    h_t, c_t = LSTM step([phi_x, phi_z], h_{t-1}, c_{t-1})        (the library's lstm_step_*)

Both log-variances are clamped to [LOGVAR_MIN, LOGVAR_MAX] by
:func:`~minivae.objectives.elbo.encoder_posterior` (no gradient where the clamp acts).  ``out``
is [mean, log-variance] (2D numbers, likelihood "gaussian") or the mean (D, "mse"), read by
:func:`~minivae.objectives.losses.reconstruction_nll`.  The step's loss terms are
``KL(q_t || p_t)`` (:meth:`DiagonalGaussian.kl`, closed form) and ``-log p(x_t | z_t, h_{t-1})``.

The feature maps and the hidden layers of the three heads are tanh layers: smooth, so the
finite-difference checks need no care about ReLU kinks (the paper uses ReLU MLPs; the model is
the same otherwise).

Weights ``P`` and gradients ``G`` are dicts keyed by the model's parameter names
(``"phi_x.W"``, ``"prior_hidden.b"``, ``"rnn.Wx"``, ...; ``VRNN._weights()`` gives both);
backward functions *add* into ``G``.  The public functions check their arguments (cheap shape
and dtype checks, :mod:`minivae.models._vrnn_args`); the loops check once per sequence and then
call the step itself, :func:`_step_forward` / :func:`_step_backward`.

Missing values: ``mask: (N, T, D)`` (True = observed).  The reconstruction term sums the observed
entries only; x is read with missing entries set to 0.  A step with nothing observed is skipped,
as the LSTM layer does it: the state is carried (``h_t = h_{t-1}``, ``c_t = c_{t-1}``) and the
step adds no KL and no reconstruction term, so a padded sequence gives exactly the numbers of
the shorter one.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae.models._vrnn_args import (
    batch_size,
    check_backward_args,
    check_forward_args,
    check_generate_args,
    check_grads,
    check_shaped,
    check_weights,
)
from minivae.models.lstm_autoencoder import MSE_STD  # "mse" read as the density N(x; m, 1/2)
from minivae.nn.lstm import lstm_step_backward, lstm_step_forward
from minivae.objectives.distributions import DiagonalGaussian, clamp_logvar
from minivae.objectives.elbo import encoder_posterior
from minivae.objectives.losses import fill_missing, reconstruction_nll

Weights = dict  # parameter name -> array (the model's params, or its grads)


class StepCache(NamedTuple):
    """What :func:`vrnn_step_backward` needs from one step."""

    x_t: np.ndarray
    h_prev: np.ndarray
    phi_x: np.ndarray
    prior_hidden: np.ndarray
    p: DiagonalGaussian
    p_inside: np.ndarray
    enc_in: np.ndarray
    enc_hidden: np.ndarray
    q: DiagonalGaussian
    q_inside: np.ndarray
    z: np.ndarray
    phi_z: np.ndarray
    dec_in: np.ndarray
    dec_hidden: np.ndarray
    lstm: tuple


# ------------------------------------------------------------------------ pieces of one step
def _tanh_dense(x: np.ndarray, name: str, P: Weights) -> np.ndarray:
    """tanh(x W + b) with the weights ``name.W``, ``name.b``."""
    return np.tanh(x @ P[f"{name}.W"] + P[f"{name}.b"])


def _dense(x: np.ndarray, name: str, P: Weights) -> np.ndarray:
    """x W + b with the weights ``name.W``, ``name.b``."""
    return x @ P[f"{name}.W"] + P[f"{name}.b"]


def _tanh_dense_backward(dy: np.ndarray, x: np.ndarray, y: np.ndarray, name: str,
                         P: Weights, G: Weights) -> np.ndarray:
    """y = tanh(x W + b): adds dW, db into G, returns dx.  tanh' = 1 - y^2."""
    da = dy * (1.0 - y * y)
    G[f"{name}.W"] += x.T @ da
    G[f"{name}.b"] += da.sum(axis=0)
    return da @ P[f"{name}.W"].T


def _head_backward(dout: np.ndarray, x: np.ndarray, hidden: np.ndarray, name: str,
                   P: Weights, G: Weights) -> np.ndarray:
    """out = tanh(x W1 + b1) W2 + b2 (layers ``name_hidden``, ``name_out``): returns dx."""
    G[f"{name}_out.W"] += hidden.T @ dout
    G[f"{name}_out.b"] += dout.sum(axis=0)
    dhidden = dout @ P[f"{name}_out.W"].T
    return _tanh_dense_backward(dhidden, x, hidden, f"{name}_hidden", P, G)


def _prior(h_prev: np.ndarray, P: Weights):
    """p(z_t | h_{t-1}) -> (p, inside, hidden): the distribution, where its clamp passes
    gradients, and the hidden layer (for backward)."""
    hidden = _tanh_dense(h_prev, "prior_hidden", P)
    p, inside = encoder_posterior(_dense(hidden, "prior_out", P))
    return p, inside, hidden


def _decoder(phi_z: np.ndarray, h_prev: np.ndarray, P: Weights):
    """p(x_t | z_t, h_{t-1}) -> (out, dec_in, hidden); out: (N, 2D) or (N, D)."""
    dec_in = np.concatenate([phi_z, h_prev], axis=1)
    hidden = _tanh_dense(dec_in, "dec_hidden", P)
    return _dense(hidden, "dec_out", P), dec_in, hidden


def _recurrence(phi_x: np.ndarray, phi_z: np.ndarray, h_prev: np.ndarray,
                c_prev: np.ndarray, P: Weights):
    """h_t, c_t = LSTM step([phi_x, phi_z], h_{t-1}, c_{t-1}) -> (h, c, lstm cache)."""
    inp = np.concatenate([phi_x, phi_z], axis=1)
    return lstm_step_forward(inp, h_prev, c_prev, P["rnn.Wx"], P["rnn.Wh"], P["rnn.b"])


# ------------------------------------------------------------------------------- one step
def vrnn_step_forward(x_t: np.ndarray, eps_t: np.ndarray, h_prev: np.ndarray,
                      c_prev: np.ndarray, P: Weights):
    """One VRNN step (module docstring).  x_t: (N, D) (no NaN), eps_t: (N, L),
    h_prev, c_prev: (N, H), P: the weights by name.

    Returns (h, c, out, q, p, cache): the new state (N, H), the decoder output (N, 2D or D),
    q(z_t | x_t, h_{t-1}) and p(z_t | h_{t-1}) (DiagonalGaussian, (N, L)), and the cache.
    Checks its arguments, then runs :func:`_step_forward` (the loops call that directly,
    having checked everything once per sequence).
    """
    sizes = check_weights(P)
    N, H = batch_size(x_t, "x_t", 2, "(N, D)"), sizes["H"]
    check_shaped(P["rnn.Wh"].dtype, x_t=(x_t, (N, sizes["D"]), "(N, D)"),
                 eps_t=(eps_t, (N, sizes["L"]), "(N, L)"), h_prev=(h_prev, (N, H), "(N, H)"),
                 c_prev=(c_prev, (N, H), "(N, H)"))
    return _step_forward(x_t, eps_t, h_prev, c_prev, P)


def _step_forward(x_t: np.ndarray, eps_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray,
                  P: Weights):
    """The step itself (:func:`vrnn_step_forward`, without the argument checks)."""
    phi_x = _tanh_dense(x_t, "phi_x", P)
    p, p_inside, prior_hidden = _prior(h_prev, P)
    enc_in = np.concatenate([phi_x, h_prev], axis=1)
    enc_hidden = _tanh_dense(enc_in, "enc_hidden", P)
    q, q_inside = encoder_posterior(_dense(enc_hidden, "enc_out", P))
    z = q.rsample(None, eps=eps_t)
    phi_z = _tanh_dense(z, "phi_z", P)
    out, dec_in, dec_hidden = _decoder(phi_z, h_prev, P)
    h, c, lstm_cache = _recurrence(phi_x, phi_z, h_prev, c_prev, P)
    cache = StepCache(x_t, h_prev, phi_x, prior_hidden, p, p_inside, enc_in, enc_hidden, q,
                      q_inside, z, phi_z, dec_in, dec_hidden, lstm_cache)
    return h, c, out, q, p, cache


def vrnn_step_backward(dh: np.ndarray, dc: np.ndarray, dout: np.ndarray, w_kl: np.ndarray,
                       cache: StepCache, P: Weights, G: Weights):
    """Backward of one step; adds every parameter gradient into G.

    Inputs:
        dh, dc: (N, H) dL/dh_t, dL/dc_t from the following step
        dout: (N, 2D or D) dL/d out (the reconstruction term)
        w_kl: (N, 1) the weight of this step's KL(q_t || p_t) in the loss (beta / N, 0 at a
            skipped step)
        cache: from :func:`vrnn_step_forward`; P: the weights, G: their gradients (by name)
    Returns:
        dh_prev, dc_prev: (N, H)
    Checks its arguments, then runs :func:`_step_backward`.
    """
    sizes = check_weights(P)
    check_grads(G, P)
    if not isinstance(cache, StepCache):
        raise TypeError(f"cache must be the StepCache of vrnn_step_forward, got "
                        f"{type(cache).__name__}")
    N, H = cache.h_prev.shape
    check_shaped(P["rnn.Wh"].dtype, dh=(dh, (N, H), "(N, H)"), dc=(dc, (N, H), "(N, H)"),
                 dout=(dout, (N, sizes["O"]), "(N, 2D or D)"), w_kl=(w_kl, (N, 1), "(N, 1)"))
    return _step_backward(dh, dc, dout, w_kl, cache, P, G)


def _step_backward(dh: np.ndarray, dc: np.ndarray, dout: np.ndarray, w_kl: np.ndarray,
                   cache: StepCache, P: Weights, G: Weights):
    """The step's backward itself (:func:`vrnn_step_backward` without the checks)."""
    c = cache
    F = c.phi_x.shape[1]
    dinp, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh, dc, c.lstm)
    G["rnn.Wx"] += dWx
    G["rnn.Wh"] += dWh
    G["rnn.b"] += db
    dphi_x, dphi_z = dinp[:, :F], dinp[:, F:]
    # decoder: out from [phi_z, h_{t-1}]
    ddec_in = _head_backward(dout, c.dec_in, c.dec_hidden, "dec", P, G)
    dphi_z = dphi_z + ddec_in[:, :F]
    dh_prev += ddec_in[:, F:]
    dz = _tanh_dense_backward(dphi_z, c.z, c.phi_z, "phi_z", P, G)
    # z = mu + sigma * eps, and the closed-form KL(q || p) with respect to both sides
    dmu, dlogvar = c.q.rsample_backward(dz)
    kl_mu_q, kl_logvar_q, kl_mu_p, kl_logvar_p = c.q.kl_grad(c.p)
    dq = np.concatenate([dmu + w_kl * kl_mu_q, (dlogvar + w_kl * kl_logvar_q) * c.q_inside],
                        axis=1)
    denc_in = _head_backward(dq, c.enc_in, c.enc_hidden, "enc", P, G)
    dphi_x = dphi_x + denc_in[:, :F]
    dh_prev += denc_in[:, F:]
    dp = np.concatenate([w_kl * kl_mu_p, w_kl * kl_logvar_p * c.p_inside], axis=1)
    dh_prev += _head_backward(dp, c.h_prev, c.prior_hidden, "prior", P, G)
    _tanh_dense_backward(dphi_x, c.x_t, c.phi_x, "phi_x", P, G)  # x_t is data: dx unused
    return dh_prev, dc_prev


# ------------------------------------------------------------------------------ over time
def vrnn_forward(X: np.ndarray, eps: np.ndarray, mask: np.ndarray | None, P: Weights,
                 kind: str, *, need_grad: bool, state: tuple | None = None,
                 posterior_out: tuple | None = None, means_out: np.ndarray | None = None):
    """The loop over time.  X: (N, T, D) (NaN allowed where ``mask`` is False), eps: (N, T, L),
    mask: (N, T, D) bool or None, ``kind`` "gaussian" or "mse", ``state`` (h0, c0) or None
    (zeros); ``posterior_out``: two (N, T, L) arrays to fill with q's mu and logvar, and
    ``means_out`` an (N, T, D) array to fill with the mean of p(x_t | z_t, h_{t-1}), or None.

    Returns (nll, kl, state, caches, douts): -log p(x_t | z_t, h_{t-1}) and KL(q_t || p_t)
    per step, each (N, T) (0 at skipped steps), the final (h, c), and for backward (when
    ``need_grad``) the step caches and d nll_t / d out_t (lists of T; else empty).
    """
    mask = check_forward_args(X, eps, mask, P, kind, state, posterior_out, means_out)
    N, T, _ = X.shape
    H = P["rnn.Wh"].shape[0]
    h, c = state if state is not None else (np.zeros((N, H), X.dtype), np.zeros((N, H), X.dtype))
    Xf = fill_missing(X, mask)
    valid = None if mask is None else mask.any(axis=2)  # (N, T): steps with something observed
    nll, kl = np.zeros((N, T), X.dtype), np.zeros((N, T), X.dtype)
    caches, douts = [], []
    for t in range(T):
        h_new, c_new, out, q, p, cache = _step_forward(Xf[:, t], eps[:, t], h, c, P)
        m_t = None if mask is None else mask[:, t]
        nll[:, t], dout = reconstruction_nll(kind, out, Xf[:, t], m_t, need_grad=need_grad,
                                             variance=None)
        kl[:, t] = q.kl(p)
        if posterior_out is not None:
            posterior_out[0][:, t], posterior_out[1][:, t] = q.mu, q.logvar
        if means_out is not None:
            means_out[:, t] = out[:, : X.shape[2]]
        if valid is not None:  # a step with nothing observed: carry the state, add nothing
            v = valid[:, t, None]
            h_new, c_new = np.where(v, h_new, h), np.where(v, c_new, c)
            kl[:, t] = np.where(valid[:, t], kl[:, t], 0.0)
        h, c = h_new, c_new
        if need_grad:
            caches.append(cache)
            douts.append(dout)
    return nll, kl, (h, c), caches, douts


def vrnn_backward(caches: list, douts: list, dout_scale: float, w_kl: np.ndarray,
                  valid: np.ndarray | None, P: Weights, G: Weights) -> None:
    """Backpropagation through time: the steps' backward in reverse order; adds into G.

    douts: d nll_t / d out_t of :func:`vrnn_forward`, scaled here by ``dout_scale`` (1 / N);
    w_kl: (N, T) weight of each step's KL (beta / N, 0 at skipped steps); valid: (N, T) bool
    or None.  At a skipped step the state was carried, so its gradient passes straight through.
    """
    check_backward_args(caches, douts, dout_scale, w_kl, valid, P, G, StepCache)
    N, H = caches[0].h_prev.shape
    dh = np.zeros((N, H), caches[0].h_prev.dtype)
    dc = np.zeros_like(dh)
    for t in reversed(range(len(caches))):
        if valid is None:
            dh, dc = _step_backward(dh, dc, douts[t] * dout_scale, w_kl[:, t, None],
                                    caches[t], P, G)
            continue
        v = valid[:, t, None]
        dh_prev, dc_prev = _step_backward(np.where(v, dh, 0.0), np.where(v, dc, 0.0),
                                          douts[t] * dout_scale, w_kl[:, t, None], caches[t],
                                          P, G)
        dh, dc = dh_prev + np.where(v, 0.0, dh), dc_prev + np.where(v, 0.0, dc)


# ------------------------------------------------------------------------ generative model
def _decoder_mean_std(out: np.ndarray, D: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean and std of p(x_t | z_t, h_{t-1}) from a decoder output (N, 2D or D)."""
    if kind == "mse":
        return out, np.full_like(out, MSE_STD)
    return out[:, :D], np.exp(0.5 * clamp_logvar(out[:, D:])[0])


def vrnn_generate(state: tuple, T: int, rng: np.random.Generator, P: Weights,
                  kind: str) -> np.ndarray:
    """Roll out the generative model from ``state`` = (h, c), each (M, H), for T steps:
    z_t ~ p(z_t | h_{t-1}), x_t ~ p(x_t | z_t, h_{t-1}), h_t = f([phi_x(x_t), phi_z(z_t)],
    h_{t-1}).  Each step draws the z noise (M, L), then the x noise (M, D).  Returns (M, T, D).
    """
    T, rng, D = check_generate_args(state, T, rng, P, kind)
    h, c = state
    xs = np.empty((h.shape[0], T, D), h.dtype)
    for t in range(T):
        p, _, _ = _prior(h, P)
        z = p.sample(rng)
        phi_z = _tanh_dense(z, "phi_z", P)
        mean, std = _decoder_mean_std(_decoder(phi_z, h, P)[0], D, kind)
        x = (mean + std * rng.standard_normal(mean.shape)).astype(h.dtype, copy=False)
        h, c, _ = _recurrence(_tanh_dense(x, "phi_x", P), phi_z, h, c, P)
        xs[:, t] = x
    return xs
