"""``pilot``: the runs worth buying before a decision, ranked by what they are expected to settle per FLOP.

A budget question (:class:`~bayeslaw.decision.question.Question`) becomes one decision per budget, a loss
matrix over the posterior draws (:mod:`bayeslaw.decision.value`):

- a distillation (joint) posterior: distil the student with the scenario's optimal teacher, from each given
  teacher, or train it supervised; the loss is the student loss each option reaches (nats), with the law's
  extrapolation error as in ``plan`` and ``report`` (the same :mod:`~bayeslaw.decision.pipeline` steps);
- a supervised posterior with a target: will the compute-optimal run at the budget reach it (a wrong call
  costs 1); without one: which model size to train on the budget (the loss each size reaches).

Each candidate run (a supervised run ``(N, D)``, or a distillation run ``(N_S, D_S)`` from a teacher, whose
own loss the run measures too when the law predicts it) is predicted per draw, the law's error included, so
a run beyond the fitted runs also measures the study's departure from the law that the decision meets. Its
expected value of sample information (EVSI) is :func:`~bayeslaw.decision.value.preposterior`'s; the ceiling is
the decision's EVPI. Candidates are ranked by EVSI per FLOP; a candidate costing more than the budget is listed,
not ranked; the best sets of 1, 2 and 3 runs bought together are found greedily (joint EVSI per total FLOP).

What a run costs: a supervised run ``3 F(N) D``; a distillation run the student's ``3 F(N_S) D_S``, the
teacher's logits ``F(N_T) D_S`` and, unless the teacher exists, its pretraining ``3 F(N_T) D_T``, whatever
the question's scenario (a pilot pays for what it runs). FLOPs of the paper's architecture, as everywhere.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bayeslaw.core import bounds, compute, laws, params
from bayeslaw.core.errors import DataError, InputError
from bayeslaw.core.fmt import sci, share
from bayeslaw.core.params import Laws
from bayeslaw.core.seeds import Streams
from bayeslaw.decision import value as voi
from bayeslaw.decision.caveats import Caveat, check_above_floor, failed_gates
from bayeslaw.decision.pipeline import DecisionDraws, calibration_for, decision_draws, teacher_option
from bayeslaw.decision.question import Question, Teacher, distil_label
from bayeslaw.planning.optima import supervised_optimum
from bayeslaw.posterior import draws as posterior_draws
from bayeslaw.posterior import extrapolation as ex
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.likelihood import noise_parameters, student_log_mean, student_noise, supervised_log_mean

KINDS = ("supervised", "distillation")
#: The columns a candidates file may have (``kind``, ``N``, ``D`` required; a distillation run's teacher as
#: ``N_T`` with ``D_T`` or a measured ``L_T``; ``sunk`` 1 for a teacher you have).
CANDIDATE_COLUMNS = ("kind", "N", "D", "N_T", "D_T", "L_T", "sunk")
#: Fewer draws than this preferring another option (and the answer is settled: nothing to rank).
SETTLED = 0.01
#: A decision in nats whose EVPI is below this share of the practical margin is settled too: even knowing the
#: state for certain would change the student's expected loss by less than a hundredth of a practical difference.
SETTLED_MARGIN = 0.01
#: A run that settles a verdict spends at most this share of the budget it informs (the report's summary).
SETTLE_SHARE = 0.10
#: The sequence searches sets among this many best single runs per FLOP (bounds its memory).
SEQUENCE_POOL = 32
#: Runs bought together in the sequence.
MOST = 3
#: The fewest posterior draws a value of information is computed over (importance weights need room).
MIN_DRAWS = 50
#: Candidates' simulated log likelihoods are kept (not recomputed for every budget and set) up to this size.
CACHE_BYTES = 2 ** 30
#: Refit (where asked) when more than this share of a run's outcomes rest on too few effective draws.
REFIT_WHEN = voi.ESS_LOW_SHARE


#: ``refitter(fit, runs, outcomes, seed=...)``: one posterior per simulated outcome of the runs
#: (:func:`bayeslaw.inference.preposterior.refit_with_outcomes`).
Refitter = Callable[..., list[Fit]]


@dataclass(frozen=True)
class Candidate:
    """A pilot run one could buy: supervised ``(N, D)``, or a student ``(N, D)`` distilled from ``teacher``."""

    kind: str
    N: float
    D: float
    teacher: Teacher | None = None

    @property
    def flops(self) -> float:
        if self.kind == "supervised":
            return float(compute.supervised_flops(self.N, self.D))
        t = self.teacher
        return float(compute.distillation_flops(self.N, self.D, t.N_T, t.D_T if t.D_T is not None else 0.0,
                                                "pretraining_inference", teacher_sunk=t.is_sunk))

    @property
    def label(self) -> str:
        run = f"{sci(self.N)} params on {sci(self.D)} tokens ({self.D / self.N:.0f}/param)"
        if self.kind == "supervised":
            return f"supervised {run}"
        t = self.teacher
        teacher = (f"measured teacher {sci(t.N_T)} (L_T {t.L_T:.3f})" if t.L_T is not None
                   else f"{'existing' if t.sunk else 'new'} teacher {sci(t.N_T)} on {sci(t.D_T)}")
        return f"student {run} from {teacher}"

    def check(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"a candidate's kind is one of {', '.join(KINDS)}, got {self.kind!r}")
        for name, v in (("N", self.N), ("D", self.D)):
            if not np.isfinite(v) or not bounds.BOX_MIN <= v <= bounds.BOX_MAX:
                raise InputError(f"a candidate's {name} must be a raw count in [1e6, 1e17] (e.g. 1e9, not 1), "
                                 f"got {v:g}")
        if self.kind == "distillation":
            if self.teacher is None:
                raise InputError("a distillation candidate needs its teacher: N_T with D_T, or N_T with L_T")
            self.teacher.check()
        elif self.teacher is not None:
            raise InputError("a supervised candidate has no teacher: drop N_T, D_T and L_T from its row")

    def record(self) -> dict[str, Any]:
        t = self.teacher
        return {"kind": self.kind, "N": self.N, "D": self.D, "label": self.label,
                "N_T": None if t is None else t.N_T, "D_T": None if t is None else t.D_T,
                "L_T": None if t is None else t.L_T, "teacher_sunk": None if t is None else t.is_sunk}


def read_candidates(path: str | Path) -> list[Candidate]:
    """Candidates from a CSV file with the columns of :data:`CANDIDATE_COLUMNS`.

    Parameters
    ----------
    path
        A CSV file, one candidate per row.

    Returns
    -------
    list of Candidate
        Each checked; an unknown or missing column, a value that is not a number or a count out of range is a
        :class:`~bayeslaw.core.errors.DataError` naming the line.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"--candidates {path}: no such file")
    try:
        with p.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"--candidates {path}: not a CSV table ({err})") from err
    if not rows:
        raise DataError(f"--candidates {path}: no rows (columns {', '.join(CANDIDATE_COLUMNS)})")
    unknown = [c for c in rows[0] if c not in CANDIDATE_COLUMNS]
    if unknown or None in rows[0]:
        raise DataError(f"--candidates {path}: unknown column(s) {', '.join(map(str, unknown)) or '(unnamed)'}; "
                        f"the columns are {', '.join(CANDIDATE_COLUMNS)}")
    missing = [c for c in ("kind", "N", "D") if c not in rows[0]]
    if missing:
        raise DataError(f"--candidates {path}: missing column(s) {', '.join(missing)}")
    out = []
    for i, row in enumerate(rows, start=2):
        try:
            num = {k: float(row[k]) for k in ("N", "D", "N_T", "D_T", "L_T") if (row.get(k) or "").strip()}
            sunk = (row.get("sunk") or "0").strip().lower() in ("1", "true", "yes")
        except ValueError as err:
            raise DataError(f"--candidates {path}, line {i}: numbers like 1e9 expected ({err})") from err
        kind = (row["kind"] or "").strip()
        teacher = None
        if any(k in num for k in ("N_T", "D_T", "L_T")):
            if "N_T" not in num:
                raise DataError(f"--candidates {path}, line {i}: a teacher needs N_T")
            teacher = Teacher(N_T=num["N_T"], D_T=num.get("D_T"), L_T=num.get("L_T"), sunk=sunk)
        c = Candidate(kind, num.get("N", np.nan), num.get("D", np.nan), teacher)
        try:
            c.check()
        except InputError as err:
            raise DataError(f"--candidates {path}, line {i}: {err}") from err
        out.append(c)
    return out


