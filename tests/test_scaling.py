"""Scalers (minivae.data.scaling) and series file loading (minivae.data.io)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minivae.data import MinMaxScaler, StandardScaler, load_series, scaler_from_dict

# ---------------------------------------------------------------------------------------------
# StandardScaler
# ---------------------------------------------------------------------------------------------


def test_standard_scaler_hand_worked():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [np.nan, 10.0], [5.0, 10.0]])
    s = StandardScaler().fit(x)
    # Feature 0: mean of (1, 3, 5) = 3, population std = sqrt(8/3); NaN ignored.
    np.testing.assert_allclose(s.mean_, [3.0, 10.0])
    np.testing.assert_allclose(s.scale_, [np.sqrt(8.0 / 3.0), 1.0])  # constant -> scale 1
    z = s.transform(x)
    np.testing.assert_allclose(z[[0, 1, 3], 0], np.array([-2.0, 0.0, 2.0]) / np.sqrt(8.0 / 3.0))
    assert np.isnan(z[2, 0])  # missing stays missing
    np.testing.assert_array_equal(z[:, 1], 0.0)  # constant feature maps to 0, not inf/NaN


def test_standard_scaler_reduces_over_all_but_last_axis():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 2.0, 3.0], size=(8, 20, 3))
    s = StandardScaler().fit(x)
    np.testing.assert_allclose(s.mean_, x.reshape(-1, 3).mean(axis=0))
    np.testing.assert_allclose(s.scale_, x.reshape(-1, 3).std(axis=0))
    z = s.transform(x)
    assert z.shape == x.shape
    np.testing.assert_allclose(z.reshape(-1, 3).mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.reshape(-1, 3).std(axis=0), 1.0, atol=1e-12)
    # Fitted on (N, T, D), usable on a (T, D) series with the same D.
    np.testing.assert_allclose(s.transform(x[0]), z[0])


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(1, 3)),
           elements=st.floats(-1e3, 1e3)),
    st.sampled_from(["standard", "minmax"]),
)
def test_inverse_transform_roundtrip(x, kind):
    s = StandardScaler() if kind == "standard" else MinMaxScaler((-1.0, 2.0))
    z = s.fit_transform(x)
    np.testing.assert_allclose(s.inverse_transform(z), x, rtol=1e-9, atol=1e-9)


def test_dtype_is_preserved_and_ints_become_float64():
    x32 = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert StandardScaler().fit_transform(x32).dtype == np.float32
    assert MinMaxScaler().fit_transform(x32).dtype == np.float32
    assert StandardScaler().fit_transform(np.arange(12).reshape(6, 2)).dtype == np.float64


def test_all_nan_feature_is_refused():
    x = np.array([[1.0, np.nan], [2.0, np.nan]])
    for scaler in (StandardScaler(), MinMaxScaler()):
        with pytest.raises(ValueError, match=r"feature\(s\) \[1\] with no finite value"):
            scaler.fit(x)


def test_scaler_argument_errors():
    s = StandardScaler()
    with pytest.raises(RuntimeError, match="not fitted"):
        s.transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"features on the last axis.*got shape \(5,\)"):
        s.fit(np.zeros(5))
    s.fit(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(ValueError, match="x has 2 features on its last axis .* fitted on 3"):
        s.transform(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="lo < hi"):
        MinMaxScaler((1.0, 1.0))
    with pytest.raises(ValueError, match="must be a pair"):
        MinMaxScaler((0.0, 1.0, 2.0))


# ---------------------------------------------------------------------------------------------
# MinMaxScaler
# ---------------------------------------------------------------------------------------------


def test_minmax_hand_worked():
    x = np.array([[0.0, 5.0], [5.0, 5.0], [10.0, 5.0], [np.nan, 5.0]])
    s = MinMaxScaler((-1.0, 1.0)).fit(x)
    np.testing.assert_allclose(s.data_min_, [0.0, 5.0])
    np.testing.assert_allclose(s.data_max_, [10.0, 5.0])
    z = s.transform(x)
    np.testing.assert_allclose(z[:3, 0], [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(z[:, 1], -1.0)  # constant feature maps to the lower bound
    assert np.isnan(z[3, 0])
    # Out-of-range values map outside the range (no clipping): 20 -> 3.
    np.testing.assert_allclose(s.transform(np.array([[20.0, 5.0]])), [[3.0, -1.0]])


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scaler", [StandardScaler(), MinMaxScaler((-2.0, 3.0))])
def test_to_dict_savez_roundtrip(tmp_path, scaler):
    x = np.random.default_rng(1).normal(size=(10, 4, 3)) * [1.0, 5.0, 0.1]
    scaler.fit(x)
    path = tmp_path / "scaler.npz"
    np.savez(path, **scaler.to_dict())
    with np.load(path) as d:
        again = scaler_from_dict(d)
        same_cls = type(scaler).from_dict(d)
    assert type(again) is type(scaler)
    np.testing.assert_array_equal(again.transform(x), scaler.transform(x))
    np.testing.assert_array_equal(same_cls.transform(x), scaler.transform(x))


def test_from_dict_errors():
    d = StandardScaler().fit(np.ones((3, 2)) * [[1], [2], [3]]).to_dict()
    with pytest.raises(ValueError, match="describes a 'standard' scaler, not 'minmax'"):
        MinMaxScaler.from_dict(d)
    with pytest.raises(ValueError, match="no 'kind' entry"):
        scaler_from_dict({"mean_": d["mean_"]})
    bad = dict(d, scale_=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="scale_ must be > 0"):
        StandardScaler.from_dict(bad)
    with pytest.raises(ValueError, match="unknown scaler kind 'robust'"):
        scaler_from_dict(dict(d, kind=np.array("robust")))


# ---------------------------------------------------------------------------------------------
# load_series (io)
# ---------------------------------------------------------------------------------------------


def test_load_csv_with_header_and_missing_cells(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("time,temp,pressure\n0,20.5,1000\n1,,1001\n# a comment\n\n2,21.0,NA\n")
    x = load_series(p)
    assert x.shape == (3, 3) and x.dtype == np.float64
    np.testing.assert_array_equal(x[:, 0], [0, 1, 2])
    assert np.isnan(x[1, 1]) and np.isnan(x[2, 2])
    np.testing.assert_array_equal(load_series(p, column="pressure")[:2], [1000.0, 1001.0])
    np.testing.assert_array_equal(load_series(p, column=-1)[:2], [1000.0, 1001.0])


def test_load_text_without_header_and_whitespace(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("1.5 2\n3 4e1\n")
    np.testing.assert_array_equal(load_series(p, delimiter=None), [[1.5, 2.0], [3.0, 40.0]])
    p2 = tmp_path / "t.tsv"
    p2.write_text("a\tb\n1\t2\n")
    np.testing.assert_array_equal(load_series(p2), [[1.0, 2.0]])
    p3 = tmp_path / "one.csv"
    p3.write_text("1\n2\n3\n")
    assert load_series(p3).shape == (3, 1)
    np.testing.assert_array_equal(load_series(p3, column=0), [1.0, 2.0, 3.0])


def test_load_numpy_files(tmp_path):
    a = np.arange(10, dtype=np.int32).reshape(5, 2)
    np.save(tmp_path / "a.npy", a)
    x = load_series(tmp_path / "a.npy")
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, a)
    np.testing.assert_array_equal(load_series(tmp_path / "a.npy", column=1), a[:, 1])
    np.savez(tmp_path / "one.npz", series=a[:, 0])
    np.testing.assert_array_equal(load_series(tmp_path / "one.npz"), a[:, 0])
    np.savez(tmp_path / "two.npz", x=a, y=a[:, 0])
    with pytest.raises(ValueError, match=r"holds arrays \['x', 'y'\]; pass key"):
        load_series(tmp_path / "two.npz")
    np.testing.assert_array_equal(load_series(tmp_path / "two.npz", key="y"), a[:, 0])


def test_load_series_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="series file not found"):
        load_series(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,hello\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 3, column 1: cannot read 'hello'"):
        load_series(bad)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2\n3\n")
    with pytest.raises(ValueError, match="line 2: expected 2 columns"):
        load_series(ragged)
    with pytest.raises(ValueError, match="no column named 'c'"):
        load_series(_write(tmp_path, "a,b\n1,2\n"), column="c")
    with pytest.raises(ValueError, match="no header"):
        load_series(_write(tmp_path, "1,2\n"), column="a")
    with pytest.raises(ValueError, match="column=5 out of range for 2"):
        load_series(_write(tmp_path, "1,2\n"), column=5)
    with pytest.raises(ValueError, match="only a header row"):
        load_series(_write(tmp_path, "a,b\n"))
    with pytest.raises(ValueError, match="unsupported file type '.json'"):
        load_series(_write(tmp_path, "{}", name="x.json"))
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"expected a non-empty \(T,\) or \(T, D\) array"):
        load_series(tmp_path / "cube.npy")


def _write(tmp_path, text, name="f.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p
