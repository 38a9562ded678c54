"""PixelVAE and its row-LSTM decoder: causality of the teacher-forced decoder, sampling row by
row (reproducible by seed, consistent with the teacher-forced logits), the Model contract
(loss / backward / per_example_loss, fit, checkpoint round trip), the KL floor of the delta-VAE,
the registered gradient checks, and bad input."""

import numpy as np
import pytest

from minivae.gradcheck.registry import run_checks
from minivae.models import get_model_class
from minivae.models.pixel_vae import PixelVAE
from minivae.nn.functional import sigmoid
from minivae.nn.row_lstm_decoder import RowLSTMDecoder, shifted_rows


def _images(n=6, R=5, C=4, seed=0):
    return (np.random.default_rng(seed).random((n, R, C)) < 0.4).astype(np.float64)


def test_shifted_rows():
    x = np.arange(24.0).reshape(2, 3, 4)
    prev = shifted_rows(x)
    assert np.all(prev[:, 0] == 0) and np.array_equal(prev[:, 1:], x[:, :-1])


@pytest.mark.parametrize("z_input", ["every_row", "initial"])
@pytest.mark.parametrize("r", [0, 2, 4])
def test_decoder_row_r_reads_only_the_rows_above(r, z_input):
    """Changing rows r.. of x leaves the logits of rows 0..r unchanged, and changes those after."""
    dec = RowLSTMDecoder(3, (5, 4), 6, z_input=z_input, rng=0)
    z = np.random.default_rng(1).standard_normal((2, 3))
    x = _images(2)
    y = x.copy()
    y[:, r:] = 1.0 - y[:, r:]
    a, b = dec.forward(z, x), dec.forward(z, y)
    np.testing.assert_array_equal(a[:, : r + 1], b[:, : r + 1])
    if r < 4:
        assert not np.allclose(a[:, r + 1:], b[:, r + 1:])


@pytest.mark.parametrize("z_input", ["every_row", "initial"])
def test_decoder_reads_z(z_input):
    dec = RowLSTMDecoder(2, (4, 3), 5, z_input=z_input, rng=0)
    x = np.zeros((1, 4, 3))
    z = np.zeros((1, 2))
    a = dec.forward(z, x)
    b = dec.forward(z + 1.0, x)
    assert np.all(np.abs(a - b).max(axis=2) > 1e-6)  # every row moves with z
    assert ("init_h" in dec.children()) == (z_input == "initial")
    assert dec.lstm.input_size == 3 + 2 * (z_input == "every_row")


@pytest.mark.parametrize("z_input", ["every_row", "initial"])
def test_sampling_is_reproducible_and_matches_teacher_forcing(z_input):
    dec = RowLSTMDecoder(2, (5, 4), 6, z_input=z_input, rng=3)
    z = np.random.default_rng(0).standard_normal((3, 2))
    x = dec.sample(z, 7)
    assert x.shape == (3, 5, 4) and set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x, dec.sample(z, np.random.default_rng(7)))
    assert not np.array_equal(dec.sample(z, 8), x) or not np.array_equal(dec.sample(z, 9), x)
    # the same draws with mean_last: the probabilities the loop used, which the teacher-forced
    # pass on the drawn image must reproduce (the step loop and the sequence loop agree)
    p = dec.sample(z, 7, mean_last=True)
    np.testing.assert_allclose(sigmoid(dec.forward(z, x)), p, rtol=1e-12, atol=1e-14)


def test_model_sample_reproducible_by_seed():
    for delta in (None, 1.0):
        m = PixelVAE((5, 4), 6, 3, delta=delta, rng=0)
        a, b = m.sample(4, 11), m.sample(4, np.random.default_rng(11))
        assert a.shape == (4, 5, 4)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, m.sample(4, 12)) or not np.array_equal(a, m.sample(4, 13))


def test_flat_and_image_batches_agree():
    m = PixelVAE((5, 4), 6, 3, rng=0)
    X = _images()
    v1, _ = m.loss(X, rng=0)
    v2, _ = m.loss(X.reshape(len(X), -1), eps=m.last_eps)
    assert v1 == v2


