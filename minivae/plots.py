"""The figures the demo, the time-series experiment and the lessons draw (matplotlib,
headless-safe), and how every experiment saves its own.

Each ``plot_*`` function takes plain arrays, draws one figure, saves it when ``path`` is given,
and returns the ``Figure`` so a notebook can show it.  Nothing here computes model quantities:
callers pass the numbers in, which keeps plots testable and the models free of plotting code.
The separation, volatility and MNIST experiments draw their special figures in their own modules
with :data:`plt` from here (the backend chosen once) and write them with :func:`finish` /
:func:`save`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

if "MPLBACKEND" not in os.environ and not os.environ.get("DISPLAY"):
    import matplotlib

    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def finish(fig: Figure, path: str | os.PathLike | None, *, dpi: int = 110) -> Figure:
    """Tighten the layout and, when ``path`` is given, write the figure there (folders are
    created); the figure stays open (a notebook shows it).  Returns ``fig``."""
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def save(fig: Figure, path: str | os.PathLike, *, dpi: int = 110) -> str:
    """:func:`finish` to ``path``, then close the figure (scripts); returns the path."""
    close(finish(fig, path, dpi=dpi))
    return str(path)


def close(fig: Figure) -> None:
    """Release a figure's memory (scripts that draw many figures call this)."""
    plt.close(fig)


