"""Write an :class:`~bayeslaw.decision.analysis.Analysis` as a self-contained HTML file and a Markdown twin.

The HTML embeds its figures (PNG, base64); the Markdown links the same PNGs from a folder
beside it. Everything is written to temporary names first and moved into place at the end,
so an interrupted run never leaves a half-written report.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayeslaw import decide
from bayeslaw.core.compute import get_scenario, supervised_flops
from bayeslaw.core.fmt import sci as _g
from bayeslaw.core.fmt import share
from bayeslaw.core.intervals import flatten, levels
from bayeslaw.decision.analysis import Analysis, distil_label
from bayeslaw.decision.caveats import FAILED_GATES
from bayeslaw.decision.pilot import SETTLE_SHARE
from bayeslaw.decision.question import Question, question_record
from bayeslaw.decision.supervised import SupervisedAnalysis
from bayeslaw.posterior.point import POINT_NOTE
from bayeslaw.posterior.reach import WARN_FACTOR
from bayeslaw.reporting import figures
from bayeslaw.reporting.text import share_note

if TYPE_CHECKING:  # annotations only
    import xarray as xr


@dataclass(frozen=True)
class Written:
    html: Path
    markdown: Path
    images: Path


def _loss(x: float) -> str:
    return "n/a" if not np.isfinite(x) else ("inf" if np.isinf(x) else f"{x:.4f}")


def _pct(p: float) -> str:
    return "n/a" if not np.isfinite(p) else f"{100 * p:.0f}%"


def _pct_draws(p: float, n: int) -> str:
    """A share of ``n`` posterior draws (:func:`bayeslaw.core.fmt.share`)."""
    return share(p, n)


def _band(d: dict[str, float]) -> str:
    return f"{_loss(d['median'])} ({_loss(d['lower'])} to {_loss(d['upper'])})"


def _recipe_text(r: dict[str, Any]) -> str:
    def one(name: str, label: str) -> str | None:
        x = r.get(name)
        return None if x is None else f"{label} {_g(x['median'])} ({_g(x['lower'])} to {_g(x['upper'])})"

    parts = [one("D_S", "student tokens D_S"), one("N_T", "teacher size N_T"), one("D_T", "teacher tokens D_T")]
    if r.get("L_T") is not None:
        parts.append(f"teacher loss L_T {_loss(r['L_T']['median'])}")
    return ", ".join(p for p in parts if p) or "n/a"


def _short_recipe(r: dict[str, Any]) -> str:
    keys = [("D_S", "D_S"), ("N_T", "N_T"), ("D_T", "D_T")]
    parts = [f"{lab} {_g(r[k]['median'])}" for k, lab in keys if r.get(k) is not None]
    return ", ".join(parts) or "n/a"


def _teacher_note(a: Analysis, budget: float) -> str:
    """Beside a recipe: the teacher's tokens per parameter, its pretraining FLOPs, who pays them, and how often the
    teacher-inference cap on them binds (over the draws)."""
    r = a.recipe.sel(budget=budget)
    N_T, D_T = r["N_T"].values, r["D_T"].values
    ok = np.isfinite(N_T) & np.isfinite(D_T)
    if not ok.any():
        return ""
    q = a.question
    pre = supervised_flops(N_T[ok], D_T[ok])
    sc = get_scenario(q.scenario)
    paid = "charged to this student" if sc.delta_pretrain > 0 else "not charged in this scenario"
    note = (f" (teacher: {np.median(D_T[ok] / N_T[ok]):,.0f} tokens/param; pretraining {_g(float(np.median(pre)))} "
            f"FLOPs, {paid}")
    if q.teacher_cap is not None and sc.name == "teacher_inference":
        binds = float(np.mean(pre >= 0.99 * q.teacher_cap * budget))
        note += f"; the {q.teacher_cap:g}x-budget cap binds in {share(binds, int(ok.sum()))} of draws"
    return note + ")"


VERDICT_WORDS = {"distil": "distil", "supervised": "train supervised", "practically tied": "practically tied",
                 "too close to call": "too close to call"}


def _lean_brackets(verdict: str, p_better: float, prob: float, n_draws: int) -> str:
    """:func:`bayeslaw.decide.lean_note` in brackets after a verdict, or nothing."""
    note = decide.lean_note(verdict, p_better, prob, n_draws)
    return f" ({note})" if note else ""


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


# -- the text, as (kind, payload) blocks shared by both formats ---------------------------------

SECTIONS = ("Summary", "The question", "The verdict, budget by budget", "What would settle it",
            "If the student will be served", "Decision metrics",
            "Figures",
            "Fit diagnostics", "How far the predictions extrapolate", "Provenance")


def blocks(a: Analysis, images: dict[str, str]) -> list[tuple[str, Any]]:
    q = a.question
    sc = get_scenario(q.scenario)
    prob = _pct(q.prob)
    n_draws = int(a.provenance["draws_used"])
    capped = q.teacher_cap is not None and sc.name == "teacher_inference"
    verdict = a.verdict  # a computed property: read once
    metrics = flatten(a.metrics)  # bands as one variable per bound
    out: list[tuple[str, Any]] = [("h1", f"Distil or train supervised? A {_g(q.student_size)}-parameter student")]
    if not a.diagnosis.passed:
        out.append(("danger", "This fit FAILED its diagnostic gates; do not base a decision on these numbers. "
                    + "; ".join(a.diagnosis.failures)))
    for w in a.warnings:
        if w.kind != FAILED_GATES:  # said in the danger block above
            out.append(("warning", str(w)))

    out.append(("h2", "Summary"))
    out.append(("p", f"Difference = distilled - supervised student loss in nats/token: negative means distillation "
                     f"is better. Within +-{q.margin:g} nats the two are a practical tie. A verdict needs {prob} "
                     f"probability over {n_draws} posterior draws, paired draw by draw; FLOPs are 3 F(N) D "
                     f"(the paper's). Beside each recipe: its teacher's tokens per parameter and pretraining FLOPs, "
                     f"and who pays them"
                     + (f"; that pretraining is capped at {q.teacher_cap:g}x the budget, and where the cap binds the "
                        f"recipe is the best teacher the cap allows, not the best there is (a compute someone still "
                        f"spends, though this scenario does not charge it)." if capped else ".")
                     + f" Option losses: {a.extrapolation}."))
    head = ["budget", "verdict", "P(distillation better)", f"P(better by > {q.margin:g})", "difference (band)",
            "recipe (medians)"]
    if q.target is not None:
        head.append(f"compute to be 90% sure of loss {q.target:g}")
    settle = {b["budget"]: b for b in (a.settle or {}).get("budgets", [])}
    if settle:
        head.append("what would settle it")
    rows = []
    for v in verdict:
        leans = decide.lean(str(v["verdict"]), v["p_better"], q.prob) if v["p_better"] is not None else None
        row = [f"{_g(v['budget'])} FLOPs", VERDICT_WORDS.get(v["verdict"], str(v["verdict"]))
               + (f" ({leans})" if leans else ""),
               _pct_draws(v["p_better"], n_draws), _pct_draws(v["p_better_margin"], n_draws),
               f"{v['diff']['median']:+.4f} ({v['diff']['lower']:+.4f} to {v['diff']['upper']:+.4f})"
               + share_note(v["extrapolation_share"]) + _distillation_share(v.get("distillation_error_share")),
               (_short_recipe(v["recipe"]) + _teacher_note(a, v["budget"])) if v["verdict"] != "supervised"
               else "train the student supervised"]
        if q.target is not None:
            t = v["compute_for_target"]
            row.append("not within the budgets planned" if t is None or not np.isfinite(t["flops"])
                       else f"{_g(t['flops'])} FLOPs ({'distilled' if t['option'] != 'supervised' else 'supervised'})")
        if settle:
            row.append(_settle_cell(settle.get(v["budget"]), int(a.settle["draws"]), q.prob))
        rows.append(row)
    out.append(("table", (head, rows)))
    out.append(("toc", [(title, _slug(title)) for title in SECTIONS[1:]]))

    out.append(("h2", "The question"))
    rows = [["student size", f"{_g(q.student_size)} parameters"],
            ["budget(s)", ", ".join(f"{_g(c)} FLOPs" for c in q.budgets) + _serving_note(q)],
            ["scenario", f"{sc.name}: {sc.label}"],
            ["students sharing the teacher", str(q.n_students)],
            ["target loss", "none" if q.target is None else f"{q.target:g} nats/token"],
            ["teachers compared", "; ".join(t.label for t in q.default_teachers()) or "none"],
            ["other scenarios compared", ", ".join(q.other_scenarios) or "none"],
            ["practical-equivalence margin", f"{q.margin:g} nats"],
            ["teacher pretraining cap", "none" if not capped else f"{q.teacher_cap:g}x the budget"],
            ["bands", f"{prob} equal-tailed credible intervals over {n_draws} posterior draws"]]
    out.append(("table", (["", ""], rows)))

    out.append(("h2", "The verdict, budget by budget"))
    out.append(("p", "Each draw of the posterior is one consistent pair of laws (supervised and distillation), so "
                     "the comparison is paired draw by draw: a probability is the share of draws in which it holds."))
    for v in verdict:
        p_win, p_m = _pct_draws(v["p_better"], n_draws), _pct_draws(v["p_better_margin"], n_draws)
        p_w = _pct_draws(v["p_worse_margin"], n_draws)
        note = (decide.lean_note(str(v["verdict"]), v["p_better"], q.prob, n_draws)
                if v["p_better"] is not None else "")
        text = (f"At {_g(v['budget'])} FLOPs: {VERDICT_WORDS.get(v['verdict'], v['verdict']).upper()}"
                f"{f' ({note})' if note else ''}. "
                f"Distillation with the recommended recipe is better with probability {p_win}, better by more than "
                f"{q.margin:g} nats with probability {p_m}, worse by more than {q.margin:g} nats with probability "
                f"{p_w}. Student loss distilled {_band(v['distil'])} against supervised {_band(v['supervised'])}; "
                f"difference {v['diff']['median']:+.4f} nats ({v['diff']['lower']:+.4f} to "
                f"{v['diff']['upper']:+.4f}). Recommended distillation recipe: {_recipe_text(v['recipe'])}. "
                f"Most likely best of the options compared: {v['best_option']} (P(best) "
                f"{_pct_draws(v['p_best'], n_draws)}).")
        out.append(("p", text))
        for label, t in v["teachers"].items():
            why = a.infeasible.get(label, {}).get(float(v["budget"]))
            out.append(("p", f"{label[0].upper()}{label[1:]}: " + (why if why is not None else
                        f"{VERDICT_WORDS.get(t['verdict'], t['verdict']).upper()}"
                        f"{_lean_brackets(t['verdict'], t['p_better'], q.prob, n_draws)}; better than supervised "
                        f"training with probability {_pct_draws(t['p_better'], n_draws)}, by more than "
                        f"{q.margin:g} nats {_pct_draws(t['p_better_margin'], n_draws)}, worse by more than "
                        f"{q.margin:g} nats {_pct_draws(t['p_worse_margin'], n_draws)}.")))
        if a.bound is not None:
            b = a.bound.sel(budget=v["budget"])
            if b["L_S"].notnull().any():
                qs = levels(q.prob)
                lo, me, hi = np.nanquantile(b["L_S"].values, qs)
                out.append(("p", f"Bound, not a recipe: with no cap on the teacher's pretraining, the best teacher "
                                 f"you could have ({_g(float(np.nanmedian(b['N_T'].values)))} parameters on "
                                 f"{_g(float(np.nanmedian(b['D_T'].values)))} tokens) would give a student loss of "
                                 f"{_loss(me)} ({_loss(lo)} to {_loss(hi)})."))
    out += settle_blocks(a.settle, q.prob)
    out += serving_blocks(a.serving)
    out += target_blocks(a.serving_target)
    if a.compute_for_target is not None:
        parts = []
        for o in a.compute_for_target["option"].values:
            c = float(a.compute_for_target.sel(option=o))
            at_most = bool(np.asarray(a.compute_for_target.attrs["at_most"])[
                list(a.compute_for_target["option"].values).index(o)])
            s = ("not within 100x the largest budget asked" if not np.isfinite(c)
                 else (f"at most {_g(c)} FLOPs" if at_most else f"{_g(c)} FLOPs"))
            parts.append([str(o), s])
        out.append(("h3", f"Compute needed to be 90% sure of reaching loss {q.target:g}"))
        out.append(("p", "The smallest budget at which at least 90% of the draws reach the target, for each option "
                         "(the student's size fixed), interpolated on a budget grid 1/8 decade apart."))
        out.append(("table", (["option", "budget"], parts)))

    out.append(("h2", "Decision metrics"))
    out.append(("p", f"Per budget and option: expected loss, median and {prob} band; VaR_a is the loss exceeded "
                     "with probability at most 1 - a; CVaR_a the mean loss in that worst 1 - a of outcomes; "
                     "P(target) the probability of reaching the target loss; expected regret the mean loss "
                     "above the best option of the same draw; P(best) the share of draws in which the option is "
                     "best. Lower losses are better."))
    cols = ["budget", "option", "expected", "median", "band", "VaR95", "CVaR95"]
    has_t = "p_target" in metrics
    cols += (["P(target)"] if has_t else []) + ["exp. regret", "P(best)"]
    rows = []
    for c in q.budgets:
        m = metrics.sel(budget=c)
        for o in m["option"].values:
            x = m.sel(option=o)
            why = a.infeasible.get(str(o), {}).get(float(c))
            if why is not None:
                rows.append([_g(c), str(o), why] + [""] * (len(cols) - 3))
                continue
            row = [_g(c), str(o), _loss(float(x["expected"])), _loss(float(x["median"])),
                   f"{_loss(float(x['lower']))} to {_loss(float(x['upper']))}", _loss(float(x["VaR95"])),
                   _loss(float(x["CVaR95"]))]
            row += ([_pct_draws(float(x["p_target"]), n_draws)] if has_t else [])
            row += [_loss(float(x["expected_regret"])), _pct_draws(float(x["p_best"]), n_draws)]
            rows.append(row)
    out.append(("table", (cols, rows)))
    if notes := _metrics_against_verdict(q, verdict, metrics):
        out.append(("p", " ".join(notes)))

    out.append(("h2", "Figures"))
    captions = {
        "difference": f"The paired difference distilled - supervised (recommended recipe) at each budget, over "
                      f"the posterior draws: left of the solid zero line distillation is better; between the "
                      f"dashed lines (+-{q.margin:g} nats) the two are a practical tie.",
    }
    for c in q.budgets:
        captions[f"options_{_g(c)}"] = (f"The posterior distribution of the student's loss under each option at "
                                        f"{_g(c)} FLOPs; the dotted line is the target. An option missing here "
                                        "cannot be carried out on this budget (see Decision metrics).")
    captions |= {
        "loss_vs_tokens": "Student loss against its training tokens: distilled from each chosen teacher, and "
                          "trained supervised on the same tokens (dashed). Where a coloured band lies below the "
                          "dashed one, distillation wins at that token count.",
        "win_map": "P(distillation beats supervised) over student size and budget in this scenario. Red: "
                   "distillation wins; blue: supervised wins; black line: 0.5; dots with bars: where P falls "
                   "through 0.5 for a size (median and band of the draws that cross; shown only where it does); "
                   "star: your question.",
        "allocations": "The recommended distillation recipe against budget (left) and the resulting student "
                       "loss in nats/token beside the supervised student on the same budget (right); gold lines: "
                       "your budgets.",
        "capacity_gap": "The capacity gap: at fixed student size and tokens, the student's loss against the "
                        "teacher's. Too strong a teacher hurts; the dot marks the best teacher loss.",
        "ppc_intervals_sup": "Posterior predictive check, supervised runs: each observed run against its "
                             "predicted median and 90% interval for a new run.",
        "ppc_pit_sup": "PIT-ECDF (ArviZ), supervised runs: the difference between the empirical CDF of the runs' "
                       "probability integral transforms and the uniform one; near zero the runs look like draws "
                       "from the posterior predictive, an S shape means mis-set noise, a tilt means bias.",
        "ppc_intervals_dis": "Posterior predictive check, distilled students: each observed run against its "
                             "predicted median and 90% interval for a new run.",
        "ppc_pit_dis": "PIT-ECDF (ArviZ), distilled students: the difference between the empirical CDF of the "
                       "students' probability integral transforms and the uniform one; near zero the students look "
                       "like draws from the posterior predictive, an S shape means mis-set noise, a tilt means bias.",
    }
    for key, cap in captions.items():
        if key in images:
            out.append(("figure", (key, images[key], cap)))

    out += _common_tail(a)
    return out


def _metrics_against_verdict(q: Question, verdict: list[dict[str, Any]], metrics: xr.Dataset) -> list[str]:
    """Where the risk metrics (expected loss, CVaR) rank the recommended distillation and supervised training the
    other way round from P(distillation better), say so and why: a long right tail of one option's loss.
    ``verdict`` is :attr:`Analysis.verdict`, ``metrics`` the flat view of its metrics."""
    dis, notes = distil_label(q.scenario), []
    for v in verdict:
        c = v["budget"]
        m = metrics.sel(budget=c)
        e_dis, e_sup = float(m["expected"].sel(option=dis)), float(m["expected"].sel(option="supervised"))
        cv_dis, cv_sup = float(m["CVaR95"].sel(option=dis)), float(m["CVaR95"].sel(option="supervised"))
        if not (np.isfinite(e_dis) and np.isfinite(e_sup)) or (v["p_better"] is None):
            continue
        if (v["p_better"] > 0.5) == (e_dis < e_sup):
            continue
        more = "distillation" if v["p_better"] > 0.5 else "supervised training"
        notes.append(f"At {_g(c)} FLOPs {more} is better in most draws (P(distillation better) "
                     f"{_pct(v['p_better'])}) but the other option has the lower expected loss ({_loss(e_dis)} "
                     f"distilled, {_loss(e_sup)} supervised; CVaR95 {_loss(cv_dis)} and {_loss(cv_sup)}): one "
                     "option's loss has a long tail, here the law's extrapolation error at a teacher or a student "
                     "far beyond the fitted runs. Which to prefer depends on how much that tail costs you; the "
                     "verdict reads the paired difference's probabilities, not its mean.")
    return notes


def _serving_note(q: Question) -> str:
    """What a budget pays for when the question has a serving demand (docs/serving.md), else nothing."""
    money = f" Costs in money: {q.priced.note()}." if q.priced is not None else ""
    if not q.inference_tokens:
        return money
    return (f" Each budget is a lifetime budget: serving {_g(q.demand_tokens)} tokens (one forward pass each) is "
            "paid from it before training." + money)


def supervised_blocks(a: SupervisedAnalysis, images: dict[str, str]) -> list[tuple[str, Any]]:
    """The supervised-only report: what each budget buys, with certainty, then the same diagnostics."""
    q = a.question
    prob = _pct(q.prob)
    n_draws = int(a.provenance["draws_used"])
    qs = levels(q.prob)
    out: list[tuple[str, Any]] = [("h1", "What does a budget buy? The compute-optimal supervised model")]
    if not a.diagnosis.passed:
        out.append(("danger", "This fit FAILED its diagnostic gates; do not base a decision on these numbers. "
                    + "; ".join(a.diagnosis.failures)))
    out += [("warning", str(w)) for w in a.warnings if w.kind != FAILED_GATES]
    out.append(("h2", "Summary"))
    out.append(("p", f"Per budget (FLOPs = 3 F(N) D, the paper's), the compute-optimal model size N* and tokens D* "
                     f"and its loss L* in nats/token (the law's expectation), and the loss of the run you would "
                     f"train (its noise and, beyond the fitted runs, the law's own error: {a.extrapolation}): "
                     f"medians with {prob} bands over {n_draws} posterior draws."
                     + ("" if q.target is None else f" P(target): the probability that the run reaches "
                                                    f"{q.target:g}.") + _serving_note(q)))
    head = (["budget", "N* (params)", "D* (tokens)", "L* (nats/token)", "a run's loss"]
            + (["P(target)"] if q.target else []))
    if a.fixed is not None:
        head.append(f"a {_g(q.student_size)}-param model on this budget")
    rows = []
    for c in q.budgets:
        x = a.optimum.sel(budget=c)
        row = [f"{_g(c)} FLOPs"]
        for k in ("N", "D"):
            lo, me, hi = np.quantile(x[k].values, qs)
            row.append(f"{_g(me)} ({_g(lo)} to {_g(hi)})")
        for k in ("L", "L_new"):
            lo, me, hi = np.quantile(x[k].values, qs)
            row.append(f"{_loss(me)} ({_loss(lo)} to {_loss(hi)})")
        if q.target:
            row.append(_pct_draws(float(a.metrics["p_target"].sel(budget=c)), n_draws))
        if a.fixed is not None:
            f = a.fixed.sel(budget=c).values
            if not np.isfinite(f).any():
                row.append("outside the planner's bounds")
            else:
                lo, me, hi = np.nanquantile(f, qs)
                row.append(f"{_loss(me)} ({_loss(lo)} to {_loss(hi)})")
        rows.append(row)
    out.append(("table", (head, rows)))
    if q.target is not None:
        c = a.compute_for_target
        out.append(("p", f"Compute to be 90% sure of reaching loss {q.target:g} with the compute-optimal model: "
                         + ("not within 100x the largest budget asked." if c is None or not np.isfinite(c)
                            else f"{_g(c)} FLOPs (interpolated on a budget grid 1/8 decade apart).")
                         + (f" {a.target_note}" if a.target_note else "")))
    sections = ("What would settle it", "Figures", "Fit diagnostics", "How far the predictions extrapolate",
                "Provenance")
    out.append(("toc", [(t, _slug(t)) for t in sections]))
    out += settle_blocks(a.settle, q.prob)
    out.append(("h2", "Figures"))
    caps = {"budget_curve": f"Left: the loss of a compute-optimal run against budget, median and {prob} band "
                            "(the law, the run noise and the law's extrapolation error); gold lines: your budgets. "
                            "Right: the probability of reaching the target.",
            "ppc_intervals_sup": "Posterior predictive check: each observed run against its predicted median and "
                                 "90% interval for a new run.",
            "ppc_pit_sup": "PIT-ECDF (ArviZ): the difference between the empirical CDF of the runs' probability "
                           "integral transforms and the uniform one; near zero the runs look like draws from the "
                           "posterior predictive."}
    out += [("figure", (k, images[k], cap)) for k, cap in caps.items() if k in images]
    out += _common_tail(a)
    return out


def _settle_cell(b: dict[str, Any] | None, n: int, prob: float) -> str:
    """The summary table's pointer to "What would settle it" for one budget."""
    if b is None:
        return ""
    if b["status"] != "ranked":
        return "nothing to buy: " + b["status"].split(": ", 1)[-1].split(";")[0]
    st = b["settles"]
    if st.get("run"):
        return (f"{st['run']} ({_g(st['flops'])} FLOPs): a {_pct(prob)}-sure verdict after it with probability "
                f"{share(st['p_sure_after'], n)}")
    return st["why"].replace("no candidate", "no run")


