"""A budget question answered from a posterior: every number and figure a risk report shows.

``analyse(fit, question)`` turns a joint (distillation) posterior and a :class:`Question`
into an :class:`Analysis`: the options' losses per draw (supervised student, distillation with
the compute-optimal teacher in the question's scenario, distillation from each chosen teacher),
their decision metrics (:mod:`bayeslaw.decide`), the planner grid around the question, the
compute needed for the target, the capacity gap, posterior predictive checks, the diagnostics,
how far each prediction extrapolates, and provenance. :mod:`bayeslaw.reporting.render` writes it out;
the planning steps are :mod:`bayeslaw.decision.pipeline`'s, as in ``bayeslaw plan``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw import decide
from bayeslaw.core import bounds, compute, params
from bayeslaw.core.fmt import sci
from bayeslaw.core.intervals import as_dict, levels
from bayeslaw.core.progress import every_tenth
from bayeslaw.core.seeds import Streams
from bayeslaw.core.serving import priced_demands
from bayeslaw.decision.caveats import (
    REACH,
    Caveat,
    check_above_floor,
    check_teacher_losses,
    data_caveat,
    distillation_backtest,
    distillation_backtest_caveat,
    failed_gates,
    reach_caveat,
    reach_row,
)
from bayeslaw.decision.free_size import free_size, free_size_caveats
from bayeslaw.decision.pilot import MIN_DRAWS as PILOT_MIN_DRAWS
from bayeslaw.decision.pilot import pilot
from bayeslaw.decision.pipeline import decision_draws, teacher_option
from bayeslaw.decision.provenance import provenance
from bayeslaw.decision.question import Question, Teacher, distil_label
from bayeslaw.decision.target_route import cheapest_routes, in_money
from bayeslaw.planning.grid import plan_grid
from bayeslaw.planning.summary import summarise
from bayeslaw.posterior import draws, reach, students
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.diagnostics import Diagnosis, Gates, diagnose
from bayeslaw.posterior.extrapolation import MEAN_LAW, extrapolation_share
from bayeslaw.posterior.likelihood import observed_terms, supervised_log_mean, term_noise

Progress = Callable[[str], None]
#: The serving demands the report's "If the student will be served" table compares (tokens over its lifetime).
SERVING_DEMANDS = (0.0, 1e11, 1e12, 1e13)


@dataclass
class Analysis:
    question: Question
    card: dict[str, Any]
    diagnosis: Diagnosis
    options: xr.DataArray  # (draw, budget, option) student loss
    metrics: xr.Dataset  # (budget, option)
    recipe: xr.Dataset  # (draw, budget) optimal distillation recipe at the question's size and scenario
    grid_summary: xr.Dataset  # planner summary around the question
    sweep: xr.DataArray  # (draw, budget, option) over the sweep budgets, for compute-for-target
    compute_for_target: xr.DataArray | None  # (option,)
    loss_curves: dict[str, xr.Dataset]
    capacity: xr.Dataset
    capacity_point: tuple[float, float]
    ppc: dict[str, tuple[np.ndarray, np.ndarray]]
    reach: list[dict[str, Any]]
    draw_index: np.ndarray  # which posterior draws (flattened chain x draw) were planned with
    warnings: list[Caveat] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: (budget,) decide.verdict of the paired difference distilled (recommended recipe) - supervised
    decisions: xr.Dataset | None = None
    #: (draw, budget) the uncapped teacher-inference optimum: the best teacher you could have (a bound)
    bound: xr.Dataset | None = None
    #: option -> budget -> why the option cannot be carried out there (unaffordable, outside the bounds)
    infeasible: dict[str, dict[float, str]] = field(default_factory=dict)
    #: what the option losses include (the law's extrapolation error beyond the fitted runs, or not)
    extrapolation: str = MEAN_LAW
    #: (budget,) the part of the paired difference's band that is the law's extrapolation error
    extrapolation_share: xr.DataArray | None = None
    #: the part of the difference's band the distillation law's own error makes (budget,)
    distillation_error_share: xr.DataArray | None = None
    #: what would settle each budget's decision: :meth:`bayeslaw.decision.pilot.Pilot.records`
    settle: dict[str, Any] | None = None
    #: each given teacher's own verdict against supervised training: option label -> (budget,) decide.verdict
    teacher_decisions: dict[str, xr.Dataset] = field(default_factory=dict)
    #: the student size as a choice per serving demand (:func:`bayeslaw.decision.free_size.free_size` at the
    #: question's budgets and scenario, for :data:`SERVING_DEMANDS`)
    serving: xr.Dataset | None = None
    #: with a target: the cheapest lifetime recipe per route that reaches it with 90% probability, per serving
    #: demand (:func:`bayeslaw.decision.target_route.cheapest_routes` for :data:`SERVING_DEMANDS`)
    serving_target: xr.Dataset | None = None

    @property
    def verdict(self) -> list[dict[str, Any]]:
        """Per budget: the verdict and its probabilities, the loss bands of both, the recipe, the best option."""
        out = []
        sup = "supervised"
        dis = distil_label(self.question.scenario)
        qs = levels(self.question.prob)
        for c in self.question.budgets:
            m = self.metrics.sel(budget=c)
            d = (self.options.sel(budget=c, option=dis) - self.options.sel(budget=c, option=sup))
            p = float((d < 0).where(d.notnull()).mean())
            best = str(m["p_best"].idxmax("option").item())
            dec = self.decisions.sel(budget=c) if self.decisions is not None else None
            r = self.recipe.sel(budget=c)
            recipe = {k: (as_dict(np.nanquantile(r[k].values, qs)) if r[k].notnull().any() else None)
                      for k in ("D_S", "N_T", "D_T", "L_T")}
            cft = self.compute_for_target
            option = dis if dec is not None and str(dec["verdict"].values) == "distil" else sup
            out.append({"budget": c, "p_distill_wins": p, "best_option": best,
                        "verdict": None if dec is None else str(dec["verdict"].values),
                        "p_better": None if dec is None else float(dec["p_better"]),
                        "p_better_margin": None if dec is None else float(dec["p_better_margin"]),
                        "p_worse_margin": None if dec is None else float(dec["p_worse_margin"]),
                        "recipe": recipe, "recipe_option": dis,
                        "compute_for_target": (None if cft is None else {
                            "option": option, "flops": float(cft.sel(option=option))}),
                        "p_best": float(m["p_best"].sel(option=best)),
                        "distil": {k: float(m["band"].sel(ci_bound=k, option=dis)) for k in BOUNDS},
                        "supervised": {k: float(m["band"].sel(ci_bound=k, option=sup)) for k in BOUNDS},
                        "diff": as_dict(np.nanquantile(d.values, qs)),
                        "extrapolation_share": (None if self.extrapolation_share is None
                                                else float(self.extrapolation_share.sel(budget=c))),
                        "distillation_error_share": (None if self.distillation_error_share is None
                                                     else float(self.distillation_error_share.sel(budget=c))),
                        "teachers": {label: {"verdict": str(t["verdict"].sel(budget=c).values),
                                             "p_better": float(t["p_better"].sel(budget=c)),
                                             "p_better_margin": float(t["p_better_margin"].sel(budget=c)),
                                             "p_worse_margin": float(t["p_worse_margin"].sel(budget=c))}
                                     for label, t in self.teacher_decisions.items()}})
        return out


#: The order in which a verdict's bands are written (as before the bands became a dimension).
BOUNDS = ("median", "lower", "upper")


def sweep_budgets(question: Question, n: int = 17) -> np.ndarray:
    """Budgets from 1/100 of the smallest to 100x the largest asked, plus the asked ones."""
    lo = max(min(question.budgets) / 100, bounds.min_budget(question.student_size * 10))
    hi = max(question.budgets) * 100
    return np.unique(np.concatenate([np.geomspace(lo, hi, n), question.budgets]))


def analyse(fit: Fit, question: Question, *, max_draws: int = 1000, seed: int = 0, posterior_path: str | None = None,
            gates: Gates | None = None, progress: Progress | None = None, calibration: Fit | None = None) -> Analysis:
    """Answer ``question`` from a joint posterior ``fit`` (see the module docstring).

    With a ``calibration`` every option's loss is what its recipe reaches with the supervised law's
    extrapolation error beyond the fitted runs (one error per draw at the student, shared by all options,
    and one at each teacher the law predicts; :mod:`bayeslaw.posterior.extrapolation`).
    """
    fit.require("distillation", verb="a distillation report")
    say = progress or (lambda _msg: None)
    question.check()
    teachers = question.default_teachers()
    if question.target is not None:
        check_above_floor(fit, question.target, "target loss")
    check_teacher_losses(fit, teachers)
    N_S, q = question.student_size, question
    cap = q.teacher_cap if q.scenario == "teacher_inference" else None
    dd = decision_draws(fit, max_draws=max_draws, seed=seed, calibration=calibration)
    law, idx, n = dd.planning_law, dd.index, dd.n  # with a drift, the planner charges over-trained teachers

    say("diagnostics: r_hat, ESS, divergences, tree depth, E-BFMI, PSIS-LOO, predictive coverage")
    diagnosis = diagnose(fit, gates)

    def tenths():
        return every_tenth(lambda done, total: say(f"  planned {done} of {total} draws"))

    err, reached = dd.error, dd.reached

    sizes = np.unique(np.concatenate([np.geomspace(N_S / 10, N_S * 10, 7), [N_S]]))
    sizes = sizes[(sizes >= bounds.BOX_MIN) & (sizes <= bounds.BOX_MAX)]
    coarse = sweep_budgets(q, n=13)
    say(f"planning the map ({q.scenario.replace('_', ' ')}): {n} draws x {sizes.size} sizes x {coarse.size} budgets")
    serve = {"serving_tokens": q.inference_tokens, "infeasible": "nan"}  # lifetime budgets pay serving first
    grid = reached(plan_grid(law, sizes, coarse, (q.scenario,), n_students=q.n_students, chunk=100,
                             progress=tenths(), teacher_cap=cap, **serve))
    summary = summarise(grid, q.prob)
    # the question's size on a fine budget sweep (1/8 decade): recipe, options, compute for the target
    budgets = sweep_budgets(q, n=49)
    say(f"planning the student of {sci(N_S)} parameters: {n} draws x {budgets.size} budgets")
    at = reached(plan_grid(law, [N_S], budgets, (q.scenario,), n_students=q.n_students, chunk=100,
                           progress=tenths(), teacher_cap=cap, **serve)).sel(student_size=N_S, scenario=q.scenario)
    bound = None
    if cap is not None:
        say("the best teacher you could have (no cap on its pretraining): a bound, not a recipe")
        bound = plan_grid(law, [N_S], np.asarray(q.budgets), (q.scenario,), n_students=q.n_students,
                          chunk=100, **serve).sel(student_size=N_S, scenario=q.scenario)

    say("options: supervised, optimal teacher, chosen teachers")
    opts = {"supervised": at["L_sup"].reset_coords(drop=True),
            distil_label(q.scenario): at["L_S"].reset_coords(drop=True)}
    for sc in q.other_scenarios:
        if sc == q.scenario:
            continue
        say(f"planning the alternative scenario {sc.replace('_', ' ')}")
        alt = reached(plan_grid(law, [N_S], budgets, (sc,), n_students=q.n_students, chunk=100,
                                teacher_cap=q.teacher_cap if sc == "teacher_inference" else None, **serve))
        opts[distil_label(sc)] = alt["L_S"].sel(student_size=N_S, scenario=sc).reset_coords(drop=True)
    infeasible: dict[str, dict[float, str]] = {}
    for t in teachers:
        r = teacher_option(dd, N_S, budgets, q.scenario, t, n_students=q.n_students,
                           serving_tokens=q.inference_tokens)
        label = f"distil from {t.label}"
        opts[label] = xr.DataArray(r["L_S"][:, 0, :], dims=("draw", "budget"), coords={"budget": budgets})
        infeasible[label] = _why_infeasible(t, q, r)
    sweep = xr.concat(list(opts.values()), dim=xr.Variable("option", list(opts))).transpose("draw", "budget", "option")
    options = sweep.sel(budget=list(q.budgets))
    metrics = decide.summary_table(options, target=q.target, prob=q.prob)
    paired = options.sel(option=distil_label(q.scenario)) - options.sel(option="supervised")
    decisions = decide.verdict(paired, margin=q.margin, prob=q.prob)
    teacher_decisions = {str(o): decide.verdict(options.sel(option=o) - options.sel(option="supervised"),
                                                margin=q.margin, prob=q.prob)
                         for o in options["option"].values if str(o).startswith("distil from ")}
    share = None
    if err is not None:
        share = extrapolation_share(paired, at["diff_law"].sel(budget=list(q.budgets)).reset_coords(drop=True),
                                    q.prob)
    dis_share = None
    if err is not None and "diff_without_distillation_error" in at:
        dis_share = extrapolation_share(paired, at["diff_without_distillation_error"].sel(budget=list(q.budgets))
                                        .reset_coords(drop=True), q.prob)
    cft = decide.compute_for_target(sweep, q.target, prob=0.9) if q.target is not None else None

    say(f"if the student will be served: its size per route for {len(SERVING_DEMANDS)} serving demands")
    served = SERVING_DEMANDS if q.priced is None else priced_demands(q.priced, SERVING_DEMANDS)
    serving = free_size(fit, np.asarray(q.budgets), (q.scenario,), inference_tokens=served, seed=seed,
                        n_students=q.n_students, prob=q.prob, margin=q.margin, teacher_cap=cap, draws=dd)
    serving = serving.assign_coords(tokens=list(SERVING_DEMANDS))  # the demands as asked (priced: their cost)
    serving_target = None
    if q.target is not None:
        say(f"if the student will be served: the cheapest recipe per route that reaches {q.target:g} nats")
        serving_target = cheapest_routes(fit, q.target, (q.scenario,), inference_tokens=served, prob=0.9, seed=seed,
                                         n_students=q.n_students, teacher_cap=cap, draws=dd,
                                         extrapolation=calibration if calibration is not None else False)
        serving_target = serving_target.assign_coords(tokens=list(SERVING_DEMANDS))
        if q.priced is not None:  # the answer in money: training-FLOP equivalents at the training price
            serving_target = in_money(serving_target, q.priced.prices)
    settle = None  # a point law has no uncertainty for a pilot to reduce
    if not fit.is_point:
        say("what would settle it: the value of pilot runs for each budget's decision")
        settle = pilot(fit, q, max_draws=max(n, PILOT_MIN_DRAWS), seed=seed,
                       extrapolation=calibration if calibration is not None else False).records()

    say("student loss against tokens, capacity gap, predictive checks")
    D_grid = np.geomspace(2 * N_S, 2000 * N_S, 40)
    curves = {}
    for t in teachers:
        curves[t.label] = students.predict(fit, N_S=N_S, D_S=D_grid, N_T=t.N_T if t.L_T is None else None,
                                          D_T=t.D_T if t.L_T is None else None, L_T=t.L_T, prob=q.prob, seed=seed)
    D_cap = 20 * N_S
    # the U is drawn around the supervised twin's loss
    twin = params.twin_of(draws.as_arrays(draws.coefficients(fit)))
    tilde = float(np.median(np.exp(supervised_log_mean(twin, [N_S], [D_cap]))))
    capacity = students.capacity_gap(fit, N_S=N_S, D_S=D_cap, L_T=np.linspace(0.5 * tilde, 1.6 * tilde, 67),
                                    prob=q.prob)
    rng = np.random.default_rng(Streams(seed).diagnostics)
    names = {"obs": "supervised runs", "obs_student": "distilled students"}
    ppc = {}
    for name, log_mu, observed, sigma in ([] if fit.is_point else observed_terms(fit)):  # a point law has no runs
        ppc[names.get(name, name)] = (observed, log_mu + term_noise(fit, sigma, rng))

    if fit.is_point:  # no fitted runs to reach beyond and no bands to back-test: the data caveat says so
        reach_rows, found = [], [data_caveat(fit)]
    else:
        reach_rows, notes = _reach(fit, q, at, teachers)
        found = [None if diagnosis.passed else failed_gates(diagnosis.failures),
                 distillation_backtest_caveat(distillation_backtest(fit)),
                 reach_caveat(reach.warning(notes)), _student_reach(fit, q, at), data_caveat(fit)]
    warns = [c for c in found if c is not None]
    # the serving section's chosen students, where they lie beyond the fitted runs or students
    warns += [Caveat(c.kind, f"If the student will be served: {c}") for c in free_size_caveats(fit, serving)
              if c.kind == REACH]
    prov = provenance(fit, seed=seed, max_draws=n, path=posterior_path)
    if not fit.is_point:
        scale = reach.fitted_scale(fit)
        prov.update(fitted_size=scale.size, fitted_compute=scale.compute, fitted_ratio=scale.ratio)
    return Analysis(question=q, card=fit.card, diagnosis=diagnosis, options=options, metrics=metrics, recipe=at,
                    grid_summary=summary, sweep=sweep, compute_for_target=cft, loss_curves=curves,
                    capacity=capacity, capacity_point=(N_S, D_cap), ppc=ppc, reach=reach_rows, draw_index=idx,
                    warnings=warns, provenance=prov, decisions=decisions, bound=bound, infeasible=infeasible,
                    extrapolation=dd.extrapolation, extrapolation_share=share,
                    distillation_error_share=dis_share, settle=settle, teacher_decisions=teacher_decisions,
                    serving=serving, serving_target=serving_target)


def _why_infeasible(t: Teacher, q: Question, r: dict[str, np.ndarray]) -> dict[float, str]:
    """Per budget where the chosen teacher cannot be used: why (its pretraining does not fit, or the student's
    tokens would leave the planner's bounds)."""
    sc = compute.get_scenario(q.scenario)
    charged = sc.delta_pretrain > 0 and not t.is_sunk
    pre = (compute.teacher_pretraining_flops(t.N_T, t.D_T, sc, n_students=q.n_students) if charged else 0.0)
    out = {}
    for j, c in enumerate(q.budgets):
        if np.isfinite(r["L_S"][:, 0, j]).any():
            continue
        if charged and pre >= c:
            out[float(c)] = (f"unaffordable: its pretraining ({sci(pre)} FLOPs"
                             f"{f' shared by {q.n_students} students' if q.n_students > 1 else ''}) exceeds the "
                             f"budget; give it as an existing teacher (N_T:D_T:sunk) if you have it")
        else:
            out[float(c)] = "the student's tokens would leave the planner's bounds [1e6, 1e17] on this budget"
    return out


def _student_reach(fit: Fit, q: Question, at: xr.Dataset) -> Caveat | None:
    """The question's distilled student (the recommended recipe's medians) beyond the fitted students, per budget."""
    span = reach.fitted_students(fit)
    if span is None:
        return None
    notes = []
    for c in q.budgets:
        a = at.sel(budget=c).median("draw", skipna=True)
        if not np.isfinite(float(a["D_S"])):
            continue
        r = {k: float(v) for k, v in reach.student_reach(span, q.student_size, float(a["D_S"]), float(a["L_S"]),
                                                         float(a["L_T"])).items()}
        if note := reach.describe_student(f"distilled student at {sci(c)} FLOPs (median)", r):
            notes.append(note)
    return reach_caveat(reach.student_warning(notes))


def _reach(fit: Fit, q: Question, at: xr.Dataset, teachers: tuple[Teacher, ...]) -> tuple[list[dict], list[str]]:
    scale = reach.fitted_scale(fit)
    rows, warns = [], []

    def add(label: str, N: float, D: float) -> None:
        r = reach.reach(scale, N, D)
        rows.append(reach_row(label, N, D, r))
        if w := reach.describe_reach(label, r):
            warns.append(w)

    for c in q.budgets:
        add(f"supervised student at {sci(c)} FLOPs", q.student_size,
            compute.supervised_tokens(q.student_size, c - q.serving_flops(q.student_size)))
        a = at.sel(budget=c).median("draw", skipna=True)
        if np.isfinite(float(a["D_S"])):
            add(f"distilled student at {sci(c)} FLOPs", q.student_size, float(a["D_S"]))
        if np.isfinite(float(a["N_T"])):
            add(f"optimal teacher at {sci(c)} FLOPs (median)", float(a["N_T"]), float(a["D_T"]))
    for t in teachers:
        if t.D_T is not None:
            add(t.label, t.N_T, t.D_T)
    return rows, warns
