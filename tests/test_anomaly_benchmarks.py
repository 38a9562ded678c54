"""The simple baselines, the fraud-like generator, and the mnist-anomaly / fraud experiments at
their test size (MNIST: a tiny synthetic IDX set written here, never the real files)."""

import gzip
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.baselines import PCAScorer, ZScoreScorer
from minivae.data.tabular import FRAUD_FEATURES, make_fraud_data
from minivae.experiments import __main__ as dispatcher


# ------------------------------------------------------------------------------ baselines
def test_pca_scorer_is_zero_on_its_subspace_and_counts_the_residual():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((5, 2)))[0].T  # (2, 5) orthonormal rows
    X = rng.standard_normal((200, 2)) @ basis * 3.0 + 1.0
    pca = PCAScorer(n_components=2).fit(X)
    assert pca.n_components_ == 2
    np.testing.assert_allclose(pca.score(X), 0.0, atol=1e-20)
    off = np.linalg.svd(basis)[2][2]  # a unit direction orthogonal to the subspace
    np.testing.assert_allclose(pca.score((1.0 + 2.0 * off)[None]), [4.0 / 5.0], rtol=1e-10)
    assert PCAScorer(explained=0.999).fit(X).n_components_ == 2  # all variance is in 2 dims


def test_zscore_scorer_by_hand_and_missing_values():
    X = np.array([[0.0, 10.0], [2.0, 10.0], [np.nan, 10.0]])
    z = ZScoreScorer().fit(X)  # mean (1, 10), std (1, 0 -> 1)
    np.testing.assert_allclose(z.score_features([[4.0, 12.0]]), [[3.0, 2.0]])
    np.testing.assert_allclose(z.score([[4.0, 12.0]]), [3.0])
    with pytest.raises(ValueError, match=r"no observed value in feature\(s\) \[0\]"):
        ZScoreScorer().fit(np.array([[np.nan, 1.0], [np.nan, 2.0]]))


def test_baseline_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        PCAScorer().score(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="not fitted"):
        ZScoreScorer().score(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="n_components must be an int >= 1"):
        PCAScorer(n_components=0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        PCAScorer().fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 3\)"):
        PCAScorer().fit(np.eye(3)).score(np.zeros((2, 4)))


# ------------------------------------------------------------------------------ fraud data
def test_fraud_data_is_seeded_imbalanced_and_mixed_scale():
    X, y, kind = make_fraud_data(5000, rng=3)
    X2, y2, _ = make_fraud_data(5000, rng=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (5000, len(FRAUD_FEATURES)) and y.sum() == 10
    assert set(kind[y == 1]) == {"range", "pattern"} and np.all(kind[y == 0] == "")
    std = X[y == 0].std(axis=0)
    assert std.max() / std.min() > 1e4  # scales five orders of magnitude apart
    # A "pattern" row is inside every feature's normal range; a "range" row is not.
    lo, hi = np.percentile(X[y == 0], [0.5, 99.5], axis=0)
    assert np.all((X[kind == "pattern"][:, 5:] > lo[5:] * 4) & (X[kind == "pattern"][:, 5:]
                                                                 < hi[5:] * 4))
    assert np.all(X[kind == "range", 0] > np.percentile(X[y == 0, 0], 50))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(100, 3000), rate=st.floats(0.001, 0.2))
def test_fraud_data_counts(n, rate):
    X, y, _ = make_fraud_data(n, anomaly_rate=rate, rng=0)
    assert X.shape[0] == n and y.sum() == max(2, round(n * rate)) and np.isfinite(X).all()


def test_fraud_data_errors():
    with pytest.raises(ValueError, match="n must be >= 100"):
        make_fraud_data(10)
    with pytest.raises(ValueError, match="anomaly_rate"):
        make_fraud_data(1000, anomaly_rate=0.5)
    with pytest.raises(TypeError, match="rng must be"):
        make_fraud_data(1000, rng="x")


# ------------------------------------------------------------------------------ experiments
def _idx(arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """Blurry 'digits': a class-dependent bar plus noise (never the real files)."""
    d = tmp_path_factory.mktemp("tiny_mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 400), ("t10k", 120)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 4 + 2 * c: 7 + 2 * c, 6:22] = 255
        (d / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (d / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    return d


def test_mnist_anomaly_tiny(tiny_mnist, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINIVAE_NO_DOWNLOAD", "1")
    argv = ["mnist-anomaly", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
            "--out", str(tmp_path)]
    assert dispatcher.main(argv) == 0
    text = capsys.readouterr().out
    assert "| anomaly digit | VAE recon. probability |" in text and "| **mean** |" in text
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["digit"] for r in results["runs"]] == [0, 1]
    for r in results["runs"]:
        for m in r["metrics"].values():
            assert 0.0 <= m["roc_auc"] <= 1.0 and 0.0 <= m["pr_auc"] <= 1.0
        # The bar position alone separates the classes: PCA finds the held-out digit.
        assert r["metrics"]["PCA recon. error (baseline)"]["roc_auc"] > 0.7
    assert (tmp_path / "mnist_anomaly_auc.png").is_file()


def test_fraud_tiny(tmp_path, capsys):
    assert dispatcher.main(["fraud", "--tiny", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "| max |z-score| (baseline) |" in text and "chance PR-AUC = 0.01" in text
    run = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    _, y, _ = make_fraud_data(2000, anomaly_rate=0.01, rng=0)  # the same draw: seed 0
    assert run["n_test_anomalies"] == y[1200:].sum() and run["n_test"] == 800
    # Range anomalies are far outside the normal ranges: the z-score baseline ranks them first.
    assert run["metrics"]["max |z-score| (baseline)"]["pr_auc_range"] > 0.5
