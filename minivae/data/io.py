"""Load a user's time series from disk: delimited text (.csv/.txt) or NumPy (.npy/.npz).

Missing values come back as NaN; pair them with ``np.isfinite(x)`` as the observed mask.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae._validation import check_path

__all__ = [
    "load_series",
    "SeriesTable",
    "read_series_table",
    "parse_timestamp",
    "load_anomaly_windows",
    "labels_from_windows",
]

# Cell spellings read as "missing" (case-insensitive), besides the empty cell.
_MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}


def _parse_cell(cell: str) -> float:
    s = cell.strip().strip('"').strip("'").strip()
    if s.lower() in _MISSING:
        return np.nan
    return float(s)  # raises ValueError for text; the caller adds file/line context


def _looks_numeric(cell: str) -> bool:
    try:
        _parse_cell(cell)
    except ValueError:
        return False
    return True


def _looks_like_date(cell: str) -> bool:
    """A date cell of a headerless file (so its first row is not taken for a header)."""
    s = cell.strip().strip('"').strip("'").strip()
    if not any(ch.isdigit() for ch in s):  # np.datetime64 also reads "today", "now", "NaT"
        return False
    try:
        parse_timestamp(s)
    except ValueError:
        return False
    return True


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split() if delimiter is None else line.split(delimiter)


Rows = list[tuple[int, list[str]]]  # (line number, cells) of each data row


def _read_rows(path: Path, delimiter: str | None) -> tuple[list[str] | None, Rows]:
    """Split a delimited text file -> (header names or None, [(line number, cells), ...]).

    Blank lines and '#' comments are skipped; a header is a first row with a non-numeric cell.
    Every row must have the header's (or the first row's) number of cells: a ragged row raises
    a ValueError naming its line.
    """
    with open(path, encoding="utf-8-sig") as f:  # utf-8-sig drops a spreadsheet's BOM
        lines = [(i + 1, ln.rstrip("\r\n")) for i, ln in enumerate(f)]
    # Skip blank lines and '#' comments.
    lines = [(no, ln) for no, ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{path}: no data rows found")
    header = None
    first_cells = _split(lines[0][1], delimiter)
    # A header is a first row with at least one non-empty cell that is neither a number nor a
    # date (a headerless recording may start with a timestamp column).
    if any(c.strip() and not _looks_numeric(c) and not _looks_like_date(c) for c in first_cells):
        header = [c.strip().strip('"').strip("'") for c in first_cells]
        lines = lines[1:]
        if not lines:
            raise ValueError(f"{path}: only a header row, no data rows")
    width = len(header) if header is not None else len(_split(lines[0][1], delimiter))
    rows = []
    for no, ln in lines:
        cells = _split(ln, delimiter)
        if len(cells) != width:
            raise ValueError(
                f"{path}, line {no}: expected {width} columns (delimiter {delimiter!r}), "
                f"got {len(cells)}"
            )
        rows.append((no, cells))
    return header, rows


def _column_floats(path: Path, rows: Rows, c: int, delimiter: str | None,
                   name: str | None = None) -> np.ndarray:
    """Column ``c`` of the split rows as float64 (missing cells -> NaN), or a ValueError
    naming the line and column of the first cell that is not a number."""
    out = np.empty(len(rows), dtype=np.float64)
    for r, (no, cells) in enumerate(rows):
        try:
            out[r] = _parse_cell(cells[c])
        except ValueError:
            named = f" (column {name!r})" if name else ""
            raise ValueError(
                f"{path}, line {no}, column {c}: cannot read {cells[c].strip()!r} as a "
                f"number{named} with delimiter {delimiter!r} (empty cells and 'NaN'/'NA' are "
                "read as missing; use delimiter=None for whitespace-separated files)"
            ) from None
    return out


def _read_text(path: Path, delimiter: str | None) -> tuple[list[str] | None, np.ndarray]:
    """Parse a delimited text file -> (header names or None, (T, D) float64)."""
    header, rows = _read_rows(path, delimiter)
    width = len(rows[0][1])
    names = header or [None] * width
    cols = [_column_floats(path, rows, c, delimiter, names[c]) for c in range(width)]
    return header, np.stack(cols, axis=1)


def _select_column(
    data: np.ndarray, header: list[str] | None, column: int | str | None, path: Path
) -> np.ndarray:
    if column is None:
        return data
    if isinstance(column, str):
        if header is None:
            raise ValueError(f"{path}: column={column!r} given by name but the file has no header")
        if column not in header:
            raise ValueError(f"{path}: no column named {column!r}; columns are {header}")
        return data[:, header.index(column)]
    if isinstance(column, bool) or not isinstance(column, (int, np.integer)):
        raise TypeError(f"column must be an int index, a str name or None, got {column!r}")
    D = data.shape[1]
    if not -D <= column < D:
        raise ValueError(f"{path}: column={column} out of range for {D} column(s)")
    return data[:, int(column)]


def load_series(
    path: str | os.PathLike,
    *,
    column: int | str | None = None,
    delimiter: str | None = ",",
    key: str | None = None,
) -> np.ndarray:
    """Load a time series as a float64 array.

    Inputs:
    - path: a ``.csv``/``.txt`` file (one row per time step, one column per channel), a ``.npy``
      file holding a (T,) or (T, D) array, or a ``.npz`` file holding such an array.
    - column: select one channel, by index or (text files with a header) by name.
    - delimiter: cell separator of text files (``.tsv`` files default to tab); ``None`` splits
      on any whitespace.  A header row is
      detected automatically (a first row with a non-numeric cell); empty cells and
      NaN/NA/null/? are read as NaN; blank lines and lines starting with ``#`` are skipped.
    - key: which array of a multi-array ``.npz`` to read (not needed if it holds one array).

    Returns:
    - x: (T,) if ``column`` is given or the NumPy file holds a 1-D array, else (T, D) float64.
    """
    path = check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"series file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        if suffix == ".tsv" and delimiter == ",":
            delimiter = "\t"  # the default comma makes no sense for tab-separated files
        if delimiter == "":
            raise ValueError("delimiter must be a non-empty string or None (whitespace)")
        header, data = _read_text(path, delimiter)
        return _select_column(data, header, column, path)
    if suffix in (".npy", ".npz"):
        try:
            loaded = np.load(path, allow_pickle=False)
        except ValueError as err:  # e.g. an object array, which would need pickle
            raise ValueError(f"{path}: cannot load without pickle ({err})") from None
        except (OSError, EOFError, zipfile.BadZipFile) as err:  # truncated or not NumPy at all
            raise ValueError(f"{path}: not a readable {suffix} file ({err})") from None
        if suffix == ".npz":
            with loaded as npz:
                names = list(npz.files)
                if key is None:
                    if len(names) != 1:
                        raise ValueError(
                            f"{path} holds arrays {names}; pass key=... to choose one"
                        )
                    key = names[0]
                if key not in names:
                    raise ValueError(f"{path} has no array {key!r}; arrays are {names}")
                try:
                    arr = npz[key]
                except (ValueError, OSError, EOFError, zipfile.BadZipFile,
                        NotImplementedError, zlib.error) as err:  # a corrupt member
                    raise ValueError(f"{path}: array {key!r} is corrupt ({err})") from None
        else:
            arr = loaded
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{path}: array must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2) or arr.size == 0:
            raise ValueError(f"{path}: expected a non-empty (T,) or (T, D) array, got {arr.shape}")
        arr = arr.astype(np.float64)
        if column is not None:
            if isinstance(column, str):
                raise ValueError(f"{path}: NumPy files have no column names; use an int index")
            if arr.ndim == 1:
                raise ValueError(f"{path}: column given but the array is 1-D {arr.shape}")
            return _select_column(arr, None, column, path)
        return arr
    raise ValueError(
        f"unsupported file type {path.suffix!r} for {path}; expected .csv, .txt, .tsv, .npy or .npz"
    )


# ----------------------------------------------------------------------------------------------
# A user's own recording: timestamp column, value columns, optional 0/1 label column
# ----------------------------------------------------------------------------------------------

# Header names read as the timestamp / label column when asked for "auto" (case-insensitive).
TIME_NAMES = ("timestamp", "time", "datetime", "date", "ds", "t", "step", "index")
LABEL_NAMES = ("label", "labels", "is_anomaly", "anomaly")


@dataclass(frozen=True)
class SeriesTable:
    """A recording read by :func:`read_series_table`.

    Attributes:
        values: (T, D) float64, NaN = missing.
        columns: the D value columns' names (``"col<i>"`` without a header).
        timestamps: (T,) strictly increasing, float64 (numbers) or ``datetime64[ms]`` (dates),
            or None when the file has no timestamp column.
        labels: (T,) int64 0/1 from the label column, or None.
        time_name, label_name: the names of those columns (or None).
    """

    values: np.ndarray
    columns: list[str]
    timestamps: np.ndarray | None = None
    labels: np.ndarray | None = None
    time_name: str | None = None
    label_name: str | None = None


def _find_column(spec: int | str | None, header: list[str] | None, width: int, path: Path,
                 what: str, auto_names: tuple[str, ...]) -> int | None:
    """Index of the column ``spec`` names ("auto": the first header name in auto_names)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec == "auto":
            lower = [h.lower() for h in header] if header is not None else []
            hits = [i for i, h in enumerate(lower) if h in auto_names]
            return hits[0] if hits else None
        if header is None:
            raise ValueError(f"{path}: {what}={spec!r} given by name but the file has no header")
        if spec not in header:
            raise ValueError(f"{path}: no column named {spec!r} ({what}); columns are {header}")
        return header.index(spec)
    if isinstance(spec, bool) or not isinstance(spec, (int, np.integer)):
        raise TypeError(f"{what} must be an int index, a column name, 'auto' or None, "
                        f"got {spec!r}")
    if not -width <= spec < width:
        raise ValueError(f"{path}: {what}={spec} out of range for {width} column(s)")
    return int(spec) % width


