"""The blind model-selection protocol of the ECG5000 study (``--parts blind blind_small``).

Why: a model chosen as the best of many configurations *judged on the test labels* has an
optimistic test score.  Here the choice is made before any test beat is scored, from the
training normals (and the 146 validation normals, used only for early stopping) alone; no
abnormal beat is ever seen.  The rule was fixed in this file before any test number of it was
looked at:

1. **Candidates** (:data:`CANDIDATES`, fixed list, cheapest first): learned one-class scores
   whose number comes from what the network learned:

   - ``AE (MSE)``: MLP autoencoder 140 -> 128 -> 8 -> 128 -> 140, squared error per beat;
   - ``AE latent 5-NN``: the same AE's code; score = mean distance to the 5 nearest codes of
     the training normals;
   - ``AE code Mahalanobis``: Mahalanobis distance of the code to the training codes' Gaussian;
   - ``AE 256-64-16 (MSE)``: a wider, deeper AE with a code of 16;
   - ``VAE (MSE)``: Gaussian MLP VAE 140 -> 128 -> 8 (learned decoder variance), squared error
     of the decoded posterior mean;
   - ``AE x3 (MSE)``: ensemble of 3 AEs (seeds), mean of their squared errors;
   - ``AE x3 latent 5-NN``: the same ensemble, mean of the members' latent 5-NN distances.

   Every network trains with the experiment's data-size defaults (:func:`~minivae.experiments.
   ecg5000.mlp_training_plan`: batch size, epochs and lr from the number of training beats,
   early stopping on the validation normals).
2. **Proxy** (:func:`proxy_score`): the training normals are cut into ``K = 2`` folds (a seeded
   permutation).  For each fold the candidates' networks train on the other fold; the held-out
   fold's normals are scored against *synthetic anomalies made from those same held-out
   normals* by local distortions (:func:`distort`: a local time warp, noise on a segment, an
   amplitude change of a segment, a small bump).  Proxy = ROC-AUC of held-out normals vs
   distorted beats, averaged over the four kinds and the folds.
3. **Choice**: the candidate with the highest proxy; a candidate within 0.002 of the best that
   comes earlier in :data:`CANDIDATES` (cheaper) wins the tie.
4. **Evaluation**: the chosen candidate trains on all the training normals and is scored once
   on the test sets.  Steps 2-4 run once per model seed (the folds, the distortions and the
   networks are seeded by it), so a seed is a full replicate of the procedure and the row
   "blind choice" averages whatever each seed chose.  With ``all_candidates`` the other
   candidates are trained and scored too, *marked as not used for the choice*, so a reader can
   see whether the proxy tracks the test.

The same rule runs unchanged for the small-data table (100 and 300 training normals: the folds
are 50 / 150 beats) and for other split seeds.

A second rule (:mod:`~minivae.experiments.ecg5000_blind_global`) keeps the candidates, folds,
networks and tie rule and replaces step 2's local distortions by whole-beat ones.  Both proxies
are computed from the same fold networks, so every run records both choices: the first rule's
as :data:`BLIND_ROW` (``chosen``, ``proxies``), the second's as
:data:`~minivae.experiments.ecg5000_blind_global.GLOBAL_ROW` (``chosen_global``,
``proxies_global``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.experiments.ecg5000_blind_global import (
    GLOBAL_ROW,
    WHOLE_BEAT_DISTORTIONS,
    whole_beat_proxy_score,
)
from minivae.timeseries.metrics import roc_auc

DISTORTIONS = ("time_warp", "segment_noise", "amplitude", "bump")
N_FOLDS = 2
TIE = 0.002  # proxy differences below this go to the cheaper (earlier) candidate
KNN = 5


@dataclass(frozen=True)
class Candidate:
    """One learned score: a network family, its sizes, the number of seeds averaged, the score."""

    name: str
    family: str  # "ae" | "vae"
    hidden: tuple[int, ...]
    latent: int
    members: int  # ensemble size (seeds), 1 = a single network
    score: str  # "mse" | "latent_knn" | "mahalanobis"


CANDIDATES = (
    Candidate("AE (MSE)", "ae", (128,), 8, 1, "mse"),
    Candidate("AE latent 5-NN", "ae", (128,), 8, 1, "latent_knn"),
    Candidate("AE code Mahalanobis", "ae", (128,), 8, 1, "mahalanobis"),
    Candidate("AE 256-64-16 (MSE)", "ae", (256, 64), 16, 1, "mse"),
    Candidate("VAE (MSE)", "vae", (128,), 8, 1, "mse"),
    Candidate("AE x3 (MSE)", "ae", (128,), 8, 3, "mse"),
    Candidate("AE x3 latent 5-NN", "ae", (128,), 8, 3, "latent_knn"),
)


# ------------------------------------------------------------------- synthetic anomalies
def _segment(T: int, rng: np.random.Generator, low: int, high: int) -> tuple[int, int]:
    length = int(rng.integers(low, high + 1))
    start = int(rng.integers(0, max(1, T - length)))
    return start, min(T, start + length)


def distort(X: np.ndarray, kind: str, rng: np.random.Generator | int) -> np.ndarray:
    """Synthetic anomalies: each beat of X (N, T) with one local distortion of ``kind``.

    - ``time_warp``: t -> t + a (t - c) exp(-(t - c)^2 / 2w^2), |a| in [0.3, 0.5], w in [6, 12]:
      a monotone warp that speeds up or slows down the beat around c;
    - ``segment_noise``: N(0, 0.3^2) noise on 15-30 samples;
    - ``amplitude``: 20-40 samples scaled by 0.6-0.8 or 1.25-1.6 (Hann-tapered edges);
    - ``bump``: a Gaussian bump of height +-0.5-1 and width 2-5 samples added somewhere.
    Returns (N, T) float64.
    """
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    if kind not in DISTORTIONS:
        raise ValueError(f"kind must be one of {DISTORTIONS}, got {kind!r}")
    rng = check_rng(rng)
    N, T = X.shape
    t = np.arange(T, dtype=np.float64)
    out = X.copy()
    for i in range(N):
        sign = rng.choice([-1.0, 1.0])
        if kind == "time_warp":
            c, w = rng.uniform(0.15 * T, 0.85 * T), rng.uniform(6.0, 12.0)
            u = (t - c) / w
            out[i] = np.interp(t + sign * rng.uniform(0.3, 0.5) * (t - c) * np.exp(-0.5 * u * u),
                               t, X[i])
        elif kind == "segment_noise":
            a, b = _segment(T, rng, 15, 30)
            out[i, a:b] += 0.3 * rng.standard_normal(b - a)
        elif kind == "amplitude":
            a, b = _segment(T, rng, 20, 40)
            f = rng.uniform(0.6, 0.8) if sign < 0 else rng.uniform(1.25, 1.6)
            out[i, a:b] *= 1.0 + (f - 1.0) * np.hanning(b - a + 2)[1:-1]
        else:
            c, w = rng.uniform(0, T - 1), rng.uniform(2.0, 5.0)
            out[i] += sign * rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((t - c) / w) ** 2)
    return out


# ------------------------------------------------------------------------- networks
def _train_network(family: str, hidden: tuple[int, ...], latent: int, X_train: np.ndarray,
                   X_val: np.ndarray, s: Any, seed: int) -> tuple[Any, float, int]:
    """An MLP AE or Gaussian VAE on whole beats with the experiment's data-size plan."""
    from minivae.experiments.ecg5000_core import fit_mlp_timed
    from minivae.models import VAE, Autoencoder

    dt = np.float32
    D = X_train.shape[1]
    if family == "ae":
        model = Autoencoder(D, list(hidden), latent, output="mse", rng=seed, dtype=dt)
    else:
        model = VAE(D, list(hidden), latent, likelihood="gaussian", rng=seed, dtype=dt)
    return fit_mlp_timed(model, X_train, X_val, s, seed)


