"""Inference mode: no backward caches, bounded chunks, the same numbers (issue 14, item 1).

* after every inference method no layer holds a cache, and the model is back in its mode;
* results of chunked inference (tiny chunks of rows and steps) equal the unchunked ones
  (1e-12, float64) for every model, on both backends, and do not depend on the chunk size;
* memory, measured with tracemalloc in a subprocess (NumPy's allocations are traced): the peak
  per sequence-step of LSTMVAE encode + reconstruct stays near the size of the results, and
  nothing is held after the call returns;
* the workspace pool of the compiled twins keeps nothing an inference pass allocated;
* ``release_caches`` (called at the end of ``fit``) leaves parameters and gradients only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minivae.nn.inference as inf
from minivae.apps.separation import SourceVAE
from minivae.apps.volatility import PointwiseVAE
from minivae.data.windows import sliding_windows, window_starts, windows_to_series
from minivae.models import CVAE, LSTMVAE, VAE, Autoencoder, LSTMAutoencoder
from minivae.nn import LSTM, Dense, RepeatDecoder
from minivae.nn.inference import inference
from minivae.timeseries.anomaly import AnomalyDetector

pytestmark = pytest.mark.usefixtures("each_backend")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _mlp_calls(model, X, **kw):
    out = {"mu": model.encode(X, **kw)[0], "rec": model.reconstruct(X, **kw),
           "rec_rng": model.reconstruct(X, rng=1, **kw)}
    batch = (X, kw["y"]) if "y" in kw else X
    out.update(model.per_example_loss(batch, rng=2))
    out["elbo"] = model.elbo(batch, rng=3, n_samples=3)
    out["iwae"] = model.iwae_bound(batch, 4, rng=4)
    return out


def _lstm_calls(model, X):
    mask = np.ones(X.shape, dtype=bool)
    mask[0, 5:] = False  # a ragged row: the encoder carries its state over the missing steps
    mask[1, ::3] = False
    out = {"code": np.asarray(model.encode(X) if isinstance(model, LSTMAutoencoder)
                              else model.encode(X)[0]),
           "code_masked": np.asarray(model.encode(X, mask=mask) if isinstance(
               model, LSTMAutoencoder) else model.encode(X, mask=mask)[0]),
           "rec": model.reconstruct(X), "rec_masked": model.reconstruct(X, mask=mask),
           "dec": model.decode(np.ones((3, model.latent_dim)), 17)}
    out.update({k: v for k, v in model.per_example_loss(X, rng=2, mask=mask).items()})
    if isinstance(model, LSTMVAE):
        out["sample"] = model.sample(4, 19, rng=5, mean=False)
        out["rlp"] = model.reconstruction_log_prob(X, n_samples=3, rng=6, mask=mask)
        out["rlp_seq"] = model.reconstruction_log_prob(X, n_samples=2, rng=7, per_step=False,
                                                       average="logmeanexp")
    return out


def _apps_calls(model, X):
    out = {"mu": model.encode(X)[0], "dec": model.decode(np.ones((4, model.latent_dim)))}
    out.update(model.per_example_loss(X, rng=2))
    return out


SEQ = (23, 41, 2)  # N, T, D: 23 rows and 41 steps do not divide the tiny chunks evenly
MODELS = {
    "Autoencoder": (lambda: Autoencoder(6, [5], 3, output="gaussian", rng=0),
                    lambda m: {"z": m.encode(_data((9, 6))), "rec": m.reconstruct(_data((9, 6))),
                               **m.per_example_loss(_data((9, 6)))}),
    "VAE": (lambda: VAE(6, [5], 3, likelihood="gaussian", rng=0),
            lambda m: _mlp_calls(m, _data((9, 6)))),
    "VAE-iwae": (lambda: VAE(6, [5], 3, likelihood="gaussian", objective="iwae", k=3, rng=0),
                 lambda m: _mlp_calls(m, _data((9, 6)))),
    "CVAE": (lambda: CVAE(6, 3, [5], 2, likelihood="gaussian", rng=0),
             lambda m: _mlp_calls(m, _data((9, 6)), y=np.arange(9) % 3)),
    "LSTMAE-repeat": (lambda: LSTMAutoencoder(2, 6, 3, num_layers=2, mask_input=True, rng=0),
                      lambda m: _lstm_calls(m, _data(SEQ))),
    "LSTMAE-ar": (lambda: LSTMAutoencoder(2, 6, 3, decoder="autoregressive", output="gaussian",
                                          rng=0), lambda m: _lstm_calls(m, _data(SEQ))),
    "LSTMVAE-repeat": (lambda: LSTMVAE(2, 6, 3, rng=0), lambda m: _lstm_calls(m, _data(SEQ))),
    "LSTMVAE-ar": (lambda: LSTMVAE(2, 6, 3, decoder="autoregressive", num_layers=2, rng=0),
                   lambda m: _lstm_calls(m, _data(SEQ))),
    "SourceVAE": (lambda: SourceVAE(6, [5], 3, rng=0), lambda m: _apps_calls(m, _data((9, 6)))),
    "PointwiseVAE": (lambda: PointwiseVAE(_data((6, 2)), [5], 3, rng=0),
                     lambda m: _apps_calls(m, _data((9, 6)))),
}


def _holders(layer) -> list[str]:
    """Names of the layers below ``layer`` that hold a backward cache."""
    return [type(sub).__name__ for sub in layer.sublayers()
            if not (sub.cache is None or (isinstance(sub.cache, list) and not sub.cache))]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_inference_keeps_no_cache_and_restores_the_mode(name):
    build, calls = MODELS[name]
    model = build()
    results = calls(model)
    # (NaN only in the per-step log-probability, at steps with nothing observed)
    assert results and all(np.all(np.isfinite(v)) for k, v in results.items() if k != "rlp")
    assert _holders(model) == []
    assert all(sub.training for sub in model.sublayers())  # back in training mode


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Chunks of 2 rows and a handful of steps: every loop over chunks runs many times."""
    def set_chunks(rows: int, elements: int) -> None:
        monkeypatch.setattr(inf, "BATCH_ROWS", rows)
        monkeypatch.setattr(inf, "CHUNK_ELEMENTS", elements)
    return set_chunks