def default_candidates(fit: Fit, question: Question, draws: DecisionDraws) -> list[Candidate]:
    """Runs around the question, cheap to expensive.

    A distillation question: supervised runs of the student's size and of a third and a tenth of it, at 20
    and 100 tokens per parameter, and the same students distilled from each of the question's teachers
    (:meth:`~bayeslaw.decision.question.Question.default_teachers`). A supervised question: IsoFLOP triplets
    (the posterior median N* at a thousandth, a hundredth and a tenth of each budget, and a third and three
    times it; with a serving demand, N* of that fraction of the budget serving that fraction of the demand).
    """
    q = question
    out: list[Candidate] = []
    if q.student_size is not None:
        for m in (0.1, 1 / 3, 1.0):
            for tpp in (20.0, 100.0):
                N = m * q.student_size
                out.append(Candidate("supervised", N, tpp * N))
                out += [Candidate("distillation", N, tpp * N, t) for t in q.default_teachers()]
    else:
        # a pilot at a fraction of each budget, its demand scaled alike: the same split of compute between training
        # and serving, so the runs sit where the decision's recipes lie (the pilots themselves are not served)
        at = sorted({(f * b, f * q.inference_tokens) for b in q.budgets for f in (1e-3, 1e-2, 1e-1)})
        for c, t in at:
            if c < bounds.optimum_budget_range()[0]:
                continue
            N_star = supervised_optimum(draws.law, np.array([c]), serving_tokens=t)["N"]
            if not np.isfinite(N_star).any():
                continue
            n_star = float(np.nanmedian(N_star))
            for m in (1 / 3, 1.0, 3.0):
                N = m * n_star
                out.append(Candidate("supervised", N, float(compute.supervised_tokens(N, c))))
    return [c for c in out if bounds.BOX_MIN <= c.N <= bounds.BOX_MAX and bounds.BOX_MIN <= c.D <= bounds.BOX_MAX]


