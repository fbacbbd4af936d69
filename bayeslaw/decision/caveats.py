"""What every output must say beside its numbers, as typed records: failed gates, the data, the reach beyond the
fitted runs, recipes on the planner's bounds.

Shared by ``bayeslaw predict``, ``bayeslaw plan`` (text and JSON) and the risk reports, so that the same question
gets the same caveats wherever it is asked. A :class:`Caveat` renders as its text; renderers select by ``kind``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw.core import bounds, compute
from bayeslaw.core.compute import SCENARIOS
from bayeslaw.core.errors import InputError
from bayeslaw.core.fmt import sci
from bayeslaw.core.intervals import ABOUT_STATED, band_name, pick, quantile_band
from bayeslaw.data.registry import data_provenance
from bayeslaw.posterior import reach
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import laws
from bayeslaw.posterior.extrapolation import WITH_STUDENT_ERROR, form_suffix, law_form
from bayeslaw.posterior.point import POINT_NOTE

#: A recipe value this close (relative) to a planner bound sits on it.
ON_BOUND = 0.01
#: A plan's reach warnings name this many cells and count the rest.
PLAN_NOTES = 6

#: The kinds of caveat, in the order outputs show them: failed gates, the data, reach beyond the fitted runs,
#: how the law fared when its own runs were held out, recipes on the planner's bounds.
FAILED_GATES, DATA, REACH, VALIDATION, BOUNDS = "failed_gates", "data", "reach", "validation", "bounds"
KINDS = (FAILED_GATES, DATA, REACH, VALIDATION, BOUNDS)

#: The in-table backtests of the distillation law on the paper's digitized runs (``make backtests``), at the
#: table's default form (the weak-teacher gain); the others, one per form, add the form's name to the stem
#: (``_paper_form`` for Eq. 8 as printed, ``_size_effect`` for per-student-size offsets on it).
DISTILLATION_BACKTEST = Path(__file__).resolve().parents[2] / "reports/backtests/busbridge2025_digitized_summary.csv"


def distillation_backtest(fit: Fit) -> Path:
    """The in-table backtest of the distillation law that speaks for ``fit``'s form of the law
    (:func:`~bayeslaw.posterior.extrapolation.law_form`)."""
    suffix = form_suffix(law_form(fit.card["spec"]))
    return DISTILLATION_BACKTEST.with_name(f"busbridge2025_digitized{suffix}_summary.csv")


#: A 90% band that held between these shares of the held-out students held about its stated rate.
ABOUT_90 = ABOUT_STATED[0.9]
#: A split's coverage with a predictive p-value at or above this is what a right band gives by chance.
CHANCE = 0.05


def distillation_backtest_caveat(path: Path = DISTILLATION_BACKTEST) -> Caveat:
    """What the in-table backtests of the distillation law measured (fit the higher-loss students, predict the
    lower-loss ones): the coverage of the bands predictions use (with the distillation law's own error where the
    backtests scored it) per split, read from their summary table, and whether they held their stated rate."""
    rows = []
    if path.exists():
        with path.open() as f:
            rows = list(csv.DictReader(f))
    method = WITH_STUDENT_ERROR if any(r["method"] == WITH_STUDENT_ERROR for r in rows) else "bayeslaw"
    rows = [r for r in rows if r["method"] == method]
    if not rows:
        return Caveat(VALIDATION, "the distillation law's bands beyond its fitted students have not been backtested "
                                  "here (`make backtests`); docs/validation.md says what they held before")

    def held(r: dict[str, str], level: str, share: bool = True) -> str:
        n = int(float(r["n_test"]))
        k = round(float(r[f"coverage{level}"]) * n)
        return f"{k} of {n}" + (f" ({k / n:.0%})" if share and 0 < k < n else "")

    outside = [r for r in rows if not ABOUT_90[0] <= float(r["coverage90"]) <= ABOUT_90[1]]
    # a split outside 80-95% that a right band strays to this often on that many students (make backtests records
    # the predictive p-value) is chance, not miscalibration
    chance = [r for r in outside if float(r.get("coverage90_p_value") or 0.0) >= CHANCE]
    if len(chance) == len(outside):
        how = "held about their stated rate"
    elif any(float(r["coverage90"]) < ABOUT_90[0] for r in outside):
        how = "were over-confident"
    else:
        how = "were wider than they needed to be"
    held_out = "; ".join(f"{r['split']} fitted: 90% bands held {held(r, '90')} held-out lower-loss students, 50% "
                         f"bands {held(r, '50')}, median error {float(r['rel_error_median']):.2%}" for r in rows)
    why = "".join(f"; {r['split']}'s {held(r, '90', share=False)} lies as far from 90% as a band exactly right "
                  f"strays on that many students with probability {float(r['coverage90_p_value']):.2f}" for r in chance)
    stem = path.name.removesuffix("_summary.csv").removeprefix("busbridge2025_digitized")
    kind = {"_size_effect": " (fitted with per-student-size offsets)",
            "_paper_form": " (fitted with Eq. 8 as printed)"}.get(stem, "")
    return Caveat(VALIDATION, f"distilled students' bands beyond the fitted students {how} in in-table backtests on "
                              f"the paper's runs{kind} ({held_out}{why}{_failed_splits(path)}; docs/validation.md)")


def _failed_splits(summary: Path) -> str:
    """The backtest's split fits that failed their gates (its ``_fits.csv`` beside the summary), in words."""
    fits = summary.with_name(summary.name.replace("_summary.csv", "_fits.csv"))
    if not fits.exists():
        return ""
    with fits.open() as f:
        failed = [r["split"] for r in csv.DictReader(f) if r.get("diagnostics_passed") == "False"]
    return "".join(f"; the {s} split's fit failed its gates" for s in failed)


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
    if fit.is_point:
        return f"{POINT_NOTE} ({data['source']})"
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
    """One warning for the recipes and supervised students that lie more than 10x beyond the fitted runs in size or
    compute, or past the most tokens per parameter of any fitted run."""
    if fit.is_point:  # no fitted runs: said by the data caveat
        return None
    scale = reach.fitted_scale(fit)
    notes = []
    for n in summary["student_size"].values:
        for c in summary["budget"].values:
            train = (float(summary["training_budget"].sel(student_size=n, budget=c)) if "training_budget" in summary
                     else float(c))  # with serving, what the budget leaves for training
            worst = [("supervised student", reach.reach(scale, float(n), compute.supervised_tokens(float(n), train)))]
            for sc in summary["scenario"].values:
                s = summary.sel(student_size=n, budget=c, scenario=sc)
                N_T, D_T = float(pick(s, "N_T")), float(pick(s, "D_T"))
                if np.isfinite(N_T) and np.isfinite(D_T):
                    worst.append((f"teacher ({SCENARIOS[str(sc)].label})", reach.reach(scale, N_T, D_T)))
            for label, r in worst:
                if d := reach.describe_reach(f"{label} for {sci(float(n))} params at {sci(float(c))} FLOPs", r):
                    notes.append(d)
    for label in summary["teacher"].values if "teacher" in summary.coords else []:
        t = summary.attrs["given_teachers"][str(label)]  # (N_T, D_T) of a teacher the law predicts
        if t is not None and (d := reach.describe_reach(str(label), reach.reach(scale, *t))):
            notes.append(d)
    return reach_caveat(reach.warning(notes, most=PLAN_NOTES))


