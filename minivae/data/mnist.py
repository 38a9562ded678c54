"""MNIST from the four original IDX files, verified and parsed with NumPy only.

Where the files are looked for (first match wins):

1. the ``data_dir`` argument,
2. the environment variable ``MINIVAE_DATA_DIR``,
3. the user cache ``$XDG_CACHE_HOME/minivae/mnist`` (default ``~/.cache/minivae/mnist``).

Each file may be gzipped (``train-images-idx3-ubyte.gz``, as published) or raw
(``train-images-idx3-ubyte``); the ``.gz`` is used when both exist.

Checks, so a damaged file fails loudly instead of training on garbage:

* ``.gz`` files: byte size and MD5 against the published values (``verify=True``);
* every file: IDX magic number (2051 images / 2049 labels), dimensions (28 x 28 images), and a
  byte length that matches the header exactly (truncated or padded files are refused);
* with ``verify=True`` also the number of examples (60000 train / 10000 test) — this is how a raw
  file, whose checksum is not published, is validated;
* images and labels of a split must have the same count, labels must be in 0..9.

Downloads: only when files are missing, ``download=True``, the directory in use is the default
user cache (a directory you chose yourself is never written to), and ``MINIVAE_NO_DOWNLOAD`` is
not set.  Mirrors are tried in order; the result is verified by MD5 before it is kept.  Offline,
the error says where to put the files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minivae._validation import check_path, check_positive_int

__all__ = [
    "IdxFormatError",
    "MNIST_MIRRORS",
    "default_mnist_dir",
    "resolve_mnist_dir",
    "read_idx",
    "load_mnist",
    "mnist_available",
]

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
_LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)
_SIDE = 28


@dataclass(frozen=True)
class _FileSpec:
    """What one published MNIST file must look like."""

    name: str  # raw file name; the published download is name + ".gz"
    magic: int
    count: int  # number of examples
    md5: str  # MD5 of the .gz file
    gz_size: int  # bytes of the .gz file


# split -> (images, labels).  Tests replace this table to exercise the checks on tiny files.
_FILES: dict[str, tuple[_FileSpec, _FileSpec]] = {
    "train": (
        _FileSpec("train-images-idx3-ubyte", _IMAGE_MAGIC, 60000,
                  "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
        _FileSpec("train-labels-idx1-ubyte", _LABEL_MAGIC, 60000,
                  "d53e105ee54ea40749a09fcbcd1e9432", 28881),
    ),
    "test": (
        _FileSpec("t10k-images-idx3-ubyte", _IMAGE_MAGIC, 10000,
                  "9fb629c4189551a2d022fa330f9573f3", 1648877),
        _FileSpec("t10k-labels-idx1-ubyte", _LABEL_MAGIC, 10000,
                  "ec29112dd5afa0611ce80d1b7f02629c", 4542),
    ),
}

# IDX type byte -> big-endian NumPy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IdxFormatError(ValueError):
    """A file is not a valid (or not the expected) IDX file; the message names the file."""


# ----------------------------------------------------------------------------------------------
# Directory resolution
# ----------------------------------------------------------------------------------------------


def default_mnist_dir() -> Path:
    """The user cache directory: ``$XDG_CACHE_HOME/minivae/mnist`` or ``~/.cache/minivae/mnist``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "minivae" / "mnist"


def resolve_mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Directory to read MNIST from: ``data_dir``, else ``$MINIVAE_DATA_DIR``, else the cache."""
    if data_dir is not None:
        return check_path(data_dir, "data_dir").expanduser()
    env = os.environ.get("MINIVAE_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    return default_mnist_dir()


# ----------------------------------------------------------------------------------------------
# IDX parsing
# ----------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """File contents, decompressed when the name ends in .gz (errors name the file)."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        # EOFError: truncated stream; BadGzipFile (an OSError) / zlib.error: corrupt bytes.
        raise IdxFormatError(
            f"{path}: not a valid gzip file ({type(err).__name__}: {err}); the file is corrupt "
            "or truncated — delete it and download it again"
        ) from None


