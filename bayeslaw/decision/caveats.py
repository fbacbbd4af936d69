"""What every output must say beside its numbers, as typed records: failed gates, the data, the reach beyond the
fitted runs, recipes on the planner's bounds.

Shared by ``bayeslaw predict``, ``bayeslaw plan`` (text and JSON) and the risk reports, so that the same question
gets the same caveats wherever it is asked. A :class:`Caveat` renders as its text; renderers select by ``kind``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayeslaw.core import bounds, compute
from bayeslaw.core.compute import SCENARIOS
from bayeslaw.core.fmt import sci
from bayeslaw.core.intervals import band_name, pick
from bayeslaw.data.registry import data_provenance
from bayeslaw.posterior import reach
from bayeslaw.posterior.card import Fit

#: A recipe value this close (relative) to a planner bound sits on it.
ON_BOUND = 0.01

#: The kinds of caveat, in the order outputs show them.
FAILED_GATES, DATA, REACH, BOUNDS = "failed_gates", "data", "reach", "bounds"
KINDS = (FAILED_GATES, DATA, REACH, BOUNDS)


@dataclass(frozen=True)
class Caveat:
    """One thing an output must say beside its numbers: its ``kind`` (one of :data:`KINDS`) and its text."""

    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown caveat kind {self.kind!r}; one of {KINDS}")

    def __str__(self) -> str:
        return self.text


def failed_gates(failures: Sequence[str]) -> Caveat:
    """The caveat every output of a fit that failed its gates leads with."""
    return Caveat(FAILED_GATES, "the fit FAILED its diagnostic gates: " + "; ".join(failures))


def fit_failed(fit: Fit) -> Caveat | None:
    """:func:`failed_gates` for a fit whose card records failed gates; None for one that passed."""
    return None if fit.diagnostics_passed else failed_gates(fit.card["diagnostics"]["failures"])


def data_caveat(fit: Fit) -> Caveat | None:
    """:func:`data_warning` as a caveat."""
    w = data_warning(fit)
    return None if w is None else Caveat(DATA, w)


def data_warning(fit: Fit) -> str | None:
    """A warning naming SYNTHETIC data or the data's provenance; None for a user's own runs."""
    data = fit.card["data"]
    if "SYNTHETIC" in str(data.get("source", "")):
        return ("this posterior was fitted to SYNTHETIC runs generated from the paper's published law, not to "
                "measured runs: it shows what the paper's law implies, with the uncertainty such a study would leave")
    if data.get("provenance"):
        return f"data: {data_provenance(fit.card)}"
    return None


def on_bounds(summary: xr.Dataset) -> list[Caveat]:
    """Recipe medians that sit on the planner's bounds: a bound, not an optimum (one note per kind and scenario)."""
    notes: dict[tuple[str, str], list[str]] = {}
    for var, what in (("D_T", "teacher tokens D_T"), ("N_T", "teacher size N_T"), ("D_S", "student tokens D_S")):
        if band_name(var) not in summary:
            continue
        med = pick(summary, var)
        for edge, word in ((bounds.BOX_MAX, "upper"), (bounds.BOX_MIN, "lower")):
            hit = np.isfinite(med) & (abs(np.log(med.where(med > 0) / edge)) < ON_BOUND)
            for idx in zip(*np.nonzero(hit.transpose("student_size", "budget", "scenario").values), strict=True):
                n, c, sc = (summary[d].values[i] for d, i in zip(("student_size", "budget", "scenario"), idx,
                                                                 strict=True))
                notes.setdefault((what, f"{word} bound {sci(edge)}"), []).append(
                    f"{sci(float(n))} params at {sci(float(c))} FLOPs ({SCENARIOS[str(sc)].label})")
    return [Caveat(BOUNDS, f"{what} on the planner's {edge} in {len(cells)} recipe(s), e.g. {cells[0]}: a bound, "
                   "not an optimum (read it as 'as much as allowed')") for (what, edge), cells in notes.items()]


def plan_reach(fit: Fit, summary: xr.Dataset) -> Caveat | None:
    """One warning for the recipes and supervised students that lie more than 10x beyond the fitted runs."""
    scale = reach.fitted_scale(fit)
    notes = []
    for n in summary["student_size"].values:
        for c in summary["budget"].values:
            worst = []
            sup = reach.reach(scale, float(n), compute.supervised_tokens(float(n), float(c)))
            worst.append(("supervised student", float(sup["size_factor"][0]), float(sup["compute_factor"][0])))
            for sc in summary["scenario"].values:
                s = summary.sel(student_size=n, budget=c, scenario=sc)
                N_T, D_T = float(pick(s, "N_T")), float(pick(s, "D_T"))
                if np.isfinite(N_T) and np.isfinite(D_T):
                    r = reach.reach(scale, N_T, D_T)
                    worst.append((f"teacher ({SCENARIOS[str(sc)].label})", float(r["size_factor"][0]),
                                  float(r["compute_factor"][0])))
            for label, sf, cf in worst:
                d = reach.describe(f"{label} for {sci(float(n))} params at {sci(float(c))} FLOPs", sf, cf)
                if d:
                    notes.append(d)
    w = reach.warning(notes[:6])
    if w and len(notes) > 6:
        w = w.replace(f"{min(6, len(notes))} prediction(s)", f"{len(notes)} prediction(s)", 1)
        w += f"; and {len(notes) - 6} more"
    return reach_caveat(w)


def reach_caveat(text: str | None) -> Caveat | None:
    """A reach warning (:func:`bayeslaw.posterior.reach.warning`) as a caveat."""
    return None if text is None else Caveat(REACH, text)


def plan_caveats(fit: Fit, summary: xr.Dataset) -> list[Caveat]:
    """Everything ``bayeslaw plan`` must say beside its table: failed gates, data, reach, bounds."""
    found = [fit_failed(fit), data_caveat(fit), plan_reach(fit, summary)]
    return [c for c in found if c is not None] + on_bounds(summary)


def point_caveats(fit: Fit, points: list[tuple[str, float, float]]) -> list[Caveat]:
    """Failed gates, the data and one reach caveat for predictions at ``(label, N, D)`` points."""
    scale = reach.fitted_scale(fit)
    notes = []
    for label, N, D in points:
        if not (np.isfinite(N) and np.isfinite(D)):
            continue
        r = reach.reach(scale, N, D)
        d = reach.describe(label, float(r["size_factor"][0]), float(r["compute_factor"][0]))
        if d:
            notes.append(d)
    found = [fit_failed(fit), data_caveat(fit), reach_caveat(reach.warning(notes))]
    return [c for c in found if c is not None]
