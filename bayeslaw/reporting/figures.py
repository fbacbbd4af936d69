"""Plots of posterior predictions and plans: Datasets in, matplotlib Figures out.

Figures are built on ``matplotlib.figure.Figure`` (no pyplot state), so reports can be
written from threads and scripts without a display. Each function draws one thing from the
Datasets of :mod:`bayeslaw.posterior.students`, :mod:`bayeslaw.planning` and :mod:`bayeslaw.decide`.
"""

from __future__ import annotations

import io
import textwrap
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bayeslaw.core.fmt import sci
from bayeslaw.core.intervals import levels, pick

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
SUPERVISED = "#333333"


def png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _band(ax, x, ds: xr.Dataset, name: str, color: str, label: str, ls: str = "-") -> None:
    ax.fill_between(x, pick(ds, name, "lower"), pick(ds, name, "upper"), color=color, alpha=0.2, lw=0)
    ax.plot(x, pick(ds, name), color=color, ls=ls, label=label)


def loss_vs_tokens(curves: Mapping[str, xr.Dataset], *, N_S: float, target: float | None = None) -> Figure:
    """Student loss against distillation tokens for chosen teachers, with the supervised student.

    ``curves`` maps a teacher's label to :func:`bayeslaw.posterior.students.predict` output over a grid of
    ``D_S`` at fixed ``N_S``; the supervised twin comes from the first curve (paired draws).
    """
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    first = next(iter(curves.values()))
    x = first["D_S"].values
    for (label, ds), color in zip(curves.items(), COLORS, strict=False):
        _band(ax, x, ds, "loss_mean", color, f"distilled from {label}")
    _band(ax, x, first, "loss_supervised", SUPERVISED, "supervised (same tokens)", ls="--")
    if target is not None:
        ax.axhline(target, color="k", lw=0.8, ls=":", label=f"target {target:g}")
    prob = first.attrs.get("interval_prob", 0.9)
    ax.set(xscale="log", xlabel="student training tokens $D_S$",
           ylabel="student cross-entropy (nats/token)",
           title=f"Student of {sci(N_S)} parameters: median and {prob:.0%} band of the mean law")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    return fig


def win_probability_map(summary: xr.Dataset, scenario: str, *, marks: Sequence[tuple[float, float]] = ()) -> Figure:
    """P(distillation beats supervised) over student size x budget, with the 0.5 crossover and its band."""
    s = summary.sel(scenario=scenario)
    p = s["p_distill_wins"].transpose("student_size", "budget")
    C, N = p["budget"].values, p["student_size"].values
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(C, N, p.values, cmap="RdBu_r", vmin=0, vmax=1, shading="nearest")
    fig.colorbar(mesh, ax=ax, label="P(distillation beats supervised)")
    if np.nanmin(p.values) < 0.5 < np.nanmax(p.values):
        ax.contour(C, N, p.values, levels=[0.5], colors="k", linewidths=1.2)
    lo, hi, med = (pick(s, "crossover", k).values for k in ("lower", "upper", "median"))
    # only where P really falls through 0.5 inside the budgets planned: elsewhere nothing crosses
    crosses = np.isfinite(s["crossover_at_p50"].values) & (p.values[:, 0] >= 0.5)
    ok = np.isfinite(med) & crosses
    if ok.any():
        ax.errorbar(med[ok], N[ok], xerr=[med[ok] - np.where(np.isfinite(lo[ok]), lo[ok], med[ok]),
                                          np.where(np.isfinite(hi[ok]), hi[ok], med[ok]) - med[ok]],
                    fmt="o", color="k", ms=3, capsize=3, label="crossover (median, band)")
        ax.legend(fontsize=8, loc="lower left")
    for n, c in marks:
        ax.plot(c, n, marker="*", color="gold", mec="k", ms=13, ls="none")
    ax.set(xscale="log", yscale="log", xlabel="compute budget (FLOPs)", ylabel="student parameters",
           title=f"Where distillation wins ({scenario.replace('_', ' ')}); star: your question")
    return fig