def _member_seeds(seed: int, members: int) -> list[int]:
    """Seeds of an ensemble's networks; the first is the single network's (shared)."""
    return [seed + 1000 * i for i in range(members)]


def train_networks(candidates: tuple[Candidate, ...], X_train: np.ndarray, X_val: np.ndarray,
                   s: Any, seed: int) -> tuple[dict[tuple, Any], dict[tuple, float]]:
    """Every network the candidates need, each trained once and shared: keyed by
    (family, hidden, latent, member seed); returns (networks, training seconds)."""
    nets: dict[tuple, Any] = {}
    secs: dict[tuple, float] = {}
    for c in candidates:
        for ms in _member_seeds(seed, c.members):
            key = (c.family, c.hidden, c.latent, ms)
            if key not in nets:
                nets[key], secs[key], _ = _train_network(c.family, c.hidden, c.latent,
                                                         X_train, X_val, s, ms)
    return nets, secs


# --------------------------------------------------------------------------- scores
def _codes(model: Any, X: np.ndarray) -> np.ndarray:
    code = model.encode(X.astype(model.dtype))
    return np.asarray(code[0] if isinstance(code, tuple) else code, dtype=np.float64)


def latent_knn_scorer(model: Any, X_train: np.ndarray, k: int = KNN) -> Any:
    """Mean Euclidean distance of a beat's code to the ``k`` nearest training codes."""
    k = check_positive_int(k, "k")
    C = _codes(model, X_train)
    sq = np.sum(C ** 2, axis=1)
    k = min(k, len(C))

    def score(X: np.ndarray) -> np.ndarray:
        Z = _codes(model, X)
        d2 = np.maximum(np.sum(Z ** 2, axis=1)[:, None] + sq[None, :] - 2.0 * Z @ C.T, 0.0)
        return np.sqrt(np.partition(d2, k - 1, axis=1)[:, :k]).mean(axis=1)

    return score


