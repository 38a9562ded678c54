"""``python -m minivae.experiments latent-multimodal``: the MMVAE (Shi et al. 2019) on two views of
the same digit, with cross-modal generation and coherence.

Modalities: the MNIST image (784 grey levels, Bernoulli) and a pen trajectory of its digit
generated from the label alone (:func:`minivae.data.strokes.make_strokes`: T = 32 points (x, y),
flattened to 64 numbers, Gaussian of fixed variance 0.01).  Model:
:class:`~minivae.models.mmvae.MMVAE` with MLP experts and decoders, trained on the stratified
bound with k samples per expert.

Coherence (Shi et al.'s measure): a small MLP classifier is trained here on each modality's real
training data; cross-generated samples are classified and compared with the true label of the
source.  Columns, mean +- std over the seeds:

* image -> stroke: the stroke classifier's accuracy on strokes generated from test images
  (z = the mean of q_image(z | x), then the stroke decoder's mean);
* stroke -> image: the image classifier's accuracy on images generated from test strokes;
* joint: how often the two classifiers agree on a joint sample (z ~ N(0, I), both decoders);
* seconds of training.

Baselines: **two unimodal VAEs** of the same sizes, "cross-generating" by handing one VAE's
code to the other's decoder (their latent spaces were never tied together, so this is what
coherence looks like without a shared posterior), and **chance** (10%).  The classifiers'
accuracy on the real test data of each modality is printed (the ceiling of the measure).
Figure ``latent_multimodal_cross.png``: test images and the strokes generated from them, test
strokes and the images generated from them, one digit of each class.

Sizes: full (no flag) 20000 training and 2000 test images, 10 epochs, batch 100, hidden 400,
latent 16, k = 1 (the stratified ELBO), 2 seeds; ``--quick`` 2000 / 500 images, 3 epochs, hidden
128.  Options: ``--seed S`` / ``--seeds A B``, ``--out DIR`` (default
``minivae_output/latent-multimodal``), ``--data-dir`` (default ``$MINIVAE_DATA_DIR``; never
downloaded here), ``--no-verify``, ``--no-figures``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import (
    add_mnist_options,
    blas_threads_note,
    experiment_parser,
    load_mnist_split,
    resolve_seeds,
    run_and_write,
    say,
    size_mode,
)
from minivae.experiments.latent import format_table, summarise
from minivae.nn.layer import Layer
from minivae.nn.sequential import MLP
from minivae.objectives.losses import softmax_cross_entropy, softmax_cross_entropy_grad

__all__ = ["SIZES", "STROKE_LENGTH", "STROKE_VARIANCE", "MLPClassifier", "Setting", "main", "run",
           "train_classifier"]

STROKE_LENGTH = 32
STROKE_VARIANCE = 0.01


@dataclass(frozen=True)
class Setting:
    """Sizes of a run: images, epochs, batch, hidden width, latent size, samples per expert,
    the classifiers' hidden width and epochs, seeds."""

    n_train: int
    n_test: int
    epochs: int
    batch_size: int
    hidden: int
    latent: int
    k: int
    clf_hidden: int
    clf_epochs: int
    n_seeds: int


SIZES: dict[str, Setting] = {
    "full": Setting(20000, 2000, 10, 100, 400, 16, 1, 128, 5, 2),
    "quick": Setting(2000, 500, 3, 100, 128, 16, 1, 64, 5, 2),
    "tiny": Setting(60, 20, 1, 20, 16, 4, 2, 8, 1, 1),
}