def _quantiles(v, q: list[float]) -> np.ndarray:
    """Quantiles over draws; a budget with no recipe in any draw (all NaN) is a gap in the band, not a warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        return v.quantile(q, dim="draw").values


def allocations(at_size: xr.Dataset, *, prob: float = 0.9, budgets: Sequence[float] = ()) -> Figure:
    """Optimal distillation recipe and student losses against budget, medians with bands.

    ``at_size`` is a planner grid at one student size and one scenario: dims (draw, budget).
    """
    q = list(levels(prob))
    C = at_size["budget"].values
    fig = Figure(figsize=(10.0, 4.0))
    ax1, ax2 = fig.subplots(1, 2)
    for name, label, color in (("D_S", "student tokens $D_S^*$", COLORS[0]), ("N_T", "teacher size $N_T^*$", COLORS[1]),
                               ("D_T", "teacher tokens $D_T^*$", COLORS[2])):
        v = at_size[name]
        if v.notnull().any():
            qs = _quantiles(v, q)
            ax1.fill_between(C, qs[0], qs[2], color=color, alpha=0.2, lw=0)
            ax1.plot(C, qs[1], color=color, label=label)
    ax1.set(xscale="log", yscale="log", xlabel="compute budget (FLOPs)", ylabel="parameters / tokens",
            title=f"Compute-optimal distillation recipe ({prob:.0%} bands)")
    ax1.legend(fontsize=8)
    for name, label, color in (("L_S", "distilled (optimal recipe)", COLORS[0]),
                               ("L_sup", "supervised (whole budget)", SUPERVISED)):
        qs = _quantiles(at_size[name], q)
        ax2.fill_between(C, qs[0], qs[2], color=color, alpha=0.2, lw=0)
        ax2.plot(C, qs[1], color=color, label=label, ls="-" if name == "L_S" else "--")
    ax2.set(xscale="log", xlabel="compute budget (FLOPs)", ylabel="student cross-entropy (nats/token)",
            title="Student loss")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both", lw=0.4)
        for c in budgets:
            ax.axvline(c, color="gold", lw=1)
    return fig


def capacity_gap(ds: xr.Dataset, *, N_S: float, D_S: float) -> Figure:
    """Student loss against teacher loss (the capacity-gap U) with its band."""
    fig = Figure(figsize=(7.0, 4.0))
    ax = fig.add_subplot()
    x = ds["L_T"].values
    _band(ax, x, ds, "loss_mean", COLORS[0], "distilled student (mean law)")
    tilde = float(ds["L_tilde_median"])
    ax.axvline(tilde, color=SUPERVISED, ls="--", lw=1, label=f"supervised student's loss {tilde:.3f}")
    i = int(np.argmin(pick(ds, "loss_mean").values))
    ax.plot(x[i], pick(ds, "loss_mean").values[i], "o", color="k",
            label=f"best teacher loss ~{x[i]:.2f} (ratio {float(ds['ratio'].values[i]):.2f})")
    ax.set(xlabel="teacher cross-entropy $L_T$", ylabel="student cross-entropy $L_S$",
           title=f"Capacity gap: student {sci(N_S)} params on {sci(D_S)} tokens")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, lw=0.4)
    return fig


def paired_difference(diff: xr.DataArray, *, margin: float) -> Figure:
    """Distilled minus supervised loss per draw (draw, budget), one violin per budget, zero and margin lines."""
    budgets = diff["budget"].values
    fig = Figure(figsize=(7.0, 1.0 + 0.6 * budgets.size))
    ax = fig.add_subplot()
    data = [diff.sel(budget=c).dropna("draw").values for c in budgets]
    keep = [i for i, d in enumerate(data) if d.size > 1]
    if keep:
        ax.violinplot([data[i] for i in keep], positions=keep, vert=False, showmedians=True, widths=0.8)
    ax.set_yticks(range(budgets.size), [f"{sci(float(c))} FLOPs" for c in budgets], fontsize=8)
    ax.axvline(0.0, color="k", lw=1.2, label="no difference")
    for m in (-margin, margin):
        ax.axvline(m, color="k", ls="--", lw=0.8, label=f"practical tie: +-{margin:g} nats" if m < 0 else None)
    ax.set(xlabel="distilled - supervised loss (nats/token); < 0: distillation better",
           title="Paired difference by budget")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3, axis="x", lw=0.4)
    return fig


def option_distributions(loss: xr.DataArray, *, target: float | None = None, title: str = "") -> Figure:
    """The posterior distribution of each option's loss (draw, option), with the target."""
    fig = Figure(figsize=(7.0, 0.9 + 0.55 * loss.sizes["option"]))
    ax = fig.add_subplot()
    labels = [str(o) for o in loss["option"].values]
    data = [loss.sel(option=o).dropna("draw").values for o in loss["option"].values]
    keep = [i for i, d in enumerate(data) if d.size > 1]
    if keep:
        ax.violinplot([data[i] for i in keep], positions=keep, vert=False, showmedians=True, widths=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    if target is not None:
        ax.axvline(target, color="k", ls=":", lw=1, label=f"target {target:g}")
        ax.legend(fontsize=8)
    ax.set(xlabel="student cross-entropy (nats/token)", title=title)
    ax.grid(alpha=0.3, axis="x", lw=0.4)
    return fig


def ppc_pit(observed: np.ndarray, predictive: np.ndarray, *, title: str) -> Figure:
    """PIT-ECDF of the observed runs under the posterior predictive (ArviZ's ``plot_ppc_pit``).

    ``observed`` is (run,), ``predictive`` (draw, run). ArviZ draws the difference between the
    empirical CDF of the PIT values and the uniform one: near zero the runs look like draws from the
    predictive; an S shape means mis-set noise, a tilt means bias.
    """
    import arviz_plots as azp  # only this figure needs it (slow to import)
    import matplotlib.pyplot as plt  # ArviZ makes a pyplot figure: release it once it is ours

    dt = xr.DataTree.from_dict({
        "posterior_predictive": xr.Dataset({title: (("chain", "draw", "run"), predictive[None])}),
        "observed_data": xr.Dataset({title: (("run",), observed)})})
    pc = azp.plot_ppc_pit(dt, backend="matplotlib", figure_kwargs={"figsize": (5.0, 3.4)})
    fig = pc.viz["figure"].item()
    plt.close(fig)
    return fig


def ppc_intervals(observed: np.ndarray, predictive: np.ndarray, *, title: str, prob: float = 0.9) -> Figure:
    """Observed runs against their predictive median and ``prob`` interval (log loss -> loss)."""
    lo, med, hi = np.quantile(np.exp(predictive), levels(prob), axis=0)
    y = np.exp(observed)
    inside = (y >= lo) & (y <= hi)
    fig = Figure(figsize=(5.0, 4.2))
    ax = fig.add_subplot()
    ax.errorbar(med, y, xerr=[med - lo, hi - med], fmt="none", ecolor="#999999", lw=0.6, alpha=0.6)
    ax.plot(med[inside], y[inside], ".", color=COLORS[0], ms=3, label=f"inside the {prob:.0%} interval")
    ax.plot(med[~inside], y[~inside], ".", color=COLORS[1], ms=5, label="outside")
    a, b = float(min(med.min(), y.min())), float(max(med.max(), y.max()))
    ax.plot([a, b], [a, b], color="k", lw=0.7)
    ax.set(xlabel="predicted loss (median, new run)", ylabel="observed loss",
           title=f"{title}: {inside.mean():.0%} inside")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, lw=0.4)
    return fig


