"""A tiny fake MNIST on disk, for the experiment commands' end-to-end tests.

The files have the real names and the real IDX format (gzip-compressed), so the commands load
them exactly as they load MNIST; only the digits are fake: each image is uniform noise in
``[0, 40)`` with a bright horizontal bar whose row depends on the class (and, with ``stroke``,
a grey vertical stroke whose column does too), so a few epochs already learn something.
Test modules import it directly (``tests/`` is on ``sys.path`` under pytest, as for
``bad_input_cases``); the ``no_network`` fixture that goes with it is in ``conftest.py``.
"""

from __future__ import annotations

import gzip
import pathlib

import numpy as np


def idx_bytes(arr: np.ndarray) -> bytes:
    """``arr`` in the IDX format of the MNIST files (unsigned bytes; big-endian sizes)."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def fake_digits(n: int, rng: np.random.Generator, *, bar_height: int = 3, stroke: bool = False,
                cyclic_labels: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``n`` fake digits: images (n, 28, 28) and labels (n,), both uint8.

    Labels are drawn from ``rng`` (or are ``0, 1, ..., 9, 0, ...`` with ``cyclic_labels``, which
    draws nothing), then the noise; the order of the draws is part of the data, keep it.
    """
    labels = np.arange(n) % 10 if cyclic_labels else rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28))
    for i, c in enumerate(labels):
        images[i, 4 + 2 * c: 4 + bar_height + 2 * c, 6:22] = 255
        if stroke:
            images[i, 6:22, 4 + 2 * c: 6 + 2 * c] = 200
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_fake_mnist(directory: pathlib.Path, n_train: int, n_test: int, *, seed: int = 0,
                     **digits) -> pathlib.Path:
    """Write ``train-*`` and ``t10k-*`` image and label files into ``directory``; return it.

    One generator (``seed``) draws the training set, then the test set; ``digits`` are passed
    to :func:`fake_digits`.
    """
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = fake_digits(n, rng, **digits)
        (directory / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (directory / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return directory