def plot_history(history: Mapping[str, Sequence[float]], path=None, *, title: str = "Training"):
    """Loss curves: every key of ``history`` holding a list of per-epoch numbers whose name
    contains 'loss', 'reconstruction' or 'kl' (train and validation) on one axis each."""
    groups = [k for k in ("loss", "reconstruction", "kl") if any(k in key for key in history)]
    fig, axes = plt.subplots(1, max(len(groups), 1), figsize=(4 * max(len(groups), 1), 3))
    axes = np.atleast_1d(axes)
    for ax, group in zip(axes, groups):
        for key, values in history.items():
            if group in key and "per_dim" not in key and np.ndim(values) == 1 and len(values):
                ax.plot(np.arange(1, len(values) + 1), values, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(group)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return finish(fig, path)


def plot_image_reconstructions(
    originals: np.ndarray, reconstructions: np.ndarray, path=None, *, image_shape=(28, 28), n=10
):
    """Top row originals, bottom row reconstructions.  originals, reconstructions: (N, H*W)."""
    n = min(n, len(originals))
    fig, axes = plt.subplots(2, n, figsize=(1.1 * n, 2.4))
    axes = np.asarray(axes).reshape(2, n)
    for i in range(n):
        for row, data in enumerate((originals, reconstructions)):
            image = np.asarray(data[i]).reshape(image_shape)
            axes[row, i].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[row, i].axis("off")
    axes[0, 0].set_title("input", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    return finish(fig, path)


def plot_image_grid(images: np.ndarray, path=None, *, image_shape=(28, 28), ncols=None, title=None):
    """A grid of images (N, H*W), e.g. samples from the prior or a class-conditional grid."""
    images = np.asarray(images)
    n = len(images)
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    h, w = image_shape
    canvas = np.ones((nrows * h, ncols * w))
    for k in range(n):
        r, c = divmod(k, ncols)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = images[k].reshape(image_shape)
    fig, ax = plt.subplots(figsize=(0.5 * ncols + 1, 0.5 * nrows + 1))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return finish(fig, path)


def plot_manifold(decoded: np.ndarray, grid_values: np.ndarray, path=None, *, image_shape=(28, 28)):
    """Decoded images over a 2-D latent grid.  decoded: (n*n, H*W) ordered row by row with z2
    decreasing down the rows and z1 increasing across the columns; grid_values: (n,)."""
    n = len(grid_values)
    h, w = image_shape
    canvas = np.asarray(decoded).reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    # Ticks at cell centres labelled with the actual grid values: the grid need not be evenly
    # spaced (an inverse-normal grid is denser near 0), so a linear axis would mislabel it.
    step = max(1, n // 7)
    centres = (np.arange(0, n, step) + 0.5) * w
    values = np.asarray(grid_values, dtype=float)[::step]
    ax.set_xticks(centres, [f"{v:.2g}" for v in values])
    values_down = np.asarray(grid_values, dtype=float)[::-1][::step]  # rows: z[1] decreasing
    ax.set_yticks((np.arange(0, n, step) + 0.5) * h, [f"{v:.2g}" for v in values_down])
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title("decoded latent manifold")
    return finish(fig, path)


def plot_latent_scatter(
    z: np.ndarray, labels: np.ndarray | None = None, path=None, *, title="latent codes",
    label_name="label",
):
    """2-D scatter of latent means (N, 2) coloured by label.  Codes with more than two dimensions
    are projected onto their first two principal components (stated in the axis labels)."""
    z = np.asarray(z, dtype=float)
    xlabel, ylabel = "z[0]", "z[1]"
    if z.shape[1] > 2:
        centered = z - z.mean(axis=0)
        _, _, vt = np.linalg.svd(centered, full_matrices=False)
        z = centered @ vt[:2].T
        xlabel, ylabel = "PC 1 of z", "PC 2 of z"
    fig, ax = plt.subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=4, alpha=0.6)
    else:
        labels = np.asarray(labels)
        sc = ax.scatter(z[:, 0], z[:, 1], c=labels, s=4, alpha=0.7,
                        cmap="tab10" if labels.dtype.kind in "iub" else "viridis")
        fig.colorbar(sc, ax=ax, label=label_name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return finish(fig, path)


def plot_series_reconstructions(
    x: np.ndarray, x_hat: np.ndarray, path=None, *, n=4, std: np.ndarray | None = None,
    title="input vs reconstruction",
):
    """Sequences (N, T, D) or (N, T): input (black) vs reconstruction (colour), first channel,
    with a +-2 std band when the model predicts a variance."""
    x = np.asarray(x)
    x_hat = np.asarray(x_hat)
    if x.ndim == 3:
        x, x_hat = x[..., 0], x_hat[..., 0]
        std = None if std is None else np.asarray(std)[..., 0]
    n = min(n, len(x))
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.7 * n), sharex=True)
    axes = np.atleast_1d(axes)
    t = np.arange(x.shape[1])
    for i, ax in enumerate(axes):
        ax.plot(t, x[i], color="black", lw=1, label="input")
        ax.plot(t, x_hat[i], color="tab:orange", lw=1.2, label="reconstruction")
        if std is not None:
            ax.fill_between(t, x_hat[i] - 2 * std[i], x_hat[i] + 2 * std[i],
                            color="tab:orange", alpha=0.2, label="±2 std")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[0].set_title(title)
    axes[-1].set_xlabel("time step")
    return finish(fig, path)


def plot_anomaly_scores(
    series: np.ndarray, scores: np.ndarray, threshold: float, labels: np.ndarray | None = None,
    path=None, *, title="anomaly score",
):
    """Top: the series with true anomalies shaded; bottom: the score, the threshold, detections."""
    series = np.asarray(series)
    if series.ndim == 2:
        series = series[:, 0]
    scores = np.asarray(scores)
    t = np.arange(len(series))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
    ax1.plot(t, series, color="black", lw=0.8)
    ax2.plot(t, scores, color="tab:blue", lw=0.8, label="score")
    ax2.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    detected = scores > threshold
    ax2.fill_between(t, 0, 1, where=detected, transform=ax2.get_xaxis_transform(),
                     color="tab:red", alpha=0.15, label="detected")
    if labels is not None:
        ax1.fill_between(t, 0, 1, where=np.asarray(labels, bool),
                         transform=ax1.get_xaxis_transform(), color="tab:green", alpha=0.25,
                         label="true anomaly")
        ax1.legend(fontsize=7, loc="upper right")
    ax2.legend(fontsize=7, loc="upper right")
    ax1.set_title(title)
    ax2.set_xlabel("time step")
    return finish(fig, path)


def plot_imputation(
    truth: np.ndarray, observed_mask: np.ndarray, estimates: Mapping[str, np.ndarray], path=None,
    *, title="imputed gaps vs truth",
):
    """One series (T,): truth, observed points, and each method's estimate inside the gaps."""
    truth = np.asarray(truth).reshape(-1)
    observed_mask = np.asarray(observed_mask, bool).reshape(-1)
    t = np.arange(len(truth))
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(t, truth, color="black", lw=1, alpha=0.5, label="truth")
    ax.fill_between(t, 0, 1, where=~observed_mask, transform=ax.get_xaxis_transform(),
                    color="grey", alpha=0.15, label="missing")
    for name, est in estimates.items():
        est = np.asarray(est).reshape(-1)
        shown = np.where(~observed_mask, est, np.nan)
        ax.plot(t, shown, lw=1.4, label=name)
    ax.legend(fontsize=7, ncol=3, loc="upper right")
    ax.set_title(title)
    ax.set_xlabel("time step")
    return finish(fig, path)
