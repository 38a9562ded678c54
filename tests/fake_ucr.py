"""Tiny generated ECG5000 files in the UCR archive's TSV format, for the ECG5000 experiment's
end-to-end tests (the real files live outside the repository and are never needed by them).

Test modules import it directly (``tests/`` is on ``sys.path`` under pytest, as for
``fake_mnist``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_fake_ecg5000(folder: Path, rng: np.random.Generator, n_train: int, n_test: int,
                       T: int = 24, widths: tuple[float, float] = (0.1, 0.1)) -> None:
    """``ECG5000_TRAIN.tsv`` and ``ECG5000_TEST.tsv`` in ``folder``: class 1 a noisy bump at the
    centre, classes 2-5 the bump moved; ``widths`` = (class 1's width, the other classes')."""
    t = np.linspace(0.0, 1.0, T)
    for name, n in (("ECG5000_TRAIN.tsv", n_train), ("ECG5000_TEST.tsv", n_test)):
        y = rng.choice([1, 1, 1, 2, 3, 4, 5], size=n)
        y[:5] = [1, 2, 3, 4, 5]  # every class present in each file
        centre = np.where(y == 1, 0.5, 0.3 + 0.1 * (y - 2))
        width = np.where(y == 1, widths[0], widths[1])
        X = np.exp(-0.5 * ((t - centre[:, None]) / width[:, None]) ** 2)
        X += 0.05 * rng.standard_normal(X.shape)
        np.savetxt(folder / name, np.column_stack([y, X]), delimiter="\t", fmt="%.6g")
