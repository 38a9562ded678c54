"""BLAS thread control (minivae.fast.blas) and the thread policy fit applies."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.fast import backend
from minivae.fast.blas import (
    blas_num_threads,
    is_recurrent,
    limit_blas_threads,
    set_blas_num_threads,
    threads_for_training,
)
from minivae.models import VAE, LSTMAutoencoder


@pytest.fixture
def blas_threads():
    """The BLAS thread count, restored after the test; skips if NumPy's BLAS is unknown."""
    n = blas_num_threads()
    if n is None:
        pytest.skip("NumPy's BLAS library was not recognised (not OpenBLAS/MKL)")
    yield n
    set_blas_num_threads(n)


def test_set_returns_previous_and_changes_count(blas_threads):
    assert set_blas_num_threads(1) == blas_threads
    assert blas_num_threads() == 1
    assert set_blas_num_threads(3) == 1
    assert blas_num_threads() == 3


def test_limit_restores_after_block_and_after_error(blas_threads):
    set_blas_num_threads(2)
    with limit_blas_threads(1):
        assert blas_num_threads() == 1
        with limit_blas_threads(1):  # nested: no change, and the outer block still restores
            assert blas_num_threads() == 1
        assert blas_num_threads() == 1
    assert blas_num_threads() == 2
    with pytest.raises(RuntimeError), limit_blas_threads(1):
        raise RuntimeError("boom")
    assert blas_num_threads() == 2


def test_limit_never_raises_the_count(blas_threads):
    set_blas_num_threads(1)
    with limit_blas_threads(4):
        assert blas_num_threads() == 1
    assert blas_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_count_is_refused(bad):
    with pytest.raises(ValueError, match="n must be a positive int"):
        set_blas_num_threads(bad)


def test_products_unchanged_by_thread_count(blas_threads):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((70, 90)), rng.standard_normal((90, 50))
    set_blas_num_threads(2)
    ref = a @ b
    with limit_blas_threads(1):
        np.testing.assert_allclose(a @ b, ref, rtol=1e-12, atol=1e-12)


def test_is_recurrent_finds_lstm_layers_and_cells():
    assert is_recurrent(LSTMAutoencoder(2, 4, 2, rng=0))
    assert is_recurrent(LSTMAutoencoder(2, 4, 2, decoder="autoregressive", rng=0))
    assert not is_recurrent(VAE(6, [5], 2, rng=0))
    assert not is_recurrent("not a layer")


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_fit_pins_blas_for_lstm_models_and_restores(blas_threads, name):
    if name == "numba" and not backend.numba_available():
        pytest.skip("numba not installed")
    set_blas_num_threads(2)
    seen = []

    def record(epoch, logs, model):
        seen.append(blas_num_threads())
        return False

    X = np.random.default_rng(0).standard_normal((8, 5, 2))
    with backend.use_backend(name):
        LSTMAutoencoder(2, 4, 2, rng=0).fit(X, epochs=2, batch_size=4, verbose=0,
                                            callbacks=[record])
        assert seen == [1, 1]
        assert blas_num_threads() == 2
        seen.clear()
        VAE(6, [5], 2, rng=0).fit(np.random.default_rng(1).random((8, 6)), epochs=1,
                                   batch_size=4, verbose=0, callbacks=[record])
        assert seen == [2]  # an MLP's time is all BLAS: left alone


def test_threads_for_training_is_a_no_op_for_mlps(blas_threads):
    set_blas_num_threads(2)
    with threads_for_training(VAE(6, [5], 2, rng=0)):
        assert blas_num_threads() == 2