@pytest.mark.parametrize("name", sorted(MODELS))
def test_chunked_inference_equals_one_pass(name, tiny_chunks):
    build, calls = MODELS[name]
    tiny_chunks(10**9, 10**12)  # one chunk: the whole batch and sequence in one pass
    whole = calls(build())
    tiny_chunks(2, 2 * 6 * 5)  # 2 rows, 5 steps of the width-6 LSTM
    chunked = calls(build())
    assert whole.keys() == chunked.keys()
    for key in whole:
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-12, atol=1e-12,
                                   err_msg=f"{name}: {key}")


@settings(max_examples=12, deadline=None)
@given(rows=st.integers(1, 30), steps=st.integers(1, 50))
def test_chunk_size_does_not_change_results(rows, steps):
    model = LSTMVAE(2, 6, 3, num_layers=2, rng=0)
    X = _data(SEQ, seed=1)
    expected = model.reconstruction_log_prob(X, n_samples=2, rng=0)
    saved = inf.BATCH_ROWS, inf.CHUNK_ELEMENTS
    try:
        inf.BATCH_ROWS, inf.CHUNK_ELEMENTS = rows, rows * 6 * steps
        got = model.reconstruction_log_prob(X, n_samples=2, rng=0)
        z, mu = model.reconstruct(X), model.encode(X)[0]
    finally:
        inf.BATCH_ROWS, inf.CHUNK_ELEMENTS = saved
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(z, model.reconstruct(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mu, model.encode(X)[0], rtol=1e-12, atol=1e-12)


def test_chunk_shape_is_bounded():
    for N, T, H in [(1, 1, 1), (4096, 5000, 64), (7, 100000, 256), (10**6, 3, 8)]:
        rows, steps = inf.chunk_shape(N, T, H)
        assert 1 <= rows <= min(N, inf.BATCH_ROWS) and 1 <= steps <= T
        assert rows * steps * H <= max(inf.CHUNK_ELEMENTS, rows * H)
        r = inf.whole_sequence_rows(N, T, H)
        assert 1 <= r <= min(N, inf.BATCH_ROWS) and (r == 1 or r * T * H <= inf.CHUNK_ELEMENTS)
    assert [(s.start, s.stop) for s in inf.chunks(7, 3)] == [(0, 3), (3, 6), (6, 7)]


def test_detector_scores_keep_no_cache():
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(300) / 5.0)[:, None] + 0.05 * rng.standard_normal((300, 1))
    for score in ("mse", "reconstruction_probability"):
        model = LSTMVAE(1, 6, 2, rng=0)
        det = AnomalyDetector(model, score=score, window=20, stride=5, n_samples=2, rng=0)
        det.fit(series, epochs=1, batch_size=16, lr=1e-2)
        model.release_caches()  # (what fit leaves is the training loop's business)
        scores = det.score(series)
        assert scores.shape == (300,) and np.isfinite(scores).all()
        assert _holders(model) == []
        assert model.training


