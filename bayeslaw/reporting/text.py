"""Plain-text and record renderings of fits, diagnoses, predictions, plans and reports (the CLI's words).

Light on purpose (numpy only at import): the command line imports it before anything heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bayeslaw.core.compute import SCENARIOS
from bayeslaw.core.fmt import num as _fmt
from bayeslaw.core.fmt import sci
from bayeslaw.data.registry import data_provenance

if TYPE_CHECKING:  # annotations only: importing these loads xarray and ArviZ
    import pandas as pd
    import xarray as xr

    from bayeslaw.posterior.card import Fit
    from bayeslaw.posterior.diagnostics import Diagnosis

SUMMARY_PROB = 0.9


def every_tenth(callback: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` that passes on only each new tenth (the planner calls it per chunk)."""
    shown = [-1]

    def progress(done: int, total: int) -> None:
        if (step := int(10 * done / total)) != shown[0]:
            shown[0] = step
            callback(done, total)

    return progress


def data_line(fit: Fit) -> str:
    """One line naming the data a posterior was fitted to (every output that predicts says it)."""
    return f"data: {data_provenance(fit.card)}"


def failed_banner(fit: Fit) -> str:
    fails = fit.card.get("diagnostics", {}).get("failures", [])
    return ("!! WARNING: this fit FAILED its diagnostic gates; do not trust its numbers:\n   - "
            + "\n   - ".join(fails or ["(no diagnostics recorded)"]))


def format_fit(fit: Fit, summary: pd.DataFrame) -> str:
    """The fit's header, its coefficient ``summary`` (:func:`bayeslaw.posterior.draws.summary`) and
    its diagnostics verdict."""
    card = fit.card
    s = card["sampler"]
    head = (f"{card['law']} law fitted to {card['data']['n_runs']} runs from {card['data']['source']}"
            + (f" [{card['data']['filters']}]" if card["data"].get("filters") else ""))
    spec = card["spec"]
    form = ("gamma free" if spec.get("gamma_free") else "gamma = 1") if fit.law == "supervised" else "joint"
    lines = [
        head,
        f"model: {form}, likelihood {spec['likelihood']} on log loss; "
        f"sampler {s['sampler']} {s['chains']} chains x {s['draws']} draws (tune {s['tune']}), "
        f"seed {card['seed']}",
        f"time: compile {card['timing'].get('compile_seconds', 0):.1f} s, "
        f"sampling {card['timing'].get('sampling_wall_seconds', 0):.1f} s",
        "",
        f"Posterior (mean, sd, {SUMMARY_PROB:.0%} equal-tailed interval, ESS, r_hat):",
        summary.to_string(float_format=lambda x: f"{x:.4g}"),
        "",
    ]
    data = card["data"]
    if data.get("repeated_points"):
        lines.append(f"note: {data['repeated_points']} runs share their point with another run (repeated seeds); "
                     "each is kept as a run of its own")
    if data.get("checks_overridden"):
        lines.append(f"note: data checks overridden: {', '.join(data['checks_overridden'])}")
    lines += [f"note: {w}" for w in fit_notes(fit)]
    attempts = card.get("attempts", [])
    if len(attempts) > 1:
        lines.append("sampler attempts (a fit that fails its gates is retried with safer settings):")
        for k, a in enumerate(attempts, 1):
            cfg = a["sampler"]
            verdict = "passed" if a["passed"] else "rejected: " + "; ".join(a["failures"])
            lines.append(f"  {k}. {cfg['adaptation']}, target_accept {cfg['target_accept']}, {cfg['chains']} x "
                         f"{cfg['draws']} draws ({a['sampling_wall_seconds']:.1f} s): {verdict}")
    diag = card.get("diagnostics", {})
    if diag.get("passed"):
        m = diag["metrics"]
        lines.append(
            f"diagnostics: PASSED (max r_hat {m['max_rhat']:.3f}, min ESS_bulk {m['min_ess_bulk']:.0f}, "
            f"{m['divergences']} divergences, {m['treedepth_hits']} tree-depth hits, "
            f"max Pareto k {m['max_pareto_k']:.2f})")
    else:
        lines.append(failed_banner(fit))
    return "\n".join(lines)


def identification_groups(contraction: dict[str, float]) -> dict[str, list[str]]:
    """Sampled parameters grouped by posterior sd / prior sd: measured by the data (< 0.3), partly
    the prior's (< 0.7) and the prior's (>= 0.7)."""
    out: dict[str, list[str]] = {"data": [], "partly prior": [], "prior": []}
    for k, v in contraction.items():
        out["data" if v < 0.3 else ("partly prior" if v < 0.7 else "prior")].append(k)
    return out


