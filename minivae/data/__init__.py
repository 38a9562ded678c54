"""Data for minivae: MNIST, synthetic series with anomalies/missingness, windows, scalers, files.

* :mod:`minivae.data.mnist` — verified MNIST loader (IDX files, MD5 checks, offline-friendly).
* :mod:`minivae.data.synthetic` — seeded sines, random walks, regimes, ECG, anomaly injectors,
  missingness masks and source-separation mixtures.
* :mod:`minivae.data.windows` — sliding windows and averaging per-window results back to steps.
* :mod:`minivae.data.scaling` — per-feature scalers fitted on training data (NaN-aware).
* :mod:`minivae.data.io` — load a series from .csv/.txt/.npy/.npz; a recording with
  timestamps and labels (:func:`read_series_table`), anomaly windows from JSON; UCR/UEA archive
  files (:func:`load_ucr`).
"""

from minivae.data.io import (
    SeriesTable,
    labels_from_windows,
    load_anomaly_windows,
    load_series,
    load_ucr,
    read_series_table,
)
from minivae.data.mnist import (
    MNIST_MIRRORS,
    IdxFormatError,
    default_mnist_dir,
    load_mnist,
    mnist_available,
    read_idx,
    resolve_mnist_dir,
)
from minivae.data.scaling import MinMaxScaler, StandardScaler, scaler_from_dict
from minivae.data.synthetic import (
    ANOMALY_KINDS,
    BEAT_ANOMALY_KINDS,
    ECG,
    ECG_WAVES,
    apply_mask,
    ecg,
    ecg_dataset,
    ecg_windows,
    fetal_maternal_mixture,
    harmonic_sources,
    inject_abnormal_beats,
    inject_anomalies,
    inject_flat_line,
    inject_frequency_change,
    inject_level_shift,
    inject_noise_burst,
    inject_spikes,
    mask_gaps,
    mask_mcar,
    multi_sine,
    random_walk,
    regime_series,
    sine_dataset,
)
from minivae.data.windows import sliding_windows, window_starts, windows_at, windows_to_series

__all__ = [
    # mnist
    "MNIST_MIRRORS",
    "IdxFormatError",
    "default_mnist_dir",
    "load_mnist",
    "mnist_available",
    "read_idx",
    "resolve_mnist_dir",
    # synthetic
    "ANOMALY_KINDS",
    "BEAT_ANOMALY_KINDS",
    "ECG",
    "ECG_WAVES",
    "apply_mask",
    "ecg",
    "ecg_dataset",
    "ecg_windows",
    "fetal_maternal_mixture",
    "harmonic_sources",
    "inject_abnormal_beats",
    "inject_anomalies",
    "inject_flat_line",
    "inject_frequency_change",
    "inject_level_shift",
    "inject_noise_burst",
    "inject_spikes",
    "mask_gaps",
    "mask_mcar",
    "multi_sine",
    "random_walk",
    "regime_series",
    "sine_dataset",
    # windows
    "sliding_windows",
    "window_starts",
    "windows_at",
    "windows_to_series",
    # scaling
    "MinMaxScaler",
    "StandardScaler",
    "scaler_from_dict",
    # io
    "load_series",
    # io: a user's own recordings
    "SeriesTable",
    "read_series_table",
    "load_anomaly_windows",
    "labels_from_windows",
    "load_ucr",
]