def mahalanobis_scorer(model: Any, X_train: np.ndarray) -> Any:
    """Squared Mahalanobis distance of a beat's code to the Gaussian fitted to the training
    codes (covariance + 1e-6 * mean variance on the diagonal, so it stays invertible)."""
    C = _codes(model, X_train)
    mu = C.mean(axis=0)
    cov = np.cov(C, rowvar=False).reshape(C.shape[1], C.shape[1])
    cov += 1e-6 * max(float(np.mean(np.diag(cov))), 1e-12) * np.eye(len(mu))
    P = np.linalg.inv(cov)

    def score(X: np.ndarray) -> np.ndarray:
        D = _codes(model, X) - mu
        return np.einsum("ni,ij,nj->n", D, P, D)

    return score


def candidate_scorer(c: Candidate, nets: dict[tuple, Any], X_train: np.ndarray,
                     seed: int) -> Any:
    """The score function (N, T) -> (N,) of candidate ``c`` (ensembles: the members' mean)."""
    from minivae.experiments.ecg5000_core import reconstruction_mse

    members = [nets[(c.family, c.hidden, c.latent, ms)] for ms in _member_seeds(seed, c.members)]
    if c.score == "mse":
        fs = [lambda Z, m=m: reconstruction_mse(m, Z) for m in members]
    elif c.score == "latent_knn":
        fs = [latent_knn_scorer(m, X_train) for m in members]
    else:
        fs = [mahalanobis_scorer(m, X_train) for m in members]
    return lambda Z: np.mean([f(Z) for f in fs], axis=0)


def candidate_seconds(c: Candidate, secs: dict[tuple, float], seed: int) -> float:
    return float(sum(secs[(c.family, c.hidden, c.latent, ms)]
                     for ms in _member_seeds(seed, c.members)))


