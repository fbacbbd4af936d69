"""Plain-text and record renderings of fits, diagnoses, predictions, plans and reports (the CLI's words).

Light on purpose (numpy only at import): the command line imports it before anything heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bayeslaw.core.compute import SCENARIOS
from bayeslaw.core.fmt import num as _fmt
from bayeslaw.core.fmt import sci, share
from bayeslaw.core.intervals import CI_BOUND, flatten, levels
from bayeslaw.core.version import VERSION
from bayeslaw.data.registry import data_provenance

if TYPE_CHECKING:  # annotations only: importing these loads xarray and ArviZ
    import pandas as pd
    import xarray as xr

    from bayeslaw.posterior.card import Fit
    from bayeslaw.posterior.diagnostics import Diagnosis

SUMMARY_PROB = 0.9


def data_line(fit: Fit) -> str:
    """One line naming the data a posterior was fitted to (every output that predicts says it)."""
    if fit.is_point:
        return f"law: {fit.card['data']['source']} (a point law, one draw: no fitted runs)"
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
        ("time: compiled model reused, " if card["timing"].get("reused_compiled_model")
         else f"time: compile {card['timing'].get('compile_seconds', 0):.1f} s, ")
        + f"sampling {card['timing'].get('sampling_wall_seconds', 0):.1f} s",
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


def _how_students_use_it(fit: Fit) -> str:
    """How a joint fit without supervised runs lets its students touch the supervised law."""
    if fit.card["spec"].get("supervised_cut"):
        return ("not updated by the students (cut: Eq. 8's L~_S is Table 6's; the supervised option keeps the "
                "prior's uncertainty)")
    return "updated only through the students (L~_S in the break)"


def fit_notes(fit: Fit) -> list[str]:
    """What a user must know about a fit's data beyond its diagnostics: where the supervised law came
    from, students below their teacher, and which coefficients the runs measure."""
    data, notes = fit.card["data"], []
    if fit.law != "distillation":
        return notes
    sup = data.get("supervised") or {}
    if not sup.get("n_runs"):
        notes.append("no supervised runs: the supervised law comes from the busbridge2025 preset, a prior centred on "
                     "the paper's Table 6, " + _how_students_use_it(fit))
    below = data.get("students_below_teacher") or []
    if below:
        shown = ", ".join(map(str, below[:12])) + (", ..." if len(below) > 12 else "")
        how = ("the weak-teacher gain lets the law reach them (a student closes a learned share of the gap between a "
               "weaker teacher and its own supervised loss)" if fit.card["spec"].get("weak_teacher") else
               "but Eq. 8 as printed cannot produce L_S < L_T, so the law misses them (--weak-teacher can)")
        notes.append(f"{len(below)} students lie below their teacher's loss (rows {shown}): kept (a student can "
                     f"beat its teacher); {how}")
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
    ]
    if "elpd_loo" in m:  # a model of runs; an error model (law "calibration") has the sampler's gates only
        settled = f", {m['n_pareto_k_settled']} explained by exact LOO" if m.get("n_pareto_k_settled") else ""
        rows += [
            ("PSIS-LOO elpd", f"{m['elpd_loo']:.1f} (se {m['elpd_loo_se']:.1f}, p_loo {m['p_loo']:.1f})", ""),
            ("max Pareto k", f"{m['max_pareto_k']:.2f} ({m['n_pareto_k_bad']} runs > {g.get('max_pareto_k')}{settled})",
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
                         + _how_students_use_it(fit) + ")")
    lines.append("")
    if diag.passed:
        lines.append("RESULT: PASSED every gate")
    else:
        lines.append("RESULT: FAILED\n  - " + "\n  - ".join(diag.failures))
    for w_ in diag.warnings:
        lines.append(f"  note: {w_}")
    return "\n".join(lines)


def format_prediction(ds: xr.Dataset, title: str | None = None) -> str:
    ds = flatten(ds)  # bands as one variable per bound
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
            f"[{ds['loss_new_lower'][i]:.4f}, {ds['loss_new_upper'][i]:.4f}]"
            # beyond the fitted runs (a study's lean) or past their tokens per parameter (the drift) the new run is
            # moved off the law: its own median then
            + (f" (median {ds['loss_new_median'][i]:.4f})" if _moved_off_the_law(ds, i) else ""))
        if "difference_median" in ds:
            lines.append(
                f"    same student trained supervised on D_S: {ds['loss_supervised_median'][i]:.4f} "
                f"[{ds['loss_supervised_lower'][i]:.4f}, {ds['loss_supervised_upper'][i]:.4f}]; "
                f"{DIFFERENCE} {ds['difference_median'][i]:+.4f} [{ds['difference_lower'][i]:+.4f}, "
                f"{ds['difference_upper'][i]:+.4f}] nats (paired draw by draw{_share_note(ds, i)})")
            if "verdict" in ds:
                lines.append(f"    verdict: {ds['verdict'].values[i]} ({_verdict_probs(ds, i)})")
        if "below_student_loss" in ds and (beyond := _student_reach_line(ds, i)):
            lines.append(f"    beyond the fitted students: {beyond}")
        if "distillation_error_share" in ds and bool(ds["beyond_fitted_students"][i]):
            lines.append(f"    {float(ds['distillation_error_share'][i]):.0%} of the new-run band's width is the "
                         "distillation law's own error beyond its fitted students")
        if "extrapolation_share" in ds and float(ds["decades_beyond"][i]) > 0:
            lines.append(f"    {float(ds['decades_beyond'][i]):.2f} decades beyond the fitted runs: "
                         f"{float(ds['extrapolation_share'][i]):.0%} of the new-run band's width is the law's "
                         "extrapolation error")
    if "extrapolation" in ds.attrs:
        lines.append(f"extrapolation error: {ds.attrs['extrapolation']}")
    return "\n".join(lines)


def _moved_off_the_law(ds: xr.Dataset, i: int) -> bool:
    """Whether point ``i``'s new runs carry a signed error, so their median is not the law's: past the fitted
    tokens per parameter (the drift), or beyond the fitted runs under a calibration with a lean."""
    past_ratio = "ratio_decades" in ds and float(ds["ratio_decades"][i]) > 0
    leaned = bool(ds.attrs.get("extrapolation_lean", 0)) and float(ds["decades_beyond"][i]) > 0
    return past_ratio or leaned


def _student_reach_line(ds: xr.Dataset, i: int) -> str:
    """Point ``i``'s reach beyond the fitted students, where it has any (factors over 1, losses below)."""
    parts = []
    for name, what in (("beyond_student_size", "size"), ("beyond_student_tokens", "tokens"),
                       ("beyond_student_tokens_per_param", "tokens per parameter")):
        if (x := float(ds[name][i])) > 1:
            parts.append(f"{what} {x:.3g}x the fitted maximum")
    for name, what in (("below_student_loss", "loss"), ("below_teacher_loss", "teacher loss")):
        if (x := float(ds[name][i])) > 0:
            parts.append(f"{what} {x:.1%} below the lowest fitted")
    if "beyond_teacher_ratio" in ds and (x := float(ds["beyond_teacher_ratio"][i])) > 1:  # NaN: no gain
        parts.append(f"teacher {float(ds['teacher_over_student_supervised'][i]):.2f}x the student's supervised loss, "
                     f"{x:.3g}x the weakest fitted (the weak-teacher gain carried by its form)")
    return "; ".join(parts)


