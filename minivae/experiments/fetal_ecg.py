r"""``python -m minivae.experiments fetal-ecg``: fetal ECG separation, measured as the review does.

The setting of section 7.3 of Singh & Ogunfunmi (Entropy, 2022), on generated signals:

* **Signals** (:func:`minivae.data.fetal_maternal_mixture`, 250 Hz, 20 s per recording): a
  maternal ECG (R peak 1 mV, 80-90 bpm) plus a fetal ECG 2-10 times smaller (120-160 bpm), white
  noise (0.02 mV) and **respiratory noise**: a sum of four random sinusoids between 0.1 and
  0.5 Hz (6-30 breaths a minute; :func:`minivae.data.ecg_noise.baseline_wander`) of RMS
  ``resp_rms`` (0.3 mV).  Examples are windows of 128 samples (~0.5 s) taken every 8 samples;
  the mixtures are divided by one scale (the training mixtures' standard deviation), each
  source's targets by its own (the fetal source is 2-10 times smaller).
* **Methods**, one network per source, each mapping a mixture window to that source's window
  (MLP encoder 128 -> 256 -> 32, decoder 32 -> 256 -> 128, squared error, Adam):

  - ``AE``: the autoencoder per source (the review's baseline);
  - ``VAE``: the same with a Gaussian code, reparameterised sample in training and the mean at
    test time, loss ``MSE + beta * KL / 128``;
  - ``CASS``: the AE per source plus a **discriminator on that source's signal windows**
    (cross adversarial source separation): it is trained to call the true source-k windows real
    and both the AE's estimates and the *other source's* true windows fake (the cross term: it
    learns what separates the two sources), and the AE adds ``adv_weight`` times the
    non-saturating generator loss (GAN losses and gradients of
    :mod:`minivae.objectives.adversarial`, the ones the adversarial autoencoder
    :mod:`minivae.models.aae` uses; its discriminator judges codes, this one judges signals);
  - two floors without learning: ``zero`` (estimate 0) and the classic **template
    subtraction** (maternal R peaks detected on the mixture, the median maternal beat
    subtracted at each, the residual band-passed 5-45 Hz is the fetal estimate).

* **Scores** on new test recordings (the networks run over the whole recording in windows with
  stride 8, overlapping outputs averaged): per 128-sample window ``L1 = mean |e|``,
  ``L2 = sqrt(mean e^2)``, ``Linf = max |e|`` of the fetal error ``e``, **divided by the true
  fetal window's peak |f|** (so 1.0 is an error the size of the fetal R wave), averaged over the
  windows; and the **fetal heart rate** from R peaks detected on the separated fetal signal
  (:func:`minivae.apps.rpeaks.detect_r_peaks`) against the true rate, with beat sensitivity
  and PPV (50 ms tolerance).  The review's table (its baseline AE 0.498 / 0.574 / 0.807, CASS
  with cross training 0.372 / 0.458 / 0.745) is printed beside ours; its signals and
  normalisation are not ours, so only the ordering of methods compares.

Options: ``--quick`` (fewer recordings and epochs, one seed), ``--seed`` / ``--seeds``,
``--out``, ``--no-figures``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.apps.rpeaks import bandpass, detect_r_peaks, heart_rate, match_peaks
from minivae.data.ecg_noise import baseline_wander
from minivae.data.synthetic import fetal_maternal_mixture
from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_each_seed,
    run_record,
    say,
    write_results,
)
from minivae.nn.sequential import MLP
from minivae.objectives import adversarial as gan
from minivae.train.optim import Adam

METHODS = ("zero", "template", "AE", "VAE", "CASS")
LEARNED = ("AE", "VAE", "CASS")
#: The review's Table (section 7.3): L1, L2, Linf of the baseline AE and of CASS with cross
#: training.
REVIEW = {"AE": (0.498, 0.574, 0.807), "CASS": (0.372, 0.458, 0.745)}


@dataclass(frozen=True)
class Setting:
    """Sizes of one run (``FULL``, ``QUICK``, ``TINY`` for the tests)."""

    fs: float = 250.0
    duration: float = 20.0  # seconds per recording
    window: int = 128  # ~0.5 s: at least one fetal beat (RR <= 0.5 s) per window
    stride: int = 8  # training windows overlap: many shifted copies of every beat
    n_train: int = 40  # training recordings per seed
    n_test: int = 6
    resp_rms: float = 0.3  # mV, respiratory noise
    hidden: int = 256
    latent: int = 32
    epochs: int = 30
    batch: int = 64
    lr: float = 1e-3
    beta: float = 1e-2  # VAE: weight of KL / window
    adv_weight: float = 0.05  # CASS: weight of the generator loss
    n_seeds: int = 2


FULL = Setting()
QUICK = Setting(stride=16, n_train=20, n_test=4, epochs=15, n_seeds=1)
TINY = Setting(duration=6.0, stride=32, n_train=3, n_test=1, hidden=32, latent=8, epochs=2,
               n_seeds=1)


# ---------------------------------------------------------------------------------------- data
def recordings(s: Setting, seed: int, n: int, part: int) -> list[dict[str, Any]]:
    """n recordings (mixture, maternal, fetal, true fetal R peaks and rate); ``part`` 0 / 1
    keeps training and test streams apart."""
    out = []
    for child in np.random.SeedSequence([seed, part]).spawn(n):
        rng = np.random.default_rng(child)
        mix, mat, fet, info = fetal_maternal_mixture(s.duration, s.fs, baseline_wander=0.0,
                                                     return_info=True, rng=rng)
        resp = s.resp_rms * baseline_wander(mix.shape[0], s.fs, rng, band=(0.1, 0.5))
        out.append({"mix": mix + resp, "sources": np.stack([mat, fet]),
                    "fetal_peaks": info["fetal_r_peaks"], "fetal_hr": info["fetal_hr"],
                    "ratio": info["amplitude_ratio"]})
    return out


def _starts(T: int, window: int, stride: int) -> np.ndarray:
    """Window starts every ``stride`` samples, plus one flush with the end."""
    starts = np.arange(0, T - window + 1, stride)
    return np.unique(np.append(starts, T - window))


def _windows(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    return np.stack([x[a: a + window] for a in starts])


# -------------------------------------------------------------------------------------- models
class SourceNet:
    """Mixture window -> one source's window.  kind "AE" | "VAE" | "CASS" (module docstring).
    x: (N, W) -> y: (N, W)."""

    def __init__(self, kind: str, s: Setting, rng: np.random.Generator) -> None:
        self.kind, self.s = kind, s
        code = 2 * s.latent if kind == "VAE" else s.latent
        self.enc = MLP([s.window, s.hidden, code], rng=rng, input_grad=False)
        self.dec = MLP([s.latent, s.hidden, s.window], rng=rng)
        self.opt = Adam(list(self.enc.parameters("enc.")) + list(self.dec.parameters("dec.")),
                        lr=s.lr)
        if kind == "CASS":
            self.disc = MLP([s.window, s.hidden // 2, 1], activation="leaky_relu", rng=rng)
            self.disc_opt = Adam(list(self.disc.parameters()), lr=s.lr)

    def predict(self, x: np.ndarray) -> np.ndarray:
        h = self.enc.forward(x)
        return self.dec.forward(h[:, : self.s.latent])  # the VAE's mean code

    def parameters(self):
        """(name, param, grad) of the encoder and decoder (the discriminator trains apart)."""
        yield from self.enc.parameters("enc.")
        yield from self.dec.parameters("dec.")

    def zero_grad(self) -> None:
        self.enc.zero_grad()
        self.dec.zero_grad()

    def loss(self, batch: tuple[np.ndarray, np.ndarray], *, rng: Any = None,
             eps: np.ndarray | None = None) -> tuple[float, dict[str, float]]:
        """``MSE`` (+ ``beta KL / W`` for the VAE, + ``adv_weight L_G`` for CASS) of a batch
        ``(x, y)``, both (N, W); ``eps`` replays the VAE's noise (``last_eps``)."""
        x, y = batch
        s, n = self.s, x.shape[0]
        h = self.enc.forward(x)
        cache: dict[str, Any] = {"h": h}
        z = h
        value = 0.0
        if self.kind == "VAE":
            mu, logvar = h[:, : s.latent], np.clip(h[:, s.latent:], -10.0, 10.0)
            eps = np.random.default_rng(rng).standard_normal(mu.shape) if eps is None else eps
            self.last_eps = eps
            z = mu + np.exp(0.5 * logvar) * eps
            value += s.beta / s.window * 0.5 * float(np.sum(mu**2 + np.exp(logvar) - 1.0
                                                            - logvar)) / n
            cache.update(mu=mu, logvar=logvar, eps=eps)
        yhat = self.dec.forward(z)
        mse = float(np.mean((yhat - y) ** 2))
        cache.update(yhat=yhat, dyhat=2.0 * (yhat - y) / yhat.size)
        if self.kind == "CASS":
            logits = self.disc.forward(yhat)
            value += s.adv_weight * gan.generator_loss(logits)
            cache["logits"] = logits
        self._pending = cache
        return mse + value, {"loss": mse + value, "mse": mse}

    def backward(self) -> None:
        """Accumulate the gradients of the last :meth:`loss` into the encoder and decoder."""
        c, s = self._pending, self.s
        dyhat = c["dyhat"]
        if self.kind == "CASS":  # through the discriminator, whose own grads are dropped
            self.disc.zero_grad()
            dyhat = dyhat + s.adv_weight * self.disc.backward(
                gan.generator_loss_grad(c["logits"]))
            self.disc.zero_grad()
        dz = self.dec.backward(dyhat)
        if self.kind == "VAE":
            mu, logvar, eps, h = c["mu"], c["logvar"], c["eps"], c["h"]
            k = s.beta / (s.window * mu.shape[0])  # d(beta KL / W) per example mean
            std = np.exp(0.5 * logvar)
            dlogvar = dz * eps * 0.5 * std + k * 0.5 * (np.exp(logvar) - 1.0)
            dlogvar[np.abs(h[:, s.latent:]) > 10.0] = 0.0  # the clip's zero gradient
            dz = np.concatenate([dz + k * mu, dlogvar], axis=1)
        self.enc.backward(dz)

    def step(self, x: np.ndarray, y: np.ndarray, other: np.ndarray,
             rng: np.random.Generator) -> float:
        """One Adam step on a batch (then the discriminator's, for CASS); returns the MSE."""
        self.zero_grad()
        _, parts = self.loss((x, y), rng=rng)
        self.backward()
        self.opt.step()
        if self.kind == "CASS":
            self._discriminator_step(y, self._pending["yhat"], other)
        return parts["mse"]

    def _discriminator_step(self, y: np.ndarray, yhat: np.ndarray, other: np.ndarray) -> None:
        """Real: the true source windows; fake: the estimates and the other source (cross)."""
        self.disc.zero_grad()
        logits = self.disc.forward(np.concatenate([y, y, yhat, other]))
        n2 = 2 * y.shape[0]
        d_real, d_fake = gan.discriminator_loss_grad(logits[:n2], logits[n2:])
        self.disc.backward(np.concatenate([d_real, d_fake]))
        self.disc_opt.step()