def _parse_idx(data: bytes, path: Path) -> tuple[int, np.ndarray]:
    """Parse IDX bytes -> (magic number, array with the header's shape); refuse length mismatch."""
    if len(data) < 4:
        raise IdxFormatError(f"{path}: only {len(data)} bytes, too short for an IDX header")
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        magic = int.from_bytes(data[:4], "big")
        raise IdxFormatError(
            f"{path}: bad IDX magic number {magic} (0x{magic:08x}); expected 2051 for images or "
            "2049 for labels — this is not an (uncompressed) IDX file"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxFormatError(
            f"{path}: truncated header ({len(data)} bytes, need {header_len} for {ndim} dims)"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = header_len + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IdxFormatError(
            f"{path}: {what}: header says shape {dims} ({expected} bytes in total), "
            f"but the (decompressed) file has {len(data)} bytes"
        )
    magic = int.from_bytes(data[:4], "big")
    return magic, np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read any IDX file (optionally ``.gz``) -> read-only array with the header's shape/dtype.

    Raises :class:`IdxFormatError` (a ``ValueError``) naming the file when the magic number is
    unknown or the byte length does not match the header.
    """
    path = check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    return _parse_idx(_read_bytes(path), path)[1]


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify_gz(path: Path, spec: _FileSpec) -> None:
    size = path.stat().st_size
    if size != spec.gz_size:
        raise IdxFormatError(
            f"{path}: size {size} bytes, expected {spec.gz_size} for the published "
            f"{spec.name}.gz — the file is incomplete or not the original; delete it and "
            "download it again"
        )
    digest = _md5(path)
    if digest != spec.md5:
        raise IdxFormatError(
            f"{path}: MD5 {digest} does not match the published {spec.md5} — the file is "
            "corrupt or not the original; delete it and download it again"
        )


def _find_file(directory: Path, spec: _FileSpec) -> Path | None:
    """The .gz if present, else the raw file, else None."""
    for candidate in (directory / (spec.name + ".gz"), directory / spec.name):
        if candidate.is_file():
            return candidate
    return None


def _load_checked(path: Path, spec: _FileSpec, verify: bool) -> np.ndarray:
    """Read one MNIST file and check it against ``spec``."""
    if verify and path.suffix == ".gz":
        _verify_gz(path, spec)
    magic, arr = _parse_idx(_read_bytes(path), path)
    if magic != spec.magic:
        kind = "images (magic 2051, unsigned bytes, 3 dims)"
        if spec.magic == _LABEL_MAGIC:
            kind = "labels (magic 2049, unsigned bytes, 1 dim)"
        raise IdxFormatError(
            f"{path}: expected MNIST {kind}, got magic number {magic} "
            f"(dtype {arr.dtype}, shape {arr.shape})"
        )
    if spec.magic == _IMAGE_MAGIC and arr.shape[1:] != (_SIDE, _SIDE):
        raise IdxFormatError(f"{path}: expected 28 x 28 images, got shape {arr.shape}")
    if verify and arr.shape[0] != spec.count:
        raise IdxFormatError(
            f"{path}: holds {arr.shape[0]} examples, the published {spec.name} has {spec.count} "
            "(pass verify=False to load a custom-size file)"
        )
    return arr


# ----------------------------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------------------------


def _how_to_get_files(directory: Path) -> str:
    names = ", ".join(s.name + ".gz" for pair in _FILES.values() for s in pair)
    return (
        f"Get the four MNIST files ({names}) from one of {list(MNIST_MIRRORS)} and put them "
        f"(gzipped or not) into {default_mnist_dir()}, or into any directory and set "
        "MINIVAE_DATA_DIR to it (or pass data_dir=...)."
        + (f" Looked in: {directory}." if directory != default_mnist_dir() else "")
    )


def _download(spec: _FileSpec, directory: Path) -> Path:
    """Fetch ``spec.name + '.gz'`` into ``directory`` from the first mirror that works."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (spec.name + ".gz")
    errors = []
    for mirror in MNIST_MIRRORS:
        url = mirror + spec.name + ".gz"
        fd, tmp_name = tempfile.mkstemp(prefix=spec.name, suffix=".part", dir=directory)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
            _verify_gz(tmp, spec)  # never keep a partial or wrong download
            os.replace(tmp, target)  # atomic: readers never see a half-written file
            return target
        except (urllib.error.URLError, OSError, IdxFormatError) as err:
            errors.append(f"{url}: {err}")
        finally:
            if tmp.exists():
                tmp.unlink()
    raise FileNotFoundError(
        f"MNIST file {spec.name} is missing and could not be downloaded (offline?).\n"
        + "\n".join(errors)
        + "\n"
        + _how_to_get_files(directory)
    )


def _downloads_allowed(directory: Path, download: bool) -> bool:
    if not download or os.environ.get("MINIVAE_NO_DOWNLOAD", "").strip() not in ("", "0"):
        return False
    # Only the default cache is ours to write into; a directory the user chose is left alone.
    return directory.expanduser().resolve() == default_mnist_dir().expanduser().resolve()


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    split: str = "train",
    download: bool = True,
    verify: bool = True,
    dtype: type | np.dtype = np.float64,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load an MNIST split as flat images in [0, 1] and integer labels.

    Inputs:
    - data_dir: directory holding the IDX files (see module docstring for the fallbacks).
    - split: ``"train"`` (60000 examples) or ``"test"`` (10000).
    - download: fetch missing files into the default user cache (never into a chosen directory,
      never when ``MINIVAE_NO_DOWNLOAD`` is set).
    - verify: check MD5/size of ``.gz`` files and the example count of every file.
    - dtype: floating dtype of the images (float64 or float32).
    - limit: return only the first ``limit`` examples (must not exceed the split size).

    Returns:
    - images: (N, 784) ``dtype``, pixel / 255, row-major 28 x 28.
    - labels: (N,) int64 in 0..9.
    """
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, got {split!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating dtype (float32/float64), got {dtype}")
    if limit is not None:
        limit = check_positive_int(limit, "limit")
    directory = resolve_mnist_dir(data_dir)

    arrays = []
    for spec in _FILES[split]:
        path = _find_file(directory, spec)
        if path is None:
            if not _downloads_allowed(directory, download):
                reason = (
                    "download=False" if not download
                    else "MINIVAE_NO_DOWNLOAD is set"
                    if os.environ.get("MINIVAE_NO_DOWNLOAD", "").strip() not in ("", "0")
                    else "downloads only go into the default cache, never into a chosen "
                    "directory; call load_mnist() without data_dir to download there"
                )
                raise FileNotFoundError(
                    f"MNIST file {spec.name}(.gz) not found in {directory} ({reason}). "
                    + _how_to_get_files(directory)
                )
            path = _download(spec, directory)
        arrays.append(_load_checked(path, spec, verify))
    images_u8, labels_u8 = arrays

    n = images_u8.shape[0]
    if labels_u8.shape[0] != n:
        raise IdxFormatError(
            f"{split} split: {n} images but {labels_u8.shape[0]} labels in {directory}"
        )
    if labels_u8.size and labels_u8.max() > 9:
        raise IdxFormatError(
            f"{directory / _FILES[split][1].name}: label {int(labels_u8.max())} outside 0..9"
        )
    if limit is not None:
        if limit > n:
            raise ValueError(f"limit={limit} exceeds the {n} examples of the {split} split")
        images_u8, labels_u8 = images_u8[:limit], labels_u8[:limit]
    # Convert only what is returned, in place after one cast (the full train set is 376 MB in
    # float64, so avoid a second temporary).  Division by 255 maps 255 exactly to 1.0.
    images = images_u8.reshape(images_u8.shape[0], _SIDE * _SIDE).astype(dtype)
    images /= dtype.type(255)
    return images, labels_u8.astype(np.int64)


def mnist_available(data_dir: str | os.PathLike | None = None) -> bool:
    """True if all four MNIST files are present in the resolved directory and look intact.

    A cheap check (no MD5, no decompression): ``.gz`` files must have the published byte size,
    raw files a valid header with the published count and matching byte length.  Never downloads.
    """
    directory = resolve_mnist_dir(data_dir)
    for pair in _FILES.values():
        for spec in pair:
            path = _find_file(directory, spec)
            if path is None:
                return False
            if path.suffix == ".gz":
                if path.stat().st_size != spec.gz_size:
                    return False
                continue
            try:
                with open(path, "rb") as f:
                    head = f.read(4 + 4 * 3)
            except OSError:
                return False
            if len(head) < 4 or int.from_bytes(head[:4], "big") != spec.magic:
                return False
            ndim = head[3]
            if len(head) < 4 + 4 * ndim:
                return False
            dims = [int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
            if dims[0] != spec.count:
                return False
            if path.stat().st_size != 4 + 4 * ndim + int(np.prod(dims)):
                return False
    return True
