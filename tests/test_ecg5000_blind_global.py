"""The second blind rule of the ECG5000 study (whole-beat proxy): the distortions (shape, seeds,
moments kept, size set, the change spread over the whole beat), the size from the normals, the
proxy's bounds, both rules from the same folds, bad input, and a tiny end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_ucr import write_fake_ecg5000
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.experiments import ecg5000 as ecg
from minivae.experiments import ecg5000_blind as blind
from minivae.experiments import ecg5000_blind_global as wb
from minivae.experiments.ecg5000_core import nearest_neighbour_scorer


def _beats(n: int, T: int = 60, seed: int = 0) -> np.ndarray:
    """ECG-like beats: a P wave, a tall QRS and a T wave spread over the beat, jittered."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, T)
    out = np.zeros((n, T))
    for c, w, h in ((0.2, 0.05, 0.3), (0.45, 0.03, 1.5), (0.75, 0.08, 0.5)):
        centre = c + 0.01 * rng.standard_normal((n, 1))
        out += h * np.exp(-0.5 * ((t - centre) / w) ** 2)
    return out + 0.02 * rng.standard_normal((n, T))


def _min_third_share(A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Per beat: the smallest share of the change's energy that falls in a third of the beat."""
    d2 = (A - X) ** 2
    thirds = np.stack([p.sum(axis=1) for p in np.array_split(d2, 3, axis=1)], axis=1)
    return thirds.min(axis=1) / np.maximum(d2.sum(axis=1), 1e-300)


@pytest.mark.parametrize("kind", wb.WHOLE_BEAT_DISTORTIONS)
def test_whole_beat_distortions_are_seeded_sized_and_change_the_whole_beat(kind):
    X = _beats(40)
    A = wb.distort_whole_beat(X, kind, 3, 0.2)
    assert A.shape == X.shape and A.dtype == np.float64
    np.testing.assert_array_equal(A, wb.distort_whole_beat(X, kind, 3, 0.2))  # seeded
    assert not np.array_equal(A, wb.distort_whole_beat(X, kind, 4, 0.2))
    np.testing.assert_array_equal(X, _beats(40))  # the input is not modified
    # every sample of every beat moves, and each third of the beat holds part of the change
    assert (np.abs(A - X) > 1e-9).all()
    assert _min_third_share(A, X).min() > 0.005
    # the beat's mean and standard deviation are kept; the change has about the asked size
    np.testing.assert_allclose(A.mean(axis=1), X.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(A.std(axis=1), X.std(axis=1), rtol=1e-12)
    rms = np.sqrt(np.mean((A - X) ** 2, axis=1))
    np.testing.assert_allclose(rms, 0.2, rtol=0.15)


def test_the_whole_beat_criterion_can_fail_on_the_first_rules_local_distortions():
    X = _beats(40)
    for kind in ("segment_noise", "amplitude", "bump"):
        assert _min_third_share(blind.distort(X, kind, 3), X).min() < 0.005, kind


def test_the_size_is_the_median_rms_distance_to_the_nearest_fitting_normal():
    X_fit, X_held = _beats(30, seed=1), _beats(11, seed=2)
    d = np.linalg.norm(X_held[:, None, :] - X_fit[None, :, :], axis=2).min(axis=1)
    expected = np.median(d / np.sqrt(X_fit.shape[1]))
    assert wb.whole_beat_size(X_fit, X_held) == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(nearest_neighbour_scorer(X_fit)(X_held), d, rtol=1e-9)


@given(n=st.integers(2, 8), T=st.integers(3, 40), seed=st.integers(0, 99),
       kind=st.sampled_from(wb.WHOLE_BEAT_DISTORTIONS))
@settings(max_examples=40, deadline=None)
def test_distortions_keep_shape_and_finiteness_on_any_beats(n, T, seed, kind):
    X = np.random.default_rng(seed).standard_normal((n, T))
    A = wb.distort_whole_beat(X, kind, seed, 0.5)
    assert A.shape == (n, T) and np.isfinite(A).all()
    np.testing.assert_allclose(A.std(axis=1), X.std(axis=1), rtol=1e-9)


def test_a_constant_beat_stays_constant():
    X = np.vstack([np.full(20, 2.0), _beats(1, T=20)[0]])
    for kind in wb.WHOLE_BEAT_DISTORTIONS:
        A = wb.distort_whole_beat(X, kind, 0, 0.3)
        np.testing.assert_allclose(A[0], 2.0, atol=1e-12)
        assert np.isfinite(A).all()


def test_whole_beat_proxy_is_one_for_a_perfect_scorer_and_a_half_for_a_blind_one():
    X_fit, X_held = _beats(30, seed=1), _beats(20, seed=2)
    perfect = wb.whole_beat_proxy_score(nearest_neighbour_scorer(X_held), X_fit, X_held, 0)
    assert set(perfect) == set(wb.WHOLE_BEAT_DISTORTIONS) | {"mean", "size"}
    assert perfect["mean"] == 1.0
    constant = wb.whole_beat_proxy_score(lambda Z: np.zeros(len(Z)), X_fit, X_held, 0)
    assert constant["mean"] == 0.5
    assert constant["size"] == pytest.approx(wb.whole_beat_size(X_fit, X_held))


def test_bad_input_is_named():
    X = _beats(3)
    with pytest.raises(ValueError, match="kind must be one of"):
        wb.distort_whole_beat(X, "bump", 0, 0.1)
    with pytest.raises(ValueError, match="X"):
        wb.distort_whole_beat(np.zeros(5), "stretch", 0, 0.1)
    with pytest.raises(ValueError, match="at least 3 samples"):
        wb.distort_whole_beat(np.zeros((2, 2)), "stretch", 0, 0.1)
    with pytest.raises(ValueError, match="X"):
        wb.distort_whole_beat(np.array([[0.0, np.nan, 1.0]]), "stretch", 0, 0.1)
    for size in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="size"):
            wb.distort_whole_beat(X, "stretch", 0, size)
    with pytest.raises((TypeError, ValueError), match="rng"):
        wb.distort_whole_beat(X, "stretch", "seed", 0.1)
    with pytest.raises(ValueError, match="X_held"):
        wb.whole_beat_size(X, _beats(2, T=30))
    with pytest.raises(ValueError, match="X_fit"):
        wb.whole_beat_size(np.zeros(4), X)
    with pytest.raises(TypeError, match="scorer must be callable"):
        wb.whole_beat_proxy_score(3, X, X, 0)


def test_both_rules_choose_from_the_same_folds():
    X = _beats(24, T=20)
    sel = blind.select_blind(X, _beats(8, T=20, seed=1), ecg.TINY, seed=0)
    names = {c.name for c in blind.CANDIDATES}
    assert sel["chosen"] in names and sel["chosen_global"] in names
    assert set(sel["proxies_global"]) == names
    for p in sel["proxies_global"].values():
        assert set(wb.WHOLE_BEAT_DISTORTIONS) <= set(p)
        assert 0.0 <= p["mean"] <= 1.0 and p["size"] > 0
    assert sel["chosen_global"] == blind.choose(
        {n: p["mean"] for n, p in sel["proxies_global"].items()})


def test_whole_beat_rule_end_to_end_tiny(tmp_path, capsys):
    data = tmp_path / "ucr"
    data.mkdir()
    write_fake_ecg5000(data, np.random.default_rng(0), n_train=60, n_test=220)
    out = tmp_path / "out"
    assert ecg.main(["--tiny", "--parts", "blind", "blind_small", "--no-figures",
                     "--data-dir", str(data), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for needle in ("Whole-beat proxy (second rule)", wb.GLOBAL_ROW, "baseline_wander",
                   "whole-beat proxy chose"):
        assert needle in text, needle
    res = json.loads((out / "results.json").read_text())
    run = res["blind"][0]
    chosen = run["chosen_global"]
    # the row is the chosen candidate's numbers, and the first rule's row is still there
    assert run["metrics"][wb.GLOBAL_ROW] == run["metrics"][f"{chosen} {blind.INFO}"]
    assert run["metrics"][blind.BLIND_ROW] == run["metrics"][f"{run['chosen']} {blind.INFO}"]
    assert set(run["proxies_global"]) == {c.name for c in blind.CANDIDATES}
    small = res["blind_small"][str(ecg.TINY.small_sizes[0])][0]
    assert wb.GLOBAL_ROW in small["metrics"] and small["chosen_global"] in run["proxies_global"]


@given(n=st.integers(2, 12), seed=st.integers(0, 99))
@settings(max_examples=30, deadline=None)
def test_rank_correlation_is_pearson_of_ranks(n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    expected = np.corrcoef(ra, rb)[0, 1] if n > 1 else np.nan
    assert blind.rank_correlation(a, b) == pytest.approx(expected, abs=1e-12)
    assert blind.rank_correlation(a, 3 * a + 1) == pytest.approx(1.0)
    assert blind.rank_correlation(a, -a) == pytest.approx(-1.0)


def test_rank_correlation_ties_and_bad_input():
    assert blind.rank_correlation([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        np.corrcoef([0, 1.5, 1.5, 3], [0, 1, 2, 3])[0, 1])
    assert np.isnan(blind.rank_correlation([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="b: expected 3"):
        blind.rank_correlation([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="a"):
        blind.rank_correlation([1.0, np.nan], [1, 2])


def _fake_run(seed, proxies, whole, tests):
    names = [c.name for c in blind.CANDIDATES][:len(tests)]
    return {"seed": seed, "n_train": 10,
            "proxies": {n: {"mean": p} for n, p in zip(names, proxies)},
            "proxies_global": {n: {"mean": p} for n, p in zip(names, whole)},
            "metrics": {f"{n} {blind.INFO}": {"all": {"roc_auc": t}}
                        for n, t in zip(names, tests)}}


def test_proxy_vs_test_table_reports_means_and_the_rank_correlations():
    runs = [_fake_run(0, [0.9, 0.6, 0.5], [0.5, 0.6, 0.9], [0.95, 0.96, 0.99]),
            _fake_run(1, [0.8, 0.7, 0.5], [0.5, 0.7, 0.8], [0.97, 0.96, 0.99])]
    text = blind.proxy_vs_test_table(runs)
    assert "| AE (MSE) | 0.8500 | 0.5000 | 0.9600 |" in text
    assert "| Spearman with test, seed 0 (n = 10) | -1.00 | 1.00 | |" in text
    assert "| Spearman with test, seed 1 (n = 10) | -0.50 | 0.50 | |" in text
    no_info = [{**runs[0], "metrics": {}}]
    assert "not scored on test" in blind.proxy_vs_test_table(no_info)