def fit_notes(fit: Fit) -> list[str]:
    """What a user must know about a fit's data beyond its diagnostics: where the supervised law came
    from, students below their teacher, and which coefficients the runs measure."""
    data, notes = fit.card["data"], []
    if fit.law != "distillation":
        return notes
    sup = data.get("supervised") or {}
    if not sup.get("n_runs"):
        notes.append("no supervised runs: the supervised law (L~_S in the break) comes from the busbridge2025 "
                     "preset, a prior centred on the paper's Table 6, updated only through the students")
    below = data.get("students_below_teacher") or []
    if below:
        shown = ", ".join(map(str, below[:12])) + (", ..." if len(below) > 12 else "")
        notes.append(f"{len(below)} students lie below their teacher's loss (rows {shown}): kept (a student can "
                     "beat its teacher), but Eq. 8 cannot produce L_S < L_T, so the law misses them")
    groups = identification_groups(fit.card.get("diagnostics", {}).get("metrics", {}).get("contraction", {}))
    if any(groups.values()):
        notes.append("identification (posterior sd / prior sd): measured by these runs: "
                     f"{', '.join(groups['data']) or 'none'}; partly: {', '.join(groups['partly prior']) or 'none'}; "
                     f"the prior's: {', '.join(groups['prior']) or 'none'}")
    return notes


def format_diagnosis(fit: Fit, diag: Diagnosis) -> str:
    m, g = diag.metrics, diag.metrics.get("gates", {})
    rows = [
        ("max r_hat", f"{m['max_rhat']:.4f} ({m['max_rhat_var']})", f"<= {g.get('max_rhat')}"),
        ("min ESS_bulk", f"{m['min_ess_bulk']:.0f} ({m['min_ess_bulk_var']})", f">= {g.get('min_ess_bulk')}"),
        ("min ESS_tail", f"{m['min_ess_tail']:.0f} ({m['min_ess_tail_var']})", f">= {g.get('min_ess_tail')}"),
        ("divergences", f"{m['divergences']} of {m['n_draws']}", f"<= {g.get('max_divergences')}"),
        ("tree-depth hits", f"{m['treedepth_hits']} (limit {m['max_treedepth']})",
         f"<= {g.get('max_treedepth_fraction', 0):.0%} of draws"),
        ("min E-BFMI", f"{m['min_bfmi']:.2f}", f">= {g.get('min_bfmi')}"),
        ("PSIS-LOO elpd", f"{m['elpd_loo']:.1f} (se {m['elpd_loo_se']:.1f}, p_loo {m['p_loo']:.1f})", ""),
        ("max Pareto k", f"{m['max_pareto_k']:.2f} ({m['n_pareto_k_bad']} runs > {g.get('max_pareto_k')})",
         f"<= {g.get('max_bad_pareto_k_fraction', 0):.0%} of runs bad"),
        ("PPC coverage 50%", f"{m['ppc_coverage50']:.1%}", "~50%"),
        ("PPC coverage 90%", f"{m['ppc_coverage90']:.1%}", f">= {g.get('ppc_min_coverage90', 0):.0%}"),
    ]
    w = max(len(r[0]) for r in rows)
    lines = [f"Diagnostics for the {fit.law} fit ({m['n_draws']} draws):"]
    lines += [f"  {a:<{w}}  {b:<40} gate {c}" for a, b, c in rows]
    if "contraction" in m:
        lines.append("\nIdentification (posterior sd / prior sd; near 0 = measured by the data, "
                     "near 1 = supplied by the prior):")
        for k, v in m["contraction"].items():
            tag = "data" if v < 0.3 else ("partly prior" if v < 0.7 else "PRIOR")
            lines.append(f"  {k:<14} {v:6.3f}  {tag}")
        if fit.law == "distillation" and not (fit.card["data"].get("supervised") or {}).get("n_runs"):
            lines.append("  (no supervised runs: the supervised coefficients are the busbridge2025 preset's, "
                         "updated only through the students)")
    lines.append("")
    if diag.passed:
        lines.append("RESULT: PASSED every gate")
    else:
        lines.append("RESULT: FAILED\n  - " + "\n  - ".join(diag.failures))
    for w_ in diag.warnings:
        lines.append(f"  note: {w_}")
    return "\n".join(lines)


