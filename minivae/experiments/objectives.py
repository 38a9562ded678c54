"""``python -m minivae.experiments objectives``: one VAE architecture, every objective, on MNIST.

The same encoder and decoder (784-H-2L and L-H-784, ReLU, Bernoulli pixels, on statically
binarized MNIST) trained as

* VAE (the ELBO) and beta-VAE (beta = 4);
* IWAE (Burda et al., 2016) with k = 5 and k = 50;
* IWAE with the STL (Roeder et al., 2017) and DReG (Tucker et al., 2019) gradient estimators;
* the variational Renyi bound VR-0.5 and VR-max (Li & Turner, 2016);
* InfoVAE (Zhao et al., 2019; alpha = 0, lambda = 100, RBF kernel) and WAE-MMD (Tolstikhin et al.,
  2018; lambda = 10, IMQ kernel);
* the ITL autoencoder (Santana et al., 2016) with the CS and the Euclidean divergence between
  the batch of codes and standard-normal samples (Parzen bandwidth 1, weight 10;
  :func:`itl_models`).  It has no q(z | x): its bounds use the proposal N(code(x), 0.1^2 I)
  (:class:`ProposalModel`), valid estimates of the same generative model's log p(x), tight
  only as far as that proposal fits the posterior; its KL column is that proposal's KL.

STL, DReG, VR-alpha and VR-max use k = 5 samples like IWAE k = 5.  For each model and seed the
run reports, on the first ``n_ll`` test images: the test log-likelihood log p(x) estimated by
importance sampling with ``ll_k`` samples from q(z | x) (the IWAE bound at k = ll_k, decoded in
chunks of samples so memory stays bounded), the IWAE bound L_50, the ELBO (10 samples, KL in
closed form), the KL, the active units (Var_x E[z_l | x] > 0.01, Burda et al.) and the seconds
per training epoch, wall-clock and CPU (the process's CPU time: on a machine shared with other
jobs the wall-clock time measures the load as much as the model); the table gives mean +- std
over the seeds.  A grid of 64 samples (pixel
means of p(x | z), z ~ N(0, I)) per model goes into ``samples.png``.

Then the gradient signal-to-noise ratio (Rainforth et al., 2018): at the parameters of the
seed-0 VAE, for each k the encoder and decoder gradients of the IWAE loss on one fixed mini-batch
are drawn ``snr_reps`` times with the standard (reparameterized) estimator and with DReG; the SNR
of a parameter is |mean| / std over the draws, averaged over the parameters with a non-zero
std.  The encoder SNR of IWAE falls as k grows (about as 1/sqrt(k)); DReG's does not; the
decoder's (the same estimator in both) grows.  Figure: ``gradient_snr.png``.

The full run (no size flag): the first 3000 training images, 5 epochs, batch 50, 784-100-2x16,
bounds on the first 200 test images with ll_k = 1000, 2 seeds, SNR at k = 1 ... 300 with 100
draws on 10 images; 11 minutes on a shared 2-core machine under ``nice -n 10`` (README,
"Experiments").

Options: ``--quick`` (a few minutes), ``--seed S`` / ``--seeds A B``, ``--out DIR`` (default
``minivae_output/objectives``), ``--data-dir`` (default ``$MINIVAE_DATA_DIR``; MNIST is never
downloaded by this experiment), ``--no-verify``, ``--no-figures``.  Set
``OPENBLAS_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_record,
    say,
    write_results,
)

__all__ = ["SIZES", "ProposalModel", "Setting", "effective_sample_size", "gradient_snr",
           "itl_models", "main", "model_specs", "plot_gradient_snr"]


@dataclass(frozen=True)
class Setting:
    """Sizes of a run: training images, test images for the bounds, epochs, batch, hidden width,
    latent size, importance samples of log p(x), seeds, and the SNR study (k values, draws,
    mini-batch size)."""

    n_train: int
    n_ll: int
    epochs: int
    batch_size: int
    hidden: int
    latent: int
    ll_k: int
    n_seeds: int
    snr_ks: tuple[int, ...]
    snr_reps: int
    snr_batch: int


SIZES: dict[str, Setting] = {
    "full": Setting(3000, 200, 5, 50, 100, 16, 1000, 2, (1, 3, 10, 30, 100, 300), 100, 10),
    "quick": Setting(2000, 200, 2, 100, 100, 8, 1000, 1, (1, 10, 100), 50, 10),
    "tiny": Setting(60, 10, 1, 20, 8, 2, 20, 1, (1, 4), 4, 3),
}

BETA = 4.0
K_SMALL, K_LARGE = 5, 50


def model_specs() -> list[tuple[str, dict[str, Any]]]:
    """(label, VAE keyword arguments) of every model of the comparison, ITL autoencoders last."""
    k = K_SMALL
    specs = [
        ("VAE", {"objective": "elbo"}),
        (f"beta-VAE (beta={BETA:g})", {"objective": "elbo", "beta": BETA}),
        (f"IWAE k={K_SMALL}", {"objective": "iwae", "k": K_SMALL}),
        (f"IWAE k={K_LARGE}", {"objective": "iwae", "k": K_LARGE}),
        (f"IWAE-STL k={k}", {"objective": "iwae_stl", "k": k}),
        (f"IWAE-DReG k={k}", {"objective": "iwae_dreg", "k": k}),
        (f"VR-0.5 k={k}", {"objective": "vr", "alpha": 0.5, "k": k}),
        (f"VR-max k={k}", {"objective": "vr_max", "k": k}),
        ("InfoVAE", {"objective": "infovae", "alpha": 0.0, "mmd_lambda": 100.0,
                     "kernel": "rbf"}),
        ("WAE-MMD", {"objective": "wae", "mmd_lambda": 10.0, "kernel": "imq"}),
    ]
    return specs + itl_models()


ITL_SIGMA, ITL_LAMBDA = 1.0, 10.0
#: The ITL autoencoder has no q(z | x): its bounds use the proposal N(code(x), s^2 I).
ITL_PROPOSAL_STD = 0.1


def itl_models() -> list[tuple[str, dict[str, Any]]]:
    """The ITL autoencoder (Santana et al.; :class:`~minivae.models.itl_autoencoder.
    ITLAutoencoder`) with the CS and the Euclidean divergence to a standard-normal prior
    (Parzen bandwidth ITL_SIGMA, weight ITL_LAMBDA), the same encoder and decoder widths (its
    encoder ends with L numbers, not 2L)."""
    common = {"model": "itl", "prior": "gaussian", "sigma": ITL_SIGMA, "lam": ITL_LAMBDA}
    return [("ITL-AE (CS)", {**common, "divergence": "cs"}),
            ("ITL-AE (Euclidean)", {**common, "divergence": "euclidean"})]


def _build(spec: dict[str, Any], s: Setting, seed: int, dtype: str):
    from minivae.models import VAE

    if spec.get("model") == "itl":
        from minivae.models.itl_autoencoder import ITLAutoencoder

        kw = {k: v for k, v in spec.items() if k != "model"}
        return ITLAutoencoder(784, [s.hidden], s.latent, activation="relu", output="bernoulli",
                              rng=seed, dtype=dtype, **kw)
    return VAE(784, [s.hidden], s.latent, likelihood="bernoulli", activation="relu", rng=seed,
               dtype=dtype, **spec)


class ProposalModel:
    """A deterministic autoencoder seen as the generative model p(z) = N(0, I),
    p(x | z) = Bernoulli(decoder(z)), with the proposal q(z | x) = N(code(x), s^2 I): the
    same bounds as a VAE's (ELBO, L_k, log p(x) by importance sampling), each a valid
    estimate for any proposal, tight only as far as the proposal fits the posterior."""

    def __init__(self, model: Any, std: float) -> None:
        self.model, self.std = model, std

    def _q(self, X: np.ndarray):
        from minivae.objectives.distributions import DiagonalGaussian

        code = self.model.encode(X).astype(np.float64)
        return DiagonalGaussian(code, np.full_like(code, 2.0 * math.log(self.std)))

    def _log_weights(self, X: np.ndarray, k: int, rng: np.random.Generator):
        from minivae.models.base import sample_chunks, tile_samples
        from minivae.objectives.iwae import iwae_log_weights
        from minivae.objectives.losses import bernoulli_nll

        q, n = self._q(X), X.shape[0]
        log_w, recs = [], []
        for kc in sample_chunks(k, n * X.shape[1]):
            z = q.sample(rng, n_samples=kc)
            logits = self.model.decoder.forward(z.reshape(kc * n, -1).astype(X.dtype))
            rec = bernoulli_nll(logits, tile_samples(X, kc), reduction="none").reshape(kc, n)
            log_w.append(iwae_log_weights(rec, z, q))
            recs.append(rec)
        return np.concatenate(log_w), np.concatenate(recs), q

    def iwae_bound(self, X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        from minivae.nn.functional import log_mean_exp

        return log_mean_exp(self._log_weights(X, k, rng)[0], axis=0)

    def log_likelihood(self, X: np.ndarray, k: int, *, rng: np.random.Generator) -> np.ndarray:
        return self.iwae_bound(X, k, rng)

    def elbo(self, X: np.ndarray, rng: np.random.Generator, n_samples: int) -> np.ndarray:
        _, rec, q = self._log_weights(X, n_samples, rng)
        return -rec.mean(axis=0) - q.kl_standard_normal()

    def encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self._q(X)
        return q.mu, q.logvar

    def kl_per_dimension(self, X: np.ndarray) -> np.ndarray:
        return self._q(X).kl_standard_normal(per_dimension=True).mean(axis=0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.model.decode(rng.standard_normal((n, self.model.latent_dim)))


def _load(args: argparse.Namespace, s: Setting) -> tuple[np.ndarray, np.ndarray]:
    """Statically binarized train and test images (one Bernoulli(pixel) draw per pixel, fixed by
    a constant seed so every model and seed sees the same data)."""
    from minivae.data.mnist import load_mnist

    dtype = np.dtype(args.dtype)
    kw = {"verify": not args.no_verify, "dtype": dtype, "download": False}
    X, _ = load_mnist(args.data_dir, split="train", limit=s.n_train, **kw)
    X_te, _ = load_mnist(args.data_dir, split="test", limit=s.n_ll, **kw)
    rng = np.random.default_rng(12345)
    return ((rng.random(X.shape) < X).astype(dtype), (rng.random(X_te.shape) < X_te).astype(dtype))


def evaluate(model: Any, X: np.ndarray, ll_k: int, seed: int, chunk: int = 50) -> dict[str, Any]:
    """Test log-likelihood (k = ll_k), L_50, ELBO (10 samples), KL and active units on X, in
    chunks of ``chunk`` rows (the model also decodes the samples of a chunk in pieces)."""
    from minivae.train.diagnostics import active_units

    rng = np.random.default_rng([seed, 99])
    ll, l50, elbo = [], [], []
    for start in range(0, X.shape[0], chunk):
        xb = X[start:start + chunk]
        ll.append(model.log_likelihood(xb, ll_k, rng=rng))
        l50.append(model.iwae_bound(xb, K_LARGE, rng))
        elbo.append(model.elbo(xb, rng, n_samples=10))
    ll_all = np.concatenate(ll).astype(np.float64)
    mu, _ = model.encode(X)
    return {"test_ll": float(ll_all.mean()),
            "test_ll_sem": float(ll_all.std(ddof=1) / math.sqrt(ll_all.size)),
            "iwae_50": float(np.concatenate(l50).mean()),
            "elbo": float(np.concatenate(elbo).mean()),
            "kl": float(model.kl_per_dimension(X).sum()),
            "active_units": active_units(mu) if mu.shape[0] >= 2 else 0}


def _train_and_evaluate(label: str, spec: dict[str, Any], X: np.ndarray, X_te: np.ndarray,
                        s: Setting, seed: int, dtype: str) -> tuple[dict[str, Any], Any]:
    from minivae.train import fit

    model = _build(spec, s, seed, dtype)
    cpu0 = time.process_time()
    history = fit(model, X, epochs=s.epochs, batch_size=s.batch_size, lr=1e-3, rng=seed,
                  verbose=0, diagnostics=False)
    sec = float(np.mean(history["time"]))
    cpu = (time.process_time() - cpu0) / s.epochs
    t0 = time.perf_counter()
    if spec.get("model") == "itl":
        model = ProposalModel(model, ITL_PROPOSAL_STD)
    row = {"seconds_per_epoch": sec, "cpu_seconds_per_epoch": cpu,
           "final_train_loss": float(history["loss"][-1]), **evaluate(model, X_te, s.ll_k, seed)}
    say(f"[seed {seed}] {label:<22} train loss {row['final_train_loss']:8.2f}  log p(x) "
        f"{row['test_ll']:8.2f}  L_50 {row['iwae_50']:8.2f}  ELBO {row['elbo']:8.2f}  KL "
        f"{row['kl']:6.2f}  active {row['active_units']:>2}/{s.latent}  {sec:5.1f} s/epoch (CPU "
        f"{cpu:.1f} s)  "
        f"(eval {time.perf_counter() - t0:.0f} s)")
    return row, model


# ---------------------------------------------------------------------------- gradient SNR
def _grad_vectors(model: Any) -> tuple[np.ndarray, np.ndarray]:
    enc = [g.ravel() for name, _, g in model.parameters() if name.startswith("encoder.")]
    dec = [g.ravel() for name, _, g in model.parameters() if name.startswith("decoder.")]
    return np.concatenate(enc).astype(np.float64), np.concatenate(dec).astype(np.float64)


def _snr_of_draws(total: np.ndarray, total_sq: np.ndarray, reps: int) -> float:
    """Mean over parameters of |mean| / std from running sums (parameters whose gradient never
    varies, e.g. weights of always-black pixels, are left out)."""
    mean = total / reps
    std = np.sqrt(np.maximum(total_sq / reps - mean**2, 0.0) * reps / (reps - 1))
    keep = std > 1e-12 * (np.abs(mean).max() + 1e-300)
    return float(np.mean(np.abs(mean[keep]) / std[keep]))


def effective_sample_size(model: Any, X: np.ndarray, k: int, rng: np.random.Generator) -> float:
    """Mean over the examples of X of the importance weights' effective sample size
    1 / sum_i w~_i^2 (between 1: one weight dominates, and k: all equal), from one draw of k
    samples each."""
    from minivae.nn.functional import logsumexp

    log_w, _, _ = model._log_weights(X, None, None, k, rng)
    w = np.exp(log_w - logsumexp(log_w, axis=0, keepdims=True))
    return float(np.mean(1.0 / np.sum(w**2, axis=0)))


def gradient_snr(model: Any, X: np.ndarray, objective: str, ks: tuple[int, ...], reps: int,
                 seed: int) -> dict[str, list[float]]:
    """SNR of the encoder and decoder gradient estimates against k (module docstring) at the
    parameters of ``model``, for ``objective`` "iwae" or "iwae_dreg", on the batch X."""
    from minivae.models import VAE

    out: dict[str, list[float]] = {"encoder": [], "decoder": [], "ess": []}
    for k in ks:
        config = {**model.config(), "objective": objective, "k": k, "dtype": "float64"}
        twin = VAE(**config)
        for (_, p, _), (_, p2, _) in zip(model.parameters(), twin.parameters()):
            p2[...] = p
        rng = np.random.default_rng([seed, k])
        out["ess"].append(effective_sample_size(twin, X, k, rng))
        sums = None
        for _ in range(reps):
            twin.zero_grad()
            twin.loss(X, rng=rng)
            twin.backward()
            enc, dec = _grad_vectors(twin)
            draw = (enc, enc**2, dec, dec**2)
            sums = draw if sums is None else tuple(a + b for a, b in zip(sums, draw))
        out["encoder"].append(_snr_of_draws(sums[0], sums[1], reps))
        out["decoder"].append(_snr_of_draws(sums[2], sums[3], reps))
    return out


def plot_gradient_snr(snr: dict[str, dict[str, list[float]]], ks: tuple[int, ...],
                      path: Path | None = None):
    """Encoder and decoder SNR against k (log-log), one line per estimator: ``snr`` maps a label
    to :func:`gradient_snr`'s result.  Returns the figure (written to ``path`` if given)."""
    from minivae import plots

    fig, axes = plots.plt.subplots(1, 2, figsize=(8.0, 3.3))
    for ax, part in zip(axes, ("encoder", "decoder")):
        for (label, values), style in zip(snr.items(), ("o-", "s--")):
            ax.plot(ks, values[part], style, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("k (importance samples)")
        ax.set_title(f"{part} gradient SNR" + ("" if part == "encoder" else
                                                   "\n(the same estimator: lines coincide)"),
                     fontsize=10)
    axes[0].set_ylabel("mean |E g| / std g over parameters")
    axes[0].legend(fontsize=8)
    return plots.finish(fig, path, dpi=100)


def _plot_samples(grids: dict[str, np.ndarray], path: Path):
    from minivae import plots

    n = len(grids)
    cols = min(n, 4)
    rows = int(math.ceil(n / cols))
    fig, axes = plots.plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (label, images) in zip(np.ravel(axes), grids.items()):
        canvas = images.reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(224, 224)
        ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
        ax.set_title(label, fontsize=8)
    return plots.finish(fig, path, dpi=100)


# ---------------------------------------------------------------------------------- table
COLUMNS = (("test_ll", "log p(x)"), ("iwae_50", "L_50"), ("elbo", "ELBO"), ("kl", "KL"),
           ("active_units", "active"), ("seconds_per_epoch", "s/epoch"),
           ("cpu_seconds_per_epoch", "CPU s/epoch"))


def summarise(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, list[float]]]:
    """Mean and std over seeds of every column, per model: {label: {column: [mean, std]}}."""
    out = {}
    for label, per_seed in rows.items():
        out[label] = {}
        for key, _ in COLUMNS:
            v = np.array([r[key] for r in per_seed], dtype=np.float64)
            out[label][key] = [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0]
    return out