# ------------------------------------------------------------------------------ classifier
class MLPClassifier(Layer):
    """The coherence judge: an MLP x (N, D) -> class logits (N, K), softmax cross-entropy."""

    def __init__(self, input_dim: int, hidden: int, n_classes: int = 10, *, rng: int = 0,
                 dtype: object = np.float32) -> None:
        super().__init__(dtype)
        self.net = MLP([input_dim, hidden, n_classes], rng=rng, dtype=dtype, input_grad=False)
        self._dlogits: np.ndarray | None = None

    def loss(self, batch: tuple[np.ndarray, np.ndarray], *, rng: Any = None,
             mask: Any = None) -> tuple[float, dict[str, float]]:
        """The :func:`~minivae.train.train_step` interface: batch = (X (N, D), y (N,))."""
        X, y = batch
        logits = self.net.forward(X.astype(self.dtype)).astype(np.float64)
        value = softmax_cross_entropy(logits, y)
        self._dlogits = softmax_cross_entropy_grad(logits, y).astype(self.dtype)
        return value, {"loss": value}

    def backward(self) -> None:
        self.net.backward(self._dlogits)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (N,)."""
        return np.argmax(self.net.forward(np.asarray(X, dtype=self.dtype)), axis=1)


def train_classifier(X: np.ndarray, y: np.ndarray, hidden: int, epochs: int,
                     seed: int) -> MLPClassifier:
    """An :class:`MLPClassifier` trained with Adam (lr 1e-3, batch 64) on X (N, D), y (N,)."""
    from minivae.train import train_step
    from minivae.train.optim import Adam

    model = MLPClassifier(X.shape[1], hidden, rng=seed)
    opt = Adam(model, lr=1e-3)
    rng = np.random.default_rng([seed, 3])
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), 64):
            rows = order[start:start + 64]
            train_step(model, opt, (X[rows], y[rows]))
    return model


# ------------------------------------------------------------------------------ models
def _train(model: Any, X: np.ndarray, s: Setting, seed: int) -> float:
    from minivae.train import fit

    t0 = time.perf_counter()
    fit(model, X, epochs=s.epochs, batch_size=s.batch_size, lr=1e-3, rng=seed, verbose=0,
        diagnostics=False)
    return time.perf_counter() - t0


def _coherence(to_stroke, to_image, joint, clfs, y_te) -> dict[str, float]:
    img_clf, stroke_clf = clfs
    return {"image_to_stroke": float(np.mean(stroke_clf.predict(to_stroke) == y_te)),
            "stroke_to_image": float(np.mean(img_clf.predict(to_image) == y_te)),
            "joint": float(np.mean(img_clf.predict(joint[0]) == stroke_clf.predict(joint[1])))}


def run_mmvae(data, clfs, s: Setting, seed: int) -> tuple[dict[str, float], Any]:
    """Train the MMVAE; its coherence row and the model."""
    from minivae.models.mmvae import MMVAE

    (img, st, _), (img_te, st_te, y_te) = data
    model = MMVAE([784, 2 * STROKE_LENGTH], [s.hidden], s.latent, k=s.k,
                  decoder_variances=[None, STROKE_VARIANCE], rng=seed, dtype=np.float32)
    seconds = _train(model, model.join(img, st), s, seed)
    joint = model.sample(len(y_te), np.random.default_rng([seed, 13]))
    row = _coherence(model.cross_generate(img_te, 0, 1), model.cross_generate(st_te, 1, 0),
                     joint, clfs, y_te)
    return {**row, "seconds": seconds}, model


def run_unimodal(data, clfs, s: Setting, seed: int) -> dict[str, float]:
    """Two independent VAEs of the same sizes; codes handed across (no shared posterior)."""
    from minivae.models import VAE

    (img, st, _), (img_te, st_te, y_te) = data
    common = {"rng": seed, "dtype": np.float32}
    vae_img = VAE(784, [s.hidden], s.latent, **common)
    vae_st = VAE(2 * STROKE_LENGTH, [s.hidden], s.latent, likelihood="gaussian",
                 decoder_variance=STROKE_VARIANCE, **common)
    seconds = _train(vae_img, img, s, seed) + _train(vae_st, st, s, seed)
    z = np.random.default_rng([seed, 13]).standard_normal((len(y_te), s.latent))
    joint = (vae_img.decode(z.astype(np.float32)), vae_st.decode(z.astype(np.float32)))
    row = _coherence(vae_st.decode(vae_img.encode(img_te)[0]),
                     vae_img.decode(vae_st.encode(st_te)[0]), joint, clfs, y_te)
    return {**row, "seconds": seconds}


COLUMNS = (("image_to_stroke", "image → stroke"), ("stroke_to_image", "stroke → image"),
           ("joint", "joint (prior samples)"), ("seconds", "seconds"))


# ---------------------------------------------------------------------------------- figure
def plot_cross(model: Any, img_te: np.ndarray, st_te: np.ndarray, y_te: np.ndarray,
               path: Path):
    """Four rows over one test digit per class: image, the stroke generated from it (the
    true stroke in grey), stroke, the image generated from it."""
    from minivae import plots

    plt = plots.plt
    idx = [int(np.flatnonzero(y_te == c)[0]) for c in range(10) if np.any(y_te == c)]
    to_stroke = model.cross_generate(img_te[idx], 0, 1).reshape(-1, STROKE_LENGTH, 2)
    to_image = model.cross_generate(st_te[idx], 1, 0)
    strokes = st_te[idx].reshape(-1, STROKE_LENGTH, 2)
    fig, axes = plt.subplots(4, len(idx), figsize=(1.2 * len(idx) + 1, 5.4), squeeze=False)
    titles = ("test image", "→ stroke", "test stroke", "→ image")
    for j in range(len(idx)):
        axes[0, j].imshow(img_te[idx[j]].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        axes[1, j].plot(*strokes[j].T, color="0.75", lw=1)
        axes[1, j].plot(*to_stroke[j].T, color="C0", lw=1.5)
        axes[2, j].plot(*strokes[j].T, color="C1", lw=1.5)
        axes[3, j].imshow(to_image[j].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        for i in range(4):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i in (1, 2):
                ax.set_xlim(-1.4, 1.4)
                ax.set_ylim(-1.4, 1.4)
                ax.set_aspect("equal")
            if j == 0:
                ax.set_ylabel(titles[i], fontsize=8)
    fig.suptitle("MMVAE cross-modal generation (stroke rows: grey = the true stroke)")
    return plots.finish(fig, path, dpi=90)


# ---------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    p = experiment_parser("latent-multimodal",
                          "MMVAE (mixture-of-experts multimodal VAE, Shi et al. 2019) on MNIST "
                          "images and generated pen strokes: cross-modal coherence.",
                          "2000 images, 3 epochs, smaller networks")
    add_mnist_options(p)
    return p


def _load(args: argparse.Namespace, s: Setting, seed: int):
    """((images, strokes, labels) of training, then of test); strokes from the seed."""
    from minivae.data.strokes import make_strokes

    out = []
    for i, (split, n) in enumerate((("train", s.n_train), ("test", s.n_test))):
        X, y = load_mnist_split(args, split, n)
        y = np.asarray(y, dtype=np.int64)
        st = make_strokes(y, STROKE_LENGTH, rng=np.random.default_rng([seed, 17, i]),
                          dtype=np.float32).reshape(len(y), -1)
        out.append((X, st, y))
    return tuple(out)


def _run_seed(args, s: Setting, seed: int):
    data = _load(args, s, seed)
    (img, st, y), (img_te, st_te, y_te) = data
    clfs = (train_classifier(img, y, s.clf_hidden, s.clf_epochs, seed),
            train_classifier(st, y, s.clf_hidden, s.clf_epochs, seed))
    real = {"image": float(np.mean(clfs[0].predict(img_te) == y_te)),
            "stroke": float(np.mean(clfs[1].predict(st_te) == y_te))}
    say(f"seed {seed}: classifiers on real test data: image {real['image']:.3f}, stroke "
        f"{real['stroke']:.3f}")
    mm_row, model = run_mmvae(data, clfs, s, seed)
    uni_row = run_unimodal(data, clfs, s, seed)
    for label, row in (("MMVAE", mm_row), ("unimodal VAEs", uni_row)):
        say(f"  [{label}, seed {seed}] " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    return mm_row, uni_row, real, (model, data[1])


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the MMVAE and the unimodal baseline for every seed (sizes and seeds from the parsed
    ``args`` of this experiment's parser); returns "rows", "summary", "classifier_accuracy",
    "table", "tables" (the same, by name) and "figures" (paths; none with
    ``--no-figures``); prints no table (:func:`main` and the ``latent`` command do)."""
    mode = size_mode(args)
    s = SIZES[mode]
    seeds = resolve_seeds(_parser(), args, s.n_seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    say(f"latent-multimodal ({mode}): {s.n_train} train / {s.n_test} test digits, {s.epochs} "
        f"epochs, batch {s.batch_size}; image 784 + stroke {STROKE_LENGTH}x2, hidden "
        f"{s.hidden}, latent {s.latent}, k = {s.k}; seeds {list(seeds)}; {blas_threads_note()}")
    rows: dict[str, list[dict[str, Any]]] = {"MMVAE": [], "unimodal VAEs, codes swapped": [],
                                             "chance": []}
    reals, kept = [], None
    for seed in seeds:
        mm_row, uni_row, real, fig_data = _run_seed(args, s, seed)
        rows["MMVAE"].append(mm_row)
        rows["unimodal VAEs, codes swapped"].append(uni_row)
        rows["chance"].append({"image_to_stroke": 0.1, "stroke_to_image": 0.1, "joint": 0.1})
        reals.append(real)
        kept = kept or fig_data
    summary = summarise(rows, COLUMNS)
    table = format_table(summary, COLUMNS, {"image_to_stroke": 3, "stroke_to_image": 3,
                                            "joint": 3, "seconds": 0})
    figures: list[str] = []
    if not args.no_figures and kept is not None:
        from minivae.plots import close

        figures = [str(args.out / "latent_multimodal_cross.png")]
        model, (img_te, st_te, y_te) = kept
        close(plot_cross(model, img_te, st_te, y_te, Path(figures[0])))
    return {"tables": {"coherence": table}, "rows": rows, "summary": summary,
            "classifier_accuracy": reals, "table": table, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, :func:`run`, write results.json; returns 0."""
    return run_and_write(_parser(), argv, SIZES, run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