# ---------------------------------------------------------------------------- proxy
def proxy_score(scorer: Any, X_held: np.ndarray, rng: np.random.Generator | int
                ) -> dict[str, float]:
    """ROC-AUC of held-out normals (negatives) against their distorted copies (positives),
    per distortion kind, and their mean (key ``"mean"``)."""
    rng = check_rng(rng)
    normal = scorer(X_held)
    out = {}
    for kind in DISTORTIONS:
        anomalous = scorer(distort(X_held, kind, rng))
        labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
        out[kind] = roc_auc(labels, np.r_[normal, anomalous])
    out["mean"] = float(np.mean([out[k] for k in DISTORTIONS]))
    return out


def choose(proxies: dict[str, float], candidates: tuple[Candidate, ...] = CANDIDATES) -> str:
    """Step 3 of the rule: the highest proxy; within :data:`TIE` of it, the earliest candidate."""
    best = max(proxies.values())
    return next(c.name for c in candidates if c.name in proxies and proxies[c.name] >= best - TIE)


def fold_proxies(X_train: np.ndarray, X_val: np.ndarray, s: Any, seed: int, fold: int,
                 candidates: tuple[Candidate, ...] = CANDIDATES
                 ) -> dict[str, dict[str, dict[str, float]]]:
    """Step 2 for one fold: the candidates' networks train on the other folds' normals; every
    candidate's proxies on the held-out fold (per distortion kind and their mean): the local
    one under ``"local"``, the whole-beat one under ``"whole_beat"`` (same networks)."""
    X_train = check_array(X_train, "X_train", ndim=2, dtype=np.float64)
    if len(X_train) < 2 * N_FOLDS:
        raise ValueError(f"X_train: need at least {2 * N_FOLDS} beats for {N_FOLDS} folds, "
                         f"got {len(X_train)}")
    rng = np.random.default_rng([seed, 19, 5000])
    held = np.array_split(rng.permutation(len(X_train)), N_FOLDS)[fold]
    fit_rows = np.setdiff1d(np.arange(len(X_train)), held)
    nets, _ = train_networks(candidates, X_train[fit_rows], X_val, s, seed)
    scorers = {c.name: candidate_scorer(c, nets, X_train[fit_rows], seed) for c in candidates}
    return {"local": {n: proxy_score(f, X_train[held], np.random.default_rng([seed, fold]))
                      for n, f in scorers.items()},
            "whole_beat": {n: whole_beat_proxy_score(f, X_train[fit_rows], X_train[held],
                                                     np.random.default_rng([seed, fold, 2]))
                           for n, f in scorers.items()}}


def combine_folds(per_fold: list[dict[str, dict[str, float]]],
                  candidates: tuple[Candidate, ...] = CANDIDATES) -> dict[str, Any]:
    """Step 3: the proxies averaged over the folds, and the chosen candidate's name."""
    names = list(per_fold[0])
    proxies = {n: {k: float(np.mean([p[n][k] for p in per_fold])) for k in per_fold[0][n]}
               for n in names}
    return {"chosen": choose({n: p["mean"] for n, p in proxies.items()}, candidates),
            "proxies": proxies}


def select_blind(X_train: np.ndarray, X_val: np.ndarray, s: Any, seed: int,
                 candidates: tuple[Candidate, ...] = CANDIDATES) -> dict[str, Any]:
    """Steps 2-3: K-fold proxy inside the training normals; returns the chosen candidate's name,
    every candidate's proxy (mean over folds, and per distortion kind), the same two for the
    whole-beat proxy (``chosen_global``, ``proxies_global``) and the seconds spent."""
    t0 = time.perf_counter()
    per_fold = [fold_proxies(X_train, X_val, s, seed, f, candidates) for f in range(N_FOLDS)]
    return combine_rules(per_fold, candidates, time.perf_counter() - t0)


def combine_rules(per_fold: list[dict[str, dict[str, Any]]],
                  candidates: tuple[Candidate, ...] = CANDIDATES,
                  seconds: float = float("nan")) -> dict[str, Any]:
    """Both rules' step 3 from the folds of :func:`fold_proxies`."""
    local = combine_folds([p["local"] for p in per_fold], candidates)
    whole = combine_folds([p["whole_beat"] for p in per_fold], candidates)
    return {**local, "chosen_global": whole["chosen"], "proxies_global": whole["proxies"],
            "seconds": seconds}