def test_loss_parts_and_per_example_loss():
    m = PixelVAE((5, 4), 6, 3, rng=0)
    X = _images()
    value, parts = m.loss(X, rng=0)
    assert value == pytest.approx(parts["reconstruction"] + parts["kl"])
    terms = m.per_example_loss(X, eps=m.last_eps)
    assert terms["loss"].shape == (6,)
    assert terms["loss"].mean() == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(m.elbo(X, 0), -(terms["reconstruction"] + terms["kl"]),
                               rtol=1e-12)
    iw = m.iwae_bound(X, 4, 0)
    assert iw.shape == (6,) and np.all(np.isfinite(iw)) and np.all(iw < 0)


def test_delta_vae_kl_never_below_the_committed_rate():
    m = PixelVAE((5, 4), 6, 4, delta=1.5, rng=0)
    assert m.rate_floor == pytest.approx(1.5, rel=1e-10)
    X = _images(20)
    m.fit(X, epochs=3, batch_size=5, verbose=0, rng=0, diagnostics=False)
    kl = m.per_example_loss(X, rng=0)["kl"]
    assert np.all(kl >= 1.5 - 1e-9)
    assert m.kl_per_dimension(X).sum() == pytest.approx(kl.mean(), rel=1e-10)


def test_fit_and_checkpoint_round_trip(tmp_path):
    m = PixelVAE((5, 4), 6, 3, free_bits=0.1, delta=0.7, z_input="initial", rng=0)
    X = _images(20)
    hist = m.fit(X, epochs=2, batch_size=10, verbose=0, rng=0)
    assert len(hist["loss"]) == 2 and "active_units" in hist
    path = tmp_path / "pixel_vae.npz"
    m.save(path)
    m2 = PixelVAE.load(path)
    assert type(m2) is PixelVAE and m2.config() == m.config()
    assert get_model_class("PixelVAE") is PixelVAE
    for (n1, p1, _), (n2, p2, _) in zip(m.parameters(), m2.parameters()):
        assert n1 == n2 and np.array_equal(p1, p2)
    v1, _ = m.loss(X, rng=0)
    v2, _ = m2.loss(X, eps=m.last_eps)
    assert v1 == v2
    np.testing.assert_array_equal(m.sample(2, 5), m2.sample(2, 5))


def test_backward_once_per_loss():
    m = PixelVAE((5, 4), 6, 3, rng=0)
    m.loss(_images(), rng=0)
    m.backward()
    with pytest.raises(RuntimeError, match="loss"):
        m.backward()


def test_registered_gradient_checks_pass():
    results = run_checks(0, only="*pixel_vae*")
    assert len(results) > 50 and all(r.passed for r in results)


def test_bad_input_is_named():
    m = PixelVAE((5, 4), 6, 3, rng=0)
    with pytest.raises(ValueError, match="X"):
        m.loss(np.zeros((2, 4, 5)), rng=0)
    with pytest.raises(ValueError, match="X"):
        m.loss(np.full((2, 5, 4), 2.0), rng=0)
    with pytest.raises(ValueError, match="mask"):
        m.loss(_images(), rng=0, mask=np.ones((6, 5, 4), bool))
    with pytest.raises(ValueError, match="rng"):
        m.loss(_images())
    with pytest.raises(TypeError, match="image_shape"):
        PixelVAE((5, 4, 1), 6, 3)
    with pytest.raises(ValueError, match="delta"):
        PixelVAE((5, 4), 6, 3, delta=-1.0)
    with pytest.raises(ValueError, match="latent_dim"):
        PixelVAE((5, 4), 6, 1, delta=1.0)
    with pytest.raises(ValueError, match="z_input"):
        PixelVAE((5, 4), 6, 3, z_input="middle")
    with pytest.raises(ValueError, match="z"):
        m.decoder.forward(np.zeros((2, 4)), _images(2))
    with pytest.raises(ValueError, match="x"):
        m.decoder.forward(np.zeros((2, 3)), _images(3))
