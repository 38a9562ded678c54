"""Tests for minivae.timeseries.imputation_study: iterated reconstruction and the simulation
test."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.data import multi_sine
from minivae.models.lstm_vae import LSTMVAE
from minivae.timeseries.imputation_study import (
    MODEL_METHOD,
    ModelImputer,
    SimulationResult,
    impute_with_model,
    simulation_test,
)
from minivae.timeseries.impute import BASELINES, impute


class WindowMeanModel:
    """Stub sequence model: reconstructs every window as its own mean (per feature).

    With one window covering the whole series, iterated reconstruction has a known fixed point:
    every missing value equals the mean of the observed values.
    """

    input_ndim = (3,)

    def __init__(self) -> None:
        self.masks: list = []

    def reconstruct(self, X, *, mask=None):
        X = np.asarray(X)
        self.masks.append(mask)
        if mask is None:
            return np.broadcast_to(X.mean(axis=1, keepdims=True), X.shape).copy()
        # Mask-aware: mean of the observed entries only.
        m = mask.astype(float)
        mean = (np.where(mask, X, 0.0) * m).sum(axis=1, keepdims=True) / m.sum(axis=1,
                                                                              keepdims=True)
        return np.broadcast_to(mean, X.shape).copy()


def _gappy(T: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(T) / 4.0) + 0.1 * rng.standard_normal(T)
    mask = np.ones(T, dtype=bool)
    mask[[3, 4, 5, 17, 30, 31]] = False
    return x, mask


def test_iterated_reconstruction_only_changes_missing_entries():
    x, mask = _gappy()
    x_in = np.where(mask, x, np.nan)
    out = impute_with_model(WindowMeanModel(), x_in, n_iter=3, init="ffill", window=10,
                            stride=5)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out[mask], x[mask])  # observed values untouched, bit for bit
    assert np.all(np.isfinite(out))
    # Missing entries did change away from the initial forward fill.
    ffill = np.where(mask, x, np.nan)
    for t in np.flatnonzero(~mask):
        ffill[t] = ffill[t - 1]
    assert not np.allclose(out[~mask], ffill[~mask])


def test_iteration_converges_to_the_known_fixed_point():
    x, mask = _gappy()
    T = x.size
    target = x[mask].mean()
    # Initial fill far away (ffill); each pass contracts the error by the missing fraction.
    out = impute_with_model(WindowMeanModel(), np.where(mask, x, np.nan), n_iter=60,
                            init="ffill", window=T)
    np.testing.assert_allclose(out[~mask], target, rtol=1e-10)
    one = impute_with_model(WindowMeanModel(), np.where(mask, x, np.nan), n_iter=1,
                            init="ffill", window=T)
    assert np.max(np.abs(one[~mask] - target)) > 1e-6  # one pass is not yet there
    # n_iter=0 returns the initial fill itself.
    zero = impute_with_model(WindowMeanModel(), np.where(mask, x, np.nan), n_iter=0,
                             init="mean", window=T)
    np.testing.assert_allclose(zero[~mask], target)


def test_init_model_passes_the_mask_to_the_encoder():
    x, mask = _gappy()
    model = WindowMeanModel()
    out = impute_with_model(model, np.where(mask, x, 123.0), mask, n_iter=0, init="model",
                            window=x.size)
    # The mask-aware pass saw the observed entries only (the 123s are ignored).
    np.testing.assert_allclose(out[~mask], x[mask].mean())
    assert model.masks[0] is not None and model.masks[0].shape == (1, x.size, 1)


def test_batch_and_multichannel_layouts():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 30, 2))
    mask = rng.random(x.shape) > 0.3
    out = impute_with_model(WindowMeanModel(), np.where(mask, x, np.nan), mask, n_iter=2,
                            window=12, stride=4)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out[mask], x[mask])
    assert np.all(np.isfinite(out))
    full = impute_with_model(WindowMeanModel(), x, n_iter=2, window=12)
    np.testing.assert_array_equal(full, x)  # nothing missing: nothing changes


def test_model_imputer_with_a_real_lstm_vae():
    # A batch of series is (N, T, D); a 2-D array would be read as one series (T, D).
    X = multi_sine(4, 60, n_components=1, freq_range=(0.03, 0.06), noise_std=0.05,
                   n_channels=1, rng=0)
    rng = np.random.default_rng(0)
    mask = rng.random(X.shape) > 0.2
    imp = ModelImputer(LSTMVAE(1, 8, 3, rng=0), window=20, n_iter=2)
    imp.fit(np.where(mask, X, np.nan), mask, epochs=2, batch_size=16, lr=1e-2, rng=0,
            diagnostics=False)
    assert imp.scaler_ is not None and imp.history_ is not None
    for init in ("model", "mean", "linear"):
        out = imp.transform(np.where(mask, X, np.nan), mask, init=init)
        assert out.shape == X.shape
        np.testing.assert_array_equal(out[mask], X[mask])
        assert np.all(np.isfinite(out))
    # A single series (T,) works too.
    one = imp.transform(np.where(mask[0, :, 0], X[0, :, 0], np.nan))
    assert one.shape == (60,) and np.all(np.isfinite(one))


def test_bad_input_errors():
    model = WindowMeanModel()
    x, mask = _gappy()
    with pytest.raises(ValueError, match="no observed value"):
        impute_with_model(model, np.full(20, np.nan), window=5)
    with pytest.raises(ValueError, match="window=50 is longer than the series"):
        impute_with_model(model, np.where(mask, x, np.nan), window=50)
    with pytest.raises(ValueError, match="stride=6 must be <= window=5"):
        impute_with_model(model, np.where(mask, x, np.nan), window=5, stride=6)
    with pytest.raises(ValueError, match="mask must have shape"):
        impute_with_model(model, x, mask[:-1], window=5)
    with pytest.raises(TypeError, match="boolean"):
        impute_with_model(model, x, mask.astype(int), window=5)
    with pytest.raises(ValueError, match="non-finite value"):
        impute_with_model(model, np.where(mask, x, np.nan), np.ones_like(mask), window=5)
    with pytest.raises(ValueError, match="init must be one of"):
        impute_with_model(model, x, mask, init="zeros", window=5)
    with pytest.raises(TypeError, match="reconstruct"):
        impute_with_model(object(), x, mask, window=5)

    class Exploding(WindowMeanModel):
        def reconstruct(self, X, *, mask=None):
            return np.full(np.shape(X), np.inf)

    with pytest.raises(FloatingPointError, match="non-finite"):
        impute_with_model(Exploding(), x, mask, window=10)


@pytest.mark.parametrize("case", ["int mask", "list mask", "wrong shape", "all missing",
                                  "inf", "nan where observed", "channel all missing"])
def test_baselines_and_model_imputation_share_one_validator(case):
    """The cases where the baselines' and the model imputation's input checks used to disagree
    (0/1 and list masks, the all-missing series, the messages) and the others: both raise the
    same error."""
    x = np.arange(12.0).reshape(1, 6, 2)
    mask = np.ones(x.shape, dtype=bool)
    mask[0, 2] = False
    x_in, m_in = np.where(mask, x, np.nan), mask
    if case == "int mask":
        m_in = mask.astype(int)
    elif case == "list mask":
        m_in = mask.tolist()
    elif case == "wrong shape":
        m_in = mask[:, :5]
    elif case == "all missing":
        x_in, m_in = np.full(x.shape, np.nan), None
    elif case == "inf":
        x_in, m_in = np.where(mask, x, np.inf), None
    elif case == "nan where observed":
        m_in = np.ones(x.shape, dtype=bool)
    elif case == "channel all missing":  # the per-channel check of the baseline fill
        m_in = mask.copy()
        m_in[0, :, 1] = False
    errors = []
    for run in (lambda: impute(x_in, m_in, method="linear"),
                lambda: impute_with_model(WindowMeanModel(), x_in, m_in, init="linear")):
        with pytest.raises((TypeError, ValueError)) as info:
            run()
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1], errors


def test_a_per_step_mask_means_the_same_in_baselines_and_model_imputation():
    x = np.arange(12.0).reshape(1, 6, 2)
    step = np.ones((1, 6), dtype=bool)
    step[0, 2] = False  # the whole step 2 is missing
    full = np.broadcast_to(step[..., None], x.shape)
    np.testing.assert_array_equal(impute(x, step), impute(np.where(full, x, np.nan)))
    np.testing.assert_array_equal(
        impute_with_model(WindowMeanModel(), x, step, n_iter=1),
        impute_with_model(WindowMeanModel(), np.where(full, x, np.nan), n_iter=1))


# ----------------------------------------------------------------------------------------------
# Simulation test
# ----------------------------------------------------------------------------------------------


def _tiny_factory(input_dim: int, seed: int):
    return LSTMVAE(input_dim, 6, 2, rng=seed)


def _tiny_run(**kwargs):
    test = multi_sine(2, 40, n_components=1, freq_range=(0.03, 0.06), noise_std=0.05, rng=10)
    train = multi_sine(4, 40, n_components=1, freq_range=(0.03, 0.06), noise_std=0.05, rng=11)
    args = dict(missing_rates=(0.2,), gap_lengths=(1, 5), seeds=(0, 1), train_series=train,
                model_factory=_tiny_factory, window=16, stride=8, n_iter=2,
                pipelines=("mean+model",),
                fit_kwargs={"epochs": 1, "batch_size": 16, "diagnostics": False},
                baseline_kwargs={"gp": {"fit_steps": 5}})
    args.update(kwargs)
    return simulation_test(test, **args)


def test_simulation_test_table_has_every_method_and_is_deterministic():
    res = _tiny_run()
    assert isinstance(res, SimulationResult)
    expected = tuple(BASELINES) + (MODEL_METHOD, "mean+model")
    assert res.methods == expected
    # 2 seeds x 1 rate x 2 gaps x 8 methods.
    assert len(res.records) == 2 * 2 * len(expected)
    for r in res.records:
        assert r["mae"] >= 0 and r["mse"] >= 0 and r["n_missing"] > 0
        assert r["mae"] ** 2 <= r["mse"] + 1e-12  # Jensen: mean|e|^2 <= mean e^2
    table = res.format_table("mae")
    for m in expected:
        assert m in table
    assert "±" in table and "gap 5" in table and "missing 0.2" in table
    assert "*" in table
    # The summary is the mean and (ddof=1) std of the per-seed values.
    v = res.values("linear", 0.2, 5)
    assert res.summary()[(0.2, 5)]["linear"] == pytest.approx((v.mean(), v.std(ddof=1)))
    assert len(res.comparisons(MODEL_METHOD, ["linear", "gp"])) == 4
    # Same seeds, same numbers.
    again = _tiny_run()
    assert [(r["method"], r["mae"], r["mse"]) for r in again.records] == \
        [(r["method"], r["mae"], r["mse"]) for r in res.records]
    assert res.to_dict()["methods"] == list(expected)


def test_simulation_test_baselines_only_and_generator_input():
    def gen(rng):
        return multi_sine(2, 50, n_components=1, noise_std=0.0, rng=rng)

    res = simulation_test(gen, missing_rates=(0.1, 0.3), gap_lengths=(1,), seeds=(3,),
                          methods=("mean", "linear"), pipelines=())
    assert res.methods == ("mean", "linear")
    s = res.summary()
    for rate in (0.1, 0.3):
        # Noise-free smooth sines: linear interpolation of single points beats the mean.
        assert s[(rate, 1)]["linear"][0] < 0.2 * s[(rate, 1)]["mean"][0]
        assert s[(rate, 1)]["linear"][1] == 0.0  # one seed: std 0


def test_simulation_test_bad_arguments():
    X = multi_sine(2, 30, rng=0)
    with pytest.raises(ValueError, match="unknown method 'cubic'"):
        simulation_test(X, methods=("cubic",), pipelines=())
    with pytest.raises(ValueError, match="need train_series"):
        simulation_test(X, methods=("mean", MODEL_METHOD), pipelines=())
    with pytest.raises(ValueError, match="missing_rates must lie in"):
        simulation_test(X, missing_rates=(1.0,), methods=("mean",), pipelines=())
    with pytest.raises(ValueError, match="non-finite"):
        simulation_test(np.full((2, 30), np.nan), methods=("mean",), pipelines=())
    with pytest.raises(ValueError, match="does not fit"):
        simulation_test(X, gap_lengths=(40,), methods=("mean",), pipelines=())
