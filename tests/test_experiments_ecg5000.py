"""``python -m minivae.experiments ecg5000``: the protocol's pieces, a run on generated beats in
the UCR TSV format (always), and a quick run on the real files (skipped when they are absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from fake_ucr import write_fake_ecg5000

from minivae.experiments import ecg5000 as ecg
from minivae.experiments.__main__ import main as dispatch

_ROOT = Path(__file__).resolve().parents[1]
# The shared data sit beside the project (../shared) or, from a worktree, one level higher.
REAL_DIR = next((d for d in (Path(os.environ.get("MINIVAE_UCR_DIR", "/nonexistent")),
                             _ROOT.parent / "shared" / "data" / "ucr",
                             _ROOT.parent.parent / "shared" / "data" / "ucr")
                 if (d / "ECG5000" / "ECG5000_TEST.tsv").is_file()),
                _ROOT.parent / "shared" / "data" / "ucr") / "ECG5000"


def test_split_follows_the_protocol():
    # ECG5000's class counts: 2919 normals -> 2481 / 146 / 292, 2081 abnormal.
    y = np.array([1] * 2919 + [2] * 1767 + [3] * 96 + [4] * 194 + [5] * 24)
    y = y[np.random.default_rng(3).permutation(len(y))]
    sp = ecg.one_class_split(y)
    assert [len(sp[k]) for k in ("train", "val", "test", "abnormal", "balanced")] == \
        [2481, 146, 292, 2081, 292]
    normal = np.flatnonzero(y == 1)
    rng = np.random.default_rng(42)
    perm = normal[rng.permutation(len(normal))]
    np.testing.assert_array_equal(sp["train"], perm[:2481])
    np.testing.assert_array_equal(sp["val"], perm[2481:2481 + 146])
    np.testing.assert_array_equal(sp["test"], perm[-292:])
    np.testing.assert_array_equal(sp["balanced"],
                                  rng.choice(np.flatnonzero(y != 1), 292, replace=False))
    assert len(np.intersect1d(sp["train"], np.concatenate([sp["val"], sp["test"]]))) == 0
    with pytest.raises(ValueError, match="too few beats"):
        ecg.one_class_split(np.array([1, 1, 2]))


def test_metrics_and_baselines_on_separable_scores():
    rng = np.random.default_rng(0)
    classes = np.array([1] * 50 + [2] * 30 + [4] * 20)
    scores = np.where(classes == 1, 0.0, 10.0) + rng.random(100)
    m = ecg.detection_metrics(rng.random(40), scores, classes)
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0 and m["best_balanced_accuracy"] == 1.0
    assert m["accuracy"] == 1.0  # threshold mean + 3 std of U(0, 1) scores lies below 10
    assert set(m) >= {"auc_class_2", "auc_class_4"} and "auc_class_3" not in m
    # Scores that flag nothing: accuracy is the share of normals.
    m2 = ecg.detection_metrics(np.array([100.0, 101.0]), scores, classes)
    assert m2["accuracy"] == 0.5
    X = rng.standard_normal((30, 12))
    nn = ecg.nearest_neighbour_scorer(X)
    np.testing.assert_allclose(nn(X[:5]), 0.0, atol=1e-6)
    far = X[:1] + 3.0
    assert nn(far)[0] == pytest.approx(np.min(np.linalg.norm(X - far, axis=1)))
    pca, k = ecg.pca_scorer(X, explained=0.999)
    assert k == 12 and np.allclose(pca(X), 0.0, atol=1e-20)  # all components: exact


def test_training_plan_scales_with_the_data():
    s = ecg.FULL
    big, small = ecg.training_plan(2481, s), ecg.training_plan(100, s)
    assert big["batch_size"] > small["batch_size"] and big["lr"] > small["lr"]
    assert small["epochs"] >= big["epochs"] and small["epochs"] <= s.max_epochs
    # The MLP autoencoder: the same batch sizes, about mlp_target_steps steps, capped epochs.
    mlp_big, mlp_small = ecg.mlp_training_plan(2481, s), ecg.mlp_training_plan(100, s)
    assert mlp_big["batch_size"] == 64 and mlp_big["epochs"] == 206  # 8000 / 39 steps an epoch
    assert mlp_small["batch_size"] == 16 and mlp_small["epochs"] == s.mlp_max_epochs  # capped


def test_classifier_loss_gradient_matches_finite_differences():
    from minivae.gradcheck import check_function

    clf = ecg.BeatClassifier(3, 4, rng=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5, 7, 1)), np.array([0, 1, 2, 1, 0])
    params = {name: (p, g) for name, p, g in clf.parameters()}
    assert {"head.W", "lstm.layers.0.Wh"} <= set(params)
    for name in ("head.W", "head.b", "lstm.layers.0.Wx", "lstm.layers.0.Wh", "lstm.layers.0.b"):
        P, G = params[name]

        def f(value, P=P):
            P[...] = value
            return clf.loss((X, y))[0]

        def grad(value, P=P, G=G):
            P[...] = value
            clf.zero_grad()
            clf.loss((X, y))
            clf.backward()
            return G.copy()

        res = check_function(f, {"value": P.copy()}, grad)
        assert all(r.passed for r in res), res


def test_generated_ucr_files_run_every_part(tmp_path, capsys):
    data = tmp_path / "ucr"
    data.mkdir()
    write_fake_ecg5000(data, np.random.default_rng(0), n_train=60, n_test=220,
                       widths=(0.08, 0.12))
    out = tmp_path / "out"
    assert dispatch(["ecg5000", "--tiny", "--data-dir", str(data), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for needle in ("ECG5000 one-class detection", "balanced", "LSTM-VAE (rec. prob.)",
                   "MLP-AE (MSE)", "1-NN distance", "Small data", "Downstream", "linear+model",
                   "complete (no gaps)"):
        assert needle in text, needle
    res = json.loads((out / "results.json").read_text())
    run = res["main"]["runs"][0]
    for name, sets in run["metrics"].items():
        for eval_set in ("all", "balanced"):
            for key, value in sets[eval_set].items():
                assert 0.0 <= value <= 1.0, (name, eval_set, key)
    # The generated anomalies are obvious: the 1-NN baseline separates them.
    assert run["metrics"]["1-NN distance"]["all"]["roc_auc"] > 0.95
    assert res["split_sizes"]["test"] == res["split_sizes"]["balanced"]
    rows = res["downstream"][0]["rows"]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert all(r["mae"] >= 0.0 for r in rows[1:])
    assert (out / "ecg5000_scores.png").stat().st_size > 1000
    # A second seed in its own run, then the two merged into one table.
    out1 = tmp_path / "out1"
    assert ecg.main(["--tiny", "--seeds", "1", "--parts", "main", "--no-figures",
                     "--data-dir", str(data), "--out", str(out1)]) == 0
    merged_dir = tmp_path / "merged"
    capsys.readouterr()
    assert ecg.main(["--merge", str(out), str(out1), "--out", str(merged_dir)]) == 0
    text = capsys.readouterr().out
    assert "mean ± std over seeds [0, 1]" in text and "Downstream: seeds [0]" in text
    merged = json.loads((merged_dir / "results.json").read_text())
    assert merged["seeds"] == [0, 1] and len(merged["main"]["runs"]) == 2
    assert [r["seed"] for r in merged["main"]["runs"]] == [0, 1]
    with pytest.raises(SystemExit):
        ecg.main(["--merge", str(out), str(tmp_path / "nothing"), "--out", str(merged_dir)])
    # --detectors: only the MLP autoencoder and the baselines are trained and tabled.
    out2 = tmp_path / "out2"
    assert ecg.main(["--tiny", "--parts", "main", "small", "--detectors", "mlp", "baselines",
                     "--no-figures", "--data-dir", str(data), "--out", str(out2)]) == 0
    res2 = json.loads((out2 / "results.json").read_text())
    assert res2["detectors"] == ["mlp", "baselines"]
    names = set(res2["main"]["runs"][0]["metrics"])
    assert names == {"MLP-AE (MSE)", "PCA (90% variance)", "1-NN distance"}
    assert res2["main"]["best_learned"] == "MLP-AE (MSE)"
    assert all(set(r["metrics"]) == names for runs in res2["small"].values() for r in runs)
    # Runs of other detector families are not merged into one table.
    with pytest.raises(SystemExit):
        ecg.main(["--merge", str(out1), str(out2), "--out", str(merged_dir)])


def test_mlp_autoencoder_scores_whole_beats():
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, 20)
    X = np.sin(2 * np.pi * (t[None] + 0.05 * rng.standard_normal((80, 1))))
    model, sec, best = ecg.train_mlp_autoencoder(X[:60], X[60:], ecg.TINY, seed=0)
    assert model.input_ndim == (2,) and sec >= 0.0 and 1 <= best <= ecg.TINY.mlp_max_epochs
    err = ecg.reconstruction_mse(model, X)
    expected = np.mean((model.reconstruct(X.astype(np.float32)).astype(np.float64) - X) ** 2, 1)
    np.testing.assert_allclose(err, expected, rtol=1e-12)
    assert err.shape == (80,) and np.all(err >= 0.0)


def test_bad_data_dir_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        ecg.main(["--tiny", "--data-dir", str(tmp_path)])
    assert exc.value.code == 2
    assert "missing ['ECG5000_TRAIN.tsv', 'ECG5000_TEST.tsv']" in capsys.readouterr().err


@pytest.mark.skipif(not (REAL_DIR / "ECG5000_TEST.tsv").is_file(),
                    reason=f"ECG5000 files not found in {REAL_DIR}")
def test_quick_run_on_the_real_files(tmp_path, capsys):
    assert ecg.main(["--tiny", "--data-dir", str(REAL_DIR), "--parts", "main",
                     "--no-figures", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["split_sizes"]["abnormal"] + res["split_sizes"]["train"] + \
        res["split_sizes"]["val"] + res["split_sizes"]["test"] == ecg.TINY.beats
    nn_auc = res["main"]["runs"][0]["metrics"]["1-NN distance"]["all"]["roc_auc"]
    assert nn_auc > 0.9  # even on a few hundred beats the abnormal ones stand out