@pytest.mark.parametrize("score", ["mse", "reconstruction_probability", "mahalanobis"])
def test_detector_scores_a_series_window_chunk_by_window_chunk(score):
    """score / score_windows / reconstruct of a series, cut and scored 7 windows at a time,
    give the numbers of scoring all its windows at once (score_steps + windows_to_series)."""
    rng = np.random.default_rng(1)
    series = np.cos(np.arange(250) / 4.0)[:, None] + 0.05 * rng.standard_normal((250, 1))
    det = AnomalyDetector(LSTMVAE(1, 6, 2, rng=0), score=score, window=20, stride=3,
                          n_samples=2, eval_batch_size=7, rng=0)
    det.fit(series, epochs=1, batch_size=16, lr=1e-2)
    scaled = det.scaler_.transform(series)
    Xw, starts = sliding_windows(scaled, 20, 3), window_starts(250, 20, 3)
    steps = det._step_matrix(Xw)[0]  # every window at once, one noise stream as in score
    np.testing.assert_array_equal(det.score(series), windows_to_series(steps, starts, 250))
    per_window, got_starts = det.score_windows(series)
    np.testing.assert_array_equal(got_starts, starts)
    np.testing.assert_array_equal(per_window, det._step_matrix(Xw)[1])
    rec = windows_to_series(det._reconstruct(Xw), starts, 250)
    np.testing.assert_array_equal(det.reconstruct(series), det.scaler_.inverse_transform(rec))


# ------------------------------------------------------------------------------ layer level
def test_eval_mode_layers_keep_nothing_and_backward_says_why():
    lstm = LSTM(2, 4, num_layers=2, rng=0)
    x = _data((3, 5, 2))
    with inference(lstm):
        hs, _ = lstm(x)
        assert _holders(lstm) == []
        with pytest.raises(RuntimeError, match="eval mode"):
            lstm.backward(np.ones_like(hs))
    hs_train, _ = lstm(x)  # training mode again: cached, and backward works
    assert _holders(lstm) != []
    np.testing.assert_array_equal(hs_train, hs)
    lstm.backward(np.ones_like(hs))


def test_inference_restores_each_layers_own_mode():
    dec = RepeatDecoder(3, 4, 2, rng=0)
    dec.out_proj.eval()  # a mixed tree: only the projection in eval mode
    with inference(dec):
        assert not any(sub.training for sub in dec.sublayers())
    assert dec.training and dec.lstm.training and not dec.out_proj.training


