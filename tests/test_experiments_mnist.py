"""MNIST experiments: the equal-probability latent grid, the Adam/summed-loss equivalence, the
PyTorch initialisation, and every configuration run end to end in --quick mode on a tiny synthetic
MNIST-like IDX dataset written to tmp_path (never the real files, never a download)."""

import json
import math

import numpy as np
import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import mnist as exp
from minivae.experiments.mnist import (
    adam_eps_for_mean_loss,
    manifold_grid,
    torch_default_init,
)


def normal_cdf(x: float) -> float:
    """Phi(x) from the C library's erfc: independent of the rational approximation under test."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def test_manifold_grid_is_equal_probability_spacing():
    grid = manifold_grid(5, 0.1, 0.9)
    np.testing.assert_allclose([normal_cdf(g) for g in grid], np.linspace(0.1, 0.9, 5),
                               rtol=1e-12)
    assert grid[2] == 0.0 and np.all(np.diff(grid) > 0)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        manifold_grid(5, 0.0, 0.9)


# ---------------------------------------------------------------------------------------------
# Matching PyTorch's example: Adam on a summed vs a mean loss, default Linear init
# ---------------------------------------------------------------------------------------------


def test_adam_on_mean_loss_with_scaled_eps_equals_adam_on_summed_loss():
    from minivae.models import VAE
    from minivae.train.optim import Adam

    B = 16
    X = np.random.default_rng(0).random((B, 6))
    a = VAE(6, [5], 2, rng=1)
    b = VAE(6, [5], 2, rng=1)
    opt_sum = Adam(a, lr=1e-2, eps=1e-3)  # a big eps, so getting its scaling wrong shows
    opt_mean = Adam(b, lr=1e-2, eps=adam_eps_for_mean_loss(1e-3, B))
    for step in range(5):
        for model, opt, scale in ((a, opt_sum, B), (b, opt_mean, 1)):
            model.zero_grad()
            model.loss(X, rng=step)
            model.backward()
            for _, _, g in model.parameters():
                g *= scale  # the summed loss is B times the mean loss
            opt.step()
    for (name, pa, _), (_, pb, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa, pb, rtol=1e-10, atol=1e-12, err_msg=name)
    # ...and with the same eps the two runs differ: the correction is not a no-op here.
    c = VAE(6, [5], 2, rng=1)
    opt_c = Adam(c, lr=1e-2, eps=1e-3)
    for step in range(5):
        c.zero_grad()
        c.loss(X, rng=step)
        c.backward()
        opt_c.step()
    assert not np.allclose(c.encoder.layers[0].params["W"], a.encoder.layers[0].params["W"])


def test_torch_default_init_bounds_and_seed():
    from minivae.models import VAE

    m = VAE(784, [400], 20, rng=0, dtype=np.float32)
    torch_default_init(m, 5)
    first = m.encoder.layers[0]
    w, b = first.params["W"], first.params["b"]
    bound = 1 / math.sqrt(784)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and np.any(b != 0)  # PyTorch draws the biases too
    assert w.dtype == np.float32
    # U(-c, c) has variance c^2 / 3
    assert np.var(w) == pytest.approx(bound**2 / 3, rel=0.02)
    m2 = VAE(784, [400], 20, rng=0, dtype=np.float32)
    torch_default_init(m2, 5)
    np.testing.assert_array_equal(m2.encoder.layers[0].params["W"], w)


# ---------------------------------------------------------------------------------------------
# End to end on a tiny MNIST-like IDX dataset
# ---------------------------------------------------------------------------------------------

N_TRAIN, N_TEST = 64, 32


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist"), N_TRAIN, N_TEST, stroke=True)


pytestmark = pytest.mark.usefixtures("no_network")


EXPECTED_FIGURES = {
    "seed": ["latent_scatter.png", "manifold.png", "decoded_-3_1.png", "reconstructions.png",
             "history.png"],
    "pytorch-example": ["samples.png", "reconstructions.png", "history.png"],
    "iwae": ["bounds.png", "history.png"],
    "beta": ["traversals.png", "rate_distortion.png", "history.png"],
    "cvae": ["cvae_grid.png", "history.png"],
}


def _run(config, tiny_mnist, out, *extra):
    argv = ["--config", config, "--quick", "--data-dir", str(tiny_mnist), "--no-verify",
            "--train-size", str(N_TRAIN), "--test-size", str(N_TEST), "--out", str(out),
            *extra]
    return exp.main(argv)


@pytest.mark.parametrize("config", sorted(EXPECTED_FIGURES))
def test_every_config_runs_quick_and_writes_figures(config, tiny_mnist, tmp_path, capsys):
    extra = ("--ll-k", "200") if config == "iwae" else ()
    assert _run(config, tiny_mnist, tmp_path, *extra) == 0
    text = capsys.readouterr().out
    # One line per epoch and model, with train and test loss in nats per image and the time.
    epoch_lines = [line for line in text.splitlines() if " epoch " in line and "/2 " in line]
    n_models = {"beta": 3, "iwae": 2}.get(config, 1)
    assert len(epoch_lines) == 2 * n_models, text
    for line in epoch_lines:
        assert "train" in line and "nats/image" in line and "s/epoch" in line
    assert f"data: {N_TRAIN} train / {N_TEST} test images" in text
    for name in EXPECTED_FIGURES[config]:
        path = tmp_path / name
        assert path.is_file(), f"{name} missing; printed:\n{text}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"] == config and results["setting"]["epochs"] == 2
    assert sorted(results["figures"]) == sorted(str(tmp_path / n) for n in
                                                EXPECTED_FIGURES[config])
    if config == "iwae":
        for r in results["models"].values():
            b = r["bounds"]
            assert math.isfinite(b["ll_200"]) and b["elbo"] <= b["ll_200"]
        assert "ELBO" in text and "L_200" in text
    if config == "beta":
        assert [r["beta"] for r in results["betas"]] == [0.5, 1.0, 4.0]
        assert all(0 <= r["active_units"] <= exp.BETA_LATENT_DIM for r in results["betas"])


def test_same_seed_same_numbers_and_no_figures(tiny_mnist, tmp_path, capsys):
    runs = {}
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert _run("seed", tiny_mnist, tmp_path / name, "--epochs", "1", "--seed", seed,
                    "--no-figures") == 0
        runs[name] = json.loads((tmp_path / name / "results.json").read_text())
    loss = {k: r["model"]["history"]["metrics"]["val_loss"] for k, r in runs.items()}
    assert loss["a"] == loss["b"] and loss["a"] != loss["c"]
    assert runs["a"]["figures"] == [] and not list((tmp_path / "a").glob("*.png"))


def test_dispatcher_and_usage_errors(tiny_mnist, tmp_path, capsys):
    argv = ["mnist", "--config", "cvae", "--quick", "--data-dir", str(tiny_mnist),
            "--no-verify", "--train-size", "20", "--test-size", "10", "--epochs", "1",
            "--out", str(tmp_path), "--no-figures"]
    assert dispatcher.main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"] == "cvae" and results["setting"]["n_train"] == 20
    with pytest.raises(SystemExit) as err:
        exp.main(["--config", "nope"])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        exp.main(["--config", "seed", "--epochs", "0"])
    assert "--epochs must be >= 1" in capsys.readouterr().err


def test_real_checksums_refuse_the_tiny_files(tiny_mnist, tmp_path):
    # Without --no-verify the loader checks the published sizes/MD5s: the tiny files fail loudly.
    from minivae.data import IdxFormatError

    with pytest.raises(IdxFormatError, match="size"):
        exp.main(["--config", "seed", "--quick", "--data-dir", str(tiny_mnist),
                  "--train-size", "10", "--test-size", "10", "--out", str(tmp_path)])


def test_compact_png_keeps_grey_figures_exact(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    Image.fromarray(np.stack([grey] * 3 + [np.full_like(grey, 255)], axis=-1)).save(
        tmp_path / "g.png")
    exp._compact_png(tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), grey)
    colour = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "c.png")
    exp._compact_png(tmp_path / "c.png")
    with Image.open(tmp_path / "c.png") as im:
        assert im.mode == "P" and im.size == (40, 30)