def serving_blocks(ds: xr.Dataset | None) -> list[tuple[str, Any]]:
    """The section "If the student will be served": per serving demand and budget, the student size each route
    would choose and the verdict of the best distilled against the best supervised student (docs/serving.md)."""
    if ds is None:
        return []
    n = int(ds.attrs["n_draws"])
    out: list[tuple[str, Any]] = [("h2", "If the student will be served"), ("p", (
        "The question above fixes the student's size. A model that will serve many tokens is cheaper as a smaller "
        "one trained longer, and whether to distil it changes with that size. Here each budget is a lifetime "
        "budget that also pays for the student's serving (one forward pass per token), and the student's size is "
        f"chosen per route in each of {n} posterior draws ({ds.attrs['sizes']}, the size of lowest loss under "
        "the law); the losses are what those recipes reach, as above. `bayeslaw plan POSTERIOR --budget ... "
        "--inference-tokens T1 T2 ...` (without --student) gives this table for any demands."
        + (f" Sizes: {ds.attrs['allocation']}." if "allocation" in ds.attrs else "")))]
    rows = []
    for t in ds["tokens"].values:
        for c in ds["budget"].values:
            cell = ds.sel(tokens=t, budget=c)
            parts = []
            for r in ds["route"].values:
                x = cell.sel(route=r)
                if not np.isfinite(float(x["size_median"])):
                    parts.append("-")
                    continue
                parts.append(f"{_g(float(x['size_median']))} ({float(x['tokens_per_param_median']):,.0f}/param): "
                             f"{_loss(float(x['loss_median']))}")
            rows.append([_g(float(t)) if t else "0", f"{_g(float(c))} FLOPs", *parts, str(cell["verdict"].values),
                         _pct_draws(float(cell["p_distil"]), n)])
    head = ["inference tokens", "budget", *[f"{r}: size (tokens/param): loss" for r in ds["route"].values],
            "verdict", "P(distillation better)"]
    out.append(("table", (head, rows)))
    return out