def parse_timestamp(text: str | float) -> float | np.datetime64:
    """One timestamp cell -> a float (a number: seconds, a step index, ...) or a
    ``datetime64[ms]`` (ISO 8601 such as ``2024-01-31 12:00:00``).  ValueError otherwise."""
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        text = repr(float(text))  # JSON label files may give numbers directly
    if not isinstance(text, str):
        raise TypeError(f"a timestamp must be a str or a number, got {type(text).__name__} "
                        f"{text!r}")
    s = text.strip().strip('"').strip("'").strip()
    if not s:
        raise ValueError("empty timestamp")
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if not np.isfinite(value):
            raise ValueError(f"timestamp {s!r} is not finite")
        return value
    with warnings.catch_warnings():  # "+00:00" offsets: numpy converts to UTC and warns
        warnings.simplefilter("ignore")
        try:
            return np.datetime64(s, "ms")
        except ValueError:
            raise ValueError(f"cannot read {s!r} as a timestamp (a number or an ISO 8601 date "
                             "such as 2024-01-31 12:00:00)") from None


def _timestamps(path: Path, rows: Rows, c: int, name: str) -> np.ndarray:
    """Column c as timestamps, all numbers or all dates, strictly increasing."""
    values = []
    for no, cells in rows:
        try:
            values.append(parse_timestamp(cells[c]))
        except ValueError as err:
            raise ValueError(f"{path}, line {no}, timestamp column {name!r}: {err}") from None
    kinds = {isinstance(v, np.datetime64) for v in values}
    if len(kinds) > 1:
        first = next(i for i, v in enumerate(values) if isinstance(v, np.datetime64)
                     != isinstance(values[0], np.datetime64))
        raise ValueError(f"{path}, line {rows[first][0]}: timestamp column {name!r} mixes numbers "
                         "and dates")
    t = np.array(values, dtype="datetime64[ms]" if kinds == {True} else np.float64)
    step = np.diff(t.astype(np.int64) if t.dtype.kind == "M" else t)
    bad = np.flatnonzero(step <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        kind = "duplicate" if step[bad[0]] == 0 else "unsorted"
        raise ValueError(
            f"{path}, line {rows[i][0]}: {kind} timestamp {rows[i][1][c].strip()!r} in column "
            f"{name!r} (line {rows[i - 1][0]} has {rows[i - 1][1][c].strip()!r}); timestamps "
            "must be strictly increasing: sort the file and drop repeated rows"
        )
    return t


def _labels01(path: Path, rows: Rows, c: int, name: str, delimiter: str | None) -> np.ndarray:
    lab = _column_floats(path, rows, c, delimiter, name)
    bad = np.flatnonzero(~np.isin(lab, (0.0, 1.0)))
    if bad.size:
        no, cells = rows[int(bad[0])]
        raise ValueError(f"{path}, line {no}: label column {name!r} must hold 0 or 1, got "
                         f"{cells[c].strip()!r}")
    return lab.astype(np.int64)


def read_series_table(
    path: str | os.PathLike,
    *,
    time_column: int | str | None = "auto",
    label_column: int | str | None = "auto",
    delimiter: str | None = ",",
) -> SeriesTable:
    """Read a univariate or multivariate recording from a delimited text file.

    The file has one row per time step: an optional timestamp column, one or more value columns
    and an optional 0/1 label column (1 = anomalous step).  It is split by the same parser as
    :func:`load_series` (header detection, NaN spellings, '#' comments).

    Inputs:
    - path: .csv / .txt / .tsv file (.tsv defaults to tab).
    - time_column, label_column: index, header name, None (no such column) or "auto" (the first
      header name in :data:`TIME_NAMES` / :data:`LABEL_NAMES`, case-insensitive, if any).
    - delimiter: as :func:`load_series`.

    Returns:
    - :class:`SeriesTable` (values (T, D), timestamps (T,) or None, labels (T,) or None).

    Raises ValueError naming the file and line for ragged rows, non-numeric values, unreadable,
    unsorted or duplicate timestamps and labels other than 0/1.
    """
    path = check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"series file not found: {path}")
    if path.suffix.lower() not in (".csv", ".txt", ".tsv"):
        raise ValueError(f"unsupported file type {path.suffix!r} for {path}; expected .csv, "
                         ".txt or .tsv")
    if path.suffix.lower() == ".tsv" and delimiter == ",":
        delimiter = "\t"
    if delimiter == "":
        raise ValueError("delimiter must be a non-empty string or None (whitespace)")
    header, rows = _read_rows(path, delimiter)
    width = len(rows[0][1])
    names = header or [f"col{i}" for i in range(width)]
    tc = _find_column(time_column, header, width, path, "time_column", TIME_NAMES)
    lc = _find_column(label_column, header, width, path, "label_column", LABEL_NAMES)
    if tc is not None and tc == lc:
        raise ValueError(f"{path}: time_column and label_column are the same column {names[tc]!r}")
    value_cols = [c for c in range(width) if c not in (tc, lc)]
    if not value_cols:
        raise ValueError(f"{path}: no value columns left besides the timestamp / label columns "
                         f"(columns: {names})")
    values = np.stack([_column_floats(path, rows, c, delimiter, names[c]) for c in value_cols],
                      axis=1)
    return SeriesTable(
        values=values,
        columns=[names[c] for c in value_cols],
        timestamps=None if tc is None else _timestamps(path, rows, tc, names[tc]),
        labels=None if lc is None else _labels01(path, rows, lc, names[lc], delimiter),
        time_name=None if tc is None else names[tc],
        label_name=None if lc is None else names[lc],
    )