def format_prediction(ds: xr.Dataset, title: str | None = None) -> str:
    kind, prob = ds.attrs["interval_kind"], ds.attrs["interval_prob"]
    coords = [c for c in ds.coords if ds[c].dims == ("point",)]
    label = {"eti": "equal-tailed", "hdi": "highest-density"}[kind]
    lines = [title or "Predicted loss (nats/token)",
             f"interval: {prob:.0%} {label} (pinned); 'mean law' = uncertainty in the law, "
             "'new run' adds run-to-run noise"]
    for i in range(ds.sizes["point"]):
        where = ", ".join(f"{c}={_fmt(float(ds[c][i]))}" for c in coords)
        lines.append(
            f"  {where}: median {ds['loss_mean_median'][i]:.4f}  mean law "
            f"[{ds['loss_mean_lower'][i]:.4f}, {ds['loss_mean_upper'][i]:.4f}]  new run "
            f"[{ds['loss_new_lower'][i]:.4f}, {ds['loss_new_upper'][i]:.4f}]")
        if "gain_median" in ds:
            lines.append(
                f"    same student trained supervised on D_S: {ds['loss_supervised_median'][i]:.4f} "
                f"[{ds['loss_supervised_lower'][i]:.4f}, {ds['loss_supervised_upper'][i]:.4f}]; "
                f"distillation gain {ds['gain_median'][i]:+.4f} [{ds['gain_lower'][i]:+.4f}, "
                f"{ds['gain_upper'][i]:+.4f}] nats (paired draw by draw; > 0: distillation wins)")
    return "\n".join(lines)


def format_optimum(ds: xr.Dataset) -> str:
    prob = ds.attrs["interval_prob"]
    lines = [f"Compute-optimal supervised training (FLOPs = 6ND), median [{prob:.0%} "
             f"{ds.attrs['interval_kind']}]:"]
    for i in range(ds.sizes["budget"]):
        parts = [f"C={float(ds['C'][i]):.3g}"]
        for v, unit in (("N_opt", "params"), ("D_opt", "tokens"), ("L_opt", "nats")):
            parts.append(f"{v[0]}* {_fmt(float(ds[v + '_median'][i]))} "
                         f"[{_fmt(float(ds[v + '_lower'][i]))}, {_fmt(float(ds[v + '_upper'][i]))}] {unit}")
        lines.append("  " + "  ".join(parts))
    return "\n".join(lines)


def prediction_records(ds: xr.Dataset) -> dict[str, Any]:
    """Summaries (no draws) as plain lists, for --json."""
    keep = [v for v in ds.data_vars if "draw" not in ds[v].dims]
    out: dict[str, Any] = {c: np.asarray(ds[c]).tolist() for c in ds.coords}
    out.update({v: np.asarray(ds[v]).tolist() for v in keep})
    out.update(ds.attrs)
    return out


def format_plan(summary: xr.Dataset) -> str:
    """The planner's verdict in plain words, one block per (student size, budget, scenario)."""
    prob = summary.attrs["interval_prob"]
    lines = [f"Distil or train supervised? (medians with {prob:.0%} equal-tailed bands over the posterior; "
             f"{summary.attrs.get('n_students', 1)} student(s) per teacher)"]
    for N_S in summary["student_size"].values:
        for C in summary["budget"].values:
            for sc in summary["scenario"].values:
                s = summary.sel(student_size=N_S, budget=C, scenario=sc)
                p = float(s["p_distill_wins"])
                if not np.isfinite(p):
                    lines.append(f"\nstudent {N_S:.3g} params, budget {C:.3g} FLOPs, {sc}: outside the planner's "
                                 "bounds (tokens would exceed 1e17)")
                    continue
                verdict = ("DISTIL" if p >= 0.9 else "train SUPERVISED" if p <= 0.1 else "too close to call")
                lines.append(f"\nstudent {N_S:.3g} params, budget {C:.3g} FLOPs, {SCENARIOS[str(sc)].label}: "
                             f"{verdict}")
                lines.append(f"  P(distillation beats supervised) = {p:.2f}")
                lines.append(f"  loss, distilled {float(s['L_S_median']):.4f} [{float(s['L_S_lower']):.4f}, "
                             f"{float(s['L_S_upper']):.4f}] vs supervised {float(s['L_sup_median']):.4f} "
                             f"[{float(s['L_sup_lower']):.4f}, {float(s['L_sup_upper']):.4f}] nats; difference "
                             f"{float(s['diff_median']):+.4f} [{float(s['diff_lower']):+.4f}, "
                             f"{float(s['diff_upper']):+.4f}]")
                rec = f"  distillation recipe: student tokens D_S {_fmt(float(s['D_S_median']))} " \
                      f"[{_fmt(float(s['D_S_lower']))}, {_fmt(float(s['D_S_upper']))}]"
                if np.isfinite(float(s["N_T_median"])):
                    rec += (f"; teacher N_T {_fmt(float(s['N_T_median']))} [{_fmt(float(s['N_T_lower']))}, "
                            f"{_fmt(float(s['N_T_upper']))}], D_T {_fmt(float(s['D_T_median']))} "
                            f"[{_fmt(float(s['D_T_lower']))}, {_fmt(float(s['D_T_upper']))}]")
                rec += f"; teacher loss L_T {float(s['L_T_median']):.4f}"
                lines.append(rec)
        for sc in summary["scenario"].values if summary.sizes["budget"] >= 3 else []:
            s = summary.sel(student_size=N_S, scenario=sc)
            p = s["p_distill_wins"].values
            head = f"crossover for {N_S:.3g} params, {sc}: "
            if np.all(~np.isfinite(p)):
                continue
            if p[0] < 0.5:
                first = summary["budget"].values[0]
                lines.append(head + f"supervised already wins at the smallest budget ({first:.3g})")
            elif p[-1] >= 0.5:
                last = summary["budget"].values[-1]
                lines.append(head + f"distillation still wins at the largest budget ({last:.3g})")
            else:
                lines.append(head + f"P(distil wins) falls through 0.5 at {float(s['crossover_at_p50']):.3g} FLOPs "
                             f"(per-draw crossover median {float(s['crossover_median']):.3g} "
                             f"[{float(s['crossover_lower']):.3g}, {float(s['crossover_upper']):.3g}])")
    return "\n".join(lines)