def test_release_caches_leaves_parameters_only():
    model = LSTMVAE(2, 5, 3, decoder="autoregressive", rng=0)
    model.loss(_data((4, 7, 2)), rng=0)
    assert _holders(model) != []
    model.release_caches()
    assert _holders(model) == [] and model._pending is None
    with pytest.raises(RuntimeError, match="needs a preceding loss"):
        model.backward()
    dense = Dense(3, 2, rng=0)
    dense(_data((2, 3)))
    dense.release_caches()
    assert dense.cache is None


def test_fit_releases_the_caches():
    model = LSTMVAE(1, 5, 2, rng=0)
    model.fit(_data((8, 6, 1)), epochs=1, batch_size=4, rng=0)
    assert _holders(model) == []


def test_the_pool_keeps_nothing_an_inference_pass_allocated(each_backend):
    from minivae.fast import workspace

    model = LSTMVAE(1, 8, 2, rng=0)
    X = _data((16, 30, 1))
    model.loss(X, rng=0)
    model.backward()  # training: the buffers go to the pool after the backward
    pooled = workspace.free_bytes()
    model.reconstruct(_data((5, 40, 1)))  # other shapes: buffers allocated for this pass
    model.encode(X)  # the training shapes: buffers taken from the pool, and given back
    assert workspace.free_bytes() == pooled


# ------------------------------------------------------------------------------ memory
_MEASURE = """
import gc, json, sys, tracemalloc
import numpy as np
try:  # on code without inference mode there is nothing to set
    import minivae.nn.inference as inf
    inf.CHUNK_ELEMENTS = 1 << 15  # small chunks: the slope below is what grows with N * T
except ImportError:
    pass
from minivae.models import LSTMVAE
N, T = int(sys.argv[1]), int(sys.argv[2])
model = LSTMVAE(1, 32, 4, rng=0, dtype=np.float32)
X = np.random.default_rng(0).standard_normal((N, T, 1)).astype(np.float32)
model.encode(X[:2, :5])  # warm-up (the Numba backend compiles here)
model.reconstruct(X[:2, :5])
gc.collect()
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
mu, logvar = model.encode(X)
X_hat = model.reconstruct(X)
gc.collect()
current, peak = tracemalloc.get_traced_memory()
kept = mu.nbytes + logvar.nbytes + X_hat.nbytes
print(json.dumps({"peak": peak - base, "held": current - base - kept}))
"""


def _measure(N: int, T: int, backend: str) -> dict[str, int]:
    env = dict(os.environ, MINIVAE_BACKEND=backend, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(N), str(T)], env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_memory_per_sequence_step_is_bounded(each_backend):
    """Peak and held memory of encode + reconstruct, per sequence-step, from two sizes.

    On the code before inference mode the slope was ~1 KB per sequence-step at H = 32 (the
    training cache, kept after return too).  Now what grows with N * T are the results and a few
    (N, T, D)-sized temporaries (the decoder output holds mean and log-variance, 8 bytes a step
    in float32, the reconstruction 4): 64 bytes per sequence-step allows them; the chunks
    themselves are bounded by CHUNK_ELEMENTS and cancel in the difference."""
    small, large = _measure(16, 100, each_backend), _measure(64, 400, each_backend)
    added = 64 * 400 - 16 * 100
    peak_per_step = (large["peak"] - small["peak"]) / added
    assert peak_per_step < 64, f"peak grows by {peak_per_step:.0f} bytes per sequence-step"
    # Held: nothing that scales with the data.  (A few bytes per compiled-kernel call stay
    # with Numba's dispatcher, numba/numba#9733: bounded by the 1 MB below in this test.)
    held_per_step = (large["held"] - small["held"]) / added
    assert held_per_step < 8, f"{held_per_step:.0f} bytes per sequence-step held after return"
    for m in (small, large):
        assert m["held"] < 2**20, f"{m['held']} bytes held after encode + reconstruct"
