"""Reconstruction MSE of the LSTM-AE / LSTM-VAE encoder and decoder options against the defaults.

Data: the beat windows of ``python -m minivae.experiments timeseries`` (generated ECG at 64 Hz,
one 48-sample window per beat; :func:`minivae.experiments.timeseries.make_anomaly_data`),
standardised with the training beats' mean and std.  Each model is trained on the training
beats and scored on the *normal* beats of the test recording: mean squared error per entry of
``reconstruct`` (free running: the decoder never reads the true values at inference), and the
wall time of training.  Same hidden size, latent size, epochs, learning rate and batch size for
every option; mean +- std over the seeds.

    python benchmarks/bench_sequence_options.py                   # AE, every option, 2 seeds
    python benchmarks/bench_sequence_options.py --model vae --epochs 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from minivae.experiments.timeseries import QUICK, make_anomaly_data
from minivae.models import LSTMVAE, LSTMAutoencoder
from minivae.nn.recurrent import CELL_TYPES

OPTIONS = {
    "default (repeat)": {},
    "autoregressive": {"decoder": "autoregressive", "teacher_forcing": 0.5},
    "conditioned": {"decoder": "conditioned", "teacher_forcing": 0.5},
    "repeat + encoder state": {"decoder_state": "encoder"},
    "conditioned + encoder state": {"decoder": "conditioned", "teacher_forcing": 0.5,
                                    "decoder_state": "encoder"},
    "bidirectional": {"bidirectional": True},
    "bidirectional + conditioned": {"bidirectional": True, "decoder": "conditioned",
                                    "teacher_forcing": 0.5},
    **{f"{c} cells": {"encoder_cell": c, "decoder_cell": c} for c in CELL_TYPES if c != "lstm"},
}


def run(name: str, kind: str, data: dict, seed: int, args) -> tuple[float, float]:
    options = dict(OPTIONS[name])
    if kind == "vae":  # (decoder_state="encoder" is not offered by the VAE: it would bypass z)
        cls, extra = LSTMVAE, {"likelihood": "mse"}
    else:
        cls, extra = LSTMAutoencoder, {}
    model = cls(1, args.hidden, args.latent, rng=seed, **extra, **options)
    t0 = time.perf_counter()
    kw = {"kl_schedule": "linear:200"} if kind == "vae" else {}
    model.fit(data["train"], epochs=args.epochs, batch_size=32, lr=5e-3, rng=seed,
              verbose=False, **kw)
    seconds = time.perf_counter() - t0
    rec = model.reconstruct(data["test"])
    return float(np.mean((rec - data["test"]) ** 2)), seconds


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("ae", "vae"), default="ae")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--latent", type=int, default=8)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--only", default="", help="comma-separated option names")
    args = p.parse_args(argv)
    names = [n for n in OPTIONS if (not args.only or n in args.only.split(","))
             and not (args.model == "vae" and OPTIONS[n].get("decoder_state") == "encoder")]
    rows = {n: [] for n in names}
    for seed in range(args.seeds):
        d = make_anomaly_data(QUICK, seed)
        train = d["train_windows"]
        mu, sd = train.mean(), train.std()
        data = {"train": (train - mu) / sd,
                "test": (d["test_windows"][~d["window_labels"]] - mu) / sd}
        for name in names:
            rows[name].append(run(name, args.model, data, seed, args))
            print(f"# seed {seed} {name}: mse {rows[name][-1][0]:.4f}, "
                  f"{rows[name][-1][1]:.1f} s", flush=True)
    print(f"\n{args.model.upper()}, H={args.hidden}, L={args.latent}, {args.epochs} epochs, "
          f"{args.seeds} seeds; train beats {data['train'].shape}, test {data['test'].shape}\n")
    print("| option | test MSE (mean +- std) | vs default | train time (s) |")
    print("| --- | --- | --- | --- |")
    base = np.mean([r[0] for r in rows[names[0]]])
    for name in names:
        mse, sec = np.array([r[0] for r in rows[name]]), np.array([r[1] for r in rows[name]])
        print(f"| {name} | {mse.mean():.4f} +- {mse.std():.4f} | {mse.mean() / base:.2f}x | "
              f"{sec.mean():.0f} |")


if __name__ == "__main__":
    main()
