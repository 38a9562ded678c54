"""Tests for minivae.apps.separation: VAE source separation on spectrogram patches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.separation import (
    SourceVAE,
    SpectrogramVAESeparator,
    _delog,
    frames_to_patches,
    log_normalize,
    oracle_separation,
    patches_to_frames,
)
from minivae.apps.signal import bss_eval, denormalize_spectrogram, normalize_spectrogram
from minivae.data.synthetic import harmonic_sources

FS = 4000.0


def _rel_err(a: np.ndarray, n: np.ndarray, f_scale: float = 1.0, h: float = 1e-6,
             tol: float = 1e-7) -> float:
    """max |a - n| / max(|a| + |n|, floor) over the checked entries.

    The floor is the finite-difference noise level ``16 eps |f| / h`` divided by ``tol``: a
    central difference of a float64 function of size |f| cannot resolve entries below that, so
    they are judged by absolute error (the convention of minivae.gradcheck).
    """
    floor = max(16 * np.finfo(float).eps * abs(f_scale) / h / tol, 1e-300)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)))


def _central_diff(f, x: np.ndarray, indices, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() w.r.t. the listed entries of x (x is restored)."""
    out = []
    for idx in indices:
        old = x[idx]
        x[idx] = old + h
        fp = f()
        x[idx] = old - h
        fm = f()
        x[idx] = old
        out.append((fp - fm) / (2 * h))
    return np.array(out)


def _harmonic_set(n: int, seed: int, duration: float = 0.5):
    recs = [harmonic_sources(duration, FS, rng=seed + i) for i in range(n)]
    return np.stack([r[0] for r in recs]), np.stack([np.stack(r[1:]) for r in recs])


@pytest.fixture(scope="module")
def trained() -> SpectrogramVAESeparator:
    mix, src = _harmonic_set(10, 100)
    sep = SpectrogramVAESeparator(FS, window_ms=32.0, overlap=0.5, hidden_sizes=(48,),
                                  latent_dim=4, rng=0)
    return sep.fit(mix, src, epochs=25, rng=0)


# --------------------------------------------------------------------------- pipeline
def test_separation_improves_sdr_over_mixture(trained):
    mix, src = _harmonic_set(2, 7, duration=1.0)
    gains = []
    for x, refs in zip(mix, src):
        floor = bss_eval(np.stack([x, x]), refs).sdr
        for method in ("encode", "refine"):
            est = trained.separate(x, method=method, n_steps=30).sources
            gains.append(bss_eval(est, refs).sdr - floor)
    # The mixture sits near 0 dB for both equal-power sources; the VAE masks must clearly
    # beat it (a random split would not).
    assert np.mean(gains) > 2.5, gains
    assert np.min(gains) > 1.0, gains


def test_masks_sum_to_one_and_estimates_add_up(trained):
    x = _harmonic_set(1, 3)[0][0]
    res = trained.separate(x, method="refine", n_steps=5)
    assert res.masks.shape[0] == 3  # two sources + the noise model
    np.testing.assert_allclose(res.masks.sum(axis=0), 1.0, atol=1e-12)
    assert np.all(res.masks >= 0) and np.all(res.masks <= 1)
    # Masks summing to one + a linear iSTFT: sources and noise estimate rebuild the mixture.
    np.testing.assert_allclose(res.sources.sum(axis=0) + res.residual, x, atol=1e-9)
    assert res.magnitudes.shape == (2,) + res.masks.shape[1:]
    # Refinement keeps, per patch, the best codes: the mean objective never goes up.
    assert np.all(np.diff(res.objective) <= 1e-9)


def test_without_noise_model_sources_sum_to_mixture():
    mix, src = _harmonic_set(3, 50)
    sep = SpectrogramVAESeparator(FS, window_ms=32.0, hidden_sizes=(16,), latent_dim=2,
                                  noise_model=False, rng=1).fit(mix, src, epochs=2)
    res = sep.separate(mix[0], method="encode")
    assert res.masks.shape[0] == 2
    np.testing.assert_allclose(res.sources.sum(axis=0), mix[0], atol=1e-9)
    np.testing.assert_array_equal(res.residual, 0.0)


def test_same_seed_same_numbers():
    mix, src = _harmonic_set(3, 60)
    a, b = (SpectrogramVAESeparator(FS, window_ms=32.0, hidden_sizes=(16,), latent_dim=2,
                                    rng=5).fit(mix, src, epochs=2, rng=3) for _ in range(2))
    np.testing.assert_array_equal(a.separate(mix[0], n_steps=3).sources,
                                  b.separate(mix[0], n_steps=3).sources)


def test_oracle_separation_of_disjoint_tones_is_near_perfect():
    t = np.arange(4000) / FS
    a, b = np.sin(2 * np.pi * 200 * t), 0.5 * np.sin(2 * np.pi * 1200 * t)
    est = oracle_separation(a + b, np.stack([a, b]), FS, window_ms=32.0, overlap=0.75)
    assert np.all(bss_eval(est, np.stack([a, b])).sdr > 30.0)