def train_net(kind: str, X: np.ndarray, Y: np.ndarray, other: np.ndarray, s: Setting,
              rng: np.random.Generator) -> tuple[SourceNet, float]:
    """Train one source's net on mixture windows X (N, W) -> source windows Y (N, W)."""
    net = SourceNet(kind, s, rng)
    mse = float("nan")
    for _ in range(s.epochs):
        order = rng.permutation(X.shape[0])
        errs = []
        for a in range(0, X.shape[0], s.batch):
            b = order[a: a + s.batch]
            errs.append(net.step(X[b], Y[b], other[b], rng))
        mse = float(np.mean(errs))
    return net, mse


def separate(net: SourceNet, mix: np.ndarray, s: Setting) -> np.ndarray:
    """Run a source net over a whole recording (T,), averaging overlapping windows -> (T,)."""
    starts = _starts(mix.shape[0], s.window, s.stride)
    pred = net.predict(_windows(mix, starts, s.window))
    total, count = np.zeros(mix.shape[0]), np.zeros(mix.shape[0])
    for a, p in zip(starts, pred):
        total[a: a + s.window] += p
        count[a: a + s.window] += 1.0
    return total / count


def template_subtraction(mix: np.ndarray, fs: float) -> np.ndarray:
    """Classic fetal ECG extraction: subtract the median maternal beat at every maternal R peak
    (detected on the mixture, refractory 0.5 s), band-pass the residual 5-45 Hz.  (T,)->(T,)."""
    peaks = detect_r_peaks(mix, fs, refractory=0.5)
    half = int(0.35 * fs)
    inner = peaks[(peaks >= half) & (peaks < mix.shape[0] - half)]
    resid = mix.copy()
    if inner.size:
        template = np.median(np.stack([mix[p - half: p + half] for p in inner]), axis=0)
        for p in peaks:
            lo, hi = max(0, p - half), min(mix.shape[0], p + half)
            resid[lo:hi] -= template[lo - (p - half): hi - (p - half)]
    return bandpass(resid, fs, (5.0, 45.0))