def share_note(x: float | None, band: str = "the band") -> str:
    """"; 55% of the band is the law's extrapolation error", or nothing when that share is none (or unknown)."""
    if x is None or not x >= 0.005:
        return ""
    return f"; {x:.0%} of {band} is the law's extrapolation error"


def _share_note(ds: xr.Dataset, i: int) -> str:
    """What part of point ``i``'s difference band is the law's extrapolation error, when it is any."""
    if "difference_extrapolation_share" not in ds:
        return ""
    return share_note(float(ds["difference_extrapolation_share"][i]), "its band")


#: How every output names the paired difference and its sign.
DIFFERENCE = "difference distilled - supervised (< 0: distillation better)"


def _verdict_probs(ds: xr.Dataset, i: int | None = None) -> str:
    """P(distillation better) and P(better by more than the margin), as shares of the draws."""
    n, m = int(ds.attrs["n_draws"]), float(ds.attrs["margin"])
    pick = (lambda v: float(ds[v].values[i])) if i is not None else (lambda v: float(ds[v]))
    return (f"P(distillation better) {share(pick('p_better'), n)}, by more than {m:g} nats "
            f"{share(pick('p_better_margin'), n)}; P(supervised better by more than {m:g}) "
            f"{share(pick('p_worse_margin'), n)}")


def format_optimum(ds: xr.Dataset) -> str:
    ds = flatten(ds)  # bands as one variable per bound
    prob = ds.attrs["interval_prob"]
    T = ds.attrs.get("inference_tokens", 0.0)
    serving = (f"; the budget also pays for serving {T:.3g} tokens, one forward pass each" if T else "")
    lines = [f"Compute-optimal supervised training (FLOPs = {ds.attrs.get('flops', '6 N D')}{serving}), median "
             f"[{prob:.0%} {ds.attrs['interval_kind']}]:"]
    for i in range(ds.sizes["budget"]):
        parts = [f"C={float(ds['C'][i]):.3g}"]
        for v, unit in (("N_opt", "params"), ("D_opt", "tokens"), ("L_opt", "nats")):
            parts.append(f"{v[0]}* {_fmt(float(ds[v + '_median'][i]))} "
                         f"[{_fmt(float(ds[v + '_lower'][i]))}, {_fmt(float(ds[v + '_upper'][i]))}] {unit}")
        lines.append("  " + "  ".join(parts))
    if "allocation" in ds.attrs:
        lines.append(f"allocation error: {ds.attrs['allocation']} (the law's N* alone: bl.optimum(..., "
                     "extrapolation=False))")
    return "\n".join(lines)


