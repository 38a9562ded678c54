"""The outcome of one gradient comparison (:class:`GradCheckResult`) and the PASS/FAIL table.

``str(result)`` is the message a student reads: where the worst entry is, analytic vs numeric,
the tolerance, and (on failure) the likely causes that :mod:`~minivae.gradcheck.diagnosis`
recognised.  :func:`format_table` lists many results, one line each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from minivae.gradcheck.numerical import TINY, Index

_SCALE_OF_ERRORS = (
    "Relative errors above {tol:.0e} in float64 usually mean a bug in backward "
    "(below 1e-7: correct; 1e-7..1e-4: suspicious, maybe a kink; above 1e-2: wrong)."
)


@dataclass
class GradCheckResult:
    """Outcome of comparing one analytic gradient with its numeric estimate.

    Attributes:
        name: what was differentiated (``"W"``, ``"layers.0.b"``, ``"x"``, ``"logvar"``).
        shape: shape of that array.
        max_rel_error: largest elementwise relative error over the checked entries
            (``inf`` when the shapes do not even match, NaN comparisons count as 1).
        worst_index: index where it occurs (``None`` if nothing could be compared).
        analytic, numeric: the two gradient values at ``worst_index``.
        passed: ``max_rel_error <= tol``.
        tol: the tolerance used.
        n_checked: number of entries compared; n_failed: how many exceeded ``tol``.
        floor: denominator floor used for the relative error (finite-difference noise / tol).
        hints: likely causes, recognised from the pattern of the mismatch (empty when passed).
        check: name of the registered check that produced this result (CLI tables), or "".
        error: traceback text when the check crashed before comparing anything, else "".
    """

    name: str
    shape: tuple[int, ...]
    max_rel_error: float
    worst_index: Index | None
    analytic: float
    numeric: float
    passed: bool
    tol: float
    n_checked: int = 0
    n_failed: int = 0
    floor: float = TINY
    hints: tuple[str, ...] = field(default_factory=tuple)
    check: str = ""
    error: str = ""

    @property
    def label(self) -> str:
        """``dW`` for a plain name, ``d(layers.0.W)`` for a qualified one."""
        base, _, extra = self.name.partition(" ")  # "W (accumulates)" -> "dW (accumulates)"
        label = f"d{base}" if base.isidentifier() else f"d({base})"
        return f"{label} {extra}" if extra else label

    @property
    def full_name(self) -> str:
        """``check: name`` when the result comes from a registered check, else ``name``."""
        return f"{self.check}: {self.name}" if self.check else self.name

    @property
    def status(self) -> str:
        """"PASS", "FAIL", or "ERROR" (the check crashed)."""
        return "ERROR" if self.error else ("PASS" if self.passed else "FAIL")

    def __str__(self) -> str:
        where = f"[{self.check}] " if self.check else ""
        if self.error:
            body = "\n".join("    " + line for line in self.error.rstrip().splitlines())
            return f"{where}{self.name}: ERROR, the check raised before comparing anything:\n{body}"
        head = where + self._headline()
        if self.passed:
            return head
        return "\n".join([head, *self._explanation()])

    def _headline(self) -> str:
        """``dW: FAIL, max relative error ... at index ...: analytic ..., numeric ... (tol)``."""
        head = f"{self.label}: {self.status}, max relative error {self.max_rel_error:.1e}"
        if self.worst_index is not None:
            head += (f" at index {self.worst_index}: analytic {self.analytic:.6g}, "
                     f"numeric {self.numeric:.6g}")
        head += f" (tolerance {self.tol:.0e}"
        if not self.passed and self.n_checked:
            head += f"; {self.n_failed} of {self.n_checked} checked entries exceed it"
        return head + ")"

    def _explanation(self) -> list[str]:
        """The lines under a failed headline: the scale of errors, noise, and the hints."""
        lines = ["  " + _SCALE_OF_ERRORS.format(tol=self.tol)]
        if (self.worst_index is not None and self.floor > TINY
                and abs(self.analytic) + abs(self.numeric) < self.floor):
            lines.append(
                f"  (Entries this small are within finite-difference noise and are compared "
                f"absolutely: |analytic - numeric| must stay below {self.floor * self.tol:.1e}.)"
            )
        return lines + [f"  Hint: {hint}" for hint in self.hints]


def format_table(results: Sequence[GradCheckResult]) -> str:
    """A fixed-width table: name | shape | max rel err | tol | PASS/FAIL, and a summary line."""
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence) or \
            not all(isinstance(r, GradCheckResult) for r in results):
        raise TypeError("results must be a list of GradCheckResult (from check_gradient, "
                        f"check_layer, ...), got {type(results).__name__}")
    header = ("name", "shape", "max rel err", "tol", "result")
    rows = [
        (
            r.full_name,
            "x".join(str(s) for s in r.shape) if r.shape else "()",
            "-" if r.error else f"{r.max_rel_error:.1e}",
            "-" if r.error else f"{r.tol:.0e}",
            r.status,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return " | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()

    lines = [fmt(header), "-+-".join("-" * w for w in widths)]
    lines += [fmt(row) for row in rows]
    n_fail = sum(not r.passed for r in results)
    lines.append(f"{len(results)} gradients checked, {n_fail} failed")
    return "\n".join(lines)
