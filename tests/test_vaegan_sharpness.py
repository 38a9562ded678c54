"""``python -m minivae.experiments latent-sharpness`` end to end at the test suite's size
(--tiny) on a tiny synthetic MNIST-like IDX dataset written to tmp_path (never the real files),
and the sharpness measure against hand-computed values."""

import json

import numpy as np
import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import latent_sharpness as exp


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_sharpness"), 60, 20)


def test_sharpness_of_known_images():
    flat = np.full((2, 784), 0.3)
    assert exp.mean_gradient_magnitude(flat) == 0.0
    ramp = np.tile(np.arange(28) * 0.01, (28, 1)).reshape(1, 784)  # d/dcol = 0.01, d/drow = 0
    assert exp.mean_gradient_magnitude(ramp) == pytest.approx(0.01, rel=1e-12)
    edge = np.zeros((28, 28))
    edge[:, 14:] = 1.0  # one unit step per row, at the 27 rows that have a forward neighbour
    assert exp.mean_gradient_magnitude(edge.reshape(1, 784)) == pytest.approx(1 / 27)
    # spreading an edge keeps |grad x| (its sum is the edge's height) but lowers the energy
    blurred = edge.copy()
    blurred[:, 13], blurred[:, 14] = 1 / 3, 2 / 3
    assert exp.mean_gradient_magnitude(blurred.reshape(1, 784)) == pytest.approx(1 / 27)
    assert exp.mean_gradient_magnitude(edge.reshape(1, 784), squared=True) == pytest.approx(1 / 27)
    assert exp.mean_gradient_magnitude(blurred.reshape(1, 784), squared=True) == pytest.approx(
        1 / 81)
    # a stroke blurred to a lower peak scores lower on both
    stroke, soft = np.zeros((28, 28)), np.zeros((28, 28))
    stroke[:, 14] = 1.0
    soft[:, 13:16] = [0.25, 0.5, 0.25]
    for sq in (False, True):
        assert (exp.mean_gradient_magnitude(soft.reshape(1, 784), squared=sq)
                < exp.mean_gradient_magnitude(stroke.reshape(1, 784), squared=sq))


def test_sharpness_bad_input():
    with pytest.raises(ValueError, match="images"):
        exp.mean_gradient_magnitude(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="images"):
        exp.mean_gradient_magnitude(np.zeros((0, 784)))
    with pytest.raises(TypeError, match="squared"):
        exp.mean_gradient_magnitude(np.zeros((1, 784)), squared=1)


def test_tiny_run_writes_table_and_figure(tiny_mnist, tmp_path):
    out = tmp_path / "out"
    code = dispatcher.main(["latent-sharpness", "--tiny", "--data-dir", str(tiny_mnist),
                            "--no-verify", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["summary"]) == {"test digits", "VAE", "VAE-GAN"}
    for label in ("VAE", "VAE-GAN"):
        row = results["rows"][label][0]
        assert row["samples"] > 0 and row["reconstructions"] > 0 and row["seconds"] > 0
    assert results["summary"]["test digits"]["seconds"] is None  # the reference: no training
    assert "| VAE-GAN |" in results["table"]
    assert (out / "vaegan_samples.png").stat().st_size > 0
