"""Same seed, same bits, whatever the thread count.

Each case starts a child process (this file run as a script) with a given number of Numba
kernel threads (``NUMBA_NUM_THREADS``) and of BLAS threads (``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS``, read when NumPy loads its BLAS).  The child trains every model for a few
epochs with a fixed seed (float32 and float64; LSTM models with and without a mask, both
decoders; N = 33, not a multiple of the 4-row tiles), then computes the loss and the gradients
on the whole set, and prints a SHA-256 of the bytes of every result.  All children must print
the same hashes.

Shapes are small (so the whole file takes a few seconds per child), except the MLP's first
layer, 784 x 512: at that size NumPy's OpenBLAS computes ``x @ W`` with different bits on one
and on two threads (measured, see minivae/fast/blas.py), so the test also checks the BLAS
thread policy of ``fit``.  The loss and gradients after ``fit`` are computed under
``limit_blas_threads(1)``, the documented way to get thread-independent bits outside ``fit``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# (Numba kernel threads, BLAS threads): every value of each at least once, and both BLAS
# counts under the largest Numba count.
SETTINGS = [(1, 1), (2, 2), (4, 1), (4, 2)]
N, T, D, H, L = 33, 7, 2, 8, 3
N_MLP, D_MLP, H_MLP = 33, 784, 512
EPOCHS, BATCH = 2, 16


def _digest(*arrays: object) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _models(dtype: type) -> dict[str, tuple[object, np.ndarray, dict]]:
    """name -> (model, X, fit keyword arguments); every model and data set seeded."""
    from minivae.models import CVAE, LSTMVAE, VAE, Autoencoder, LSTMAutoencoder

    rng = np.random.default_rng(1)
    X_seq = rng.standard_normal((N, T, D)).astype(dtype)
    lengths = rng.integers(2, T + 1, size=N)
    mask = np.arange(T)[None, :] < lengths[:, None]  # (N, T): ragged sequences
    X_img = rng.random((N_MLP, D_MLP)).astype(dtype)
    labels = rng.integers(0, 3, size=N_MLP)
    out: dict[str, tuple[object, np.ndarray, dict]] = {
        "AE": (Autoencoder(D_MLP, [H_MLP], L, rng=0, dtype=dtype), X_img, {}),
        "VAE": (VAE(D_MLP, [H_MLP], L, rng=0, dtype=dtype), X_img, {}),
        "CVAE": (CVAE(D_MLP, 3, [H_MLP], L, rng=0, dtype=dtype), X_img, {"y": labels}),
    }
    for decoder in ("repeat", "autoregressive"):
        for masked in (False, True):
            kw = {"mask": mask} if masked else {}
            tag = f"{decoder}{'+mask' if masked else ''}"
            tf = {"teacher_forcing": 0.5} if decoder == "autoregressive" else {}
            out[f"LSTMAE {tag}"] = (LSTMAutoencoder(D, H, L, decoder=decoder, rng=0,
                                                    dtype=dtype, **tf), X_seq, kw)
            out[f"LSTMVAE {tag}"] = (LSTMVAE(D, H, L, decoder=decoder, rng=0, dtype=dtype,
                                             **tf), X_seq, kw)
    return out


def run_all() -> dict[str, str]:
    """Train, evaluate and differentiate every model; name -> hash of all the results."""
    from minivae.fast.blas import limit_blas_threads

    hashes = {}
    for dtype in (np.float64, np.float32):
        for name, (model, X, kw) in _models(dtype).items():
            history = model.fit(X, epochs=EPOCHS, batch_size=BATCH, rng=0, verbose=0,
                                diagnostics=False, **kw)
            batch = model.make_batch(X, kw.get("y"))
            with limit_blas_threads(1):
                model.zero_grad()
                loss, _ = model.loss(batch, rng=np.random.default_rng(5), mask=kw.get("mask"))
                model.backward()
            arrays = [a for _, p, g in model.parameters() for a in (p, g)]
            hashes[f"{name} {np.dtype(dtype).name}"] = _digest(
                np.array(history["loss"]), np.array(loss), *arrays)
    return hashes


def _child(numba_threads: int, blas_threads: int) -> dict[str, str]:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(numba_threads),
               OPENBLAS_NUM_THREADS=str(blas_threads), OMP_NUM_THREADS=str(blas_threads),
               MKL_NUM_THREADS=str(blas_threads), MINIVAE_BACKEND="numba",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, __file__], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # the setting took hold (OpenBLAS never starts more threads than there are CPUs)
    assert report["threads"] == [numba_threads, min(blas_threads, os.cpu_count() or 1)], report
    return report["hashes"]


def test_same_bits_for_every_thread_count():
    pytest.importorskip("numba")
    results = {setting: _child(*setting) for setting in SETTINGS}
    first = results[SETTINGS[0]]
    assert len(first) == 2 * 11
    differing = sorted({name for hashes in results.values() for name in first
                        if hashes[name] != first[name]})
    assert not differing, (
        f"{len(differing)} of {len(first)} model/dtype results differ between the (Numba "
        f"threads, BLAS threads) settings {SETTINGS}: {differing}")


@pytest.mark.parametrize("N", [1, 7, 33, 64, 67, 130])
def test_kernel_chunks_depend_on_N_only(monkeypatch, N):
    """In one process: the sequence and decoder kernels give the same bits for 1, 2, 3, 4 and 8
    worker threads (3 leaves chunks unevenly shared), and the chunking is a function of N."""
    pytest.importorskip("numba")
    from minivae.fast import lstm

    assert lstm._n_chunks(N) in (1, 2, 4, 8)
    bounds = lstm._chunk_bounds(N, lstm._n_chunks(N))
    assert bounds[0][0] == 0 and bounds[-1][1] == N
    assert all(b[1] == c[0] for b, c in zip(bounds, bounds[1:]))
    rng = np.random.default_rng(N)
    D, Hs, T, O = 3, 8, 5, 6
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((2, N, Hs))
    Wx, Wh = 0.3 * rng.standard_normal((D, 4 * Hs)), 0.3 * rng.standard_normal((Hs, 4 * Hs))
    b, W, bo = rng.standard_normal(4 * Hs), rng.standard_normal((Hs, O)), rng.standard_normal(O)
    mask = rng.random((N, T)) < 0.8
    dhs, dy = rng.standard_normal((N, T, Hs)), rng.standard_normal((N, T, O))

    def everything() -> str:
        hs, hT, cT, cache = lstm.lstm_forward(x, h0, c0, Wx, Wh, b, mask)
        grads = lstm.lstm_backward(dhs, hT, cT, cache)
        y, dcache = lstm.ar_decoder_forward(h0, c0, (Wx, Wh, b), W, bo, T)
        dh0, dc0, cell, dW, db = lstm.ar_decoder_backward(dy, dcache)
        return _digest(hs, hT, cT, *grads, y, dh0, dc0, *cell, dW, db)

    hashes = set()
    for threads in (1, 2, 3, 4, 8):
        monkeypatch.setattr(lstm, "_n_threads", lambda threads=threads: threads)
        hashes.add(everything())
    assert len(hashes) == 1


def _threads_seen() -> list[int]:
    import numba
    from threadpoolctl import threadpool_info

    blas = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return [int(numba.config.NUMBA_NUM_THREADS), blas[0] if blas else -1]


if __name__ == "__main__":
    hashes = run_all()
    print(json.dumps({"threads": _threads_seen(), "hashes": hashes}))