# --------------------------------------------------------------------------- one run
BLIND_ROW = "blind choice"
INFO = "[info: not used to choose]"


def blind_rows(X: np.ndarray, split: dict[str, np.ndarray], n_train: int | None,
               seed: int) -> np.ndarray:
    """The training normals of a run: all of them, or the small-data table's seeded draw."""
    rows = split["train"]
    if n_train is not None:
        rows = np.random.default_rng([seed, n_train]).choice(rows, n_train, replace=False)
    return rows


def candidate_test_scores(X: np.ndarray, split: dict[str, np.ndarray], rows: np.ndarray,
                          s: Any, seed: int, candidates: tuple[Candidate, ...]
                          ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Step 4: ``candidates`` trained on the training normals ``rows``; their scores of the
    validation normals, test normals and abnormal beats, and their training seconds."""
    from minivae.experiments.ecg5000_core import score_all

    nets, secs = train_networks(candidates, X[rows], X[split["val"]], s, seed)
    scorers = {c.name: candidate_scorer(c, nets, X[rows], seed) for c in candidates}
    return score_all(scorers, X, split), {c.name: candidate_seconds(c, secs, seed)
                                          for c in candidates}


def blind_record(X: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray], rows: np.ndarray,
                 seed: int, sel: dict[str, Any], cand_scores: dict[str, Any],
                 cand_seconds: dict[str, float], all_candidates: bool) -> dict[str, Any]:
    """The run record: the chosen candidate as :data:`BLIND_ROW`, the whole-beat rule's as
    :data:`GLOBAL_ROW`, the others (with ``all_candidates``) marked :data:`INFO`, PCA and 1-NN
    on the same training normals."""
    from minivae.experiments.ecg5000_core import (
        evaluate_scores,
        nearest_neighbour_scorer,
        pca_scorer,
        score_all,
    )

    scores = {BLIND_ROW: cand_scores[sel["chosen"]], GLOBAL_ROW: cand_scores[sel["chosen_global"]]}
    seconds = {BLIND_ROW: cand_seconds[sel["chosen"]],
               GLOBAL_ROW: cand_seconds[sel["chosen_global"]]}
    if all_candidates:  # the chosen one too: every seed then has the same rows
        scores.update({f"{n} {INFO}": sc for n, sc in cand_scores.items()})
        seconds.update({f"{n} {INFO}": cand_seconds[n] for n in cand_scores})
    pca, k = pca_scorer(X[rows])
    scores.update(score_all({"PCA (90% variance)": pca,
                             "1-NN distance": nearest_neighbour_scorer(X[rows])}, X, split))
    seconds.update({"PCA (90% variance)": 0.0, "1-NN distance": 0.0})
    return {"seed": seed, "n_train": len(rows), "chosen": sel["chosen"],
            "proxies": sel["proxies"], "chosen_global": sel["chosen_global"],
            "proxies_global": sel["proxies_global"],
            "selection_seconds": sel.get("seconds", float("nan")),
            "metrics": {n: evaluate_scores(sc, y, split) for n, sc in scores.items()},
            "seconds": seconds, "notes": {"PCA components": k, "chosen": sel["chosen"],
                                          "chosen_global": sel["chosen_global"]},
            "_scores": scores}


def run_blind(X: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray], s: Any, seed: int,
              n_train: int | None = None, all_candidates: bool = True) -> dict[str, Any]:
    """One seed of the blind protocol: select on the training normals (no test beat, no abnormal
    beat), then train on all of them and evaluate; PCA and 1-NN on the same training normals.

    Returns the run record of :func:`~minivae.experiments.ecg5000.run_detection` plus
    ``chosen`` and ``proxies``; the metrics hold the row :data:`BLIND_ROW` (the chosen
    candidate), the baselines and, with ``all_candidates``, every candidate (suffix
    :data:`INFO`; the chosen one appears there too, so every seed has the same rows).
    """
    rows = blind_rows(X, split, n_train, seed)
    sel = select_blind(X[rows], X[split["val"]], s, seed)
    final = CANDIDATES if all_candidates else tuple(
        c for c in CANDIDATES if c.name in (sel["chosen"], sel["chosen_global"]))
    cand_scores, cand_seconds = candidate_test_scores(X, split, rows, s, seed, final)
    return blind_record(X, y, split, rows, seed, sel, cand_scores, cand_seconds, all_candidates)


def proxy_table(runs: list[dict[str, Any]], whole_beat: bool = False) -> str:
    """Markdown: every candidate's proxy (mean and per distortion) per seed, the choice marked;
    ``whole_beat``: the second rule's proxy and choice."""
    kinds = WHOLE_BEAT_DISTORTIONS if whole_beat else DISTORTIONS
    key, chosen = ("proxies_global", "chosen_global") if whole_beat else ("proxies", "chosen")
    head = "| candidate | seed | proxy (mean) | " + " | ".join(kinds) + " |"
    lines = [head, "|---" * (3 + len(kinds)) + "|"]
    for r in runs:
        for name, p in r[key].items():
            mark = " **(chosen)**" if name == r[chosen] else ""
            lines.append(f"| {name}{mark} | {r['seed']} | {p['mean']:.4f} | "
                         + " | ".join(f"{p[k]:.4f}" for k in kinds) + " |")
    return "\n".join(lines)


def rank_correlation(a: Any, b: Any) -> float:
    """Spearman's rank correlation of two equal-length sequences (ties get their mean rank);
    NaN when either is constant."""
    a = check_array(np.asarray(a, dtype=np.float64), "a", ndim=1)
    b = check_array(np.asarray(b, dtype=np.float64), "b", ndim=1)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"b: expected {len(a)} values like a (at least 2), got {len(b)}")

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=np.float64)
        for value in np.unique(v):  # ties: their mean rank
            r[v == value] = r[v == value].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def proxy_vs_test_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: per candidate, both proxies and the test ROC-AUC (mean over the runs; needs the
    candidates' *info* rows), then per run Spearman's correlation of each proxy with the test."""
    names = [n for n in runs[0]["proxies"] if f"{n} {INFO}" in runs[0]["metrics"]]
    if len(names) < 2:
        return "(proxy vs test: the candidates were not scored on test; use --all-candidates)"

    def mean(f: Any) -> list[float]:
        return [float(np.mean([f(r, n) for r in runs])) for n in names]

    local = mean(lambda r, n: r["proxies"][n]["mean"])
    whole = mean(lambda r, n: r["proxies_global"][n]["mean"])
    test = mean(lambda r, n: r["metrics"][f"{n} {INFO}"]["all"]["roc_auc"])
    lines = ["| candidate | local proxy | whole-beat proxy | test ROC-AUC (all) |",
             "|---|---|---|---|"]
    lines += [f"| {n} | {a:.4f} | {b:.4f} | {c:.4f} |" for n, a, b, c in zip(names, local,
                                                                          whole, test)]
    for r in runs:
        t = [r["metrics"][f"{n} {INFO}"]["all"]["roc_auc"] for n in names]
        rho = [rank_correlation([r[key][n]["mean"] for n in names], t)
               for key in ("proxies", "proxies_global")]
        lines.append(f"| Spearman with test, seed {r['seed']} (n = {r['n_train']}) | "
                     f"{rho[0]:.2f} | {rho[1]:.2f} | |")
    return "\n".join(lines)


# ------------------------------------------------------------------------ the parts
def _public(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if not k.startswith("_")}


def print_blind(runs: list[dict[str, Any]], sizes: dict[str, int]) -> None:
    """The blind tables: the proxies and choices, then test metrics on both evaluation sets."""
    from minivae.experiments._cli import say
    from minivae.experiments.ecg5000_core import detection_table

    say(f"\nBlind selection (training normals only; seeds {[r['seed'] for r in runs]}): "
        f"choices {[r['chosen'] for r in runs]}")
    say(proxy_table(runs))
    say(f"\nWhole-beat proxy (second rule): choices {[r['chosen_global'] for r in runs]}")
    say(proxy_table(runs, whole_beat=True))
    say("\nProxies against the test (does the proxy track the test ranking?)")
    say(proxy_vs_test_table(runs))
    for eval_set, title in (("all", f"{sizes['test']} test normals + {sizes['abnormal']} "
                                    "abnormal beats"),
                            ("balanced", f"balanced: {sizes['test']} + {sizes['balanced']}")):
        say(f"\nECG5000, blind protocol, {title}; mean ± std over seeds")
        say(detection_table(runs, eval_set))
    nn = float(np.mean([r["metrics"]["1-NN distance"]["all"]["roc_auc"] for r in runs]))
    for row in (BLIND_ROW, GLOBAL_ROW):
        auc = [r["metrics"][row]["all"]["roc_auc"] for r in runs]
        say(f"{row} ROC-AUC {np.mean(auc):.4f} (seeds {', '.join(f'{a:.4f}' for a in auc)}) "
            f"vs 1-NN {nn:.4f}: {'above' if np.mean(auc) > nn else 'NOT above'} 1-NN")


def print_blind_small(by_size: dict[int, list[dict[str, Any]]]) -> None:
    """The small-data blind table (same columns as the small-data table) and the choices."""
    from minivae.experiments._cli import say
    from minivae.experiments.ecg5000_core import small_data_table

    for n, runs in by_size.items():
        say(f"  {n} training normals: choices (seed, local proxy, whole-beat proxy) "
            f"{[(r['seed'], r['chosen'], r['chosen_global']) for r in runs]}")
        say(proxy_vs_test_table(runs))
    say(small_data_table(by_size))


def run_blind_part(X: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray], s: Any,
                   seeds: Any, results: dict[str, Any], out: Any, all_candidates: bool,
                   figure: bool) -> list[str]:
    """``--parts blind``: :func:`run_blind` per seed, tables after each; returns figure paths."""
    from minivae.experiments._cli import say
    from minivae.experiments.ecg5000_core import score_figure

    runs = []
    for seed in seeds:
        runs.append(run_blind(X, y, split, s, seed, all_candidates=all_candidates))
        say(f"  blind seed {seed}: chose {runs[-1]['chosen']}, whole-beat proxy chose "
            f"{runs[-1]['chosen_global']} (selection {runs[-1]['selection_seconds']:.0f} s)")
        print_blind(runs, {k: len(v) for k, v in split.items()})
    results["blind"] = [_public(r) for r in runs]
    if not figure:
        return []
    paths = [score_figure(runs[0], y, split, [BLIND_ROW, "1-NN distance"],
                          out / "ecg5000_blind_scores.png")]
    if runs[0]["chosen_global"] != runs[0]["chosen"]:
        paths.append(score_figure(runs[0], y, split, [GLOBAL_ROW, "1-NN distance"],
                                  out / "ecg5000_blind_global_scores.png"))
    return paths


def run_blind_small(X: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray], s: Any,
                    seeds: Any, results: dict[str, Any], all_candidates: bool) -> None:
    """``--parts blind_small``: the blind protocol on 100 and 300 training normals."""
    from minivae.experiments._cli import say

    sizes = [n for n in s.small_sizes if n < len(split["train"])]
    by_size: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    for seed in seeds:
        for n in sizes:
            by_size[n].append(run_blind(X, y, split, s, seed, n_train=n,
                                        all_candidates=all_candidates))
            say(f"  blind, {n} training normals, seed {seed}: chose {by_size[n][-1]['chosen']}, "
                f"whole-beat proxy chose {by_size[n][-1]['chosen_global']}")
        say("\nSmall data, blind protocol (a seeded draw of training normals per seed; same "
            "validation and test sets)")
        print_blind_small(by_size)
    results["blind_small"] = {str(n): [_public(r) for r in runs] for n, runs in by_size.items()}