def load_anomaly_windows(path: str | os.PathLike, key: str | None = None
                         ) -> dict[str, list[tuple[Any, Any]]] | list[tuple[Any, Any]]:
    """Read labelled anomaly windows from JSON (the Numenta Anomaly Benchmark layout).

    The file maps a data file's name to a list of ``[start, end]`` timestamp pairs (numbers or
    ISO dates; both ends inclusive)::

        {"machine_1.csv": [["2024-01-03 10:00", "2024-01-03 12:30"]], "machine_2.csv": []}

    A bare list of pairs is accepted too (the windows of one file).

    Inputs:
    - path: the .json file.
    - key: return only this file's windows; matched exactly, then by base name (so a label
      file keyed ``"realKnownCause/machine_1.csv"`` serves ``machine_1.csv``).

    Returns:
    - {file: [(start, end), ...]}, or the list for ``key`` (or for a bare-list file); each end
      parsed with :func:`parse_timestamp`, start <= end.
    """
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key must be a file name (str) or None, got {type(key).__name__}")
    path = check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if isinstance(data, list):
        return _windows_list(data, path, "the top-level list")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object {{file: [[start, end], ...]}} or a list "
                         f"of [start, end] pairs, got {type(data).__name__}")
    out = {name: _windows_list(v, path, f"entry {name!r}") for name, v in data.items()}
    if key is None:
        return out
    if key in out:
        return out[key]
    base = [n for n in out if Path(n).name == Path(key).name]
    if len(base) != 1:
        raise ValueError(f"{path}: no windows for {key!r} ({'ambiguous' if base else 'missing'}); "
                         f"entries are {sorted(out)}")
    return out[base[0]]