@dataclass(frozen=True)
class Decision:
    """One budget's decision: its options and their loss per draw (see :mod:`bayeslaw.decision.value`)."""

    budget: float
    options: tuple[str, ...]
    loss: np.ndarray
    unit: str
    dropped: tuple[str, ...] = ()
    #: ``(draw, verdict)`` which verdict each draw supports (None: which option is best), for how sure it is
    classes: np.ndarray | None = None
    #: a supervised size decision's model sizes (to evaluate the same options on a refit's draws)
    sizes: np.ndarray | None = None

    def classes_or_best(self) -> np.ndarray:
        return voi.best_option(self.loss) if self.classes is None else self.classes


def _decision(budget: float, named: dict[str, np.ndarray], unit: str, classes: np.ndarray | None = None) -> Decision:
    keep = {k: v for k, v in named.items() if np.isfinite(v).all()}
    return Decision(budget, tuple(keep), np.column_stack(list(keep.values())) if keep else np.empty((0, 0)), unit,
                    tuple(k for k in named if k not in keep), classes)


def verdict_classes(diff: np.ndarray, margin: float) -> np.ndarray:
    """``(draw, 3)``: distillation better by more than ``margin``, worse by more, tied within it (as
    :func:`bayeslaw.decide.verdict`: a draw where distillation cannot be carried out counts as it losing)."""
    d = np.where(np.isfinite(diff), diff, np.inf)
    return np.column_stack([d < -margin, d > margin, np.abs(d) <= margin]).astype(float)


def joint_decisions(draws: DecisionDraws, q: Question) -> list[Decision]:
    """Per budget: the student's loss distilled (optimal teacher, each given teacher) or trained supervised."""
    C = np.asarray(q.budgets, float)
    cap = q.teacher_cap if q.scenario == "teacher_inference" else None
    at = draws.grid([q.student_size], C, (q.scenario,), n_students=q.n_students, teacher_cap=cap,
                    serving_tokens=q.inference_tokens).sel(student_size=q.student_size, scenario=q.scenario)
    given = {f"distil from {t.label}": teacher_option(draws, q.student_size, C, q.scenario, t,
                                                      n_students=q.n_students,
                                                      serving_tokens=q.inference_tokens)["L_S"][:, 0, :]
             for t in q.teachers}
    out = []
    for j, c in enumerate(C):
        sup, dis = at["L_sup"].values[:, j], at["L_S"].values[:, j]
        named = {"supervised": sup, distil_label(q.scenario): dis}
        named |= {k: v[:, j] for k, v in given.items()}
        out.append(_decision(float(c), named, "nats", verdict_classes(dis - sup, q.margin)))
    return out


def supervised_decisions(fit: Fit, draws: DecisionDraws, q: Question, rng: np.random.Generator,
                         alloc: ex.StudyAllocation | None = None) -> list[Decision]:
    """Per budget: with a target, whether the compute-optimal run reaches it (a wrong call costs 1; the run's
    noise included); without, which of 9 model sizes spanning the posterior's N* to train (the loss each
    reaches)."""
    C = np.asarray(q.budgets, float)
    o = supervised_optimum(draws.law, C, serving_tokens=q.inference_tokens)
    out = []
    for j, budget in enumerate(C):
        lo, hi = np.nanquantile(o["N"][:, j], [0.05, 0.95])
        sizes = None if q.target is not None else np.geomspace(lo / 1.5, hi * 1.5, 9)
        sigma, nu = _noise(fit, draws, "supervised")
        named = supervised_options(draws.law, _coefs(fit, draws), draws.error, float(budget), q.target, sizes,
                                   sigma, nu, rng, serving_tokens=q.inference_tokens, alloc=alloc)
        out.append(replace(_decision(float(budget), named, "nats" if q.target is None else "wrong calls"),
                           sizes=sizes))
    return out


