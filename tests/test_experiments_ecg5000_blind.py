"""The ECG5000 blind model-selection protocol (``--parts blind blind_small``) and the VRNN rows:
synthetic distortions, latent scores, the proxy, the choice rule, and end-to-end tiny runs on
generated beats in the UCR format."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_ucr import write_fake_ecg5000
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.experiments import ecg5000 as ecg
from minivae.experiments import ecg5000_blind as blind
from minivae.experiments.ecg5000_core import nearest_neighbour_scorer


class _Identity:
    """A stand-in network whose code is the input itself (float64)."""

    dtype = np.dtype(np.float64)

    def encode(self, X):
        return np.asarray(X, dtype=np.float64)


def _beats(n: int, T: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, T)
    centre = 0.5 + 0.02 * rng.standard_normal((n, 1))
    return np.exp(-0.5 * ((t - centre) / 0.08) ** 2) + 0.02 * rng.standard_normal((n, T))


@pytest.mark.parametrize("kind", blind.DISTORTIONS)
def test_distortions_are_local_seeded_and_change_every_beat(kind):
    X = _beats(40)
    A = blind.distort(X, kind, 3)
    assert A.shape == X.shape and A.dtype == np.float64
    np.testing.assert_array_equal(A, blind.distort(X, kind, 3))  # the seed fixes them
    changed = np.abs(A - X) > 1e-9
    assert changed.any(axis=1).all(), "every beat must be distorted"
    if kind == "segment_noise":
        assert changed.sum(axis=1).max() <= 30
    if kind == "amplitude":
        assert changed.sum(axis=1).max() <= 40
    np.testing.assert_array_equal(X, _beats(40))  # the input is not modified


def test_distort_rejects_bad_input_by_name():
    with pytest.raises(ValueError, match="kind must be one of"):
        blind.distort(_beats(3), "flip", 0)
    with pytest.raises(ValueError, match="X"):
        blind.distort(np.zeros(5), "bump", 0)


@given(n=st.integers(6, 30), k=st.integers(1, 6), seed=st.integers(0, 99))
@settings(max_examples=25, deadline=None)
def test_latent_knn_is_the_mean_distance_to_the_k_nearest_codes(n, k, seed):
    rng = np.random.default_rng(seed)
    C, Q = rng.standard_normal((n, 3)), rng.standard_normal((7, 3))
    got = blind.latent_knn_scorer(_Identity(), C, k=k)(Q)
    d = np.linalg.norm(Q[:, None, :] - C[None, :, :], axis=2)
    expected = np.sort(d, axis=1)[:, :min(k, n)].mean(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-7)


def test_mahalanobis_matches_the_formula_and_ranks_outliers_last():
    rng = np.random.default_rng(1)
    C = rng.standard_normal((500, 2)) * np.array([3.0, 0.2])
    f = blind.mahalanobis_scorer(_Identity(), C)
    Q = np.array([[3.0, 0.0], [0.0, 0.6]])  # one std along x, three along y
    mu, cov = C.mean(0), np.cov(C, rowvar=False)
    cov += 1e-6 * np.mean(np.diag(cov)) * np.eye(2)
    expected = [(q - mu) @ np.linalg.solve(cov, q - mu) for q in Q]
    np.testing.assert_allclose(f(Q), expected, rtol=1e-10)
    assert f(Q)[1] > f(Q)[0]  # the short axis makes a small step far


def test_proxy_is_one_for_a_perfect_scorer_and_a_half_for_a_blind_one():
    X = _beats(30)
    perfect = blind.proxy_score(nearest_neighbour_scorer(X), X, 0)
    assert set(perfect) == set(blind.DISTORTIONS) | {"mean"}
    assert perfect["mean"] == 1.0
    constant = blind.proxy_score(lambda Z: np.zeros(len(Z)), X, 0)
    assert constant["mean"] == 0.5


def test_choice_rule_prefers_the_earlier_candidate_within_the_tie():
    names = [c.name for c in blind.CANDIDATES]
    proxies = dict.fromkeys(names, 0.5)
    proxies[names[3]] = 0.90
    proxies[names[5]] = 0.90 + 0.5 * blind.TIE  # inside the tie: the cheaper (earlier) wins
    assert blind.choose(proxies) == names[3]
    proxies[names[5]] = 0.90 + 2 * blind.TIE
    assert blind.choose(proxies) == names[5]


def test_select_blind_uses_only_the_training_normals():
    X = _beats(24, T=20)
    sel = blind.select_blind(X, _beats(8, T=20, seed=1), ecg.TINY, seed=0)
    assert sel["chosen"] in {c.name for c in blind.CANDIDATES}
    assert set(sel["proxies"]) == {c.name for c in blind.CANDIDATES}
    assert all(0.0 <= p["mean"] <= 1.0 for p in sel["proxies"].values())
    with pytest.raises(ValueError, match="X_train: need at least 4 beats"):
        blind.select_blind(X[:3], X, ecg.TINY, seed=0)


def test_blind_parts_and_vrnn_rows_end_to_end(tmp_path, capsys):
    data = tmp_path / "ucr"
    data.mkdir()
    write_fake_ecg5000(data, np.random.default_rng(0), n_train=60, n_test=220)
    out = tmp_path / "out"
    assert ecg.main(["--tiny", "--parts", "blind", "blind_small", "--split-seed", "3",
                     "--data-dir", str(data), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for needle in ("Blind selection", "(chosen)", blind.BLIND_ROW, blind.INFO, "1-NN distance",
                   "Small data, blind protocol"):
        assert needle in text, needle
    res = json.loads((out / "results.json").read_text())
    assert res["split_seed"] == 3
    run = res["blind"][0]
    assert run["chosen"] in {c.name for c in blind.CANDIDATES}
    # The blind row is the chosen candidate's numbers (same networks, same scores).
    assert run["metrics"][blind.BLIND_ROW] == run["metrics"][f"{run['chosen']} {blind.INFO}"]
    assert (out / "ecg5000_blind_scores.png").stat().st_size > 1000
    small = res["blind_small"][str(ecg.TINY.small_sizes[0])][0]
    assert small["n_train"] == ecg.TINY.small_sizes[0]
    # Only the chosen candidates (both rules') are trained without --all-candidates.
    out1 = tmp_path / "out1"
    assert ecg.main(["--tiny", "--parts", "blind", "--seeds", "1", "--no-all-candidates",
                     "--split-seed", "3", "--no-figures", "--data-dir", str(data),
                     "--out", str(out1)]) == 0
    names = set(json.loads((out1 / "results.json").read_text())["blind"][0]["metrics"])
    assert names == {blind.BLIND_ROW, blind.GLOBAL_ROW, "PCA (90% variance)", "1-NN distance"}
    # The VRNN rows: the per-step scores averaged per beat.
    out2 = tmp_path / "out2"
    assert ecg.main(["--tiny", "--parts", "main", "--detectors", "vrnn", "baselines",
                     "--no-figures", "--data-dir", str(data), "--out", str(out2)]) == 0
    metrics = json.loads((out2 / "results.json").read_text())["main"]["runs"][0]["metrics"]
    assert {"VRNN (neg. ELBO per step)", "VRNN (rec. prob. per step)"} <= set(metrics)
    # Another split seed is not merged with the protocol's.
    capsys.readouterr()
    out3 = tmp_path / "out3"
    assert ecg.main(["--tiny", "--parts", "blind", "--seeds", "1", "--no-figures",
                     "--data-dir", str(data), "--out", str(out3)]) == 0
    with pytest.raises(SystemExit):
        ecg.main(["--merge", str(out), str(out3), "--out", str(tmp_path / "m")])


def test_vrnn_beat_score_is_the_mean_of_the_per_step_scores():
    from minivae.models import VRNN

    model = VRNN(1, 4, 2, rng=0)
    X = _beats(5, T=12)
    for kind in ("nelbo", "recon_prob"):
        got = ecg.vrnn_beat_score(model, X, kind, 3, seed=7)
        steps = model.per_step_scores(X[:, :, None], rng=7, n_samples=3, kind=kind)
        np.testing.assert_allclose(got, steps.mean(axis=1), rtol=1e-12)