# ------------------------------------------------------------------------------------- scoring
def window_errors(estimate: np.ndarray, truth: np.ndarray, window: int) -> np.ndarray:
    """(L1, L2, Linf) per non-overlapping window, divided by the true window's peak |truth|:
    returns (n_windows, 3)."""
    n = truth.shape[0] // window
    e = (estimate[: n * window] - truth[: n * window]).reshape(n, window)
    peak = np.max(np.abs(truth[: n * window].reshape(n, window)), axis=1)
    return np.stack([np.mean(np.abs(e), 1), np.sqrt(np.mean(e**2, 1)),
                     np.max(np.abs(e), 1)], axis=1) / peak[:, None]


def score(fetal_est: np.ndarray, rec: dict[str, Any], s: Setting, scale: float
          ) -> dict[str, float]:
    """Errors of the fetal estimate (in the scaled units of the data) and its heart rate."""
    truth = rec["sources"][1] / scale
    err = window_errors(fetal_est, truth, s.window).mean(axis=0)
    peaks = detect_r_peaks(fetal_est, s.fs)
    true_hr = heart_rate(rec["fetal_peaks"], s.fs)
    hr = heart_rate(peaks, s.fs)
    match = match_peaks(peaks, rec["fetal_peaks"], s.fs)
    return {"L1": float(err[0]), "L2": float(err[1]), "Linf": float(err[2]),
            "hr_error": abs(hr - true_hr) if np.isfinite(hr) else float("nan"),
            "sensitivity": match.sensitivity, "ppv": match.ppv}


