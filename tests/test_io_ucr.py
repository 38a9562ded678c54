"""load_ucr (minivae.data.io): UCR/UEA archive TSV files the tests write, good and malformed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data import load_ucr


def _write(tmp_path, text, name="D_TRAIN.tsv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_load_ucr_reads_labels_and_series(tmp_path):
    p = _write(tmp_path, "1\t0.5\t-1.25\t3e-1\n2\t1\t2\t3\n\n# a comment\n-1\t4\tNaN\t\n")
    X, y = load_ucr(p)
    assert X.shape == (3, 3) and X.dtype == np.float64
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [1, 2, -1])
    np.testing.assert_array_equal(X[:2], [[0.5, -1.25, 0.3], [1.0, 2.0, 3.0]])
    assert X[2, 0] == 4.0 and np.isnan(X[2, 1:]).all()  # the archive's NaN padding stays NaN


def test_load_ucr_float_labels_and_other_delimiters(tmp_path):
    p = _write(tmp_path, "1.0000000e+00,1,2\n3.0000000e+00,3,4\n", name="old.txt")
    X, y = load_ucr(p, delimiter=",")
    np.testing.assert_array_equal(y, [1, 3])
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    q = _write(tmp_path, "1  1 2\n2 3   4\n", name="ws.txt")
    np.testing.assert_array_equal(load_ucr(q, delimiter=None)[0], [[1, 2], [3, 4]])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), t=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_load_ucr_round_trips_what_numpy_writes(tmp_path_factory, n, t, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, t))
    y = rng.integers(-3, 6, size=n)
    p = tmp_path_factory.mktemp("ucr") / "r.tsv"
    np.savetxt(p, np.column_stack([y, X]), delimiter="\t", fmt="%.17g")
    X2, y2 = load_ucr(p)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(X2, X)


def test_load_ucr_ragged_row_names_the_line(tmp_path):
    p = _write(tmp_path, "1\t1\t2\n# skip\n2\t3\n")
    with pytest.raises(ValueError, match=r"D_TRAIN.tsv, line 3: expected 3 columns"):
        load_ucr(p)


def test_load_ucr_non_numeric_cell_names_line_and_column(tmp_path):
    p = _write(tmp_path, "1\t1\t2\n2\t3\tabc\n")
    with pytest.raises(ValueError, match=r"line 2, column 2: cannot read 'abc'"):
        load_ucr(p)
    # A text first row is not taken for a header: UCR files have none.
    q = _write(tmp_path, "\n# c\nlabel\t1\t2\n1\t3\t4\n", name="h.tsv")
    with pytest.raises(ValueError, match=r"line 3, column 0: cannot read 'label'.*no header"):
        load_ucr(q)


def test_load_ucr_bad_labels_and_files(tmp_path):
    with pytest.raises(ValueError, match=r"line 2, column 0: the class label must be a whole"):
        load_ucr(_write(tmp_path, "1\t1\n1.5\t2\n"))
    with pytest.raises(ValueError, match=r"line 1, column 0: the class label must be a whole"):
        load_ucr(_write(tmp_path, "NaN\t1\n"))
    with pytest.raises(ValueError, match="a label column and at least one value"):
        load_ucr(_write(tmp_path, "1\n2\n"))
    with pytest.raises(ValueError, match="no data rows"):
        load_ucr(_write(tmp_path, "# only a comment\n\n"))
    with pytest.raises(FileNotFoundError, match="UCR file not found"):
        load_ucr(tmp_path / "missing.tsv")
    with pytest.raises(ValueError, match="delimiter must be a non-empty string"):
        load_ucr(_write(tmp_path, "1\t2\n"), delimiter="")
    with pytest.raises(ValueError, match="delimiter must be a non-empty string or None"):
        load_ucr(_write(tmp_path, "1\t2\n"), delimiter=9)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_ucr(3)
