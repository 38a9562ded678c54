"""Load a user's time series from disk: delimited text (.csv/.txt) or NumPy (.npy/.npz).

Missing values come back as NaN; pair them with ``np.isfinite(x)`` as the observed mask.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["load_series"]

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


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split() if delimiter is None else line.split(delimiter)


def _read_text(path: Path, delimiter: str | None) -> tuple[list[str] | None, np.ndarray]:
    """Parse a delimited text file -> (header names or None, (T, D) float64)."""
    with open(path, encoding="utf-8-sig") as f:  # utf-8-sig drops a spreadsheet's BOM
        lines = [(i + 1, ln.rstrip("\r\n")) for i, ln in enumerate(f)]
    # Skip blank lines and '#' comments.
    lines = [(no, ln) for no, ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{path}: no data rows found")
    header = None
    first_no, first = lines[0]
    first_cells = _split(first, delimiter)
    # A header is a first row with at least one non-empty cell that is not a number.
    if any(c.strip() and not _looks_numeric(c) for c in first_cells):
        header = [c.strip().strip('"').strip("'") for c in first_cells]
        lines = lines[1:]
        if not lines:
            raise ValueError(f"{path}: only a header row, no data rows")
    width = len(header) if header is not None else len(_split(lines[0][1], delimiter))
    rows = np.empty((len(lines), width), dtype=np.float64)
    for r, (no, ln) in enumerate(lines):
        cells = _split(ln, delimiter)
        if len(cells) != width:
            raise ValueError(
                f"{path}, line {no}: expected {width} columns (delimiter {delimiter!r}), "
                f"got {len(cells)}"
            )
        for c, cell in enumerate(cells):
            try:
                rows[r, c] = _parse_cell(cell)
            except ValueError:
                raise ValueError(
                    f"{path}, line {no}, column {c}: cannot read {cell.strip()!r} as a number "
                    f"with delimiter {delimiter!r} (empty cells and 'NaN'/'NA' are read as "
                    "missing; use delimiter=None for whitespace-separated files)"
                ) from None
    return header, rows


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
    path = Path(path)
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
                arr = npz[key]
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