def target_blocks(ds: xr.Dataset | None) -> list[tuple[str, Any]]:
    """With a target, in "If the student will be served": per serving demand, each route's cheapest lifetime recipe
    that reaches the target with 90% probability, and distil or not (docs/serving.md)."""
    if ds is None:
        return []
    a, n = ds.attrs, int(ds.attrs["n_draws"])
    unit = a.get("unit", "FLOPs")
    out: list[tuple[str, Any]] = [("h3", f"The cheapest recipe that reaches {a['target']:g} nats"), ("p", (
        f"The same routes asked the other way round: the least lifetime {'cost' if unit == '$' else 'compute'} at "
        f"which one student size reaches the target with probability >= {a['prob']:.0%} over the {n} draws (the "
        f"law's error included; {a['sizes']}; {a['resolution']}). `bayeslaw plan POSTERIOR --target L "
        "--inference-tokens T1 T2 ...` gives this table for any demands."))]
    key = "cost" if "cost" in ds else "budget"
    rows = []
    for t in ds["tokens"].values:
        cell = ds.sel(tokens=t)
        parts = []
        for r in ds["route"].values:
            x = cell.sel(route=r)
            if not np.isfinite(float(x["budget"])):
                parts.append("not by 1e27 FLOPs")
                continue
            money = f"${_g(float(x[key]))}" if unit == "$" else f"{_g(float(x[key]))} FLOPs"
            parts.append(f"{money}: {_g(float(x['size']))} ({float(x['tokens_per_param_median']):,.0f}/param), "
                         f"P {_pct_draws(float(x['p_reach']), n)}")
        saving = float(cell["saving"])
        rows.append([_g(float(t)) if t else "0", *parts, str(cell["verdict"].values),
                     f"{saving:+.0%}" if np.isfinite(saving) else ""])
    head = ["inference tokens", *[f"{r}: lifetime {unit}: size (tokens/param), P(reach)" for r in ds["route"].values],
            "cheaper to be 90% sure", "distilled saves"]
    out.append(("table", (head, rows)))
    return out