def format_free_size(ds: xr.Dataset) -> str:
    """:func:`bayeslaw.decision.free_size.free_size`'s answer: per serving demand and budget, each route's chosen
    student size, its tokens per parameter and loss, and the verdict of the best distilled against the best
    supervised student.

    Parameters
    ----------
    ds
        Its result.
    """
    prob = ds.attrs["interval_prob"]
    bounded = "min_tokens_per_param" in ds.attrs or "max_tokens_per_param" in ds.attrs
    w = max(46, *(len(str(r)) for r in ds["route"].values))
    lines = [f"The student size as a choice ({ds.attrs['sizes']}), per route: the size of lowest loss in each of "
             f"{ds.attrs['n_draws']} posterior draws; medians [{prob:.0%} bands]; {ds.attrs['budgets']}",
             f"{'serving':>8} {'budget':>8} {'route':<{w}} {'student size':<26} {'tokens/param':>13} "
             f"{'loss':<24} {'P(best)':>7}"]
    for t in ds["tokens"].values:
        for c in ds["budget"].values:
            cell = ds.sel(tokens=t, budget=c)
            for r in ds["route"].values:
                x = cell.sel(route=r)
                if not np.isfinite(float(x["size_median"])):
                    why = ("no size leaves a training budget" if not bounded else
                           "no size leaves a training budget within the tokens-per-parameter bounds")
                    lines.append(f"{t:>8.0e} {c:>8.0e} {str(r):<{w}} {why}")
                    continue
                size = f"{_fmt(float(x['size_median']))} [{_fmt(float(x['size_lower']))}, " \
                       f"{_fmt(float(x['size_upper']))}]"
                loss = f"{float(x['loss_median']):.4f} [{float(x['loss_lower']):.3f}, {float(x['loss_upper']):.3f}]"
                tpp = float(x["tokens_per_param_median"])
                lines.append(f"{t:>8.0e} {c:>8.0e} {str(r):<{w}} {size:<26} {tpp:>13,.0f} "
                             f"{loss:<24} {share(float(x['p_best']), ds.attrs['n_draws']):>7}")
            lines.append(f"{'':>17} verdict: {str(cell['verdict'].values)} (best {cell['distil_route'].values} "
                         f"against best supervised: P(distillation better) "
                         f"{share(float(cell['p_distil']), ds.attrs['n_draws'])})")
    lines.append(f"losses: {ds.attrs['extrapolation']}")
    if "allocation" in ds.attrs:
        lines.append(f"sizes: {ds.attrs['allocation']}")
    lo, hi = ds.attrs.get("min_tokens_per_param"), ds.attrs.get("max_tokens_per_param")
    if lo is not None or hi is not None:
        span = (f"between {lo:g} and {hi:g}" if lo is not None and hi is not None else
                f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
        lines.append(f"bounds: only sizes whose recipe trains {span} tokens per parameter were candidates "
                     "(--min/--max-tokens-per-param)")
    return "\n".join(lines)


def format_target_routes(ds: xr.Dataset) -> str:
    """:func:`bayeslaw.decision.target_route.cheapest_routes`'s answer: per serving demand and route, the cheapest
    lifetime budget and student size that reach the target with the probability asked, and distil or not.

    Parameters
    ----------
    ds
        Its result.
    """
    a = ds.attrs
    prob, unit = a["prob"], a.get("unit", "FLOPs")
    w = max(46, *(len(str(r)) for r in ds["route"].values))
    cost = "cost" if "cost" in ds else "budget"
    lines = [f"The cheapest lifetime recipe that reaches {a['target']:g} nats with probability >= {prob:.0%}, per "
             f"route ({a['sizes']}; {a['resolution']}; the law's error included); medians [{prob:.0%} bands] of "
             "what that recipe reaches",
             f"{'serving':>8} {'route':<{w}} {'lifetime ' + unit:>16} {'student size':>13} {'tokens/param':>13} "
             f"{'P(reach)':>9} {'loss':<24}"]
    for t in ds["tokens"].values:
        cell = ds.sel(tokens=t)
        for r in ds["route"].values:
            x = cell.sel(route=r)
            if not np.isfinite(float(x["budget"])):
                lines.append(f"{t:>8.0e} {str(r):<{w}} not reached by 1e27 FLOPs (at best "
                             f"{share(float(x['p_reach']), a['n_draws'])})")
                continue
            loss = f"{float(x['loss_median']):.4f} [{float(x['loss_lower']):.3f}, {float(x['loss_upper']):.3f}]"
            lines.append(f"{t:>8.0e} {str(r):<{w}} {_fmt(float(x[cost])):>16} {_fmt(float(x['size'])):>13} "
                         f"{float(x['tokens_per_param_median']):>13,.0f} "
                         f"{share(float(x['p_reach']), a['n_draws']):>9} {loss:<24}")
        saving = float(cell["saving"])
        lines.append(f"{'':>8} verdict: {str(cell['verdict'].values)}"
                     + (f" (cheapest: {cell['best'].values}; the cheapest distilled route needs "
                        f"{abs(saving):.0%} {'less' if saving >= 0 else 'more'} than supervised training)"
                        if np.isfinite(saving) else ""))
    lines.append(f"losses: {a['extrapolation']}")
    if "max_tokens_per_param" in a or "min_tokens_per_param" in a:
        lines.append(f"bounds: recipes outside {a.get('min_tokens_per_param', 0):g} to "
                     f"{a.get('max_tokens_per_param', float('inf')):g} tokens per parameter do not count as reaching")
    return "\n".join(lines)


def target_route_records(ds: xr.Dataset) -> list[dict[str, Any]]:
    """:func:`format_target_routes`'s table as JSON records, one per serving demand and route.

    Parameters
    ----------
    ds
        :func:`bayeslaw.decision.target_route.cheapest_routes`'s result.
    """
    out = []
    for t in ds["tokens"].values:
        cell = ds.sel(tokens=t)
        for r in ds["route"].values:
            x = cell.sel(route=r)
            rec = {"inference_tokens": float(t), "route": str(r), "verdict": str(cell["verdict"].values),
                   "cheapest_route": str(cell["best"].values), "saving": _num(cell["saving"])}
            rec |= {k: _num(x[k]) for k in x.data_vars if k not in ("best", "verdict", "saving")}
            out.append(rec)
    return out


def _num(x: Any) -> float | None:
    v = float(x)
    return v if np.isfinite(v) else None


def free_size_records(ds: xr.Dataset) -> list[dict[str, Any]]:
    """:func:`format_free_size`'s table as JSON records, one per serving demand, budget and route.

    Parameters
    ----------
    ds
        :func:`bayeslaw.decision.free_size.free_size`'s result.
    """
    out = []
    for t in ds["tokens"].values:
        for c in ds["budget"].values:
            cell = ds.sel(tokens=t, budget=c)
            for r in ds["route"].values:
                x = cell.sel(route=r)
                rec = {"inference_tokens": float(t), "budget": float(c), "route": str(r),
                       "p_best": float(x["p_best"]), "verdict": str(cell["verdict"].values),
                       "p_distil": float(cell["p_distil"]), "distil_route": str(cell["distil_route"].values)}
                for v in ("size", "loss", "tokens_per_param"):
                    rec[v] = {b: (float(x[f"{v}_{b}"]) if np.isfinite(float(x[f"{v}_{b}"])) else None)
                              for b in ("lower", "median", "upper")}
                out.append(rec)
    return out


def _money(x: float, unit: str) -> str:
    return f"${x:,.0f}" if unit == "$" else f"{x:.3g} FLOPs"


def format_cheapest(ds: xr.Dataset) -> str:
    """:func:`bayeslaw.decision.lifetime.cheapest`'s answer: the per-draw recipe's bands and the one to commit to.

    Parameters
    ----------
    ds
        Its result.
    """
    a, unit = ds.attrs, ds.attrs["unit"]
    f = flatten(ds).isel(point=0)
    prob = a["interval_prob"]
    T = a["inference_tokens"]
    demand = (f"serving {T:.3g} tokens ({a['input_tokens']:.3g} in, {a['output_tokens']:.3g} out)" if T > 0
              else "training only (no serving demand: --inference-tokens)")
    conv = "3 F(N) D + F(N) per served token" if a["flops"] == "3fnd" else "6ND + 2N per served token"
    lines = [f"The cheapest recipe that reaches {a['target']:g} nats/token, {demand}; lifetime cost in {unit} "
             f"({conv}), median [{prob:.0%} {a['interval_kind']}] over the posterior's draws:"]

    def band(v: str, fmt) -> str:
        return f"{fmt(float(f[v + '_median']))} [{fmt(float(f[v + '_lower']))}, {fmt(float(f[v + '_upper']))}]"

    lines.append(f"  per draw: N {band('N', _fmt)} params, D {band('D', _fmt)} tokens, cost "
                 f"{band('cost', lambda x: _money(x, unit))}")
    if T > 0:
        lines.append(f"  against the equal-loss recipe that ignores serving it saves "
                     f"{band('saving', lambda x: f'{100 * x:.1f}%')} of the lifetime cost")
    if a["p_recipe_exists"] < 1:
        lines.append(f"  in {share(1 - a['p_recipe_exists'], a['n_draws'])} of the draws no recipe within the "
                     "planning box reaches it (the bands are over the others)")
    if np.isfinite(a["commit_N"]):
        lines.append(f"  to be {prob:.0%} sure a new run reaches it (the law, run noise and, beyond the fitted runs, "
                     f"its extrapolation error {a['extrapolation']}): N {_fmt(a['commit_N'])}, D {_fmt(a['commit_D'])} "
                     f"({a['commit_tokens_per_param']:.0f} tokens/param), cost {_money(a['commit_cost'], unit)}")
    else:
        lines.append(f"  no recipe within the planning box makes a new run {prob:.0%} sure to reach it (the most any "
                     f"gives: {share(a['commit_best_prob'], a['n_draws'])}; the law's extrapolation error grows "
                     "with distance from the fitted runs): lower --prob or raise --target")
    return "\n".join(lines)


def prediction_records(ds: xr.Dataset) -> dict[str, Any]:
    """Summaries (no draws) as plain lists, for --json."""
    ds = flatten(ds)  # bands as one variable per bound
    keep = [v for v in ds.data_vars if "draw" not in ds[v].dims]
    out: dict[str, Any] = {c: np.asarray(ds[c]).tolist() for c in ds.coords}
    out.update({v: np.asarray(ds[v]).tolist() for v in keep})
    out.update(ds.attrs)
    return out


def _band(s: xr.Dataset, v: str, fmt: str = "+.4f") -> str:
    med, lo, hi = (float(s[f"{v}_{k}"]) for k in ("median", "lower", "upper"))
    if not np.isfinite(med):
        return "n/a (outside the planner's bounds)"
    return f"{med:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def format_plan(summary: xr.Dataset, *, detail: bool = False) -> str:
    """The planner's answer: conventions, one row per (student size, budget, scenario) with its verdict,
    the budget windows in which distillation wins, and with ``detail`` the full recipe of every cell."""
    from bayeslaw import decide  # light CLI: xarray, when a plan is shown

    summary = flatten(summary)  # bands as one variable per bound
    prob, n = summary.attrs["interval_prob"], int(summary.attrs["n_draws"])
    margin = float(summary.attrs["margin"])
    lines = [f"Distil or train supervised? {n} posterior draws; medians with {prob:.0%} equal-tailed bands; "
             f"{summary.attrs.get('n_students', 1)} student(s) per teacher",
             f"difference = distilled - supervised loss (nats; < 0: distillation better); FLOPs = 3 F(N) D; "
             f"a difference within +-{margin:g} nats is a practical tie; a verdict needs {prob:.0%} probability",
             ""]
    head = (f"{'student':>8} {'budget':>8} {'scenario':<33} {'verdict':<18} {'P(better)':>9} "
            f"{'P(>margin)':>10} {'difference [band]':<28} {'settle':<6} recipe (medians): D_S, N_T, D_T")
    lines += [head, "-" * len(head)]
    for N_S in summary["student_size"].values:
        for C in summary["budget"].values:
            for sc in summary["scenario"].values:
                s = summary.sel(student_size=N_S, budget=C, scenario=sc)
                p = float(s["p_distill_wins"])
                row = f"{sci(float(N_S)):>8} {sci(float(C)):>8} {SCENARIOS[str(sc)].label:<33} "
                if not np.isfinite(p):
                    lines.append(row + "outside the planner's bounds (a student would need more than 1e17 tokens)")
                    continue
                rec = ", ".join(sci(float(s[f"{v}_median"])) for v in ("D_S", "N_T", "D_T"))
                extra = share_note(float(s["extrapolation_share"])) if "extrapolation_share" in s else ""
                if "distillation_error_share" in s and float(s["distillation_error_share"]) >= 0.005:
                    extra += f" ({float(s['distillation_error_share']):.0%} the distillation law's own)"
                settle = "pilot" if str(s["verdict"].values) == "too close to call" else ""
                if leans := decide.lean(str(s["verdict"].values), float(s["p_better"]), prob):
                    extra += f"; {leans}, not surely by the margin"
                lines.append(row + f"{str(s['verdict'].values):<18} {share(float(s['p_better']), n):>9} "
                             f"{share(float(s['p_better_margin']), n):>10} {_band(s, 'diff'):<28} {settle:<6} "
                             f"{rec}{extra}")
    lines.append("P(better): P(distillation better); P(>margin): P(distillation better by more than the margin)")
    if (summary["verdict"] == "too close to call").any():
        lines.append("too close to call: `bayeslaw pilot POSTERIOR --student N_S --budget C` ranks the pilot runs "
                     "that would settle a cell (the 'settle' column), by their value of information per FLOP")
    if "teacher_verdict" in summary:
        lines += _teachers_text(summary, n)
    if "extrapolation" in summary.attrs:
        lines.append(f"extrapolation error: {summary.attrs['extrapolation']}")
    if summary.sizes["budget"] >= 2:
        lines.append("")
        lines += _windows_text(summary)
    if detail:
        lines += _plan_detail(summary)
    for w in summary.attrs.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _teachers_text(summary: xr.Dataset, n: int) -> list[str]:
    """The given teachers' rows of ``format_plan``: each teacher's own verdict against supervised training."""
    lines = ["", "Given teachers (--teacher), each against supervised training on the same draws:"]
    head = (f"{'student':>8} {'budget':>8} {'scenario':<33} {'verdict':<18} {'P(better)':>9} {'P(>margin)':>10} "
            f"{'difference [band]':<28} D_S (median)")
    for t in summary["teacher"].values:
        lines += ["", f"distil from {t}", head, "-" * len(head)]
        for N_S in summary["student_size"].values:
            for C in summary["budget"].values:
                for sc in summary["scenario"].values:
                    s = summary.sel(teacher=t, student_size=N_S, budget=C, scenario=sc)
                    row = f"{sci(float(N_S)):>8} {sci(float(C)):>8} {SCENARIOS[str(sc)].label:<33} "
                    if bool(s["teacher_unaffordable"]):
                        lines.append(row + "cannot be used: its charged pretraining exceeds the budget, or the "
                                           "student would leave the planner's bounds")
                        continue
                    lines.append(row + f"{str(s['teacher_verdict'].values):<18} "
                                 f"{share(float(s['teacher_p_better']), n):>9} "
                                 f"{share(float(s['teacher_p_better_margin']), n):>10} "
                                 f"{_band(s, 'teacher_diff'):<28} {sci(float(s['teacher_D_S_median']))}")
    return lines


def _of(x: float) -> str:
    """A share of a budget (not of draws): never rounded to zero."""
    return "<0.1%" if x < 0.001 else f"{x:.1%}"


def rec_prob(result) -> str:
    return f"{result.question.prob:.0%}"


def format_pilot(result, *, top: int = 8) -> str:
    """``bayeslaw pilot``'s answer: per budget, the decision as it stands (its choice, P(wrong), EVPI), the best
    candidate runs by EVSI per FLOP, the best sets bought together and the cheapest run that settles it."""
    rec = result.records()
    n = int(rec["draws"])
    lines = [f"What would settle it: pilot runs ranked by the expected value of sample information (EVSI) per FLOP; "
             f"{rec['draws']} posterior draws; FLOPs = 3 F(N) D (a distillation run pays its student, its teacher's "
             f"logits and, unless the teacher exists, its pretraining)"
             + (f"; each budget is a lifetime budget that pays for serving {rec['inference_tokens']:.3g} tokens "
                "first (the pilot runs themselves are not served)" if rec.get("inference_tokens") else ""),
             f"losses: {rec['extrapolation']}"]
    if rec.get("runs_valued_as"):
        lines.append(f"runs valued as {rec['runs_valued_as']}")
    lines.append("")
    for b in rec["budgets"]:
        unit = b.get("unit", "nats")
        lines.append(f"budget {sci(b['budget'])} FLOPs: options {', '.join(b['options'])}")
        if b["status"] != "ranked":
            lines += [f"  {b['status']}", ""]
            continue
        lines.append(f"  now: {b['choice']}; P(a wrong decision) {share(b['p_wrong_before'], n)}; the verdict "
                     f"{share(b['sure_now'], n)} sure; EVPI {b['evpi']:.4g} {unit} (the most any run could be worth)")
        rows = [r for r in rec["candidates"] if r["budget"] == b["budget"]]
        ranked = [r for r in rows if r["ranked"]]
        head = (f"  {'#':>2} {'run':<82} {'FLOPs':>9} {'of budget':>9} {'EVSI':>10} {'P(wrong) after':>14} "
                f"{'P(change)':>9} {'P(sure) after':>13}")
        lines += [head, "  " + "-" * (len(head) - 2)]
        for r in ranked[:top]:
            lines.append(f"  {r['rank']:>2} {r['label']:<82} {sci(r['flops']):>9} {_of(r['share_of_budget']):>9} "
                         f"{r['evsi']:>10.3g} {share(r['p_wrong_after'], n):>14} {share(r['p_change'], n):>9} "
                         f"{share(r['p_sure_after'], n):>13}")
        if len(ranked) > top:
            lines.append(f"  ... {len(ranked) - top} more ranked (--json lists them all)")
        over = [r for r in rows if r["over_budget"]]
        if over:
            cheapest = sci(min(r["flops"] for r in over))
            lines.append(f"  not ranked: {len(over)} run(s) cost more than the budget (cheapest {cheapest} FLOPs)")
        weak = [r for r in ranked if r.get("ess_low_share", 0) > 0.1 and r["method"].startswith("importance")]
        if weak:
            lines.append(f"  {len(weak)} run(s) rest on degenerate importance weights (fewer than 50 effective draws "
                         "on >10% of outcomes): their EVSI is uncertain (more --draws helps)")
        refits = [r for r in ranked if r["method"].startswith("NUTS")]
        if refits:
            lines.append(f"  {len(refits)} run(s) valued by NUTS refits where the importance weights degenerated")
        for k, sq in enumerate(b.get("sequence", []), start=1):
            lines.append(f"  best {k} together: {' + '.join(sq['runs'])} ({sci(sq['flops'])} FLOPs): EVSI "
                         f"{sq['evsi']:.3g} {unit}, P(a wrong decision) {share(sq['p_wrong_after'], n)} after")
            if "stopped" in sq:
                lines.append(f"  no more together: {sq['stopped']}")
        st = b["settles"]
        lines.append(f"  settles it: {st['run']} ({sci(st['flops'])} FLOPs): a verdict {rec_prob(result)} sure "
                     f"after it with probability {share(st['p_sure_after'], n)}" if st.get("run")
                     else f"  settles it: {st['why']}")
        lines.append("")
    lines.append("EVSI: how much the decision's expected regret falls once the run's outcome is known (simulated "
                 "from the posterior with the law's error and run noise, the draws re-weighted by it); "
                 "P(change): the chance the run changes the choice; P(sure) after: the chance its outcome leaves "
                 f"a verdict {rec_prob(result)} sure (margin included)")
    for w in result.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _windows_text(summary: xr.Dataset) -> list[str]:
    from bayeslaw.planning.summary import windows  # light CLI: xarray, when a plan is shown

    n = int(summary.attrs["n_draws"])
    lines = [f"Where distillation is more likely than not better (P >= 0.5: a lean, not a verdict; each cell's "
             f"verdict is above) between {sci(float(summary['budget'][0]))} and "
             f"{sci(float(summary['budget'][-1]))} FLOPs:"]
    for w in windows(summary["p_distill_wins"]):
        s = summary.sel(student_size=w["student_size"], scenario=w["scenario"])
        spans = [f"{'<= ' if x['from_open'] else ''}{sci(x['from'])} to {sci(x['to'])}"
                 f"{' and beyond' if x['to_open'] else ''}" for x in w["windows"]]
        always, never = int(s["n_always_distil"]), int(s["n_never_distil"])
        lines.append(f"  {sci(w['student_size'])} params, {SCENARIOS[w['scenario']].label}: "
                     + ("; ".join(spans) if spans else "nowhere")
                     + f" (draws in which distillation wins at every budget: {always} of {n}, at none: {never})")
    return lines


def _plan_detail(summary: xr.Dataset) -> list[str]:
    lines = []
    for N_S in summary["student_size"].values:
        for C in summary["budget"].values:
            for sc in summary["scenario"].values:
                s = summary.sel(student_size=N_S, budget=C, scenario=sc)
                if not np.isfinite(float(s["p_distill_wins"])):
                    continue
                lines.append(f"\nstudent {sci(float(N_S))} params, budget {sci(float(C))} FLOPs, "
                             f"{SCENARIOS[str(sc)].label}: {s['verdict'].values}")
                lines.append(f"  loss, distilled {_band(s, 'L_S', '.4f')} vs supervised {_band(s, 'L_sup', '.4f')} "
                             f"nats; difference {_band(s, 'diff')}")
                rec = f"  distillation recipe: student tokens D_S {_sci_band(s, 'D_S')}"
                if np.isfinite(float(s["N_T_median"])):
                    rec += f"; teacher N_T {_sci_band(s, 'N_T')}, D_T {_sci_band(s, 'D_T')}"
                rec += f"; teacher loss L_T {float(s['L_T_median']):.4f}"
                lines.append(rec)
    return lines


def _sci_band(s: xr.Dataset, v: str) -> str:
    return f"{_fmt(float(s[f'{v}_median']))} [{_fmt(float(s[f'{v}_lower']))}, {_fmt(float(s[f'{v}_upper']))}]"


def _cut(line: str, width: int = 211) -> str:
    """A terminal line of at most ``width`` characters (the caveat's own text at most 200), '...' where cut."""
    if len(line) <= width:
        return line
    head = line[:width]
    return (head[:head.rfind(" ")] if " " in head[width // 2:] else head) + " ..."  # at a word, not mid-word


def settle_lines(settle: dict[str, Any] | None, prob: float) -> list[str]:
    """Per budget, what would settle the decision (the report's section of that name), in one line each."""
    if not settle:
        return []
    n, out = int(settle["draws"]), ["What would settle it (`bayeslaw pilot` ranks the runs):"]
    for b in settle["budgets"]:
        head = f"  {sci(b['budget'])} FLOPs: "
        if b["status"] != "ranked":
            out.append(_cut(head + b["status"]))
            continue
        st, seq = b["settles"], b.get("sequence") or []
        what = (f"{st['run']} ({sci(st['flops'])} FLOPs) leaves a {prob:.0%}-sure verdict with probability "
                f"{share(st['p_sure_after'], n)}" if st.get("run") else st["why"])
        if seq and not st.get("run"):
            what += (f"; best per FLOP: {seq[0]['runs'][0]} ({sci(seq[0]['flops'])} FLOPs), P(wrong) "
                     f"{share(b['p_wrong_before'], n)} -> {share(seq[0]['p_wrong_after'], n)}")
        elif not seq:
            what += "; no run's value beats its Monte Carlo error"
        out.append(_cut(head + f"EVPI {b['evpi']:.3g} {b['unit']}; " + what))
    return out


def format_report(analysis, written) -> str:
    """The verdict in a few lines, and where the report is."""
    q = analysis.question
    lines = []
    if not analysis.diagnosis.passed:
        lines.append("!! WARNING: the fit FAILED its diagnostic gates; the report says so at the top")
    if not hasattr(analysis, "options"):  # the supervised-only report
        lines += _format_supervised_report(analysis)
        lines += settle_lines(analysis.settle, q.prob)
        lines += [_cut(f"  warning: {w}") for w in analysis.warnings]
        return "\n".join([*lines, f"report: {written.html}", f"        {written.markdown}"])
    n = int(analysis.provenance["draws_used"])
    lines.append(f"Student {sci(q.student_size)} parameters, scenario {q.scenario}, "
                 f"{q.n_students} student(s) per teacher; {DIFFERENCE}; practical tie within +-{q.margin:g} nats"
                 + (f"; lifetime budgets: serving {q.demand_tokens:.3g} tokens paid first" if q.inference_tokens
                    else ""))
    if q.priced is not None:
        lines.append(_cut(q.priced.note()))
    from bayeslaw import decide  # light CLI: after the report is written

    for v in analysis.verdict:
        d = v["diff"]
        leans = decide.lean(v["verdict"], v["p_better"], q.prob) if v["p_better"] is not None else None
        lines.append(f"  {sci(v['budget'])} FLOPs: {v['verdict']}{f' ({leans})' if leans else ''}: "
                     f"P(distillation better) {share(v['p_better'], n)}, by more than {q.margin:g} nats "
                     f"{share(v['p_better_margin'], n)}; difference "
                     f"{d['median']:+.4f} [{d['lower']:+.4f}, {d['upper']:+.4f}] nats; recipe "
                     + ", ".join(f"{k} {sci(r['median'])}" for k, r in v["recipe"].items()
                                 if r is not None and k != "L_T"))
    lines += settle_lines(analysis.settle, q.prob)
    for w in analysis.warnings:
        lines.append(_cut(f"  warning: {w}"))
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
    lines += backtest_reference_lines(bt.summary)
    for r in bt.fits.itertuples(index=False):
        state = "passed" if r.diagnostics_passed else f"FAILED ({r.failures})"
        lines.append(f"fit {r.split}: {r.n_train} runs, {r.refit_seconds:.1f} s, diagnostics {state}")
    return "\n".join(lines)


def backtest_reference_lines(summary) -> list[str]:
    """Per split and method, the 90% coverage seen against what a right predictive would see (its 90% range, the
    p-value, the chance of 80-95%), and how often a bootstrap keeps the median error at or below the point fit's."""
    if "coverage90_p_value" not in summary:
        return []
    lines = ["If the predictive were right (its own draws as the held-out runs): 90% coverage's 90% range, "
             "p-value, chance of 80-95%; bootstrap of the held-out runs (by teacher where they have one): "
             "share with the median error at or below the point fit's"]
    for r in summary.to_dict(orient="records"):
        if not np.isfinite(r.get("coverage90_p_value", np.nan)):
            continue
        against = r.get("p_median_error_at_or_below_point", np.nan)
        lines.append(f"  {r['split'][:44]:44s} {r['method'][:32]:32s} seen {r['coverage90']:.2f}, right "
                     f"{r['coverage90_if_right_5pct']:.2f}-{r['coverage90_if_right_95pct']:.2f}, "
                     f"p {r['coverage90_p_value']:.2f}, in target {r['coverage90_target_chance']:.0%}"
                     + (f"; median error <= point fit's in {against:.0%}" if np.isfinite(against) else ""))
    return lines


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


# -- machine output ---------------------------------------------------------------------------------

#: What every --json output states once, so that no number in it needs guessing.
CONVENTIONS = {
    "difference": "distilled - supervised loss in nats/token; negative: distillation better",
    "flops": "3 F(N) D per model trained (the paper's; F(N) forward FLOPs per token), unless a field says 6ND",
    "probabilities": "shares of the posterior draws used (n_draws); 0 and 1 mean none or all of them",
    "losses": "validation cross-entropy, nats/token",
    "missing": "null: not defined or not computable (e.g. an option outside the planner's bounds)",
}


def strict(x: Any) -> Any:
    """``x`` as strict JSON data: NaN and infinities become null, numpy scalars and arrays plain Python."""
    if isinstance(x, dict):
        return {str(k): strict(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [strict(v) for v in x]
    if isinstance(x, np.ndarray):
        return strict(x.tolist())
    if isinstance(x, np.generic):
        return strict(x.item())
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if x is None or isinstance(x, bool | int | str):
        return x
    return str(x)


def envelope(command: str, result: Any, *, fit: Fit | None = None, warnings: list[str] | None = None,
             posterior: str | None = None) -> dict[str, Any]:
    """The one shape of every command's --json output: what ran, on what, with which caveats, then the result."""
    return strict({
        "command": command,
        "bayeslaw_version": VERSION,
        "posterior": posterior,
        "data": None if fit is None else data_provenance(fit.card),
        "diagnostics_passed": None if fit is None else bool(fit.diagnostics_passed),
        "warnings": list(warnings or []),
        "conventions": CONVENTIONS,
        "result": result,
    })


def _teacher_record(s: xr.Dataset, label: str) -> dict[str, Any]:
    """One given teacher's verdict in one plan cell, for JSON (None where the teacher cannot be used)."""
    if bool(s["teacher_unaffordable"]):
        return {"teacher": label, "verdict": None, "usable": False}
    rec: dict[str, Any] = {"teacher": label, "usable": True, "verdict": str(s["teacher_verdict"].values)}
    for v in ("p_better", "p_better_margin", "p_worse_margin"):
        rec[v] = float(s[f"teacher_{v}"])
    for v in ("diff", "D_S"):
        rec[v] = {k: float(s[f"teacher_{v}_{k}"]) for k in ("median", "lower", "upper")}
    return rec


def plan_records(summary: xr.Dataset) -> dict[str, Any]:
    """``bayeslaw plan --json``'s result: one record per cell (verdict, probabilities, bands, recipe), the
    windows where distillation wins and the crossover summaries."""
    summary = flatten(summary)  # bands as one variable per bound
    from bayeslaw import decide  # light CLI: xarray, when a plan is shown
    from bayeslaw.planning.summary import windows  # light CLI: xarray, when a plan is shown

    cells = []
    for N_S in summary["student_size"].values:
        for C in summary["budget"].values:
            for sc in summary["scenario"].values:
                s = summary.sel(student_size=N_S, budget=C, scenario=sc)
                rec: dict[str, Any] = {"student_size": float(N_S), "budget": float(C), "scenario": str(sc),
                                       "verdict": str(s["verdict"].values)
                                       if np.isfinite(float(s["p_distill_wins"])) else None}
                for v in ("p_better", "p_better_margin", "p_worse_margin", "p_tied"):
                    rec[v] = float(s[v]) if np.isfinite(float(s["p_distill_wins"])) else None
                for v in ("diff", "L_S", "L_sup", "D_S", "N_T", "D_T", "L_T"):
                    rec[v] = {k: float(s[f"{v}_{k}"]) for k in ("median", "lower", "upper")}
                for v in ("extrapolation_share", "distillation_error_share"):
                    if v in s:
                        rec[v] = float(s[v])
                rec["lean"] = (decide.lean(rec["verdict"], rec["p_better"], float(summary.attrs["interval_prob"]))
                               if rec["verdict"] is not None else None)
                rec["settle_with"] = (f"bayeslaw pilot POSTERIOR --student {float(N_S):g} --budget {float(C):g} "
                                      f"--scenario {sc}" if rec["verdict"] == "too close to call" else None)
                if "teacher_verdict" in summary:
                    rec["teachers"] = [_teacher_record(summary.sel(teacher=t, student_size=N_S, budget=C,
                                                                   scenario=sc), str(t))
                                       for t in summary["teacher"].values]
                cells.append(rec)
    per_size = []
    for N_S in summary["student_size"].values:
        for sc in summary["scenario"].values:
            s = summary.sel(student_size=N_S, scenario=sc)
            per_size.append({"student_size": float(N_S), "scenario": str(sc),
                             "crossover_at_p50": float(s["crossover_at_p50"]),
                             "crossover_band": {k: float(s[f"crossover_{k}"]) for k in CI_BOUND},
                             "n_always_distil": int(s["n_always_distil"]),
                             "n_never_distil": int(s["n_never_distil"])})
    attrs = {k: summary.attrs[k] for k in ("n_draws", "margin", "prob", "interval_prob", "n_students", "flops",
                                           "extrapolation") if k in summary.attrs}
    return {"settings": attrs, "cells": cells, "windows": windows(summary["p_distill_wins"]),
            "crossovers": per_size}


def report_records(analysis) -> dict[str, Any]:
    """``bayeslaw report --json``'s result: the verdict per budget with its recipe, metrics, compute for the target."""
    if not hasattr(analysis, "options"):  # the supervised-only report
        from bayeslaw.decision.supervised import records  # light CLI: xarray, when a report is shown

        return records(analysis)
    cft = analysis.compute_for_target
    return {"diagnostics_passed": analysis.diagnosis.passed, "verdict": analysis.verdict,
            "extrapolation": analysis.extrapolation,
            "metrics": flatten(analysis.metrics).to_dataframe().reset_index().to_dict(orient="records"),
            "compute_for_target": (None if cft is None else
                                   dict(zip(cft["option"].values.tolist(), cft.values.tolist(), strict=True))),
            "settle": analysis.settle,
            "serving": None if analysis.serving is None else free_size_records(analysis.serving),
            "serving_target": (None if analysis.serving_target is None
                               else target_route_records(analysis.serving_target))}


#: The backtest summary's columns on what a right predictive would see, and against the point fit, in --json.
REFERENCE_FIELDS = tuple(f"coverage{k}_{s}" for k in (50, 90) for s in ("if_right_5pct", "if_right_95pct",
                                                                      "p_value", "target_chance")) + (
    "p_median_error_at_or_below_point",)


def backtest_records(bt, paths: dict[str, str]) -> dict[str, Any]:
    """``bayeslaw backtest --json``'s result: per split and method the scores, with each fit's gate status."""
    gates = {r.split: {"diagnostics_passed": bool(r.diagnostics_passed), "failures": r.failures}
             for r in bt.fits.itertuples(index=False)}
    rows = []
    for r in bt.summary.itertuples(index=False):
        point = "point" in r.method
        extra = {k: _num(getattr(r, k, np.nan)) for k in REFERENCE_FIELDS}
        rows.append({"split": r.split, "method": r.method, "n_heldout": int(r.n_test),
                     "median_rel_error": float(r.rel_error_median), "coverage_50": float(r.coverage50),
                     "coverage_90": float(r.coverage90), "crps": float(r.crps), "lpd": float(r.lpd),
                     "fit_passed_gates": None if point else gates.get(r.split, {}).get("diagnostics_passed")}
                    | extra)
    return {"scores": rows, "fits": bt.fits.to_dict(orient="records"), "paths": paths}


def _format_supervised_report(a) -> list[str]:
    q, n = a.question, int(a.provenance["draws_used"])
    serving = (f"; lifetime budgets: serving {q.demand_tokens:.3g} tokens paid first" if q.inference_tokens
               else "")
    lines = [f"Compute-optimal supervised model per budget (FLOPs = 3 F(N) D{serving}; medians with {q.prob:.0%} "
             "bands)"]
    if q.priced is not None:
        lines.append(_cut(q.priced.note()))
    for c in q.budgets:
        x = a.optimum.sel(budget=c)
        L = np.quantile(x["L"].values, levels(q.prob))
        N, D = (sci(float(np.median(x[k].values))) for k in ("N", "D"))
        line = f"  {sci(c)} FLOPs: N* {N}, D* {D}, L* {L[1]:.4f} [{L[0]:.4f}, {L[2]:.4f}]"
        if q.target is not None:
            line += f"; P(a run reaches {q.target:g}) {share(float(a.metrics['p_target'].sel(budget=c)), n)}"
        lines.append(line)
    if q.target is not None:
        c = a.compute_for_target
        lines.append(f"  compute to be 90% sure of loss {q.target:g}: "
                     + ("not within 100x the largest budget" if c is None or not np.isfinite(c) else f"{sci(c)} FLOPs"))
        if getattr(a, "target_note", None):
            lines.append(_cut(f"  why: {a.target_note}"))
    return lines


def _pct_band(x: Any, fmt: str = ".2f") -> str:
    """A posterior quantity in percent: median [90% equal-tailed interval]."""
    lo, me, hi = np.quantile(np.asarray(x).ravel(), levels(0.9))
    return f"{100 * me:{fmt}}% [{100 * lo:{fmt}}%, {100 * hi:{fmt}}%]"


def _signed_band(x: Any) -> str:
    """A signed posterior quantity in percent: median [90% equal-tailed interval], each with its sign."""
    return _pct_band(x, "+.2f")


def format_student_error(fit: Fit, splits: list[dict]) -> str:
    """The distillation law's error posterior in words: its step and growth against the supervised population's
    new study (its prior), what it was learned from, and the split fits' gates."""
    post = fit.idata["posterior"]
    band = _pct_band

    data, prior = fit.card["data"], fit.card["spec"]["priors"]
    lines = [f"The distillation law's error beyond its fitted students, learned from {data['n_runs']} held-out "
             f"students ({data['n_outside']} beyond their split's fitted students); sd of log loss, median [90%]:",
             f"  step at the edge {band(post['edge'])}, growth per decade {band(post['growth'])}",
             f"  prior (a new study of the supervised population): step {100 * np.exp(prior['log_edge'][0]):.2f}%, "
             f"growth {100 * np.exp(prior['log_growth'][0]):.2f}% per decade (medians)"]
    for f in splits:
        lines.append(f"  split {f['split']}: {f['n_train']} fitted, {f['n_test']} held out, gates "
                     + ("passed" if f["diagnostics_passed"] else f"FAILED ({f['failures']}): not learned from; "
                        "its students count from the next split that held them out and passed"))
    diag = fit.card["diagnostics"]
    lines.append("diagnostics: " + ("PASSED" if diag.get("passed") else "FAILED: " + "; ".join(diag["failures"])))
    return "\n".join(lines)


def format_ratio_drift(fit: Fit, loso: pd.DataFrame | None) -> str:
    """The tokens-per-parameter drift in words (population slope and spread, per study) and, when evaluated, its
    leave-one-study-out scores against today's bands.

    Parameters
    ----------
    fit
        The drift posterior (:func:`bayeslaw.inference.ratio_drift.fit_ratio_drift`).
    loso
        :func:`bayeslaw.validate.ratio_drift.loso_scores`'s table, or None.
    """
    post = fit.idata["posterior"]

    def band(x) -> str:
        return _pct_band(x, "+.2f")

    data = fit.card["data"]
    lines = [f"How the law errs past the fitted tokens per parameter, learned from {data['n_runs']} held-out runs of "
             f"{len(data['studies'])} studies (log loss per decade past the most tokens per parameter fitted; "
             "positive: runs come out worse than the law), median [90%]:",
             f"  population drift {band(post['mu_slope'])}, study-to-study sd {_pct_band(post['sd_slope'])}, "
             f"extra error {_pct_band(post['spread'])} per decade"]
    for i, s in enumerate(data["studies"]):
        lines.append(f"  {s} (cut {data['cuts'][s]:g} tokens/param): drift {band(post['slope'].isel(study=i))}")
    if loso is not None:
        lines.append("leave-one-study-out (each study predicted by a drift learned from the others):")
        for _, r in loso.iterrows():
            lines.append(f"  {r['study']:<26} {r['method']:<40} n={int(r['n']):<3} 90%: {r['cover90']:.2f}  "
                         f"50%: {r['cover50']:.2f}  median |error| {100 * r['median_abs_error']:.2f}%  signed "
                         f"{100 * r['median_signed_error']:+.2f}%  CRPS {r['crps']:.4f}")
    diag = fit.card["diagnostics"]
    lines.append("diagnostics: " + ("PASSED" if diag.get("passed") else "FAILED: " + "; ".join(diag["failures"])))
    return "\n".join(lines)


def format_calibration(fit: Fit, summary: pd.DataFrame | None, widths: pd.DataFrame | None = None,
                       expected: pd.DataFrame | None = None) -> str:
    """The calibration posterior in words (population and per-study edge and growth) and, when evaluated, the
    leave-one-study-out scores, what wider bands would do, and each study against the population's own spread."""
    post = fit.idata["posterior"]
    band = _pct_band

    data = fit.card["data"]
    lines = [f"Extrapolation error of the law, learned from {len(data['studies'])} studies "
             f"({data['n_runs']} held-out runs); sd of log loss, median [90% interval]:",
             f"  population: step at the edge {band(np.exp(post['mu_log_edge']))}, growth per decade "
             f"{band(np.exp(post['mu_log_growth']))}"]
    signed = "mu_shift_edge" in post
    if signed:
        lines.append(f"  population lean (mean error; negative: runs beyond beat the law): at the edge "
                     f"{_signed_band(post['mu_shift_edge'])}, per decade {_signed_band(post['mu_shift_growth'])}")
    for k, st in enumerate(data["studies"]):
        lean = (f"; lean {_signed_band(post['shift_edge'].values[..., k])} + "
                f"{_signed_band(post['shift_growth'].values[..., k])}/decade" if signed else "")
        lines.append(f"  {st:<26} edge {band(post['edge'].values[..., k])}, per decade "
                     f"{band(post['growth'].values[..., k])}{lean}")
    for name, why in data.get("skipped", {}).items():
        lines.append(f"  skipped {name}: {why}")
    failed = data.get("split_fits_failed", [])
    if failed:
        lines.append(f"  {len(failed)} split fit(s) failed their gates (kept: their held-out runs still show the "
                     f"law's error): " + "; ".join(failed))
    diag = fit.card["diagnostics"]
    lines.append("diagnostics: " + ("PASSED" if diag.get("passed") else "FAILED: " + "; ".join(diag["failures"])))
    if summary is not None:
        lines.append("\nLeave one study out (each study scored with the population learned from the others):")
        lines.append(summary.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if widths is not None:
        lines.append("\nThe population's error made wider (the same draws scaled): pooled coverage, CRPS, worst study")
        for _, w in widths.iterrows():
            held = "every target holds" if w["all_targets"] else "misses " + ", ".join(
                k.removesuffix("_ok") for k in ("pooled_90_ok", "pooled_50_ok", "every_study_90_ok", "crps_ok")
                if not w[k])
            lines.append(f"  x{w['width']:<5g} 90% {w['coverage_90']:.3f}, 50% {w['coverage_50']:.3f}, CRPS "
                         f"{w['crps']:.4f} (without the term {w['crps_bayeslaw']:.4f}), {w['worst_study']} "
                         f"{w['worst_study_coverage_90']:.2f}: {held}")
    if expected is not None:
        target = f"{float(expected['target'].iloc[0]):g}"
        lines.append("\nEach study's 90% coverage against studies drawn from the population (median, 5th percentile,"
                     f" P(< {target}), predictive p-value):")
        for _, e in expected.iterrows():
            lines.append(f"  {e['study']:<26} {e['coverage_90']:.2f} against {e['expected_median']:.2f} "
                         f"[{e['expected_5pct']:.2f}], P(< {target}) {e['p_below_target']:.2f}, p = {e['p_value']:.3f}")
        lines.append(f"  all studies >= {target} if the population were exactly right: probability "
                     f"{np.prod(1 - expected['p_below_target']):.2f}")
    return "\n".join(lines)