def format_table(summary: dict[str, dict[str, list[float]]], s: Setting) -> str:
    """The results as a Markdown table (mean +- std over seeds)."""
    head = "| model | " + " | ".join(name for _, name in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for label, cols in summary.items():
        cells = []
        for key, _ in COLUMNS:
            m, sd = cols[key]
            cells.append(f"{m:.1f}/{s.latent}" if key == "active_units" else f"{m:.2f} ± {sd:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    p = experiment_parser("objectives", "One VAE architecture trained with every objective on "
                          "binarized MNIST; gradient SNR of IWAE vs DReG.",
                          "smaller models, 2000 images, 1 seed (a few minutes)")
    p.add_argument("--data-dir", default=None,
                   help="directory of the MNIST IDX files (default $MINIVAE_DATA_DIR)")
    p.add_argument("--no-verify", action="store_true", help="skip the MD5/size checks")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    return p


def _run_models(args, s: Setting, seeds, X, X_te):
    rows: dict[str, list[dict[str, Any]]] = {}
    grids: dict[str, np.ndarray] = {}
    snr_model = None
    for seed in seeds:
        for label, spec in model_specs():
            row, model = _train_and_evaluate(label, spec, X, X_te, s, seed, args.dtype)
            rows.setdefault(label, []).append(row)
            if seed == seeds[0]:
                grids[label] = model.sample(64, np.random.default_rng([seed, 2]))
                if spec.get("objective") == "elbo" and "beta" not in spec:
                    snr_model = model
    return rows, grids, snr_model


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; returns 0."""
    from minivae.plots import close

    parser = _parser()
    args, mode, s, seeds = parse_run(parser, argv, SIZES)
    args.out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    say(f"objectives ({mode}): {s.n_train} train images, {s.n_ll} test images, {s.epochs} "
        f"epochs, batch {s.batch_size}, 784-{s.hidden}-{s.latent} (x2), log p(x) with k = "
        f"{s.ll_k}, seeds {list(seeds)}; {blas_threads_note()}")
    X, X_te = _load(args, s)
    rows, grids, snr_model = _run_models(args, s, seeds, X, X_te)
    summary = summarise(rows)
    table = format_table(summary, s)
    say("\n" + table)
    vae = summary["VAE"]
    gap = summary[f"IWAE k={K_LARGE}"]["iwae_50"][0] - summary[f"IWAE k={K_LARGE}"]["elbo"][0]
    say(f"\nIWAE k={K_LARGE}: L_50 - ELBO of the same model = {gap:.2f} nats")
    X_snr = X[: s.snr_batch].astype(np.float64)
    snr = {name: gradient_snr(snr_model, X_snr, obj, s.snr_ks, s.snr_reps, seeds[0])
           for name, obj in (("IWAE", "iwae"), ("DReG", "iwae_dreg"))}
    say("\ngradient SNR (mean over parameters), k = " + ", ".join(map(str, s.snr_ks)))
    for name, v in snr.items():
        say(f"  {name:<5} encoder " + " ".join(f"{x:7.3f}" for x in v["encoder"])
            + "   decoder " + " ".join(f"{x:7.3f}" for x in v["decoder"]))
    say("  effective sample size of the weights: "
        + " ".join(f"{x:.2f}" for x in snr["IWAE"]["ess"]))
    results = {**run_record(mode, seeds, s, argv), "rows": rows, "summary": summary,
               "table": table, "iwae50_minus_elbo": gap, "vae_test_ll": vae["test_ll"][0],
               "snr": snr}
    figures = None
    if not args.no_figures:
        figures = [str(args.out / "samples.png"), str(args.out / "gradient_snr.png")]
        close(_plot_samples(grids, Path(figures[0])))
        close(plot_gradient_snr(snr, s.snr_ks, Path(figures[1])))
    write_results(results, args.out, t_start, figures)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