def supervised_options(law: Laws, c: dict[str, np.ndarray], err: ex.LawError | None, budget: float,
                       target: float | None, sizes: np.ndarray | None, sigma: np.ndarray, nu: np.ndarray | None,
                       rng: np.random.Generator, serving_tokens: float = 0.0,
                       alloc: ex.StudyAllocation | None = None) -> dict[str, np.ndarray]:
    """A supervised decision's options and their loss per draw, on any draws (the decision's, or a refit's).

    Parameters
    ----------
    law, c, err
        The draws (paper-scale and sampled coefficients) and the law's error each meets (None: the law alone).
    budget
        FLOPs.
    target
        Whether the draw's compute-optimal run reaches it (its run noise included): a wrong call costs 1.
    sizes
        Otherwise: the model sizes to choose between, each trained on the budget (the loss it reaches).
    sigma, nu, rng
        Run noise (per draw) for the target question.
    serving_tokens
        The model's lifetime serving demand, paid from ``budget`` first (one forward pass per token); 0: a
        training budget.
    alloc
        The compute-optimal size's own error per draw (None: the law's IsoFLOP curves): beyond the fitted runs a
        size's loss is read where the draw's curve has moved.

    Returns
    -------
    dict of numpy.ndarray
        Option name -> ``(draw,)`` loss.
    """
    n = law.n_draws
    if target is not None:
        o = supervised_optimum(law, np.array([budget]), serving_tokens=serving_tokens)
        with np.errstate(invalid="ignore"):  # NaN where serving leaves no recipe
            log_L = _supervised_log(c, err, o["N"][:, 0], o["D"][:, 0], alloc)
        L = np.exp(log_L + sigma * (rng.standard_normal(n) if nu is None else rng.standard_t(nu)))
        # a draw with no recipe (serving takes the budget) misses the target
        L = np.where(np.isfinite(L), L, np.inf)
        return {f"it reaches {target:g}": (L > target).astype(float),
                f"it misses {target:g}": (L <= target).astype(float)}
    named = {}
    cost = compute.CostModel(serving_tokens=serving_tokens)
    for N in sizes:
        D = float(compute.supervised_tokens(N, budget - float(cost.serving_flops(N))))
        if bounds.BOX_MIN <= D <= bounds.BOX_MAX:
            named[f"train {sci(N)} params"] = np.exp(_supervised_log(c, err, np.full(n, N), np.full(n, D), alloc))
    return named


def study_allocation(fit: Fit, draws: DecisionDraws, seed: int) -> ex.StudyAllocation | None:
    """A supervised decision's compute-optimal size error beyond the fitted runs, one study's per draw, where the
    decision carries the law's error and the learned allocation error is there (else None: the law's curves).

    Parameters
    ----------
    fit
        The posterior.
    draws
        The decision's draws.
    seed
        Seeds the offsets and slopes.
    """
    if fit.law != "supervised" or draws.error is None:
        return None
    err = ex.load_allocation()
    return None if err is None else ex.StudyAllocation.draw(fit, err, draws.n, np.random.default_rng(seed))


def _coefs(fit: Fit, draws: DecisionDraws) -> dict[str, np.ndarray]:
    if draws.coefs is not None:
        return draws.coefs
    return {k: v[draws.index] for k, v in as_arrays(coefficients(fit)).items()}


def _supervised_log(c: dict[str, np.ndarray], err: ex.LawError | None, N: np.ndarray, D: np.ndarray,
                    alloc: ex.StudyAllocation | None = None) -> np.ndarray:
    """``(draw,)`` log loss of supervised runs ``(N, D)`` (one per draw): the law, and its error where drawn; with
    ``alloc`` read where the draw's IsoFLOP curve has moved beyond the fitted runs."""
    if alloc is not None:
        N, D = alloc.moved(N, D)
    if err is not None:
        return ex.supervised_outcome(c, err, N, D)
    col = {k: np.asarray(c[k]) for k in params.SUPERVISED_SAMPLED}
    return laws.supervised_log_loss_centred(np.log(N), np.log(D), **col)


