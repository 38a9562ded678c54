"""``python -m minivae.demo``: the main job of minivae on a laptop CPU, offline, in about a minute.

What it does, step by step (every number is seeded: the same ``--seed`` prints the same table):

1. generates an ECG-like training series with about 10 % of its samples missing (random points
   and gaps) and a separate test series with injected anomalies (spikes, noise bursts, abnormal
   beats, flat lines);
2. trains an LSTM-VAE (Park et al. 2018 style: LSTM encoder -> Gaussian z -> LSTM decoder fed z
   at every step -> per-step Gaussian mean and log-variance) on windows of the incomplete series
   with the mask-aware loss (missing samples contribute nothing);
3. anomaly detection: scores the test series by the reconstruction probability of An & Cho (the
   negative average log-likelihood over L latent samples), thresholds it at mu + k*sigma of the
   scores on held-out normal data, and compares with a rolling z-score baseline;
4. imputation: removes known gaps from a clean series and fills them with the LSTM-VAE
   (iterated reconstruction), mean fill, linear interpolation and a Gaussian process;
5. prints the table and writes the figures to the output folder it names at the end.

``python -m minivae.demo mnist`` runs the MNIST latent-space demo when the data is available.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m minivae.demo", description=__doc__.split("\n")[0])
    p.add_argument("task", nargs="?", default="ecg", choices=("ecg", "mnist"),
                   help="ecg (default): LSTM-VAE anomaly detection + imputation; mnist: latent "
                        "space of a 2-D VAE on MNIST")
    p.add_argument("--quick", action="store_true", help="smaller data and fewer epochs")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument("--out", default="minivae_output/demo", help="folder for the figures")
    p.add_argument("--backend", choices=("numpy", "numba"), default=None,
                   help="numpy (readable reference) or numba (accelerated); default: "
                        "MINIVAE_BACKEND or numba when installed")
    p.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    p.add_argument("--data-dir", default=None, help="MNIST folder (mnist task)")
    return p.parse_args(argv)


def _say(msg: str) -> None:
    print(msg, flush=True)


def run_ecg(args: argparse.Namespace) -> int:
    from minivae import plots
    from minivae.anomaly import AnomalyDetector, rolling_zscore_scores
    from minivae.data import ecg, inject_anomalies, mask_gaps, mask_mcar
    from minivae.imputation_study import ModelImputer
    from minivae.impute import impute_gp, impute_linear, impute_mean
    from minivae.metrics import pr_auc, precision_recall_f1, roc_auc
    from minivae.models import LSTMVAE

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    seeds = rng.integers(0, 2**31 - 1, size=8)
    fs = 125.0
    window = 64
    quick = args.quick
    minutes_train = 1.5 if quick else 4.0
    epochs = args.epochs or (6 if quick else 12)
    hidden, latent = (24, 4) if quick else (32, 6)

    # 1. data ---------------------------------------------------------------------------------
    t0 = time.perf_counter()
    train = ecg(duration=60 * minutes_train, fs=fs, heart_rate=72, rng=int(seeds[0])).signal
    normal_val = ecg(duration=60 * 1.0, fs=fs, heart_rate=72, rng=int(seeds[1])).signal
    test_ecg = ecg(duration=60 * (0.75 if quick else 1.5), fs=fs, heart_rate=72,
                   rng=int(seeds[2]))
    test, labels = inject_anomalies(
        test_ecg.signal,
        kinds=("spike", "noise_burst", "flat_line", "wide_qrs", "inverted_t", "missing_beat"),
        n=6 if quick else 10, r_peaks=test_ecg.r_peaks, fs=fs, rng=int(seeds[3]))
    observed = mask_mcar(train.shape, 0.05, rng=int(seeds[4])) & mask_gaps(
        train.shape, missing_rate=0.05, gap_length=(5, 20), rng=int(seeds[5]))
    train_missing = np.where(observed, train, np.nan)
    _say(f"[1/4] data: training series {train.size} samples ({fs:g} Hz) with "
         f"{100 * (1 - observed.mean()):.1f}% missing; test series {test.size} samples with "
         f"{labels.mean() * 100:.1f}% anomalous   ({time.perf_counter() - t0:.1f} s)")

    # 2. train the LSTM-VAE on windows of the incomplete series (mask-aware loss) -------------
    t0 = time.perf_counter()
    model = LSTMVAE(1, hidden, latent, likelihood="gaussian", rng=int(seeds[6]))
    imputer = ModelImputer(model, window=window, train_stride=8, stride=8, n_iter=5)
    _say(f"[2/4] training LSTM-VAE (H={hidden}, latent={latent}, window={window}) for {epochs} "
         f"epochs on backend {_backend_name()} ...")
    imputer.fit(train_missing, epochs=epochs, batch_size=32, lr=5e-3,
                kl_schedule=f"linear:{max(1, epochs * 10)}", seed=int(seeds[7]), verbose=1)
    history = imputer.history_
    last = {k: history.metrics[k][-1] for k in ("loss", "reconstruction", "kl")}
    _say(f"      trained in {time.perf_counter() - t0:.1f} s; final loss parts: "
         + ", ".join(f"{k} {v:.3f}" for k, v in last.items()) + " (nats per window)")

    # 3. anomaly detection ----------------------------------------------------------------------
    t0 = time.perf_counter()
    detector = AnomalyDetector(model, score="reconstruction_probability", threshold="mu_k_sigma",
                               k=3.0, window=window, stride=4, n_samples=10, validation_split=0.5,
                               rng=args.seed)
    detector.fit(normal_val, train=False)
    scores = detector.score(test)
    pred = scores > detector.step_threshold_
    auc = roc_auc(labels, scores)
    ap = pr_auc(labels, scores)
    _, _, f1 = precision_recall_f1(labels, pred)
    z_scores = rolling_zscore_scores(test, window=window)
    z_auc = roc_auc(labels, z_scores)
    _say(f"[3/4] anomaly detection scored {test.size} steps ({time.perf_counter() - t0:.1f} s)")

    # 4. imputation -----------------------------------------------------------------------------
    t0 = time.perf_counter()
    truth = ecg(duration=20.0, fs=fs, heart_rate=72, rng=int(seeds[2]) + 1).signal
    gap_mask = mask_gaps(truth.shape, missing_rate=0.2, gap_length=(8, 16), rng=args.seed + 11)
    with_gaps = np.where(gap_mask, truth, np.nan)
    estimates = {
        "LSTM-VAE": imputer.transform(with_gaps),
        "mean fill": impute_mean(with_gaps),
        "linear": impute_linear(with_gaps),
        "GP": impute_gp(with_gaps),
    }
    missing = ~gap_mask
    mae = {k: float(np.mean(np.abs(v[missing] - truth[missing]))) for k, v in estimates.items()}
    _say(f"[4/4] imputed {missing.sum()} removed samples ({time.perf_counter() - t0:.1f} s)")

    # table ---------------------------------------------------------------------------------------
    _say("")
    _say("  anomaly detection (per time step)        LSTM-VAE   rolling z-score")
    _say(f"    ROC-AUC                                  {auc:6.3f}    {z_auc:6.3f}")
    _say(f"    PR-AUC                                   {ap:6.3f}")
    _say(f"    F1 at mu + 3 sigma                       {f1:6.3f}")
    _say("  imputation of removed gaps, MAE (lower is better)")
    for name, value in sorted(mae.items(), key=lambda kv: kv[1]):
        _say(f"    {name:<40s} {value:6.4f}")
    _say("")

    # figures -------------------------------------------------------------------------------------
    wins = np.lib.stride_tricks.sliding_window_view(test_ecg.signal, window)[::window][:4]
    scaler = imputer.scaler_
    wins_scaled = scaler.transform(wins[..., None])
    recon = model.reconstruct(wins_scaled)
    files = []
    fig = plots.plot_series_reconstructions(wins_scaled, recon, out / "reconstructions.png",
                                            title="ECG windows (scaled): input vs reconstruction")
    files.append("reconstructions.png")
    plots.close(fig)
    fig = plots.plot_anomaly_scores(test, scores, detector.step_threshold_, labels,
                                    out / "anomaly_scores.png",
                                    title="reconstruction-probability anomaly score")
    files.append("anomaly_scores.png")
    plots.close(fig)
    all_wins = np.lib.stride_tricks.sliding_window_view(normal_val, window)[::8]
    mu, _ = model.encode(scaler.transform(all_wins[..., None]))
    phase = np.argmax(all_wins, axis=1)  # where the R peak falls in the window
    fig = plots.plot_latent_scatter(mu, phase, out / "latent_codes.png",
                                    title="latent means of normal windows",
                                    label_name="R-peak position in window")
    files.append("latent_codes.png")
    plots.close(fig)
    fig = plots.plot_imputation(truth[:600], gap_mask[:600],
                                {k: v[:600] for k, v in estimates.items()},
                                out / "imputation.png", title="imputed gaps vs truth")
    files.append("imputation.png")
    plots.close(fig)
    fig = plots.plot_history(history.metrics, out / "training.png", title="LSTM-VAE training")
    files.append("training.png")
    plots.close(fig)
    _say(f"figures written to {out.resolve()}: " + ", ".join(files))
    return 0


def run_mnist(args: argparse.Namespace) -> int:
    from minivae import plots
    from minivae.data import load_mnist, mnist_available
    from minivae.models import VAE

    if not mnist_available(args.data_dir):
        _say("MNIST is not available here. Either point minivae at the four IDX files:\n"
             "    python -m minivae.demo mnist --data-dir /path/to/mnist   (or MINIVAE_DATA_DIR)\n"
             "or, online, let the loader download them once into its cache:\n"
             "    python -c \"from minivae.data import load_mnist; load_mnist()\"")
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_train = 10000 if args.quick else 60000
    X, _ = load_mnist(args.data_dir, split="train", limit=n_train)
    Xt, yt = load_mnist(args.data_dir, split="test", limit=2000 if args.quick else 10000)
    epochs = args.epochs or (3 if args.quick else 10)
    vae = VAE(784, [256, 128], 2, likelihood="bernoulli", rng=args.seed)
    _say(f"training a 2-D VAE 784-256-128-2 on {len(X)} MNIST images for {epochs} epochs ...")
    vae.fit(X, X_val=Xt, epochs=epochs, batch_size=64, lr=1e-3, seed=args.seed, verbose=1)
    mu, _ = vae.encode(Xt)
    plots.close(plots.plot_latent_scatter(mu, yt, out / "mnist_latent.png",
                                          title="test digits in the 2-D latent space",
                                          label_name="digit"))
    grid = np.linspace(-2.5, 2.5, 15)
    zz = np.array([[a, b] for b in grid[::-1] for a in grid])
    plots.close(plots.plot_manifold(vae.decode(zz), grid, out / "mnist_manifold.png"))
    point = vae.decode(np.array([[-3.0, 1.0]]))
    plots.close(plots.plot_image_grid(point, out / "mnist_point.png",
                                      title="decoded at z = (-3, 1)"))
    _say(f"figures written to {out.resolve()}: mnist_latent.png, mnist_manifold.png, "
         "mnist_point.png")
    return 0


def _backend_name() -> str:
    from minivae.backend import get_backend

    return get_backend()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.backend is not None:
        from minivae.backend import set_backend

        set_backend(args.backend)
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    code = run_mnist(args) if args.task == "mnist" else run_ecg(args)
    _say(f"done in {time.perf_counter() - start:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
