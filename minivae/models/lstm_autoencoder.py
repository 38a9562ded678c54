r"""Sequence autoencoders built from the hand-written LSTM: shared machinery and LSTMAutoencoder.

Architecture (shapes for a batch ``X: (N, T, D)``, hidden size H, latent size L)::

    X --(NaN -> 0, optional mask channels)--> encoder LSTM --> h_T (N, H) of the top layer
      --Dense--> code (N, L) (the LSTM-VAE: (N, 2L) = [mu, logvar])
      --decoder--> out (N, T, D) (output "mse") or (N, T, 2D) = [mean, log-variance] ("gaussian")

Three decoders (the attribute ``decoder``; equations and shapes in the layers' modules): the
two that people most often write, layers of :mod:`minivae.nn.decoders`, and a third that
combines them:

* ``decoder="repeat"``: :class:`~minivae.nn.decoders.RepeatDecoder` (repeat-vector, e.g.
  Srivastava et al. 2015 / the Keras recipe): z is the input at *every* step of a decoder LSTM
  that starts from a zero state; a time-distributed Dense maps each h_t to the output.
* ``decoder="autoregressive"``: :class:`~minivae.nn.decoders.AutoregressiveDecoder` (seq2seq
  style): the decoder state starts from z, ``h_0 = tanh(Dense_h(z))``, ``c_0 = Dense_c(z)`` (one
  (H,) block per layer), and step t reads the previous value: a zero start token at t = 0, then
  x_{t-1}.  It steps :class:`~minivae.nn.LSTMCell` s, one per layer, and the output Dense.
* ``decoder="conditioned"``: :class:`~minivae.nn.conditioned_decoder.ConditionedDecoder`, the
  autoregressive decoder whose every step also reads z: the input of step t is
  ``[x_{t-1}, z]`` (start token, teacher forcing and feedback as above), the state starts from
  z as above (the decoder of Cho et al. 2014).  A long sequence no longer has to carry z in
  its state alone.

Decoder and encoder options
---------------------------
The defaults are the model above (every option off: the same layers, parameters, numbers and
``config()`` as before the options existed; ``config()`` stores an option only when it is set).

* ``bidirectional=True``: the encoder is :class:`~minivae.nn.bidirectional.Bidirectional`, a
  forward and a reverse stack, each sequence reversed *within its own length* (padding and
  missing steps respected); the code is computed from both top layers' final h,
  ``Dense([h^f_T, h^b_1])`` (2H -> code_dim).
* ``decoder_state="encoder"`` (LSTMAutoencoder only): the decoder starts from the encoder's final
  state, every layer's (h_T, c_T) (the LSTM-AD of Malhotra et al., 2016), instead of from z
  (autoregressive / conditioned: ``tanh(Dense(z))``) or zeros (repeat).  z is still the code
  and still read at every step (repeat, conditioned); so the state carries what z does not,
  and ``decode(z, T)`` alone is undefined (use :meth:`reconstruct`).  Needs the cells and sizes
  to match: one cell type in both, a unidirectional encoder, and a decoder that reads z
  (repeat or conditioned: the autoregressive one reads z only through its initial state).
  **Not offered by the LSTM-VAE**: a decoder started from the encoder's state would read x
  around the sampled z (no KL on that path), so the ELBO's bottleneck would be bypassed and
  ``sample()`` would have no state to start from; there the decoder reads z only.
* ``encoder_cell``, ``decoder_cell``: ``"lstm"`` (default), ``"gru"`` or ``"rnn"``
  (:mod:`minivae.nn.recurrent`; the GRU/RNN have no cell state, so an initial state from z is
  h_0 = tanh(Dense_h(z)) only).

With a non-LSTM decoder cell, the conditioned decoder or ``decoder_state="encoder"`` the
decoder is :class:`~minivae.nn.conditioned_decoder.ConditionedDecoder` (stepped cell by cell;
NumPy reference code, no compiled twin runs it) with ``decoder.cells.{l}.*`` parameters; the
GRU / RNN encoders are likewise NumPy reference code.  The default LSTM encoder and the two
default decoders keep their compiled twins.

Teacher forcing (autoregressive and conditioned decoders, training only)
-----------------------------------------------------------------------
In :meth:`loss`, step t >= 1 is fed the *true* x_{t-1} with probability ``teacher_forcing`` and
otherwise the model's own previous prediction (the predicted mean).  The decision is drawn
**per sequence and per step**: ``tf = rng.random((N, T)) < teacher_forcing`` (column 0, the start
token, is always False), so one batch mixes both kinds of input.  ``teacher_forcing`` 1.0 and 0.0
are deterministic and draw nothing.  The draw is stored in ``last_eps["teacher_forcing"]``;
passing ``eps=model.last_eps`` back repeats exactly the same pass (finite-difference checks).
Where the true previous value is missing (mask False) the prediction is fed instead.

The model hands the decoder this choice as one (N, T, D) bool array ``feed_true`` ("feed the
true value here": teacher forced *and* observed), built by :meth:`_feed_true`.

When the prediction is fed back, **the gradient flows through it** (full backpropagation through
the feedback loop): the loss is differentiated exactly as it was computed, which is what the
gradient check verifies.  (Many implementations ``detach`` the fed-back value; that is a
different, biased gradient of the same loss.)

Inference never peeks: :meth:`reconstruct`, :meth:`decode`, :meth:`per_example_loss` and every
score run the decoder *free running* from z alone (zero start token, then its own predicted
means), whatever ``teacher_forcing`` is.  So evaluation losses measure what ``reconstruct``
returns; the training loss (with teacher forcing > 0) is typically lower than the validation loss.

Missing values and variable lengths
-----------------------------------
``mask``: (N, T, D) or (N, T) bool, True = observed; X may hold NaN where the mask is False.

* The loss ignores missing entries (masked sums: "sum over observed entries, mean over the
  batch").
* The encoder reads X with missing entries replaced by 0; with ``mask_input=True`` the (N, T, D)
  mask is appended as D extra input channels (1.0 = observed), so the encoder can tell "0" from
  "missing".  Time steps with *no* observed entry are skipped by the encoder LSTM (its state is
  carried over them, see :mod:`minivae.nn.lstm`), so trailing padding does not change the code.
* ``lengths: (N,)`` ints in [1, T] (where accepted) is shorthand for a prefix mask; it is combined
  with ``mask`` by logical AND.  The training loop only passes ``mask``: to train on padded
  variable-length batches use ``fit(X, mask=lengths_to_mask(lengths, T))``.

Outputs / likelihoods
---------------------
* ``"mse"``: the decoder emits the mean m; reconstruction = sum of squared errors (x - m)^2.
  As a density this is N(x; m, 1/2) up to the constant 0.5 log(pi) per entry, which is how
  ``decode(..., return_std=True)`` (std = sqrt(1/2)) and log-probabilities read it.
* ``"gaussian"``: the decoder emits a per-step, per-feature mean and log-variance (clamped to
  [-30, 20]); reconstruction = Gaussian negative log-likelihood.  (Unlike the MLP
  :class:`~minivae.models.Autoencoder`, whose "gaussian" has a fixed unit variance.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.models.base import Model, inference_method, prepare_sequence_batch, register_model
from minivae.nn.bidirectional import Bidirectional, final_state
from minivae.nn.conditioned_decoder import ConditionedDecoder
from minivae.nn.decoders import AutoregressiveDecoder, RepeatDecoder
from minivae.nn.dense import Dense
from minivae.nn.inference import chunk_shape, chunks
from minivae.nn.layer import Layer
from minivae.nn.recurrent import check_cell_type, make_recurrent, num_states, run_backward
from minivae.objectives.distributions import clamp_logvar, gaussian_log_density
from minivae.objectives.losses import fill_missing, reconstruction_nll

DECODERS = ("repeat", "autoregressive", "conditioned")
#: where the decoder's initial state comes from (module docstring, "Decoder options")
DECODER_STATES = ("z", "encoder")
#: the options and their defaults; config() stores an option only when it differs from its
#: default, so the configs (and checkpoints) of models without options are what they were
OPTION_DEFAULTS = {"bidirectional": False, "decoder_state": "z", "encoder_cell": "lstm",
                   "decoder_cell": "lstm"}
OUTPUTS = ("mse", "gaussian")
# log N(x; m, 1/2) = -0.5 log(pi) - (x - m)^2: the density the "mse" output stands for.
HALF_LOG_PI = 0.5 * float(np.log(np.pi))
MSE_STD = float(np.sqrt(0.5))


class BaseLSTMAutoencoder(Model):
    """Encoder/decoder machinery shared by :class:`LSTMAutoencoder` and ``LSTMVAE``.

    Not registered and not meant to be built directly.  Subclasses say how many numbers the
    encoder's Dense emits (``code_dim``: L for a plain code, 2L for (mu, logvar)).

    Layers (attribute: parameter prefix):
        encoder: :class:`~minivae.nn.LSTM` (D or 2D -> H, ``num_layers``), or the GRU / RNN of
            ``encoder_cell``, or :class:`~minivae.nn.bidirectional.Bidirectional`
            (``encoder.forward_rnn``, ``encoder.reverse_rnn``)
        to_latent: Dense (H, or 2H bidirectional -> code_dim)
        decoder: :class:`~minivae.nn.decoders.RepeatDecoder` (``decoder.lstm``: LSTM L -> H,
            ``decoder.out_proj``: Dense H -> D or 2D) or
            :class:`~minivae.nn.decoders.AutoregressiveDecoder` (``decoder.init_h``,
            ``decoder.init_c``: Dense L -> num_layers * H, ``decoder.cells``: LSTMCells D -> H,
            then H -> H, ``decoder.out_proj``: Dense H -> D or 2D), or, with the options,
            :class:`~minivae.nn.conditioned_decoder.ConditionedDecoder` (``decoder.init_h``
            [``decoder.init_c``], ``decoder.cells``, ``decoder.out_proj``)
    """

    input_ndim = (3,)

    def __init__(
        self,
        input_dim: int,
        hidden_size: int,
        latent_dim: int,
        *,
        code_dim: int,
        decoder: str,
        num_layers: int,
        teacher_forcing: float,
        output: str,
        mask_input: bool,
        rng: np.random.Generator | int,
        dtype: object,
        bidirectional: bool = False,
        decoder_state: str = "z",
        encoder_cell: str = "lstm",
        decoder_cell: str = "lstm",
    ) -> None:
        super().__init__(dtype)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        self.decoder_type = decoder
        self.teacher_forcing = check_scalar(teacher_forcing, "teacher_forcing", low=0.0,
                                            high=1.0)
        if decoder == "repeat" and self.teacher_forcing != 1.0:
            raise ValueError(
                "teacher_forcing only applies to decoder='autoregressive' or 'conditioned' "
                "(the repeat decoder never reads previous values); got "
                f"teacher_forcing={teacher_forcing!r} with decoder='repeat'"
            )
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self._out_kind = output
        if not isinstance(mask_input, (bool, np.bool_)):
            raise TypeError(f"mask_input must be a bool, got {type(mask_input).__name__}")
        self.mask_input = bool(mask_input)
        self._check_options(bidirectional, decoder_state, encoder_cell, decoder_cell)
        self._build(check_positive_int(code_dim, "code_dim"), check_rng(rng))

    def _check_options(self, bidirectional: object, decoder_state: object, encoder_cell: object,
                       decoder_cell: object) -> None:
        """Validate and store the encoder/decoder options (module docstring)."""
        if not isinstance(bidirectional, (bool, np.bool_)):
            raise TypeError(f"bidirectional must be a bool, got {type(bidirectional).__name__}")
        check_cell_type(encoder_cell, "encoder_cell")
        check_cell_type(decoder_cell, "decoder_cell")
        if not isinstance(decoder_state, str) or decoder_state not in DECODER_STATES:
            raise ValueError(f"decoder_state must be one of {DECODER_STATES}, got "
                             f"{decoder_state!r}")
        self.bidirectional, self.decoder_state = bool(bidirectional), decoder_state
        self.encoder_cell, self.decoder_cell = encoder_cell, decoder_cell
        if decoder_state != "encoder":
            return
        why = ("decoder_state='encoder' starts the decoder from the encoder's final state, which "
               "needs ")
        if self.decoder_type == "autoregressive":
            raise ValueError(why + "a decoder that also reads z (the autoregressive decoder "
                             "reads z only through its initial state, so z would be unused): "
                             "use decoder='conditioned' or 'repeat'")
        if self.bidirectional:
            raise ValueError(why + "states of the decoder's size, and a bidirectional encoder's "
                             "is two of them (2 * hidden_size): use bidirectional=False")
        if encoder_cell != decoder_cell:
            raise ValueError(why + f"one cell type in both, got encoder_cell={encoder_cell!r} "
                             f"and decoder_cell={decoder_cell!r}")

    def _build(self, code_dim: int, rng: np.random.Generator) -> None:
        """The layers: encoder, to_latent, decoder (class docstring)."""
        D, H, L, nl = self.input_dim, self.hidden_size, self.latent_dim, self.num_layers
        D_in, dtype = 2 * D if self.mask_input else D, self.dtype
        if self.bidirectional:
            self.encoder: Layer = Bidirectional(self.encoder_cell, D_in, H, num_layers=nl,
                                                rng=rng, dtype=dtype)
        else:
            self.encoder = make_recurrent(self.encoder_cell, D_in, H, num_layers=nl, rng=rng,
                                          dtype=dtype)
        self.to_latent = Dense(2 * H if self.bidirectional else H, code_dim, rng=rng,
                               dtype=dtype)
        kind = self.decoder_type
        if self.decoder_cell == "lstm" and self.decoder_state == "z" and kind != "conditioned":
            # the default decoders (their loops may run compiled twins)
            if kind == "repeat":
                self.decoder: Layer = RepeatDecoder(L, H, self._out_dim, num_layers=nl, rng=rng,
                                                    dtype=dtype)
            else:
                self.decoder = AutoregressiveDecoder(L, D, H, self._out_dim, num_layers=nl,
                                                     rng=rng, dtype=dtype)
            return
        initial = ("given" if self.decoder_state == "encoder"
                   else "zeros" if kind == "repeat" else "latent")
        self.decoder = ConditionedDecoder(
            L, D, H, self._out_dim, cell=self.decoder_cell, num_layers=nl,
            reads_previous=kind != "repeat", reads_latent=kind != "autoregressive",
            initial=initial, rng=rng, dtype=dtype)

    # -- small facts --------------------------------------------------------------------------
    @property
    def _out_dim(self) -> int:
        return 2 * self.input_dim if self._out_kind == "gaussian" else self.input_dim

    @property
    def autoregressive(self) -> bool:
        """True for the decoders that read previous values (teacher forcing applies)."""
        return self.decoder_type in ("autoregressive", "conditioned")

    def _common_config(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim,
            "hidden_size": self.hidden_size,
            "latent_dim": self.latent_dim,
            "decoder": self.decoder_type,
            "num_layers": self.num_layers,
            "teacher_forcing": self.teacher_forcing,
            "mask_input": self.mask_input,
            "dtype": self.dtype.name,
            **{name: getattr(self, name) for name, default in OPTION_DEFAULTS.items()
               if getattr(self, name) != default},
        }

    # -- inputs ---------------------------------------------------------------------------------
    def check_inputs(self, X, *, mask=None, y=None, name="X"):
        """As :meth:`Model.check_inputs`, with a hint for 2-D (univariate) arrays."""
        if isinstance(X, np.ndarray) and X.ndim != 3:
            hint = (f"; for univariate series use {name}[..., None] to get shape "
                    f"{X.shape + (1,)}") if X.ndim == 2 else ""
            raise ValueError(
                f"{name} must have 3 dimensions (N, T, D) for {type(self).__name__}, got shape "
                f"{X.shape}{hint}"
            )
        return super().check_inputs(X, mask=mask, y=y, name=name)

    def _prepare(self, X: object, mask: object, lengths: object):
        """Validate a batch: X (N, T, D) and the full mask or None (see
        :func:`~minivae.models.base.prepare_sequence_batch`)."""
        return prepare_sequence_batch(self, X, mask, lengths)

    def _check_T(self, T: object) -> int:
        return check_positive_int(T, "T")

    def _check_z(self, z: object) -> np.ndarray:
        return check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)

    # -- encoder --------------------------------------------------------------------------------
    def _encode(self, X: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """X: (N, T, D), mask (N, T, D) or None -> code (N, code_dim); caches for backward."""
        return self._encode_with_state(X, mask)[0]

    def _encode_with_state(self, X: np.ndarray, mask: np.ndarray | None):
        """(code (N, code_dim), the encoder's final state for decoder_state="encoder" -- a tuple
        of (num_layers, N, H) arrays, (h, c) for the LSTM -- else None); caches for backward.

        In eval mode (inference) the encoder runs on chunks of rows and of time steps, carrying
        its state from one chunk to the next (:mod:`minivae.nn.inference`): the same numbers,
        in bounded memory, and the per-step outputs (N, T, H) are never whole."""
        N, T, _ = X.shape
        keep = self.decoder_state == "encoder"
        if self.training:  # one pass over everything: backward reads its cache
            h, state = self._final_state(X, mask, T)
            return self.to_latent.forward(h), state if keep else None
        rows, steps = chunk_shape(N, T, self.hidden_size)
        code = np.empty((N, self.to_latent.out_features), dtype=self.dtype)
        parts = []
        for r in chunks(N, rows):
            h, state = self._final_state(X[r], None if mask is None else mask[r], steps)
            code[r] = self.to_latent.forward(h)
            parts.append(state)
        if not keep:
            return code, None
        return code, tuple(np.concatenate([p[i] for p in parts], axis=1)
                           for i in range(len(parts[0])))

    def _final_state(self, X: np.ndarray, mask: np.ndarray | None, steps: int):
        """The encoder over chunks of ``steps`` time steps -> (the top layer's final h (N, H),
        or (N, 2H) bidirectional; the whole final state as (num_layers, N, H) arrays, or None
        for the bidirectional encoder)."""
        inp = fill_missing(X, mask)
        if self.mask_input:
            channels = np.ones_like(inp) if mask is None else mask.astype(self.dtype)
            inp = np.concatenate([inp, channels], axis=2)
        # Steps with nothing observed are skipped: the state is carried over them.
        valid = None if mask is None else mask.any(axis=2)
        if valid is not None and valid.all():
            valid = None
        if self.bidirectional:  # (it chunks its own steps in eval mode)
            return self.encoder.forward(inp, mask=valid), None
        state = final_state(self.encoder, inp, valid, steps)
        state = tuple(s[None] if self.num_layers == 1 else s for s in state)
        return state[0][-1], state  # the top layer's final h

    def _encode_backward(self, dcode: np.ndarray,
                         dstate: tuple[np.ndarray, ...] | None = None) -> None:
        """dcode: (N, code_dim); dstate: d/d(the encoder's final state) from the decoder
        (decoder_state="encoder"), as (num_layers, N, H) arrays, or None."""
        dh_last = self.to_latent.backward(dcode)
        if self.bidirectional:
            self.encoder.backward(dh_last)
            return
        if dstate is None:  # only h_T was used (the final c of an LSTM: None = zeros)
            dhT = np.zeros((self.num_layers,) + dh_last.shape, dtype=self.dtype)
            grads = [dhT] + [None] * (num_states(self.encoder_cell) - 1)
        else:
            grads = [d.copy() for d in dstate]
            dhT = grads[0]
        dhT[-1] += dh_last
        if self.num_layers == 1:
            grads = [None if g is None else g[0] for g in grads]
        # The encoder's per-step outputs are unused (dhs = None) and its input gets no gradient.
        run_backward(self.encoder, None, tuple(grads))

    # -- decoder ------------------------------------------------------------------------------
    def _decode(self, z: np.ndarray, T: int, *, X: np.ndarray | None = None,
                feed_true: np.ndarray | None = None,
                state: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        """z: (N, L) -> raw decoder output (N, T, out_dim).

        Decoders that read previous values only: ``feed_true`` (N, T, D) bool marks the input
        entries of step t that are the true ``X[:, t-1]`` (teacher forcing); None = free
        running.  ``state``: the encoder's final state (decoder_state="encoder" only).
        """
        extra = {} if self.decoder_state != "encoder" else {"state": state}
        if not self.autoregressive:
            return self.decoder.forward(z, T, **extra)
        return self.decoder.forward(z, T, None if feed_true is None else X, feed_true, **extra)

    def _decode_backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, T, out_dim) -> dz (N, L); accumulates every decoder gradient."""
        return self.decoder.backward(dout)

    def _decode_backward_state(self, dout: np.ndarray):
        """As :meth:`_decode_backward`, also returning d/d(the decoder's given initial state)
        (decoder_state="encoder"), else None: (dz, dstate)."""
        if self.decoder_state == "encoder":
            return self.decoder.backward_state(dout)
        return self.decoder.backward(dout), None

    # -- teacher forcing --------------------------------------------------------------------------
    def _teacher_forcing_draw(self, N: int, T: int, rng: np.random.Generator | None,
                              given: object) -> np.ndarray:
        """(N, T) bool, True = step t is fed the true x[:, t-1]; column 0 is always False."""
        if given is not None:
            given = np.asarray(given)
            if given.dtype != bool or given.shape != (N, T):
                raise ValueError(
                    f"eps['teacher_forcing'] must be a bool array of shape (N, T)=({N}, {T}), "
                    f"got {given.dtype} {given.shape}"
                )
            tf = given.copy()
        elif self.teacher_forcing in (0.0, 1.0):
            tf = np.full((N, T), self.teacher_forcing == 1.0)  # deterministic: no draw
        else:
            if rng is None:
                raise ValueError(
                    f"teacher_forcing={self.teacher_forcing} draws which steps are fed the true "
                    "value: pass rng= (a numpy Generator or int seed) or eps= (e.g. "
                    "model.last_eps)"
                )
            tf = rng.random((N, T)) < self.teacher_forcing
        tf[:, 0] = False
        return tf

    @staticmethod
    def _feed_true(tf: np.ndarray, mask: np.ndarray | None, D: int) -> np.ndarray:
        """(N, T, D): True where step t's input entry is the true x[:, t-1] — teacher forced
        and actually observed."""
        feed = np.repeat(tf[:, :, None], D, axis=2)
        if mask is not None:
            feed[:, 1:] &= mask[:, :-1]
        return feed

    @staticmethod
    def _unpack_eps(eps: object, keys: tuple[str, ...]) -> dict[str, Any]:
        if eps is None:
            return {}
        if not isinstance(eps, dict):
            raise TypeError(
                f"eps must be None or a dict with keys {keys} (as stored in model.last_eps), "
                f"got {type(eps).__name__}"
            )
        unknown = sorted(set(eps) - set(keys))
        if unknown:
            raise ValueError(f"eps has unknown keys {unknown}; expected {keys}")
        return eps

    # -- likelihood ---------------------------------------------------------------------------
    def _nll(self, out: np.ndarray, X: np.ndarray, mask: np.ndarray | None, need_grad: bool):
        """Per-sequence reconstruction loss (N,) and, if ``need_grad``, d(sum)/d(out)."""
        return reconstruction_nll(self._out_kind, out, X, mask, need_grad=need_grad,
                                  variance=None)  # "gaussian": the decoder's own variance

    def _log_prob_entries(self, out: np.ndarray, X: np.ndarray,
                          mask: np.ndarray | None) -> np.ndarray:
        """log p(x_{t,d} | z) per entry (M, T, D); 0 where missing."""
        D = self.input_dim
        mean = out[..., :D]
        Xf = fill_missing(X, mask)
        if self._out_kind == "mse":
            lp = -HALF_LOG_PI - (Xf - mean) ** 2
        else:
            logvar = clamp_logvar(out[..., D:])[0]
            lp = gaussian_log_density(Xf, mean, logvar)
        return lp if mask is None else lp * mask

    def _mean(self, out: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(out[..., : self.input_dim])

    def _std(self, out: np.ndarray) -> np.ndarray:
        if self._out_kind == "mse":
            return np.full(out.shape[:-1] + (self.input_dim,), MSE_STD, dtype=self.dtype)
        return np.exp(0.5 * clamp_logvar(out[..., self.input_dim:])[0])

    @inference_method
    def _decode_public(self, z: object, T: object, return_std: bool):
        """Free-running decode for the public API."""
        self._pending = None
        if self.decoder_state == "encoder":
            raise ValueError(
                "decode(z, T) is not defined with decoder_state='encoder': the decoder also "
                "starts from the encoder's final state, which z does not carry; use "
                "reconstruct(X)")
        z = self._check_z(z)
        out = self._decode(z, self._check_T(T))
        return (self._mean(out), self._std(out)) if return_std else self._mean(out)


@register_model
class LSTMAutoencoder(BaseLSTMAutoencoder):
    """Deterministic LSTM sequence autoencoder (see the module docstring for the design).

    Args:
        input_dim: D, features per time step.
        hidden_size: H, LSTM width (encoder and decoder).
        latent_dim: L, size of the code z.
        decoder: "repeat" (z fed at every step), "autoregressive" (state from z, previous
            values fed back) or "conditioned" (state from z, [x_{t-1}, z] fed at every step).
        num_layers: stacked LSTM layers in encoder and decoder.
        teacher_forcing: autoregressive / conditioned, in [0, 1]: probability that a training
            step is fed the true previous value (drawn per sequence and step from the rng given
            to :meth:`loss`).  Inference is always free running.
        output: "mse" (squared error) or "gaussian" (per-step mean and log-variance, NLL).
        mask_input: append the observation mask as D extra encoder input channels.
        rng: generator or seed for the weight initialisation.
        dtype: float64 (default, for gradient checks) or float32.
        bidirectional: read each sequence forwards and reversed (within its length); the code
            is computed from both final states (module docstring, "Decoder and encoder
            options").
        decoder_state: "z" (default: the decoder's state comes from z as each decoder defines
            it) or "encoder" (the decoder starts from the encoder's final state; needs
            decoder "repeat" or "conditioned", one cell type, a unidirectional encoder).
        encoder_cell, decoder_cell: "lstm" (default), "gru" or "rnn".

    Shapes: X (N, T, D) -> z (N, L) -> reconstruction (N, T, D).  ``last_eps`` is None for the
    repeat decoder and ``{"teacher_forcing": (N, T) bool}`` for the autoregressive one.

    Example::

        model = LSTMAutoencoder(1, 32, 8, decoder="autoregressive", teacher_forcing=0.5, rng=0)
        history = model.fit(X, epochs=20, batch_size=32, lr=1e-2, rng=0)   # X: (N, T, 1)
        X_hat = model.reconstruct(X)
    """

    def __init__(
        self,
        input_dim: int,
        hidden_size: int,
        latent_dim: int,
        *,
        decoder: str = "repeat",
        num_layers: int = 1,
        teacher_forcing: float = 1.0,
        output: str = "mse",
        mask_input: bool = False,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
        bidirectional: bool = False,
        decoder_state: str = "z",
        encoder_cell: str = "lstm",
        decoder_cell: str = "lstm",
    ) -> None:
        super().__init__(
            input_dim, hidden_size, latent_dim, code_dim=latent_dim, decoder=decoder,
            num_layers=num_layers, teacher_forcing=teacher_forcing, output=output,
            mask_input=mask_input, rng=rng, dtype=dtype, bidirectional=bidirectional,
            decoder_state=decoder_state, encoder_cell=encoder_cell, decoder_cell=decoder_cell,
        )

    @property
    def output(self) -> str:
        """"mse" or "gaussian"."""
        return self._out_kind

    def config(self) -> dict[str, Any]:
        return {**self._common_config(), "output": self._out_kind}

    # -- inference ------------------------------------------------------------------------------
    @inference_method
    def encode(self, X: np.ndarray, *, mask: np.ndarray | None = None,
               lengths: np.ndarray | None = None) -> np.ndarray:
        """X: (N, T, D) -> z: (N, L).  ``mask``/``lengths`` as in the module docstring.
        (With decoder_state="encoder" the reconstruction also depends on the encoder's final
        state, which z does not carry.)"""
        self._pending = None  # this forward pass overwrites what backward() would need
        X, mask = self._prepare(X, mask, lengths)
        return self._encode(X, mask)

    def decode(self, z: np.ndarray, T: int, *, return_std: bool = False):
        """z: (N, L) -> reconstruction mean (N, T, D), free running (only z is read).

        With ``return_std=True`` returns ``(mean, std)``: the learned per-step std for
        output="gaussian", the constant sqrt(1/2) of the squared error for output="mse".
        """
        return self._decode_public(z, T, return_std)

    @inference_method
    def reconstruct(self, X: np.ndarray, *, mask: np.ndarray | None = None,
                    lengths: np.ndarray | None = None) -> np.ndarray:
        """decode(encode(X), T): (N, T, D).  The decoder never reads X (free running)."""
        self._pending = None
        X, mask = self._prepare(X, mask, lengths)
        z, state = self._encode_with_state(X, mask)
        return self._mean(self._decode(z, X.shape[1], state=state))

    # -- training contract ----------------------------------------------------------------------
    def loss(self, batch, *, rng=None, eps=None, mask=None, lengths=None,
             target=None) -> tuple[float, dict[str, float]]:
        """Mean reconstruction loss of a batch X: (N, T, D) (sum over observed entries).

        Args:
            batch: X (N, T, D), NaN allowed where ``mask`` is False.
            rng: generator or seed for the teacher-forcing draw (needed only for an
                autoregressive decoder with 0 < teacher_forcing < 1).
            eps: ``{"teacher_forcing": (N, T) bool}`` to reuse a draw (``model.last_eps``).
            mask: (N, T, D) or (N, T) bool, True = observed.
            lengths: (N,) valid lengths (prefix mask), combined with ``mask``.
            target: (N, T, D) to reconstruct instead of X (denoising: X noisy, target clean).

        Returns:
            (loss, {"loss", "reconstruction", "kl" (always 0)}).
        """
        X, mask = self._prepare(batch, mask, lengths)
        Y = self._target(target, X, mask)
        given = self._unpack_eps(eps, ("teacher_forcing",))
        rng = None if rng is None else check_rng(rng)
        N, T, D = X.shape
        z, state = self._encode_with_state(X, mask)
        feed, tf = None, None
        if self.autoregressive:
            tf = self._teacher_forcing_draw(N, T, rng, given.get("teacher_forcing"))
            feed = self._feed_true(tf, mask, D)
        out = self._decode(z, T, X=fill_missing(Y, mask), feed_true=feed, state=state)
        rec, dout = self._nll(out, Y, mask, need_grad=True)
        self.last_eps = None if tf is None else {"teacher_forcing": tf}
        self._pending = {"dout": dout / N}
        value = float(rec.mean())
        return value, {"loss": value, "reconstruction": value, "kl": 0.0}

    def backward(self) -> None:
        """Accumulate parameter gradients of the last :meth:`loss` (once per loss)."""
        pending = self._take_pending()
        self._encode_backward(*self._decode_backward_state(pending["dout"]))

    @inference_method
    def per_example_loss(self, batch, *, rng=None, mask=None, lengths=None,
                         eps=None, target=None) -> dict[str, np.ndarray]:
        """Per-sequence reconstruction loss (N,), free running (inference mode: no teacher
        forcing, so it scores exactly what :meth:`reconstruct` returns).  ``rng``/``eps`` are
        accepted for interface compatibility and ignored; ``target`` as in :meth:`loss`."""
        self._pending = None
        X, mask = self._prepare(batch, mask, lengths)
        self._ignored_noise(rng, eps)
        z, state = self._encode_with_state(X, mask)
        out = self._decode(z, X.shape[1], state=state)
        rec, _ = self._nll(out, self._target(target, X, mask), mask, need_grad=False)
        return {"loss": rec, "reconstruction": rec.copy(), "kl": np.zeros_like(rec)}