def format_report(analysis, written) -> str:
    """The verdict in a few lines, and where the report is."""
    q = analysis.question
    lines = []
    if not analysis.diagnosis.passed:
        lines.append("!! WARNING: the fit FAILED its diagnostic gates; the report says so at the top")
    lines.append(f"Student {sci(q.student_size)} parameters, scenario {q.scenario}, "
                 f"{q.n_students} student(s) per teacher")
    for v in analysis.verdict:
        d = v["diff"]
        lines.append(f"  {sci(v['budget'])} FLOPs: P(distillation beats supervised) = {v['p_distill_wins']:.2f}; "
                     f"loss difference {d['median']:+.4f} [{d['lower']:+.4f}, {d['upper']:+.4f}] nats; "
                     f"best: {v['best_option']} (P {v['p_best']:.2f})")
    for w in analysis.warnings:
        lines.append(f"  warning: {w[:200]}{'...' if len(w) > 200 else ''}")
    lines.append(f"report: {written.html}")
    lines.append(f"        {written.markdown}")
    return "\n".join(lines)


def format_backtest(bt) -> str:
    """The backtest summary: per split and method, errors, coverage, CRPS, log predictive density."""
    lines = ["Backtest on held-out runs (bayeslaw: posterior median and new-run intervals; baseline: point fit)",
             f"{'split':44s} {'method':32s} {'n':>4s} {'med.rel.err':>11s} {'cov50':>6s} {'cov90':>6s} "
             f"{'CRPS':>8s} {'lpd':>8s}"]
    for r in bt.summary.itertuples(index=False):
        def f(x, fmt):
            width = int(fmt.split(".")[0])
            return format(x, fmt) if np.isfinite(x) else "-".rjust(width)
        lines.append(f"{r.split[:44]:44s} {r.method[:32]:32s} {r.n_test:4d} {f(100 * r.rel_error_median, '10.2f')}% "
                     f"{f(r.coverage50, '6.2f')} {f(r.coverage90, '6.2f')} {f(r.crps, '8.4f')} {f(r.lpd, '8.1f')}")
    for r in bt.fits.itertuples(index=False):
        state = "passed" if r.diagnostics_passed else f"FAILED ({r.failures})"
        lines.append(f"fit {r.split}: {r.n_train} runs, {r.refit_seconds:.1f} s, diagnostics {state}")
    return "\n".join(lines)


def format_comparison(res) -> str:
    """ArviZ's comparison table with the Pareto-k warnings."""
    cols = [c for c in ("rank", "elpd", "se", "elpd_diff", "dse", "p", "weight") if c in res.table]
    lines = [f"PSIS-LOO comparison on the {res.n_common} runs every variant was fitted to (higher elpd is better)",
             res.table[cols].to_string(float_format=lambda x: f"{x:.2f}")]
    for k, v in res.pareto_warnings.items():
        lines.append(f"  {k}: {v}")
    for k, d in res.diagnostics.items():
        if not d["passed"]:
            lines.append(f"  {k}: fit FAILED its gates: {'; '.join(d['failures'])}")
    return "\n".join(lines)