def settle_blocks(settle: dict[str, Any] | None, prob: float) -> list[tuple[str, Any]]:
    """The section "What would settle it": per budget, the decision as it stands, the most any run could be
    worth (EVPI), the cheapest run that makes the verdict ``prob`` sure, and the best runs per FLOP."""
    if not settle:
        return []
    n = int(settle["draws"])
    out: list[tuple[str, Any]] = [("h2", "What would settle it")]
    out.append(("p", f"Where the answer is too close to call, what to run to know. Each candidate pilot run is "
                     f"simulated from the posterior (the law's error and run noise included) and the draws are "
                     f"re-weighted by its outcome; its expected value of sample information (EVSI) is how much the "
                     f"decision's expected regret falls, at most the EVPI (what knowing the answer for certain is "
                     f"worth). 'Settles it': the cheapest candidate within {SETTLE_SHARE:.0%} of the budget whose "
                     f"outcome more likely than not leaves a verdict at least {prob:.0%} sure (the verdicts of the "
                     f"summary, margin included). P(wrong): the chance the option chosen is not the best. A pilot "
                     f"pays for what it runs (a new teacher's pretraining too)"
                     + (f"; each budget is a lifetime budget that serves {_g(settle['inference_tokens'])} tokens "
                        "first (the pilot runs themselves are not served)" if settle.get("inference_tokens") else "")
                     + f". {settle['draws']} posterior draws"
                     + (f"; runs valued as {settle['runs_valued_as']}" if settle.get("runs_valued_as") else "")
                     + "; `bayeslaw pilot` ranks every candidate, or your own (--candidates)."))
    rows = []
    for b in settle["budgets"]:
        if b["status"] != "ranked":
            now = f"{b['choice']} (P(wrong) {share(b['p_wrong_before'], n)})" if "choice" in b else ""
            rows.append([f"{_g(b['budget'])} FLOPs", now, f"{b['evpi']:.2g}", b["status"], "", ""])
            continue
        unit = "nats" if b["unit"] == "nats" else "wrong calls"
        seq = b.get("sequence") or []
        best = seq[0] if seq else None
        three = seq[-1] if len(seq) > 1 else None
        rows.append([f"{_g(b['budget'])} FLOPs", f"{b['choice']} (P(wrong) {share(b['p_wrong_before'], n)}; "
                                                  f"verdict {share(b['sure_now'], n)} sure)",
                     f"{b['evpi']:.3g} {unit}", _settle_cell(b, n, prob),
                     "no run's EVSI beats twice its Monte Carlo error" if best is None else
                     f"{best['runs'][0]} ({_g(best['flops'])} FLOPs): EVSI {best['evsi']:.3g}, P(wrong) after "
                     f"{share(best['p_wrong_after'], n)}",
                     ("no pair can be valued: its update would rest on too few draws (more draws, or buy "
                      "the best run and refit)" if best is not None and "stopped" in best else "")
                     if three is None else
                     f"{len(three['runs'])} runs, {_g(three['flops'])} FLOPs: EVSI {three['evsi']:.3g}, P(wrong) "
                     f"after {share(three['p_wrong_after'], n)}"])
    out.append(("table", (["budget", "decision now", "EVPI", "settles it", "best run per FLOP",
                           "best runs together"], rows)))
    return out


