r"""Multi-step forecasting with an LSTM encoder and the autoregressive LSTM decoder.

The LSTM-AE of :mod:`minivae.models.lstm_autoencoder`, pointed at the future (the
encoder-decoder forecaster of e.g. Sutskever et al. 2014; the review's section 7.1): the
encoder reads a *context* window, its final state becomes the decoder's initial state, and the
autoregressive decoder (:class:`~minivae.nn.decoders.AutoregressiveDecoder`) rolls out the next
k = ``horizon`` steps, each step reading the value before it.  A training batch is one window of
W + k steps ``X: (N, W + k, D)``: the first W are the context, the last k the targets.

Equations (context x_1..x_W, targets x_{W+1}..x_{W+k})::

    h_W = encoder LSTM(x_1..x_W)  (top layer);   z = h_W A + a          (N, L)
    decoder over the k + 1 steps s = 0..k, aimed at x_{W+s}:
        h_0 = tanh(z W_h + b_h),  c_0 = z W_c + b_c
        u_0 = 0 (start token);  u_1 = x_W (the last observed value: always the true one);
        u_s = x_{W+s-1} (teacher forced) or the predicted mean m_{s-1} (free running), s >= 2
        [m_s, log sigma_s^2] = LSTM step(u_s, ...) W_o + b_o
    loss = mean over the batch of  sum_{s=1..k} -log N(x_{W+s}; m_s, sigma_s^2)

Step 0 exists only so that step 1 can read the true last value x_W through the decoder's
ordinary "feed the true previous value" path: it is not scored (its output is unused).  At
inference every step s >= 2 reads the model's own predicted mean (free running), as in
training with ``teacher_forcing=0`` (the default): the gradient flows through every fed-back
prediction, so the model is trained on exactly the rollout it is evaluated on, and the learned
sigma_s is the spread of the s-step error of that rollout -- what a prediction interval needs.
(With teacher forcing the learned sigma describes one-step errors and is too narrow for s > 1.)

Intervals: ``mean +- z_{(1+level)/2} sigma`` per step, :meth:`LSTMForecaster.predict_interval`.

Missing values: ``mask`` (N, W + k, D) or (N, W + k) bool as in the LSTM-AE: the encoder skips
or zero-fills unobserved context entries, missing targets are not scored, and a missing true
previous value is replaced by the prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_positive_int, check_rng, check_scalar
from minivae.models.base import inference_method, register_model
from minivae.models.lstm_autoencoder import BaseLSTMAutoencoder
from minivae.objectives.distributions import norm_ppf
from minivae.objectives.losses import fill_missing


@register_model
class LSTMForecaster(BaseLSTMAutoencoder):
    """LSTM encoder + autoregressive LSTM decoder predicting the next ``horizon`` steps.

    Args:
        input_dim: D, features per step.
        hidden_size: H, LSTM width (encoder and decoder).
        horizon: k, steps predicted after the context.
        latent_dim: L, width of the code between encoder and decoder (default H).
        num_layers: stacked LSTM layers in encoder and decoder.
        teacher_forcing: in [0, 1], the probability that a training step s >= 2 reads the true
            previous value instead of the prediction (drawn per window and step from the rng of
            :meth:`loss`); 0 (default) trains on the free-running rollout.
        output: "gaussian" (mean and log-variance per step: intervals) or "mse".
        rng, dtype: weight initialisation; float64 (default) or float32.

    Shapes: training windows X (N, W + k, D); :meth:`predict` context (N, W, D) ->
    (N, k, D).  ``last_eps`` is ``{"teacher_forcing": (N, k + 1) bool}``.

    Example::

        model = LSTMForecaster(1, 32, horizon=12, rng=0)
        model.fit(windows, epochs=30, batch_size=32, lr=5e-3)   # windows: (N, W + 12, 1)
        mean, std = model.predict(context, return_std=True)      # context: (M, W, 1)
    """

    def __init__(self, input_dim: int, hidden_size: int, horizon: int, *,
                 latent_dim: int | None = None, num_layers: int = 1,
                 teacher_forcing: float = 0.0, output: str = "gaussian",
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        self.horizon = check_positive_int(horizon, "horizon")
        L = check_positive_int(hidden_size if latent_dim is None else latent_dim, "latent_dim")
        super().__init__(input_dim, hidden_size, L, code_dim=L, decoder="autoregressive",
                         num_layers=num_layers, teacher_forcing=teacher_forcing, output=output,
                         mask_input=False, rng=rng, dtype=dtype)

    @property
    def output(self) -> str:
        """"gaussian" or "mse"."""
        return self._out_kind

    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "hidden_size": self.hidden_size,
                "horizon": self.horizon, "latent_dim": self.latent_dim,
                "num_layers": self.num_layers, "teacher_forcing": self.teacher_forcing,
                "output": self._out_kind, "dtype": self.dtype.name}

    # -- the split of a window ------------------------------------------------------------------
    def _split(self, X: np.ndarray, mask: np.ndarray | None):
        """A validated window (N, W + k, D) -> context, its mask, the decoder's target span
        x_W..x_{W+k} (N, k + 1, D), the span's observation mask and its scoring mask (step 0,
        the last context value, is read but not scored)."""
        k = self.horizon
        if X.shape[1] <= k:
            raise ValueError(f"X must have more than horizon={k} steps (a context of W >= 1 "
                             f"steps, then the {k} targets), got {X.shape[1]} steps")
        W = X.shape[1] - k
        seen = np.ones(X.shape, dtype=bool) if mask is None else mask
        scored = seen[:, W - 1:].copy()
        scored[:, 0] = False
        return (X[:, :W], None if mask is None else mask[:, :W], X[:, W - 1:], seen[:, W - 1:],
                scored)

    def _feed(self, tf: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """(N, k + 1, D): step 1 reads the last context value (where observed), steps >= 2 the
        true previous value where ``tf`` says so and it is observed."""
        tf = tf.copy()
        tf[:, 1] = True
        return self._feed_true(tf, seen, self.input_dim)

    # -- training contract ----------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None,
             lengths=None) -> tuple[float, dict[str, float]]:
        """Mean over windows of the forecast negative log-likelihood of the last k steps.

        Args:
            batch: windows X (N, W + k, D), NaN allowed where ``mask`` is False.
            rng: generator or seed for the teacher-forcing draw (0 < teacher_forcing < 1).
            eps: ``{"teacher_forcing": (N, k + 1) bool}`` to repeat a draw (``last_eps``).
            mask, lengths: observation mask / valid lengths as in the LSTM-AE.

        Returns:
            (loss, {"loss", "reconstruction" (the same forecast NLL), "kl" (always 0)}).
        """
        X, mask = self._prepare(batch, mask, lengths)
        given = self._unpack_eps(eps, ("teacher_forcing",))
        rng = None if rng is None else check_rng(rng)
        ctx, ctx_mask, span, seen, scored = self._split(X, mask)
        N, k1 = span.shape[:2]
        z = self._encode(ctx, ctx_mask)
        tf = self._teacher_forcing_draw(N, k1, rng, given.get("teacher_forcing"))
        out = self._decode(z, k1, X=fill_missing(span, seen), feed_true=self._feed(tf, seen))
        nll, dout = self._nll(out, span, scored, need_grad=True)
        self.last_eps = {"teacher_forcing": tf}
        self._pending = {"dout": dout / N}
        value = float(nll.mean())
        return value, {"loss": value, "reconstruction": value, "kl": 0.0}

    def backward(self) -> None:
        """Accumulate parameter gradients of the last :meth:`loss` (once per loss)."""
        self._encode_backward(self._decode_backward(self._take_pending()["dout"]))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, lengths=None,
                         eps=None) -> dict[str, np.ndarray]:
        """Forecast NLL per window (N,), free running (what :meth:`predict` forecasts).
        ``rng``/``eps`` are accepted for interface compatibility and ignored."""
        X, mask = self._prepare(batch, mask, lengths)
        self._ignored_noise(rng, eps)
        ctx, ctx_mask, span, seen, scored = self._split(X, mask)
        out = self._rollout(ctx, ctx_mask, span, seen)
        nll, _ = self._nll(out, span, scored, need_grad=False)
        return {"loss": nll, "reconstruction": nll.copy(), "kl": np.zeros_like(nll)}

    def _rollout(self, ctx: np.ndarray, ctx_mask: np.ndarray | None, span: np.ndarray,
                 seen: np.ndarray) -> np.ndarray:
        """Free-running decoder output (N, k + 1, out_dim); ``span[:, 0]`` (the last context
        value) is the only true value it reads."""
        N, k1, D = span.shape
        feed = self._feed(np.zeros((N, k1), dtype=bool), seen)
        return self._decode(self._encode(ctx, ctx_mask), k1, X=fill_missing(span, seen),
                            feed_true=feed)

    # -- forecasts ------------------------------------------------------------------------------
    @inference_method
    def predict(self, X: object, *, mask: object = None, return_std: bool = False):
        """Forecast the next k steps after each context window.

        Args:
            X: context (N, W, D), W >= 1, NaN allowed where ``mask`` is False.
            mask: (N, W, D) or (N, W) bool, True = observed.
            return_std: also return the predicted std (the learned sigma_s for "gaussian"; the
                constant sqrt(1/2) the squared error stands for with "mse").

        Returns:
            mean (N, k, D), and std (N, k, D) with ``return_std``.
        """
        ctx, ctx_mask = self._prepare(X, mask, None)
        N, W, D = ctx.shape
        span = np.zeros((N, self.horizon + 1, D), dtype=self.dtype)
        span[:, 0] = ctx[:, -1]
        seen = np.zeros(span.shape, dtype=bool)
        seen[:, 0] = True if ctx_mask is None else ctx_mask[:, -1]
        out = self._rollout(ctx, ctx_mask, span, seen)[:, 1:]
        return (self._mean(out), self._std(out)) if return_std else self._mean(out)

    def predict_interval(self, X: object, level: float, *, mask: object = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Central ``level`` prediction interval from the Gaussian head.

        Returns (mean, lower, upper), each (N, k, D): mean -+ z sigma with z the (1 + level) / 2
        standard-normal quantile (e.g. 1.2816 for level 0.8, 1.9600 for 0.95).
        """
        level = check_scalar(level, "level", low=0.0, high=1.0, low_inclusive=False,
                             high_inclusive=False)
        if self._out_kind != "gaussian":
            raise ValueError("predict_interval needs output='gaussian' (a learned std); this "
                             "forecaster has output='mse'")
        mean, std = self.predict(X, mask=mask, return_std=True)
        z = float(norm_ppf(0.5 * (1.0 + level)))
        return mean, mean - z * std, mean + z * std