def backtest_plot(per_run, summary) -> Figure:
    """Held-out runs against predictions (left) and interval coverage per split (right)."""
    fig = Figure(figsize=(11.0, 4.4))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1.0]})
    splits = list(dict.fromkeys(per_run["split"]))
    for (split, color) in zip(splits, COLORS, strict=False):
        b = per_run[(per_run["split"] == split) & (per_run["method"] == "bayeslaw")]
        ax1.errorbar(b["observed"], b["median"], yerr=[b["median"] - b["lower90"], b["upper90"] - b["median"]],
                     fmt="o", ms=3, color=color, lw=0.6, alpha=0.8, label=f"bayeslaw, {split}")
        p = per_run[(per_run["split"] == split) & per_run["method"].str.contains("point")]
        if len(p):
            ax1.plot(p["observed"], p["median"], "x", color=color, ms=4, alpha=0.8)
    lo = float(per_run["observed"].min())
    hi = float(per_run["observed"].max())
    ax1.plot([lo, hi], [lo, hi], color="k", lw=0.7)
    ax1.set(xlabel="observed loss (held out)", ylabel="predicted (median, 90% new-run interval; x: point fit)",
            title="Held-out runs")
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3, lw=0.4)
    methods = [m for m in dict.fromkeys(summary["method"]) if "point" not in m]
    first = summary[summary["method"] == methods[0]]
    x = np.arange(len(first))
    w = 0.8 / (2 * len(methods))
    at = {sp: i for i, sp in enumerate(first["split"])}
    for j, m in enumerate(methods):
        b = summary[(summary["method"] == m) & summary["split"].isin(at)]  # a method may score some splits only
        hatch = None if j == 0 else "//"
        for k, (col, color) in enumerate((("coverage50", COLORS[0]), ("coverage90", COLORS[1]))):
            off = -0.4 + w * (2 * j + k) + w / 2
            ax2.bar(x[[at[sp] for sp in b["split"]]] + off, b[col], w, color=color, hatch=hatch, edgecolor="white",
                    label=f"{col[-2:]}% intervals, {m}")
    ax2.axhline(0.5, color=COLORS[0], ls=":", lw=1)
    ax2.axhline(0.9, color=COLORS[1], ls=":", lw=1)
    labels = [textwrap.fill(f"{s} (n={n})", 18) for s, n in zip(first["split"], first["n_test"], strict=True)]
    ax2.set_xticks(x, labels, fontsize=7)
    ax2.set(ylim=(0, 1), ylabel="share of held-out runs inside", title="Predictive interval coverage (dotted: nominal)")
    ax2.legend(fontsize=7)
    return fig


