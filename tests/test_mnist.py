"""MNIST loader: IDX parsing, checksum/size/header checks, directory resolution, downloads.

Nothing here touches the network: an autouse fixture replaces ``urllib.request.urlopen`` with a
function that fails the test, and the download tests serve bytes from memory.  Tiny IDX files
are built in ``tmp_path``; the checksum table is monkeypatched to describe them.
"""

import gzip
import hashlib
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from minivae.data import (
    IdxFormatError,
    default_mnist_dir,
    load_mnist,
    mnist_available,
    read_idx,
    resolve_mnist_dir,
)
from minivae.data import mnist as mnist_mod

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
COUNTS = {"train": 6, "test": 4}
REAL_TABLE = dict(mnist_mod._FILES)  # the published checksums, captured before any patching


# ---------------------------------------------------------------------------------------------
# Helpers and fixtures
# ---------------------------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    """Serialise ``arr`` as an IDX file (big-endian header and data)."""
    dtype = {0x08: ">u1", 0x0D: ">f4"}[type_code]
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape
    )
    return header + np.asarray(arr).astype(dtype).tobytes()


def tiny_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # make sure both ends of the range occur
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


def write_mnist(directory: Path, *, gz: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write a tiny 4-file MNIST into ``directory``; return the arrays per split."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for seed, (split, (img_name, lab_name)) in enumerate(NAMES.items()):
        images, labels = tiny_split(COUNTS[split], seed)
        for name, arr in ((img_name, images), (lab_name, labels)):
            data = idx_bytes(arr)
            if gz:
                (directory / (name + ".gz")).write_bytes(gzip.compress(data, mtime=0))
            else:
                (directory / name).write_bytes(data)
        out[split] = (images, labels)
    return out


def table_for(directory: Path) -> dict:
    """A checksum table (like mnist._FILES) describing the .gz files in ``directory``."""
    table = {}
    for split, (img_name, lab_name) in NAMES.items():
        specs = []
        for name, magic in ((img_name, 2051), (lab_name, 2049)):
            gz = directory / (name + ".gz")
            md5 = hashlib.md5(gz.read_bytes()).hexdigest() if gz.exists() else "0" * 32
            size = gz.stat().st_size if gz.exists() else 0
            specs.append(mnist_mod._FileSpec(name, magic, COUNTS[split], md5, size))
        table[split] = tuple(specs)
    return table


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Fail any download attempt; point the cache and MINIVAE_DATA_DIR away from real dirs."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"tests must not download: urlopen{args}")

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    monkeypatch.delenv("MINIVAE_DATA_DIR", raising=False)
    monkeypatch.delenv("MINIVAE_NO_DOWNLOAD", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Directory with a tiny gzipped MNIST and the checksum table patched to match it."""
    d = tmp_path / "mnist"
    arrays = write_mnist(d)
    monkeypatch.setattr(mnist_mod, "_FILES", table_for(d))
    return d, arrays


# ---------------------------------------------------------------------------------------------
# Loading valid files
# ---------------------------------------------------------------------------------------------


def test_load_tiny_gz_with_verification(tiny):
    d, arrays = tiny
    for split in ("train", "test"):
        x, y = load_mnist(d, split=split)
        images, labels = arrays[split]
        assert x.shape == (COUNTS[split], 784) and x.dtype == np.float64
        assert y.shape == (COUNTS[split],) and y.dtype == np.int64
        np.testing.assert_array_equal(x, images.reshape(-1, 784) / 255.0)
        np.testing.assert_array_equal(y, labels)
    x, _ = load_mnist(d)
    assert x.min() == 0.0 and x.max() == 1.0


def test_dtype_and_limit(tiny):
    d, arrays = tiny
    x, y = load_mnist(d, dtype=np.float32, limit=3)
    assert x.shape == (3, 784) and x.dtype == np.float32 and y.shape == (3,)
    np.testing.assert_allclose(x, arrays["train"][0][:3].reshape(3, 784) / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="limit=7 exceeds the 6 examples"):
        load_mnist(d, limit=7)
    with pytest.raises(ValueError, match="limit must be >= 1"):
        load_mnist(d, limit=0)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        load_mnist(d, dtype=np.uint8)
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist(d, split="validation")


def test_raw_files_validated_by_header_and_count(tmp_path, monkeypatch):
    d = tmp_path / "raw"
    arrays = write_mnist(d, gz=False)
    monkeypatch.setattr(mnist_mod, "_FILES", table_for(d))  # no .gz: md5 unknown, count known
    x, y = load_mnist(d, split="test")
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert x.shape == (COUNTS["test"], 784)
    # The published table (60000 / 10000 examples) refuses these tiny raw files ...
    monkeypatch.setattr(mnist_mod, "_FILES", REAL_TABLE)
    with pytest.raises(IdxFormatError, match=r"t10k-images-idx3-ubyte: holds 4 examples.*10000"):
        load_mnist(d, split="test")
    # ... unless verification is switched off.
    x, y = load_mnist(d, split="test", verify=False)
    assert x.shape == (4, 784)


def _forbidden(*args, **kwargs):
    raise AssertionError("tests must not download")


def test_gz_preferred_over_raw(tiny):
    d, arrays = tiny
    # A broken raw file next to the valid .gz is never read.
    (d / "train-images-idx3-ubyte").write_bytes(b"garbage")
    x, _ = load_mnist(d)
    np.testing.assert_array_equal(x, arrays["train"][0].reshape(-1, 784) / 255.0)


def test_read_idx_generic_float(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    p = tmp_path / "floats-idx2"
    p.write_bytes(idx_bytes(a, 0x0D))
    np.testing.assert_array_equal(read_idx(p), a)
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        read_idx(tmp_path / "nope")


# ---------------------------------------------------------------------------------------------
# Refusing damaged files (every error names the file)
# ---------------------------------------------------------------------------------------------


def test_wrong_checksum_refused_unless_verify_off(tiny, monkeypatch):
    d, _ = tiny
    table = dict(mnist_mod._FILES)
    img, lab = table["train"]
    table["train"] = (mnist_mod._FileSpec(img.name, img.magic, img.count, "f" * 32, img.gz_size),
                      lab)
    monkeypatch.setattr(mnist_mod, "_FILES", table)
    with pytest.raises(IdxFormatError, match=r"train-images-idx3-ubyte\.gz: MD5 .* does not match"):
        load_mnist(d)
    x, _ = load_mnist(d, verify=False)  # header and size are still checked, md5 is not
    assert x.shape == (6, 784)


def test_wrong_gz_size_refused(tiny, monkeypatch):
    d, _ = tiny
    table = dict(mnist_mod._FILES)
    img, lab = table["test"]
    table["test"] = (img, mnist_mod._FileSpec(lab.name, lab.magic, lab.count, lab.md5, 4542))
    monkeypatch.setattr(mnist_mod, "_FILES", table)
    with pytest.raises(IdxFormatError, match=r"t10k-labels-idx1-ubyte\.gz: size \d+ bytes, exp"):
        load_mnist(d, split="test")


def test_real_checksum_table_rejects_tiny_gz(tmp_path, monkeypatch):
    """With the published table, a file that is not the original fails on size/MD5."""
    d = tmp_path / "fake"
    write_mnist(d)
    with pytest.raises(IdxFormatError, match=r"train-images-idx3-ubyte\.gz: size .* 9912422"):
        load_mnist(d, download=False)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("corrupt_gz", r"train-images-idx3-ubyte\.gz: not a valid gzip file"),
        ("truncated_gz", r"train-images-idx3-ubyte\.gz: not a valid gzip file"),
        ("truncated_data", r"train-images-idx3-ubyte\.gz: truncated: header says shape"),
        ("trailing_bytes", r"train-images-idx3-ubyte\.gz: has trailing bytes"),
        ("bad_magic", r"train-images-idx3-ubyte\.gz: bad IDX magic number"),
        ("labels_as_images", r"train-images-idx3-ubyte\.gz: expected MNIST images"),
        ("short_header", r"train-images-idx3-ubyte\.gz: truncated header"),
        ("wrong_side", r"train-images-idx3-ubyte\.gz: expected 28 x 28 images"),
    ],
)
def test_damaged_files_refused(tmp_path, monkeypatch, damage, message):
    d = tmp_path / "mnist"
    write_mnist(d)
    target = d / "train-images-idx3-ubyte.gz"
    good_gz = target.read_bytes()
    data = gzip.decompress(good_gz)
    if damage == "corrupt_gz":
        blob = bytes(np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8))
    elif damage == "truncated_gz":
        blob = good_gz[: len(good_gz) // 2]
    else:
        raw = {
            "truncated_data": data[:-100],
            "trailing_bytes": data + b"\x00" * 5,
            "bad_magic": b"\x01\x02\x03\x04" + data[4:],
            "labels_as_images": idx_bytes(np.zeros(6, dtype=np.uint8)),
            "short_header": data[:10],
            "wrong_side": idx_bytes(np.zeros((6, 20, 20), dtype=np.uint8)),
        }[damage]
        blob = gzip.compress(raw, mtime=0)
    target.write_bytes(blob)
    # The table matches the damaged bytes, so we reach the header / gzip checks themselves.
    monkeypatch.setattr(mnist_mod, "_FILES", table_for(d))
    with pytest.raises(IdxFormatError, match=message):
        load_mnist(d)
    with pytest.raises(IdxFormatError, match=message):
        load_mnist(d, verify=False)


def test_truncated_raw_file_refused(tmp_path, monkeypatch):
    d = tmp_path / "raw"
    write_mnist(d, gz=False)
    p = d / "t10k-labels-idx1-ubyte"
    p.write_bytes(p.read_bytes()[:-1])
    monkeypatch.setattr(mnist_mod, "_FILES", table_for(d))
    with pytest.raises(IdxFormatError, match=r"t10k-labels-idx1-ubyte: truncated"):
        load_mnist(d, split="test")


def test_inconsistent_images_and_labels(tiny, monkeypatch):
    d, _ = tiny
    # Labels file with 5 entries for 6 images.
    (d / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(5, dtype=np.uint8)), mtime=0))
    with pytest.raises(IdxFormatError, match="6 images but 5 labels"):
        load_mnist(d, verify=False)
    # Label value 12 is not a digit.
    (d / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.full(6, 12, dtype=np.uint8)), mtime=0))
    with pytest.raises(IdxFormatError, match=r"train-labels-idx1-ubyte: label 12 outside 0..9"):
        load_mnist(d, verify=False)


# ---------------------------------------------------------------------------------------------
# Directory resolution and availability
# ---------------------------------------------------------------------------------------------


def test_directory_resolution(tmp_path, monkeypatch):
    assert default_mnist_dir() == tmp_path / "xdg-cache" / "minivae" / "mnist"
    assert resolve_mnist_dir() == default_mnist_dir()
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(tmp_path / "env"))
    assert resolve_mnist_dir() == tmp_path / "env"
    assert resolve_mnist_dir(tmp_path / "arg") == tmp_path / "arg"  # argument wins
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_mnist_dir() == tmp_path / "home" / ".cache" / "minivae" / "mnist"


def test_env_dir_is_used(tiny, monkeypatch):
    d, arrays = tiny
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(d))
    _, y = load_mnist(split="test")
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert mnist_available()


def test_mnist_available(tiny, tmp_path, monkeypatch):
    d, _ = tiny
    assert mnist_available(d)
    assert not mnist_available(tmp_path / "empty")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    assert not mnist_available(d)
    raw = tmp_path / "raw"
    write_mnist(raw, gz=False)
    assert mnist_available(raw)  # raw files: checked by header and count
    p = raw / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-3])
    assert not mnist_available(raw)
    # The published table does not match tiny files.
    monkeypatch.setattr(mnist_mod, "_FILES", REAL_TABLE)
    assert not mnist_available(d)


# ---------------------------------------------------------------------------------------------
# Missing files and downloads (no network: fake urlopen)
# ---------------------------------------------------------------------------------------------


def test_missing_files_in_chosen_dir_never_download(tmp_path):
    # urlopen is the failing fixture: reaching it would fail the test with AssertionError.
    msg = "not found in .*chosen directory.*MINIVAE_DATA_DIR"
    with pytest.raises(FileNotFoundError, match=msg):
        load_mnist(tmp_path / "nothing", download=True)


def test_missing_files_download_false(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"download=False.*MINIVAE_DATA_DIR"):
        load_mnist(download=False)


def test_no_download_env(monkeypatch):
    monkeypatch.setenv("MINIVAE_NO_DOWNLOAD", "1")
    with pytest.raises(FileNotFoundError, match="MINIVAE_NO_DOWNLOAD is set"):
        load_mnist()


def test_offline_gives_clear_message(monkeypatch):
    calls = []

    def offline(url, timeout=None):
        calls.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist()
    msg = str(info.value)
    assert "could not be downloaded (offline?)" in msg and "MINIVAE_DATA_DIR" in msg
    assert len(calls) == len(mnist_mod.MNIST_MIRRORS)  # every mirror tried once
    assert not list(default_mnist_dir().glob("*.part"))  # no partial files left behind


def test_download_from_fake_mirrors(tmp_path, monkeypatch):
    """First mirror down, second serves a corrupt file for one name, then the right bytes."""
    src = tmp_path / "served"
    arrays = write_mnist(src)
    monkeypatch.setattr(mnist_mod, "_FILES", table_for(src))
    m1, m2 = mnist_mod.MNIST_MIRRORS
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        if url.startswith(m1):
            raise urllib.error.URLError("mirror 1 down")
        return io.BytesIO((src / os.path.basename(url)).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    x, y = load_mnist(split="test")
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert x.shape == (4, 784)
    cache = default_mnist_dir()
    assert sorted(p.name for p in cache.iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert len(calls) == 4  # two files, two mirrors each
    # Now cached: a second load does not download.
    monkeypatch.setattr(urllib.request, "urlopen", _forbidden)
    load_mnist(split="test")

    # A mirror serving wrong bytes is rejected by the checksum, never kept.
    def corrupt(url, timeout=None):
        return io.BytesIO(b"not the file")

    monkeypatch.setattr(urllib.request, "urlopen", corrupt)
    with pytest.raises(FileNotFoundError, match="MD5|size"):
        load_mnist(split="train")
    assert not (cache / "train-images-idx3-ubyte.gz").exists()
    assert not list(cache.glob("*.part"))


# ---------------------------------------------------------------------------------------------
# The real files (skipped when absent)
# ---------------------------------------------------------------------------------------------


def _real_dir() -> Path | None:
    env = os.environ.get("MINIVAE_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist")
    for c in candidates:
        if all((c / (n + ".gz")).is_file() or (c / n).is_file()
               for pair in NAMES.values() for n in pair):
            return c
    return None


REAL_DIR = _real_dir()  # evaluated at import, before the fixture clears MINIVAE_DATA_DIR


@pytest.mark.skipif(REAL_DIR is None, reason="real MNIST files not found")
def test_real_mnist_files():
    real_dir = REAL_DIR
    assert mnist_available(real_dir)
    # float32 keeps the 60000 x 784 train set at 188 MB.
    x, y = load_mnist(real_dir, split="train", download=False, dtype=np.float32)
    assert x.shape == (60000, 784) and y.shape == (60000,)
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    np.testing.assert_array_equal(y[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])  # the well-known start
    x, y = load_mnist(real_dir, split="test", download=False)
    assert x.shape == (10000, 784) and x.dtype == np.float64
    assert 0.0 <= x.min() and x.max() <= 1.0 and y.min() == 0 and y.max() == 9
    np.testing.assert_array_equal(np.bincount(y)[:3], [980, 1135, 1032])