def _noise(fit: Fit, draws: DecisionDraws, kind: str, N_S: float | None = None
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(draw,)`` run noise sd of the draws and their degrees of freedom: a supervised run's, or a student's of
    size ``N_S`` (a students' noise may vary with size)."""
    if kind == "supervised":
        sigma, nu = noise_parameters(fit, "sigma" if fit.law == "supervised" else "sigma_sup")
    else:
        sigma, nu = student_noise(fit, [N_S])
        sigma = sigma[:, 0]
    return sigma[draws.index], None if nu is None else nu[draws.index]


def predicted_runs(fit: Fit, draws: DecisionDraws, cand: Candidate,
                   alloc: ex.StudyAllocation | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What a candidate measures, per draw: ``(predicted log loss, noise sd)``, each ``(draw, run)``.

    A supervised run is one measurement (it meets the law's error at the student: one study departs from its
    law in one direction; with ``alloc``, beyond the fitted runs, the same draw's moved IsoFLOP curve as the
    decision); a distillation run measures the student and, when the law predicts its teacher, the teacher too
    (the teacher's error is its own, as in plans).
    """
    c, err, n = _coefs(fit, draws), draws.error, draws.n
    if cand.kind == "supervised":
        pred = _supervised_log(c, err, np.full(n, cand.N), np.full(n, cand.D), alloc)
        return pred[:, None], _noise(fit, draws, "supervised")[0][:, None]
    if fit.law != "distillation":
        raise InputError("a distillation candidate needs a distillation (joint) posterior; this one is supervised")
    t = cand.teacher
    N_S, D_S = np.full(n, cand.N), np.full(n, cand.D)
    cols, sds = [], []
    if t.L_T is not None:
        log_T = np.full(n, np.log(t.L_T))
        N_T = D_T = None
    else:
        log_T = supervised_log_mean(c, [t.N_T], [t.D_T])[:, 0]
        N_T, D_T = np.full(n, t.N_T), np.full(n, t.D_T)
        teacher_seen = log_T if err is None else err.reached(log_T, N_T, D_T, err.z_teacher, c["log_E"])
        cols.append(teacher_seen)
        sds.append(_noise(fit, draws, "supervised")[0])
    if err is not None:
        student = ex.student_outcome(c, err, N_S, D_S, log_T, N_T, D_T)
    else:
        student = student_log_mean(c, [cand.N], [cand.D], log_T[:, None])[0][:, 0]
    cols.append(student)
    sds.append(_noise(fit, draws, "distillation", cand.N)[0])
    return np.column_stack(cols), np.column_stack(sds)


@dataclass
class Pilot:
    """The runs worth buying for each budget's decision (:func:`pilot`)."""

    question: Question
    budgets: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    warnings: list[Caveat] = field(default_factory=list)
    extrapolation: str = ""
    n_draws: int = 0
    #: how a set of runs is valued (:data:`INDEPENDENT` or :data:`SHARED`)
    runs_valued_as: str = ""

    def records(self) -> dict[str, Any]:
        """Plain data for the JSON envelope: ``candidates`` (one row per candidate and budget, ranked by EVSI per
        FLOP within each budget) and ``budgets`` (each decision, its EVPI, the sequence, the run that settles it)."""
        return {"candidates": self.candidates, "budgets": self.budgets, "extrapolation": self.extrapolation,
                "draws": self.n_draws, "inference_tokens": self.question.inference_tokens,
                "runs_valued_as": self.runs_valued_as}


def _row(cand: Candidate, budget: float, v: voi.Value | None, now: voi.Now, over: bool) -> dict[str, Any]:
    row = {**cand.record(), "budget": budget, "flops": cand.flops, "share_of_budget": cand.flops / budget,
           "evpi": now.evpi, "p_wrong_before": now.p_wrong, "over_budget": over, "ranked": v is not None}
    if v is None:
        return row | {"evsi": None, "p_wrong_after": None, "value_per_flop": None}
    if v.method == "refits":
        method = f"NUTS refits at {v.ess.size} simulated outcomes (the importance weights degenerated)"
    else:
        method = "importance weights over the posterior draws"
        if v.ess_low > REFIT_WHEN:
            method += (f" (fewer than {voi.ESS_FLOOR:.0f} effective draws on {v.ess_low:.0%} of outcomes: the "
                       "weights degenerate and the EVSI is uncertain; more --draws, or --refit without the "
                       "extrapolation error for a supervised posterior)")
    return row | {"evsi": v.evsi, "p_wrong_after": v.p_wrong_after, "regret_before": v.regret_before,
                  "regret_after": v.regret_after, "p_change": v.p_change, "p_sure_after": v.p_sure_after,
                  "ess_median": float(np.median(v.ess)), "ess_low_share": v.ess_low, "method": method,
                  "value_per_flop": v.evsi / cand.flops}


def pilot(fit: Fit, question: Question, *, candidates: Sequence[Candidate] | None = None, max_draws: int = 1000,
          seed: int = 0, extrapolation: bool | str | Path | Fit = True, most: int = MOST, refit: int = 0,
          refitter: Refitter | None = None) -> Pilot:
    """Rank pilot runs by the value of the information they bring to ``question``'s decisions, per FLOP.

    Parameters
    ----------
    fit
        A distillation (joint) posterior (distil or train supervised) or a supervised one (reach a target, or
        choose the model size).
    question
        The budgets and, for a distillation posterior, the student, scenario, teachers and margin.
    candidates
        The runs to consider (default :func:`default_candidates`).
    max_draws, seed
        The seeded subsample of draws (as ``plan``); the seed also draws the simulated outcomes (stream
        ``pilot``), the same for every candidate so that their ranking is not Monte Carlo noise.
    extrapolation
        The law's extrapolation error beyond the fitted runs, as in ``plan`` (default: the shipped calibration),
        or the calibration posterior itself.
    most
        The largest set of runs bought together in the sequence.
    refit
        A supervised posterior without the law's extrapolation error: where the importance weights degenerate
        (fewer than :data:`~bayeslaw.decision.value.ESS_FLOOR` effective draws on more than :data:`REFIT_WHEN`
        of the outcomes), value the run by this many NUTS refits instead (:mod:`bayeslaw.inference.preposterior`;
        seconds each). 0: never.
    refitter
        What refits: :func:`bayeslaw.inference.preposterior.refit_with_outcomes` (passed in, as the command line
        does, so that deciding never depends on the sampler's layer).

    Returns
    -------
    Pilot
    """
    fit.require("supervised", "distillation", verb="pilot")
    if fit.is_point:
        raise InputError("the value of a pilot run is what it would teach a posterior; a point law has no uncertainty "
                         "to reduce: give a posterior")
    q = question
    q.check()
    if fit.law == "distillation" and q.student_size is None:
        raise InputError("a distillation posterior's pilot question needs the student size (--student)")
    if fit.law == "supervised" and q.student_size is not None:
        raise InputError("a supervised posterior's pilot question is about budgets (the model size is what it "
                         "chooses); drop --student")
    if fit.law == "supervised" and q.teachers:
        raise InputError("teachers (--teacher) are options of a distillation posterior's question; this posterior is "
                         "supervised")
    if q.target is not None:
        check_above_floor(fit, q.target, "target loss")
    if most < 1:
        raise InputError(f"--most takes the largest number of runs bought together, >= 1, got {most}")
    if refit < 0:
        raise InputError(f"--refit takes a number of simulated outcomes >= 0, got {refit}")
    if refit and (fit.law != "supervised" or extrapolation is not False):
        raise InputError("refits value a run for a supervised posterior with the law's extrapolation error off "
                         "(--no-extrapolation-error): a refit cannot learn that error, and a joint refit takes "
                         "about 45 s per outcome")
    if refit and refitter is None:
        raise InputError("refit needs its refitter: refitter=bayeslaw.inference.preposterior.refit_with_outcomes")
    if max_draws < MIN_DRAWS:
        raise InputError(f"the value of a run needs at least {MIN_DRAWS} posterior draws (--draws), got {max_draws}")
    cal = calibration_for(fit, extrapolation)
    draws = decision_draws(fit, max_draws=max_draws, seed=seed, calibration=cal)
    streams = Streams(seed)
    alloc = study_allocation(fit, draws, streams.child("pilot", 5))
    decisions = (joint_decisions(draws, q) if fit.law == "distillation"
                 else supervised_decisions(fit, draws, q, np.random.default_rng(streams.child("pilot", 0)), alloc))
    cands = list(candidates) if candidates is not None else default_candidates(fit, q, draws)
    if not cands:
        raise InputError("no candidate runs: give some with --candidates")
    for cnd in cands:
        cnd.check()
    runs = [predicted_runs(fit, draws, cnd, alloc) for cnd in cands]
    nu = _noise(fit, draws, "supervised")[1]
    shared = shared_misfit(fit, draws, cands, runs, streams.child("pilot", 12))
    cache: dict[int, np.ndarray] = {}
    keep = len(cands) * draws.n ** 2 * 8 <= CACHE_BYTES

    def loglik(i: int) -> np.ndarray:
        """``(outcome, draw)`` log likelihood of candidate ``i``'s simulated outcome (its own seed: the same
        whether or not it is cached, and in every budget's decision and every set it joins)."""
        if shared is not None:
            return shared.log_lik([i])
        if i in cache:
            return cache[i]
        ll = voi.log_likelihoods(*runs[i], nu, np.random.default_rng(streams.child("pilot", 1, i))).sum(axis=0)
        if keep:
            cache[i] = ll
        return ll

    rows, budgets = [], []
    for b, dec in enumerate(decisions):
        base = {"budget": dec.budget, "options": list(dec.options), "unit": dec.unit, "dropped": list(dec.dropped)}
        if len(dec.options) < 2:
            budgets.append(base | {"status": "nothing to decide: fewer than two options are feasible on every draw",
                                   "evpi": 0.0})
            continue
        now = voi.now(dec.loss)
        certainty = float(dec.classes_or_best().mean(axis=0).max())  # how sure the surest verdict is now
        certain = certainty >= q.prob
        base |= {"choice": dec.options[now.choice], "evpi": now.evpi, "p_wrong_before": now.p_wrong,
                 "sure_now": certainty,
                 "p_best": dict(zip(dec.options, map(float, now.p_best), strict=True))}
        tiny = dec.unit == "nats" and now.evpi < SETTLED_MARGIN * q.margin
        if now.p_wrong < SETTLED or tiny:
            why = (f"the options differ by too little to matter: EVPI {now.evpi:.2g} nats, below "
                   f"{SETTLED_MARGIN:.0%} of the {q.margin:g}-nat margin" if tiny else
                   f"fewer than {SETTLED:.0%} of draws prefer another option (EVPI {now.evpi:.2g} {dec.unit})")
            budgets.append(base | {"status": f"settled: {why}; no run is worth buying for it"})
            rows += [_row(cnd, dec.budget, None, now, cnd.flops > dec.budget) for cnd in cands]
            continue

        def value(idx: Sequence[int], _dec: Decision = dec) -> voi.Value:
            ll = sum(loglik(i) for i in idx) if shared is None else shared.log_lik(idx)
            return voi.update(_dec.loss, ll, prob=q.prob, classes=_dec.classes_or_best())

        vals = {i: value([i]) for i, cnd in enumerate(cands) if cnd.flops <= dec.budget}
        if refit:
            for i, v in vals.items():
                if v.ess_low > REFIT_WHEN:
                    vals[i] = _refit_value(fit, draws, dec, q, cands[i], runs[i], now.choice, refit,
                                           streams.child("pilot", 3, b, i), refitter)
        here = [_row(cnd, dec.budget, vals.get(i), now, cnd.flops > dec.budget) for i, cnd in enumerate(cands)]
        here.sort(key=lambda r: (not r["ranked"], -(r["value_per_flop"] or 0.0), r["flops"]))
        for rank, r in enumerate((r for r in here if r["ranked"]), start=1):
            r["rank"] = rank
        rows += here
        base |= {"status": "ranked", "sequence": _sequence(vals, value, loglik, dec.loss, cands, dec.budget, most,
                                                           shared),
                 "settles": (_settles(vals, cands, dec.budget, q.prob, draws.n) if not certain else
                             {"run": None, "why": f"the verdict is already {share(certainty, draws.n)} sure: no run is "
                                                  f"needed to reach {q.prob:.0%}"})}
        budgets.append(base)
    warns = [] if fit.diagnostics_passed else [failed_gates(fit.card["diagnostics"]["failures"])]
    return Pilot(question=q, budgets=budgets, candidates=rows, warnings=[w for w in warns if w is not None],
                 extrapolation=draws.extrapolation, n_draws=draws.n,
                 runs_valued_as=INDEPENDENT if shared is None else SHARED)


#: How :func:`pilot` values a set of runs (:attr:`Pilot.runs_valued_as`).
INDEPENDENT = "independent measurements given a draw"
SHARED = ("sharing a misfit of the law per decade of compute (sd: the law's error at the edge of the fitted runs), "
          "which the decision does not meet; Normal run noise")


def shared_misfit(fit: Fit, draws: DecisionDraws, cands: Sequence[Candidate], runs: list[tuple[np.ndarray, np.ndarray]],
                  seed: int, n_outcomes: int | None = None) -> voi.SharedMisfitSets | None:
    """A supervised question's candidates valued as sharing a misfit per decade of compute
    (:class:`bayeslaw.decision.value.SharedMisfitSets`), or None where it does not apply: a distillation posterior
    (its runs measure two losses with different noise) or no law's error (nothing sets the misfit's size).

    Valued as independent, many cheap runs look like many measurements of the law, and a team that buys them
    carries their scale's curvature to the decision's (the replays in docs/pilot.md: with refits, sharing the
    misfit had lower regret than MSPE's on four public sweeps and was right in 5 of 6 Chinchilla seeds, where
    independent runs were right in 3).

    Parameters
    ----------
    fit, draws
        The posterior and the decision's draws (with the law's error).
    cands, runs
        The candidates and their :func:`predicted_runs`.
    seed
        Simulates the outcomes.
    n_outcomes
        How many outcomes (default: one per draw).

    Returns
    -------
    SharedMisfitSets or None
    """
    if fit.law != "supervised" or draws.error is None:
        return None
    predicted = np.column_stack([r[0][:, 0] for r in runs])
    band = np.floor(np.log10([c.flops for c in cands])).astype(int)
    return voi.SharedMisfitSets(predicted, runs[0][1][:, 0], draws.error.edge * np.ones(draws.n), band,
                                np.random.default_rng(seed), n_outcomes)


def _sequence(vals: dict[int, voi.Value], value, loglik, loss: np.ndarray, cands: list[Candidate], budget: float,
              most: int, shared: voi.SharedMisfitSets | None = None) -> list[dict[str, Any]]:
    """The best sets of 1..most runs bought together (:func:`bayeslaw.decision.value.buy_greedily` over the
    :data:`SEQUENCE_POOL` best single runs per FLOP): the run adding the most joint EVSI per FLOP beyond its Monte
    Carlo error, while the set's update rests on enough draws (a collapsed update looks like perfect information).
    Each set says what share of its outcomes rest on too few draws (``ess_low``); where no larger set can be valued,
    the last set says so (``stopped``)."""
    pool = sorted((i for i, v in vals.items() if v.evsi > 0), key=lambda i: -vals[i].evsi / cands[i].flops)
    pool = pool[:SEQUENCE_POOL]
    if not pool:
        return []
    sets = np.stack([loglik(i) for i in pool]) if shared is None else shared.subset(pool)
    got = voi.buy_greedily(loss, sets, np.array([cands[i].flops for i in pool]), budget, first_any_ess=True, most=most)
    out: list[dict[str, Any]] = []
    for k in range(1, len(got.chosen) + 1):
        idx = [pool[j] for j in got.chosen[:k]]
        v = vals[idx[0]] if k == 1 else value(idx)
        out.append({"runs": [cands[j].label for j in idx], "flops": sum(cands[j].flops for j in idx), "evsi": v.evsi,
                    "p_wrong_after": v.p_wrong_after, "p_sure_after": v.p_sure_after, "ess_low": v.ess_low})
    if out and got.collapsed:
        out[-1]["stopped"] = (f"no larger set can be valued: more than {voi.ESS_LOW_SHARE:.0%} of its outcomes "
                              f"would rest on fewer than {voi.ESS_FLOOR:.0f} draws (more --draws, or buy these "
                              "and refit)")
    return out


def _settles(vals: dict[int, voi.Value], cands: list[Candidate], budget: float, prob: float,
             n: int) -> dict[str, Any]:
    """The cheapest run within :data:`SETTLE_SHARE` of the budget whose outcome more likely than not leaves a
    verdict ``prob`` sure (:attr:`~bayeslaw.decision.value.Value.p_sure_after` >= 0.5), or that none does."""
    ok = [i for i, v in vals.items() if v.p_sure_after >= 0.5 and cands[i].flops <= SETTLE_SHARE * budget]
    if not ok:
        best = max((v.p_sure_after for i, v in vals.items() if cands[i].flops <= SETTLE_SHARE * budget), default=0.0)
        return {"run": None, "why": f"no candidate within {SETTLE_SHARE:.0%} of the budget makes a {prob:.0%}-sure "
                                    f"verdict likely (at best {share(best, n)})"}
    i = min(ok, key=lambda k: cands[k].flops)
    return {"run": cands[i].label, "flops": cands[i].flops, "p_sure_after": vals[i].p_sure_after,
            "p_wrong_after": vals[i].p_wrong_after, "evsi": vals[i].evsi}



def _refit_value(fit: Fit, draws: DecisionDraws, dec: Decision, q: Question, cand: Candidate,
                 run: tuple[np.ndarray, np.ndarray], choice: int, n: int, seed: int, refitter: Refitter) -> voi.Value:
    """A supervised run's value by ``n`` refits: outcomes simulated from ``n`` of the decision's draws, the model
    refitted on each, the decision's options evaluated on the refit's draws."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(draws.n, size=n, replace=False)
    sigma, nu = _noise(fit, draws, "supervised")
    outcomes = voi.simulate(run[0][pick], run[1][pick], None if nu is None else nu[pick], rng)
    losses = []
    for f in refitter(fit, [(cand.N, cand.D)], outcomes, seed=seed):
        law = posterior_draws.laws(f)
        c = as_arrays(coefficients(f))
        s_f, nu_f = noise_parameters(f, "sigma")
        named = supervised_options(law, c, None, dec.budget, q.target, dec.sizes, s_f, nu_f, rng,
                                   serving_tokens=q.inference_tokens)
        losses.append(np.column_stack([named[o] for o in dec.options]))
    return voi.from_posteriors(losses, choice, prob=q.prob)