def supervised_budget_curve(sweep: xr.DataArray, *, prob: float = 0.9, target: float | None = None,
                            budgets: Sequence[float] = ()) -> Figure:
    """The compute-optimal loss L* against budget with its band (left) and P(L* <= target) (right)."""
    C = sweep["budget"].values
    qs = sweep.quantile(list(levels(prob)), dim="draw").values
    fig = Figure(figsize=(10.0, 4.0))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.fill_between(C, qs[0], qs[2], color=COLORS[0], alpha=0.25, lw=0, label=f"{prob:.0%} band")
    ax1.plot(C, qs[1], color=COLORS[0], label="median")
    if target is not None:
        ax1.axhline(target, color="k", ls=":", lw=1, label=f"target {target:g}")
    ax1.set(xscale="log", xlabel="compute budget (FLOPs, 3 F(N) D)", ylabel="loss of the compute-optimal model "
            "(nats/token)", title="What a budget buys")
    ax1.legend(fontsize=8)
    if target is not None:
        ax2.plot(C, (sweep <= target).mean("draw").values, color=COLORS[1])
        ax2.axhline(0.9, color="k", ls="--", lw=0.8, label="90%")
        ax2.set(xscale="log", ylim=(-0.02, 1.02), xlabel="compute budget (FLOPs, 3 F(N) D)",
                ylabel=f"P(loss <= {target:g})", title="Probability of reaching the target")
        ax2.legend(fontsize=8)
    else:
        ax2.set_axis_off()
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both", lw=0.4)
        for c in budgets:
            ax.axvline(c, color="gold", lw=1)
    return fig


def reliability_diagram(rel) -> Figure:
    """Empirical against nominal coverage of central intervals, one line per method (pooled over studies)."""
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.add_subplot()
    x = rel["nominal"].to_numpy()
    ax.plot([0, 1], [0, 1], color="k", lw=0.8, ls=":", label="calibrated")
    for k, col in enumerate(c for c in rel.columns if c != "nominal"):
        ax.plot(x, rel[col].to_numpy(), marker="o", ms=3, color=COLORS[k % len(COLORS)], label=col)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal coverage of the central interval",
           ylabel="share of held-out runs inside", title="Reliability, leave one study out (pooled)")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3, lw=0.4)
    return fig