def plan_student_reach(fit: Fit, summary: xr.Dataset) -> Caveat | None:
    """One caveat for the distilled students of a plan (the recipes' medians) that lie beyond the fitted students
    in size, tokens, tokens per parameter, loss or teacher strength."""
    span = reach.fitted_students(fit)
    if span is None:
        return None
    notes = []
    for n in summary["student_size"].values:
        for c in summary["budget"].values:
            for sc in summary["scenario"].values:
                s = summary.sel(student_size=n, budget=c, scenario=sc)
                D_S, L_S, L_T = (float(pick(s, v)) for v in ("D_S", "L_S", "L_T"))
                if not np.isfinite(D_S):
                    continue
                r = {k: float(v) for k, v in reach.student_reach(span, float(n), D_S, L_S, L_T).items()}
                if d := reach.describe_student(f"{sci(float(n))} params at {sci(float(c))} FLOPs "
                                               f"({SCENARIOS[str(sc)].label})", r):
                    notes.append(d)
    return reach_caveat(reach.student_warning(notes, most=PLAN_NOTES))


def reach_row(label: str, N: float, D: float, r) -> dict:
    """One row of a report's reach table from :func:`bayeslaw.posterior.reach.reach`'s result for ``(N, D)``.

    ``flops`` is the run's training compute in the reports' convention (3 F(N) D); ``compute_factor`` stays the
    ratio of N x D products, the distance the law's extrapolation error was learned on.
    """
    return {"prediction": label, "size": N, "tokens": D, "flops": float(compute.supervised_flops(N, D)),
            "size_factor": float(r["size_factor"][0]),
            "compute_factor": float(r["compute_factor"][0]), "tokens_per_param": float(r["tokens_per_param"][0]),
            "ratio_factor": float(r["ratio_factor"][0]),
            "beyond": bool(r["beyond"][0]) or bool(r["beyond_ratio"][0])}