# --------------------------------------------------------------------------- gradients
def test_latent_objective_gradient_matches_finite_differences():
    mix, src = _harmonic_set(2, 30)
    # tanh + Bernoulli (sigmoid output): smooth everywhere, so central differences are exact to
    # O(h^2); float64 throughout.
    sep = SpectrogramVAESeparator(FS, window_ms=32.0, context=2, hidden_sizes=(12,),
                                  latent_dim=3, likelihood="bernoulli", activation="tanh",
                                  rng=2).fit(mix, src, epochs=1)
    rng = np.random.default_rng(0)
    D = sep.vaes[0].output_dim
    # Powers near the decoded ones (u ~ 0.5 -> r^2 ~ eps = 1e-3) keep J, hence the
    # finite-difference noise, moderate.
    P = rng.uniform(1e-4, 4e-3, size=(4, D))
    zs = [rng.standard_normal((4, 3)) for _ in range(2)]
    J, grads = sep.latent_objective(zs, P, prior_weight=0.7)
    for i, z in enumerate(zs):
        idx = [(r, c) for r in range(4) for c in range(3)]
        num = _central_diff(lambda: float(sep.latent_objective(zs, P, prior_weight=0.7)[0]
                                          .sum()), z, idx)
        ana = np.array([grads[i][j] for j in idx])
        assert _rel_err(ana, num, f_scale=np.abs(J).sum()) <= 1e-7, (i, ana, num)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_source_vae_parameter_gradients(likelihood):
    rng = np.random.default_rng(1)
    vae = SourceVAE(5, [7], 3, output_dim=4, likelihood=likelihood, decoder_variance=0.3,
                    activation="tanh", beta=1.5, rng=3)
    X, Y = rng.uniform(size=(6, 5)), rng.uniform(size=(6, 4))
    vae.zero_grad()
    value, _ = vae.loss((X, Y), rng=0)
    eps = vae.last_eps.copy()
    vae.backward()
    for name, p, g in vae.parameters():
        idx = [tuple(int(i) for i in np.unravel_index(j, p.shape))
               for j in rng.choice(p.size, size=min(6, p.size), replace=False)]
        num = _central_diff(lambda: vae.loss((X, Y), eps=eps)[0], p, idx)
        assert _rel_err(np.array([g[j] for j in idx]), num, f_scale=value) <= 1e-7, name
    # The repeated pass with the stored noise gives the same loss (what the check relies on).
    assert vae.loss((X, Y), eps=eps)[0] == pytest.approx(value, rel=1e-14)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_source_vae_free_bits_act_through_the_library_kl_term(likelihood):
    """Free bits in the SourceVAE's loss: value rec + beta * sum_l max(lambda, mean_n KL_nl);
    a floor above every dimension's KL takes the KL out of the gradient (the gradients equal
    those of beta = 0), a floor below every one leaves the ordinary KL gradient."""
    rng = np.random.default_rng(4)
    X, Y = rng.uniform(size=(6, 5)), rng.uniform(size=(6, 4))

    def grads(beta, free_bits):
        vae = SourceVAE(5, [7], 3, output_dim=4, likelihood=likelihood, decoder_variance=0.3,
                        activation="tanh", beta=beta, free_bits=free_bits, rng=3)
        vae.zero_grad()
        value, parts = vae.loss((X, Y), rng=0)
        vae.backward()
        return vae, value, parts, {name: g.copy() for name, _, g in vae.parameters()}

    vae, _, _, g_plain = grads(1.5, 0.0)
    mu, logvar = vae.posterior((X, Y))
    kl_dims = 0.5 * np.mean(mu**2 + np.exp(logvar) - 1.0 - logvar, axis=0)
    high, low = 2.0 * kl_dims.max() + 1.0, 0.5 * kl_dims.min()
    _, value, parts, g_high = grads(1.5, high)
    assert parts["kl_free_bits"] == pytest.approx(3 * high)
    assert value == pytest.approx(parts["reconstruction"] + 1.5 * 3 * high, rel=1e-12)
    _, _, _, g_beta0 = grads(0.0, 0.0)
    _, _, parts_low, g_low = grads(1.5, low)
    assert parts_low["kl_free_bits"] == pytest.approx(kl_dims.sum(), rel=1e-12)
    for name in g_plain:
        np.testing.assert_allclose(g_high[name], g_beta0[name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g_low[name], g_plain[name], rtol=1e-12, atol=1e-15)
    assert not np.allclose(g_plain["encoder.layers.0.W"], g_beta0["encoder.layers.0.W"])


def test_source_vae_refuses_bernoulli_targets_outside_the_unit_interval():
    vae = SourceVAE(3, [4], 2, output_dim=2, likelihood="bernoulli")
    with pytest.raises(ValueError, match=r"Bernoulli likelihood must lie in \[0, 1\]"):
        vae.fit(np.ones((5, 3)), y=np.full((5, 2), 2.0), epochs=1, verbose=0)


def test_separator_trains_its_vaes_with_free_bits():
    mix, src = _harmonic_set(2, 7)
    sep = SpectrogramVAESeparator(FS, window_ms=32.0, hidden_sizes=(8,), latent_dim=2,
                                  free_bits=0.5, rng=1).fit(mix, src, epochs=2)
    for vae, hist in zip(sep.vaes, sep.histories):
        assert vae.free_bits == 0.5
        assert len(hist["kl_free_bits"]) == 2 and min(hist["kl_free_bits"]) >= 2 * 0.5


# --------------------------------------------------------------------------- helpers
@settings(max_examples=40, deadline=None)
@given(n_frames=st.integers(1, 20), n_freq=st.integers(1, 6), context=st.integers(1, 5),
       seed=st.integers(0, 1000))
def test_patches_round_trip(n_frames, n_freq, context, seed):
    S = np.random.default_rng(seed).standard_normal((n_frames, n_freq))
    if context > n_frames:
        with pytest.raises(ValueError, match="context"):
            frames_to_patches(S, context)
        return
    P = frames_to_patches(S, context)
    assert P.shape == (n_frames - context + 1, context * n_freq)
    np.testing.assert_array_equal(P[0], S[:context].ravel())
    np.testing.assert_allclose(patches_to_frames(P, n_freq), S, atol=1e-12)


def test_log_normalize_matches_signal_module():
    mag = np.abs(np.random.default_rng(0).standard_normal((7, 5))) * 3.0
    eps = 1e-3
    ours = log_normalize(mag / mag.max(), eps)
    theirs, stats = normalize_spectrogram(mag, method="log", eps=eps)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    r, _ = _delog(ours, eps)
    np.testing.assert_allclose(r * stats["scale"], denormalize_spectrogram(theirs, stats),
                               atol=1e-12)
    # hand-worked ends: silence -> 0, the peak -> 1
    assert log_normalize(np.array([0.0, 1.0]), eps).tolist() == [0.0, 1.0]


# --------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors(trained):
    mix, src = _harmonic_set(2, 90)
    with pytest.raises(ValueError, match="longer than the signal"):
        trained.separate(np.ones(50))  # 50 samples < the 128-sample window
    with pytest.raises(ValueError, match="mixture is silent"):
        trained.separate(np.zeros(2000))
    sep = SpectrogramVAESeparator(FS, window_ms=32.0, hidden_sizes=(8,), latent_dim=2)
    with pytest.raises(RuntimeError, match="fit"):
        sep.separate(mix[0])
    with pytest.raises(ValueError, match="mismatched"):
        sep.fit(mix, src[:, :, :-1])
    with pytest.raises(ValueError, match="mismatched"):
        sep.fit(mix[:1], src)
    with pytest.raises(ValueError, match=r"mixtures\[0\] is silent"):
        sep.fit(np.zeros_like(mix), src)
    with pytest.raises(ValueError, match="overlap"):
        SpectrogramVAESeparator(FS, overlap=1.0)
    with pytest.raises(ValueError, match="method"):
        trained.separate(mix[0], method="magic")
    with pytest.raises(ValueError, match="context"):
        SpectrogramVAESeparator(FS, window_ms=32.0, context=500, hidden_sizes=(8,),
                                latent_dim=2).fit(mix, src, epochs=1)
    other = SpectrogramVAESeparator(FS, window_ms=64.0)  # another window than at training
    other.vaes, other.noise_psd = trained.vaes, trained.noise_psd
    with pytest.raises(ValueError, match="bins"):
        other.separate(mix[0])
    with pytest.raises(ValueError, match="zs must hold 2"):
        trained.latent_objective([np.zeros((1, 4))], np.ones((1, trained.vaes[0].output_dim)))



def test_registered_gradcheck_passes():
    from minivae.gradcheck.registry import REGISTRY, check_rng_for

    results = REGISTRY["separation.source_vae"](check_rng_for(4, "separation.source_vae"))
    assert results and all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_experiment_tiny_run_writes_tables_figures_and_json(tmp_path, capsys):
    import json

    from minivae.experiments.__main__ import main as dispatch

    assert dispatch(["separation", "--tiny", "--seeds", "4", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ECG separation" in out and "Audio-like separation" in out and "oracle" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [4] and results["mode"] == "tiny"
    run = results["ecg"]["runs"][0]
    assert set(run["scores"]) == {"mixture", "encode", "refine", "nmf", "oracle"}
    for name in ("ecg_separation.png", "ecg_sdr_by_window.png", "audio_separation.png"):
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(SystemExit):
        dispatch(["separation", "--tiny", "--seeds", "1", "1"])