def _windows_list(value: object, path: Path, where: str) -> list[tuple[Any, Any]]:
    if not isinstance(value, list):
        raise ValueError(f"{path}: {where} must be a list of [start, end] pairs, got "
                         f"{type(value).__name__}")
    out = []
    for i, pair in enumerate(value):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"{path}: {where}, window {i}: expected [start, end], got {pair!r}")
        try:
            a, b = parse_timestamp(pair[0]), parse_timestamp(pair[1])
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: {where}, window {i}: {err}") from None
        if isinstance(a, np.datetime64) != isinstance(b, np.datetime64) or b < a:
            raise ValueError(f"{path}: {where}, window {i}: end {pair[1]!r} is before start "
                             f"{pair[0]!r} (or one is a date, the other a number)")
        out.append((a, b))
    return out


def labels_from_windows(timestamps: object, windows: list[tuple[Any, Any]]) -> np.ndarray:
    """0/1 step labels: 1 where ``start <= t <= end`` for some window.

    Inputs:
    - timestamps: (T,) float64 or datetime64 (as :class:`SeriesTable`); windows: [(start, end)]
      of the same kind (from :func:`load_anomaly_windows`).

    Returns:
    - labels: (T,) int64.
    """
    t = np.asarray(timestamps)
    if t.ndim != 1 or t.size == 0 or t.dtype.kind not in "fiuM":
        raise ValueError(f"timestamps must be a non-empty (T,) array of numbers or datetime64, "
                         f"got {t.dtype} {t.shape}")
    labels = np.zeros(t.shape[0], dtype=np.int64)
    for i, (a, b) in enumerate(windows):
        if (t.dtype.kind == "M") != isinstance(a, np.datetime64):
            kind = "date" if isinstance(a, np.datetime64) else "number"
            raise ValueError(f"window {i} ({a}, {b}) is a {kind} range but the timestamps are "
                             f"{t.dtype}")
        labels[(t >= a) & (t <= b)] = 1
    return labels