def reach_caveat(text: str | None) -> Caveat | None:
    """A reach warning (:func:`bayeslaw.posterior.reach.warning`) as a caveat."""
    return None if text is None else Caveat(REACH, text)


def plan_caveats(fit: Fit, summary: xr.Dataset) -> list[Caveat]:
    """Everything ``bayeslaw plan`` must say beside its table: failed gates, data, reach, bounds."""
    found = [fit_failed(fit), data_caveat(fit), plan_reach(fit, summary), plan_student_reach(fit, summary)]
    return [c for c in found if c is not None] + on_bounds(summary)


def point_caveats(fit: Fit, points: list[tuple[str, float, float]]) -> list[Caveat]:
    """Failed gates, the data and one reach caveat for predictions at ``(label, N, D)`` points."""
    if fit.is_point:  # no fitted runs to reach beyond: the data caveat says so
        return [c for c in (data_caveat(fit),) if c is not None]
    scale = reach.fitted_scale(fit)
    notes = []
    for label, N, D in points:
        if not (np.isfinite(N) and np.isfinite(D)):
            continue
        d = reach.describe_reach(label, reach.reach(scale, N, D))
        notes += [x for x in (d, reach.describe_below(label, scale, float(N), float(D))) if x]
    found = [fit_failed(fit), data_caveat(fit), reach_caveat(reach.warning(notes))]
    return [c for c in found if c is not None]


def check_above_floor(fit: Fit, value: float, what: str) -> None:
    """Refuse a loss (a target, a teacher's measured loss) that lies below the supervised law's irreducible loss
    ``E`` in at least 95% of the posterior draws: no model reaches it, so any number computed from it would be a
    silent artefact (P(target) 0, or a distilled student from an impossible teacher)."""
    bounds.check_loss(value, what)  # a loss at all first, then one some model could reach
    E = laws(fit).E
    lo, med, hi = quantile_band(E, 0.9)
    if value < lo:
        raise InputError(f"{what} {value:g} nats/token lies below the law's irreducible loss E ({med:.3f}, 90% "
                         f"{lo:.3f}-{hi:.3f}) in more than 95% of the posterior draws: no model reaches it. Give a "
                         "cross-entropy in nats per token (not bits or perplexity) above E")


def check_teacher_losses(fit: Fit, teachers: Sequence[Any]) -> None:
    """Every teacher given by its measured loss lies above the law's floor (:func:`check_above_floor`).

    Parameters
    ----------
    fit
        The posterior the question is asked of.
    teachers
        :class:`~bayeslaw.decision.question.Teacher` records.
    """
    for t in teachers:
        if t.L_T is not None:
            check_above_floor(fit, t.L_T, f"the measured loss of {t.label}")
