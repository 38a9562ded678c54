"""The fail-safe checks of one training step, before and after issue 21, in one process.

    python benchmarks/bench_guard.py            # W1's parameters (784-400-20 VAE), both dtypes

"before": what ``minivae.train.guard`` did until issue 21 (``np.isfinite(g).all()`` per
gradient; ``np.min`` and ``np.max`` per parameter); "reference" / "twin": the NumPy reference
of ``guard.first_bad_array`` and its compiled twin (``minivae.fast.guard``), on the same arrays.
Rounds alternate between the variants; medians of 7 rounds of 50 calls, microseconds per call
(one call = every array of the model).
"""

from __future__ import annotations

import math
import sys
import time


def bench(arrays: list) -> dict[str, float]:
    """Median microseconds per call of each variant on ``arrays``."""
    import numpy as np

    from minivae.fast.guard import first_bad_array as twin
    from minivae.train.guard import first_bad_array

    reference = first_bad_array.reference

    def before_gradients() -> None:
        [name for name, g in enumerate(arrays) if not np.isfinite(g).all()]

    def before_parameters() -> None:
        for p in arrays:
            float(np.min(p)), float(np.max(p))

    variants = {
        "gradients: before": before_gradients,
        "gradients: reference": lambda: reference(arrays, math.inf),
        "gradients: twin": lambda: twin(arrays, math.inf),
        "parameters: before": before_parameters,
        "parameters: reference": lambda: reference(arrays, 1e6),
        "parameters: twin": lambda: twin(arrays, 1e6),
    }
    twin(arrays, math.inf)  # compile / load
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(7):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            for _ in range(50):
                fn()
            times[name].append((time.perf_counter() - t0) / 50 * 1e6)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def main() -> int:
    import numpy as np

    from minivae.models import VAE

    for dtype in (np.float32, np.float64):
        model = VAE(784, [400], 20, likelihood="bernoulli", activation="relu", rng=0,
                    dtype=dtype)
        arrays = [p for _, p, _ in model.parameters()]
        n = sum(a.size for a in arrays)
        print(f"{np.dtype(dtype).name}, {len(arrays)} arrays, {n:,} numbers:")
        for name, us in bench(arrays).items():
            print(f"  {name:24s} {us:8.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