def _common_tail(a) -> list[tuple[str, Any]]:
    """Diagnostics, reach and provenance: the same in every report."""
    if a.card.get("kind") == "point":
        out: list[tuple[str, Any]] = [("h2", "A point law")]
        out.append(("p", f"This report answers from {a.card['data']['source']}, not a posterior: "
                         f"{POINT_NOTE}. Nothing was sampled, so there is nothing to diagnose, no fitted runs to check "
                         "the law against or to measure a prediction's reach from, and no uncertainty for a pilot "
                         "run to reduce: every band is the point and every probability 0 or 1. Fit the runs you "
                         "trust (`bayeslaw fit`) for bands that carry what is not known."))
        return out + _provenance(a)
    out = [("h2", "Fit diagnostics")]
    out.append(("p", "PASSED: every gate holds." if a.diagnosis.passed else
                "FAILED: " + "; ".join(a.diagnosis.failures)))
    out.append(("table", (["check", "value", "gate", "status"], diagnostic_rows(a))))
    if a.diagnosis.warnings:
        out.append(("p", "Notes: " + "; ".join(a.diagnosis.warnings)))
    out.append(("h2", "How far the predictions extrapolate"))
    out.append(("p", f"How far each prediction lies from the fitted runs: its size over the largest fitted model "
                     f"({_g(a.provenance.get('fitted_size', float('nan')))} parameters), its N x D over the largest "
                     "fitted run's (the distance the law's extrapolation error was learned on; the FLOPs column is "
                     "the report's 3 F(N) D of one model), and its tokens per parameter over the most of any fitted "
                     f"run ({_g(a.provenance.get('fitted_ratio', float('nan')))}). Beyond {WARN_FACTOR:.0f}x in size "
                     "or N x D, or past the measured tokens per parameter, the bands only hold if the law's form "
                     "does; they cannot show that it fails."))
    rows = [[r["prediction"], _g(r["size"]), _g(r["tokens"]), _g(r["flops"]) if "flops" in r else "",
             f"{_g(r['size_factor'])}x", f"{_g(r['compute_factor'])}x",
             f"{r['tokens_per_param']:,.0f} ({_g(r['ratio_factor'])}x)",
             "WARNING" if r["beyond"] else "ok"] for r in a.reach]
    out.append(("table", (["prediction", "size", "tokens", "FLOPs (3 F(N) D)", "size factor", "N x D factor",
                           "tokens/param (factor)", ""], rows)))
    return out + _provenance(a)