def run_seed(s: Setting, seed: int) -> dict[str, Any]:
    """Train the three learned methods on one seed's recordings and score all five."""
    rng = np.random.default_rng(seed)
    train = recordings(s, seed, s.n_train, 0)
    test = recordings(s, seed, s.n_test, 1)
    scale = float(np.std(np.concatenate([r["mix"] for r in train])))
    starts = _starts(train[0]["mix"].shape[0], s.window, s.stride)
    X = np.concatenate([_windows(r["mix"] / scale, starts, s.window) for r in train])
    # Each source's targets get their own scale (unit std): the fetal source is 2-10x smaller,
    # and on the mixture's scale its squared error would be too small to learn from.
    Y = [np.concatenate([_windows(r["sources"][k], starts, s.window) for r in train])
         for k in (0, 1)]
    gains = [float(np.std(y)) for y in Y]
    Y = [y / g for y, g in zip(Y, gains)]
    scores: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    seconds: dict[str, float] = {}
    train_mse: dict[str, float] = {}
    nets = {}
    for kind in LEARNED:
        t0 = time.perf_counter()
        # Maternal net (its "other" is the fetal source) and fetal net.
        nets[kind] = [train_net(kind, X, Y[k], Y[1 - k], s, rng) for k in (0, 1)]
        seconds[kind] = time.perf_counter() - t0
        train_mse[kind] = nets[kind][1][1]
    for rec in test:
        mix = rec["mix"] / scale
        scores["zero"].append(score(np.zeros_like(mix), rec, s, scale))
        scores["template"].append(score(template_subtraction(mix, s.fs), rec, s, scale))
        for kind in LEARNED:
            est = separate(nets[kind][1][0], mix, s) * gains[1] / scale
            scores[kind].append(score(est, rec, s, scale))
    with np.errstate(all="ignore"):  # "zero" finds no beats: its PPV is NaN (0 / 0)
        mean = {m: {k: _nanmean([d[k] for d in v]) for k in v[0]} for m, v in scores.items()}
    mix_peaks = [heart_rate(detect_r_peaks(r["mix"], s.fs), s.fs) for r in test]
    mix_hr_err = float(np.mean([abs(h - heart_rate(r["fetal_peaks"], s.fs))
                                for h, r in zip(mix_peaks, test)]))
    return {"seed": seed, "metrics": mean, "seconds": seconds, "train_mse_fetal": train_mse,
            "hr_error_on_mixture": mix_hr_err, "scale": scale,
            "_example": (test[0], scale, {
                k: separate(nets[k][1][0], test[0]["mix"] / scale, s) * gains[1] / scale
                for k in LEARNED})}


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.mean(v[np.isfinite(v)])) if np.any(np.isfinite(v)) else float("nan")


