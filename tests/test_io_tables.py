"""Loaders for a user's own recordings: CSV with timestamps / labels, JSON anomaly windows."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae.data import (
    labels_from_windows,
    load_anomaly_windows,
    load_series,
    read_series_table,
)


def _write(tmp_path, text, name="f.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_univariate_with_dates_and_labels(tmp_path):
    p = _write(tmp_path, "timestamp,value,label\n"
                         "2024-01-01 00:00:00,1.5,0\n"
                         "2024-01-01 00:05:00,,0\n"
                         "2024-01-01 00:10:00,3.0,1\n")
    t = read_series_table(p)
    assert t.values.shape == (3, 1) and t.columns == ["value"]
    assert np.isnan(t.values[1, 0]) and t.values[2, 0] == 3.0
    assert t.timestamps.dtype == np.dtype("datetime64[ms]")
    assert (t.timestamps[1] - t.timestamps[0]) == np.timedelta64(5, "m")
    np.testing.assert_array_equal(t.labels, [0, 0, 1])
    assert t.time_name == "timestamp" and t.label_name == "label"


def test_multivariate_numeric_time_tsv_and_explicit_columns(tmp_path):
    p = _write(tmp_path, "t\tx\ty\tflag\n0\t1\t2\t0\n0.5\t3\t4\t1\n", name="m.tsv")
    t = read_series_table(p, time_column="t", label_column="flag")
    np.testing.assert_array_equal(t.values, [[1, 2], [3, 4]])
    assert t.timestamps.dtype == np.float64 and t.columns == ["x", "y"]
    np.testing.assert_array_equal(t.labels, [0, 1])
    # Explicit None: every column is a value.
    assert read_series_table(p, time_column=None, label_column=None).values.shape == (2, 4)


def test_headerless_file_starting_with_dates(tmp_path):
    p = _write(tmp_path, "2024-01-01,1\n2024-01-02,2\n")
    t = read_series_table(p, time_column=0)
    assert t.columns == ["col1"] and t.timestamps.shape == (2,)
    with pytest.raises(ValueError, match=r"line 1, column 0: cannot read '2024-01-01'"):
        load_series(p)  # no header was invented from the first data row


@pytest.mark.parametrize("text, match", [
    ("time,v\n1,1\n2,1,5\n", r"line 3: expected 2 columns"),
    ("time,v\n1,1\n2,abc\n", r"line 3, column 1: cannot read 'abc' as a number \(column 'v'\)"),
    ("time,v\n1,1\n3,1\n2,1\n", r"line 4: unsorted timestamp '2'.*line 3 has '3'"),
    ("time,v\n1,1\n1,1\n", r"line 3: duplicate timestamp '1'"),
    ("time,v\n2024-01-01,1\n2024-01-01,2\n", r"line 3: duplicate timestamp"),
    ("time,v\n1,1\nsoon,1\n", r"line 3, timestamp column 'time': cannot read 'soon'"),
    ("time,v\n1,1\n,1\n", r"line 3, timestamp column 'time': empty timestamp"),
    ("time,v\n1,1\n2024-01-01,1\n", r"line 3: timestamp column 'time' mixes numbers and dates"),
    ("time,v,label\n1,1,0\n2,1,2\n", r"line 3: label column 'label' must hold 0 or 1, got '2'"),
    ("time,label\n1,0\n", r"no value columns left"),
])
def test_malformed_files(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_series_table(_write(tmp_path, text))


def test_bad_arguments(tmp_path):
    p = _write(tmp_path, "time,v\n1,1\n")
    with pytest.raises(ValueError, match="no column named 'when' \\(time_column\\)"):
        read_series_table(p, time_column="when")
    with pytest.raises(ValueError, match="label_column=7 out of range for 2"):
        read_series_table(p, label_column=7)
    with pytest.raises(ValueError, match="are the same column"):
        read_series_table(p, time_column=0, label_column=0)
    with pytest.raises(TypeError, match="time_column must be an int index"):
        read_series_table(p, time_column=1.5)
    with pytest.raises(FileNotFoundError, match="series file not found"):
        read_series_table(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="unsupported file type '.npy'"):
        read_series_table(_write(tmp_path, "", name="x.npy"))


def test_anomaly_windows_json(tmp_path):
    p = _write(tmp_path, json.dumps({
        "data/machine.csv": [["2024-01-01 00:05", "2024-01-01 00:10"]],
        "other.csv": [],
    }), name="labels.json")
    all_windows = load_anomaly_windows(p)
    assert set(all_windows) == {"data/machine.csv", "other.csv"}
    w = load_anomaly_windows(p, key="machine.csv")  # matched by base name
    t = np.array(["2024-01-01T00:00", "2024-01-01T00:05", "2024-01-01T00:07",
                  "2024-01-01T00:10", "2024-01-01T00:15"], dtype="datetime64[ms]")
    np.testing.assert_array_equal(labels_from_windows(t, w), [0, 1, 1, 1, 0])
    bare = _write(tmp_path, "[[2, 3]]", name="bare.json")
    np.testing.assert_array_equal(labels_from_windows(np.arange(5.0), load_anomaly_windows(bare)),
                                  [0, 0, 1, 1, 0])


@pytest.mark.parametrize("text, match", [
    ("{", "not valid JSON"),
    ("3", "expected a JSON object"),
    ('{"a.csv": 3}', "entry 'a.csv' must be a list"),
    ('{"a.csv": [[1]]}', r"window 0: expected \[start, end\]"),
    ('{"a.csv": [[5, 1]]}', "end 1 is before start 5"),
    ('{"a.csv": [["x1", 1]]}', "cannot read 'x1' as a timestamp"),
])
def test_malformed_label_files(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        load_anomaly_windows(_write(tmp_path, text, name="l.json"))


def test_label_lookup_and_kind_errors(tmp_path):
    p = _write(tmp_path, '{"a.csv": [[1, 2]]}', name="l.json")
    with pytest.raises(ValueError, match=r"no windows for 'b.csv' \(missing\)"):
        load_anomaly_windows(p, key="b.csv")
    with pytest.raises(ValueError, match="is a number range but the timestamps are datetime64"):
        labels_from_windows(np.array(["2024-01-01"], dtype="datetime64[ms]"), [(1.0, 2.0)])
    with pytest.raises(ValueError, match="timestamps must be a non-empty"):
        labels_from_windows(np.zeros((2, 2)), [])


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2), min_size=1,
                     max_size=20),
       with_labels=st.booleans())
def test_round_trip(tmp_path, data, with_labels):
    """Any table written with increasing times and 0/1 labels reads back exactly."""
    x = np.array(data)
    T = len(x)
    times = np.cumsum(np.arange(1, T + 1)) * 0.25
    labels = (np.arange(T) % 3 == 0).astype(int)
    lines = ["time,a,b" + (",label" if with_labels else "")]
    for i in range(T):
        row = [repr(float(times[i])), repr(float(x[i, 0])), repr(float(x[i, 1]))]
        lines.append(",".join(row + ([str(labels[i])] if with_labels else [])))
    t = read_series_table(_write(tmp_path, "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(t.values, x)
    np.testing.assert_array_equal(t.timestamps, times)
    if with_labels:
        np.testing.assert_array_equal(t.labels, labels)
    else:
        assert t.labels is None