def _contents(bl: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The table of contents lists the sections that follow it, as written (a point law's report has fewer)."""
    out = list(bl)
    for i, (kind, _) in enumerate(out):
        if kind == "toc":
            out[i] = ("toc", [(t, _slug(t)) for k, t in out[i + 1:] if k == "h2"])
    return out


def _provenance(a) -> list[tuple[str, Any]]:
    """Where every number came from and how to reproduce it."""
    out: list[tuple[str, Any]] = [("h2", "Provenance")]
    p = a.provenance
    rows = [["posterior", str(p.get("posterior"))], ["model card hash", str(p.get("config_hash"))],
            ["fit seed / report seed", f"{p.get('fit_seed')} / {p.get('report_seed')}"],
            ["sampler", json.dumps(p.get("sampler"), default=str)],
            ["python", str(p.get("python"))],
            ["packages", ", ".join(f"{k} {v}" for k, v in p["packages"].items())]]
    rows += [[f"data sha256: {k}", str(v)] for k, v in p["data_sha256"].items()]
    rows.append(["reproduce with", f"`{p.get('command')}`"])
    out.append(("table", (["", ""], rows)))
    out.append(("details", ("question (JSON)", json.dumps(question_record(a.question), indent=1, default=str))))
    out.append(("details", ("model specification (JSON)", json.dumps(p.get("spec"), indent=1, default=str))))
    return out


def make_supervised_figures(a: SupervisedAnalysis) -> dict[str, bytes]:
    out = {"budget_curve": figures.png(figures.supervised_budget_curve(a.sweep, prob=a.question.prob,
                                                                      target=a.question.target,
                                                                      budgets=a.question.budgets))}
    for name, (obs, pred) in a.ppc.items():
        out["ppc_intervals_sup"] = figures.png(figures.ppc_intervals(obs, pred, title=name))
        out["ppc_pit_sup"] = figures.png(figures.ppc_pit(obs, pred, title=name))
    return out


def diagnostic_rows(a: Analysis) -> list[list[str]]:
    m, g = a.diagnosis.metrics, a.diagnosis.metrics.get("gates", {})
    fails = " ".join(a.diagnosis.failures)

    def status(word: str) -> str:
        return "FAIL" if word in fails else "ok"

    n = m.get("n_draws", 0)
    return [
        ["max r_hat", f"{m['max_rhat']:.4f} ({m['max_rhat_var']})", f"<= {g.get('max_rhat')}", status("r_hat")],
        ["min ESS bulk", f"{m['min_ess_bulk']:.0f} ({m['min_ess_bulk_var']})", f">= {g.get('min_ess_bulk'):.0f}",
         status("ESS_bulk")],
        ["min ESS tail", f"{m['min_ess_tail']:.0f} ({m['min_ess_tail_var']})", f">= {g.get('min_ess_tail'):.0f}",
         status("ESS_tail")],
        ["divergences", str(m["divergences"]), f"<= {g.get('max_divergences')}", status("divergent")],
        ["tree-depth hits", f"{m['treedepth_hits']} of {n} (depth {m['max_treedepth']})",
         f"<= {g.get('max_treedepth_fraction', 0):.0%}", status("tree-depth")],
        ["min E-BFMI", f"{m['min_bfmi']:.2f}", f">= {g.get('min_bfmi')}", status("E-BFMI")],
        ["max Pareto k (PSIS-LOO)", f"{m['max_pareto_k']:.2f} ({m['n_pareto_k_bad']} runs > {g.get('max_pareto_k')})",
         f"<= {g.get('max_bad_pareto_k_fraction', 0):.0%} of runs above", status("Pareto")],
        ["predictive coverage 50% / 90%", f"{m['ppc_coverage50']:.0%} / {m['ppc_coverage90']:.0%}",
         f"90% >= {g.get('ppc_min_coverage90', 0):.0%}", status("posterior predictive")],
    ]


# -- figures --------------------------------------------------------------------------------------

def make_figures(a: Analysis) -> dict[str, bytes]:
    q = a.question
    out = {}
    dis = distil_label(q.scenario)
    out["difference"] = figures.png(figures.paired_difference(
        a.options.sel(option=dis) - a.options.sel(option="supervised"), margin=q.margin))
    for c in q.budgets:
        out[f"options_{_g(c)}"] = figures.png(figures.option_distributions(
            a.options.sel(budget=c), target=q.target, title=f"Student loss by option at {_g(c)} FLOPs"))
    out["loss_vs_tokens"] = figures.png(figures.loss_vs_tokens(a.loss_curves, N_S=q.student_size, target=q.target))
    out["win_map"] = figures.png(figures.win_probability_map(
        a.grid_summary, q.scenario, marks=[(q.student_size, c) for c in q.budgets]))
    out["allocations"] = figures.png(figures.allocations(a.recipe, prob=q.prob, budgets=q.budgets))
    out["capacity_gap"] = figures.png(figures.capacity_gap(a.capacity, N_S=a.capacity_point[0],
                                                           D_S=a.capacity_point[1]))
    suffixes = {"supervised runs": "sup", "distilled students": "dis"}
    for name, (obs, pred) in a.ppc.items():  # a joint fit without supervised runs has students only
        suffix = suffixes[name]
        out[f"ppc_intervals_{suffix}"] = figures.png(figures.ppc_intervals(obs, pred, title=name))
        out[f"ppc_pit_{suffix}"] = figures.png(figures.ppc_pit(obs, pred, title=name))
    return out


# -- formats --------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}td,th{border:1px solid #ddd;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.danger{background:#fde2e1;border:2px solid #c62828;color:#7f1010;padding:.7em 1em;font-weight:600;margin:.6em 0}
.warning{background:#fff6db;border:1px solid #e0a800;padding:.6em 1em;margin:.5em 0}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.88em;color:#555}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em}code{background:#f4f4f4}
nav{background:#f7f7f7;padding:.4em 1em;margin:1em 0;font-size:.9em}nav ul{margin:.2em 0;columns:2}
"""


def to_html(bl: list[tuple[str, Any]], pngs: dict[str, bytes]) -> str:
    e = html.escape
    body = []
    for kind, x in bl:
        if kind == "h2":
            body.append(f'<h2 id="{_slug(x)}">{e(x)}</h2>')
        elif kind in ("h1", "h3"):
            body.append(f"<{kind}>{e(x)}</{kind}>")
        elif kind == "toc":
            items = "".join(f'<li><a href="#{slug}">{e(title)}</a></li>' for title, slug in x)
            body.append(f'<nav aria-label="contents"><strong>Contents</strong><ul>{items}</ul></nav>')
        elif kind == "p":
            body.append(f"<p>{e(x)}</p>")
        elif kind in ("danger", "warning"):
            label = "STOP" if kind == "danger" else "Warning"
            body.append(f'<div class="{kind}" role="alert"><strong>{label}:</strong> {e(x)}</div>')
        elif kind == "table":
            head, rows = x
            th = "".join(f"<th>{e(h)}</th>" for h in head) if any(head) else ""
            trs = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
            body.append(f"<table>{'<tr>' + th + '</tr>' if th else ''}{trs}</table>")
        elif kind == "figure":
            key, _, cap = x
            b64 = base64.b64encode(pngs[key]).decode()
            body.append(f'<figure><img alt="{e(key)}" src="data:image/png;base64,{b64}">'
                        f"<figcaption>{e(cap)}</figcaption></figure>")
        elif kind == "details":
            title, text = x
            body.append(f"<details><summary>{e(title)}</summary><pre>{e(text)}</pre></details>")
    title = e(bl[0][1])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def to_markdown(bl: list[tuple[str, Any]]) -> str:
    lines = []

    def cell(c: Any) -> str:
        return str(c).replace("|", "\\|").replace("\n", " ")

    for kind, x in bl:
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + x, ""]
        elif kind == "toc":
            lines += ["**Contents:** " + " · ".join(f"[{title}](#{slug})" for title, slug in x), ""]
        elif kind == "p":
            lines += [x, ""]
        elif kind == "danger":
            lines += [f"> **STOP:** {x}", ""]
        elif kind == "warning":
            lines += [f"> **Warning:** {x}", ""]
        elif kind == "table":
            head, rows = x
            lines.append("| " + " | ".join(cell(h) for h in head) + " |")
            lines.append("|" + "---|" * len(head))
            lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
            lines.append("")
        elif kind == "figure":
            key, rel, cap = x
            lines += [f"![{key}]({rel})", "", f"*{cap}*", ""]
        elif kind == "details":
            title, text = x
            lines += [f"<details><summary>{title}</summary>", "", "```json", text, "```", "", "</details>", ""]
    return "\n".join(lines)


def write(a: Analysis | SupervisedAnalysis, out_dir: str | Path, stem: str | None = None) -> Written:
    """Render both formats into ``out_dir``; returns the paths. Atomic per file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    q = a.question
    supervised = isinstance(a, SupervisedAnalysis)
    budgets = "-".join(_g(c) for c in q.budgets)
    stem = stem or (f"report_supervised_C{budgets}" if supervised else
                    f"report_{q.scenario}_N{_g(q.student_size)}_C{budgets}")
    pngs = make_supervised_figures(a) if supervised else make_figures(a)
    img_dir = out_dir / f"{stem}_files"
    rel = {k: f"{img_dir.name}/{k}.png" for k in pngs}
    bl = _contents(supervised_blocks(a, rel) if supervised else blocks(a, rel))
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=out_dir))
    try:
        (tmp_dir / "img").mkdir()
        for k, b in pngs.items():
            (tmp_dir / "img" / f"{k}.png").write_bytes(b)
        (tmp_dir / "report.md").write_text(to_markdown(bl), encoding="utf-8")
        (tmp_dir / "report.html").write_text(to_html(bl, pngs), encoding="utf-8")
        if img_dir.exists():
            shutil.rmtree(img_dir)
        os.replace(tmp_dir / "img", img_dir)
        md, page = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
        os.replace(tmp_dir / "report.md", md)
        os.replace(tmp_dir / "report.html", page)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return Written(html=page, markdown=md, images=img_dir)


__all__ = ["write", "blocks", "to_html", "to_markdown", "make_figures", "distil_label", "Written"]


def _distillation_share(x: float | None) -> str:
    """" (12% the distillation law's own)" beside the band's extrapolation share, when it is any."""
    return f" ({x:.0%} the distillation law's own)" if x is not None and x >= 0.005 else ""