def load_ucr(
    path: str | os.PathLike, *, delimiter: str | None = "\t"
) -> tuple[np.ndarray, np.ndarray]:
    """Load a UCR/UEA archive file (2018 TSV format): one series per line, the class first.

    Each line is ``label<TAB>x_1<TAB>...<TAB>x_T`` with no header (Dau et al., "The UCR Time
    Series Archive", 2019).  Read by the same parser as :func:`load_series`, so blank lines and
    ``#`` comments are skipped and empty/NaN cells are missing (the archive pads its
    variable-length sets with NaN); a ragged row or a non-numeric cell is an error naming the line.

    Inputs:
    - path: the ``_TRAIN.tsv`` or ``_TEST.tsv`` file.
    - delimiter: cell separator; ``","`` reads the older comma-separated archive, ``None`` splits
      on any whitespace.

    Returns:
    - X: (N, T) float64, the series (NaN where missing).
    - y: (N,) int64, the class labels (must be whole numbers, never missing).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    if delimiter is not None and (not isinstance(delimiter, str) or delimiter == ""):
        raise ValueError(f"delimiter must be a non-empty string or None (whitespace), "
                         f"got {delimiter!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"UCR file not found: {path}")
    header, data = _read_text(path, delimiter)
    data_lines = _data_line_numbers(path)
    if header is not None:  # the parser took a non-numeric first row for a header: UCR has none
        bad = next(c for c in header if c.strip() and not _looks_numeric(c))
        raise ValueError(
            f"{path}, line {data_lines[0]}, column {header.index(bad)}: cannot read {bad!r} as a "
            f"number (UCR files have no header row; delimiter {delimiter!r})"
        )
    if data.shape[1] < 2:
        raise ValueError(f"{path}: expected a label column and at least one value per line, "
                         f"got {data.shape[1]} column(s)")
    labels = data[:, 0]
    bad_rows = np.flatnonzero(~np.isfinite(labels) | (labels != np.round(labels)))
    if bad_rows.size:
        r = int(bad_rows[0])
        raise ValueError(f"{path}, line {data_lines[r]}, column 0: the class label must be a "
                         f"whole number, got {labels[r]!r}")
    return data[:, 1:], labels.astype(np.int64)


def _data_line_numbers(path: Path) -> list[int]:
    """1-based numbers of the lines ``_read_text`` reads as rows (not blank, not a comment)."""
    with open(path, encoding="utf-8-sig") as f:
        return [i + 1 for i, ln in enumerate(f) if ln.strip() and not ln.lstrip().startswith("#")]


__all__ += ["load_ucr"]