# -------------------------------------------------------------------------------------- report
def format_table(runs: list[dict[str, Any]]) -> str:
    """Mean +- std over seeds of every method's scores, with the review's numbers beside."""
    def cell(m: str, k: str, fmt: str = ".3f") -> str:
        v = np.array([r["metrics"][m][k] for r in runs])
        return f"{v.mean():{fmt}} +- {v.std():{fmt}}" if len(v) > 1 else f"{v[0]:{fmt}}"

    lines = ["| method | L1 | L2 | Linf | fetal HR error (bpm) | beat sens. / PPV | train s | "
             "review L1 / L2 / Linf |", "|---|---|---|---|---|---|---|---|"]
    for m in METHODS:
        secs = (f"{np.mean([r['seconds'][m] for r in runs]):.0f}" if m in LEARNED else "0")
        review = " / ".join(f"{v:.3f}" for v in REVIEW[m]) if m in REVIEW else ""
        lines.append(f"| {m} | {cell(m, 'L1')} | {cell(m, 'L2')} | {cell(m, 'Linf')} | "
                     f"{cell(m, 'hr_error', '.1f')} | {cell(m, 'sensitivity', '.2f')} / "
                     f"{cell(m, 'ppv', '.2f')} | {secs} | {review} |")
    mix = np.mean([r["hr_error_on_mixture"] for r in runs])
    lines.append(f"\nfetal HR error of the detector run on the raw mixture: {mix:.1f} bpm")
    return "\n".join(lines)


def _figure(run: dict[str, Any], out: Path, s: Setting) -> list[str]:
    import matplotlib.pyplot as plt

    rec, scale, est = run["_example"]
    n = int(4 * s.fs)
    t = np.arange(n) / s.fs
    fig, axes = plt.subplots(2 + len(est), 1, figsize=(9, 1.6 * (2 + len(est))), sharex=True)
    axes[0].plot(t, rec["mix"][:n] / scale, lw=0.8)
    axes[0].set_ylabel("mixture")
    axes[1].plot(t, rec["sources"][1][:n] / scale, lw=0.8, color="k")
    axes[1].set_ylabel("true fetal")
    for ax, (k, e) in zip(axes[2:], est.items()):
        ax.plot(t, rec["sources"][1][:n] / scale, lw=0.6, color="0.7")
        ax.plot(t, e[:n], lw=0.8)
        ax.set_ylabel(k)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    path = out / "fetal_ecg_example.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [str(path)]


def main(argv: list[str] | None = None) -> int:
    """Run the fetal ECG study, print the table, write the figure and results.json."""
    parser = experiment_parser("fetal-ecg", "Fetal ECG separation: AE, VAE and CASS per source "
                               "(L1/L2/Linf errors, fetal heart rate).", "smaller run, 1 seed")
    args, mode, s, seeds = parse_run(parser, argv, {"tiny": TINY, "quick": QUICK, "full": FULL})
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"fetal-ecg ({mode}): seeds {list(seeds)}, {s.n_train} training / {s.n_test} test "
        f"recordings of {s.duration:g} s, {blas_threads_note()}")
    t_start = time.perf_counter()
    runs = run_each_seed(run_seed, s, seeds)
    say(format_table(runs))
    results = {**run_record(mode, seeds, s, argv),
               "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]}
    figures = None if args.no_figures else _figure(runs[0], out, s)
    write_results(results, out, t_start, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
