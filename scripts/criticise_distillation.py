"""Model criticism of the distillation posterior fitted to the paper's digitized runs (docs/distillation.md).

Writes figures to docs/img/digitized[SUFFIX]_*.png and the numbers the docs quote to
reports/busbridge2025_digitized[SUFFIX]_criticism.json (SUFFIX: the posterior's name after
distillation_busbridge2025_digitized, empty for the default one, e.g. _paper_form):
posterior predictive coverage by student size and protocol, residuals against L_T / L~_S for the posterior
and for Table 6's point law, PSIS-LOO with Pareto k, and every Eq. 8 coefficient next to Table 6's value.
With --sensitivity it also refits at other teacher measurement noises and compares them.

Run: .venv/bin/python scripts/criticise_distillation.py [POSTERIOR.nc] [--sensitivity]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bayeslaw.api as bl
from bayeslaw.core import laws
from bayeslaw.core.intervals import tails
from bayeslaw.core.seeds import Streams
from bayeslaw.data import tables
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.likelihood import scaled_noise, student_log_mean, student_noise

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
TABLE6_NAMES = {"E": "E", "A": "A", "B": "B", "alpha": "alpha", "beta": "beta", "gamma": "gamma",
                "A_p": "A_prime", "B_p": "B_prime", "alpha_p": "alpha_prime", "beta_p": "beta_prime",
                "gamma_p": "gamma_prime", "c0": "c0", "c1": "c1", "f1": "f1", "d1": "d1"}


def table6_intervals() -> dict[str, list[float]]:
    ref = json.loads((ROOT / "data/distillation_busbridge2025/busbridge2025_table6_reference_fit.json").read_text())
    out = {k: ref["supervised_law"][v] for k, v in TABLE6_NAMES.items() if v in ref["supervised_law"]}
    out |= {k: ref["distillation_law"][v] for k, v in TABLE6_NAMES.items() if v in ref["distillation_law"]}
    return out


def per_student(fit, d: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Residuals at the measured and at the latent teacher, predictive coverage, Table 6's residual."""
    c = as_arrays(coefficients(fit))
    teacher = np.asarray(fit.card["data"]["teachers"]["index"])
    latent = fit.draws(["log_L_T"])["log_L_T"][:, teacher]
    measured = np.broadcast_to(np.log(d["L_T"].to_numpy())[None], latent.shape)
    N, D = d["N_S"].to_numpy(), d["D_S"].to_numpy()
    mu_meas, tilde = student_log_mean(c, N, D, measured)
    mu_lat, _ = student_log_mean(c, N, D, latent)
    rng = np.random.default_rng(Streams(seed).diagnostics)
    new = mu_lat + scaled_noise(*student_noise(fit, N), mu_lat.shape, rng)
    y = np.log(d["L_S"].to_numpy())
    out = d.copy()
    out["protocol"] = tables.busbridge_protocol(d)
    out["ratio"] = d["L_T"].to_numpy() / np.exp(np.median(tilde, axis=0))
    out["resid_measured"] = y - np.median(mu_meas, axis=0)
    out["resid_latent"] = y - np.median(mu_lat, axis=0)
    for p in (0.5, 0.9):
        lo, hi = np.quantile(new, [(1 - p) / 2, (1 + p) / 2], axis=0)
        out[f"in{round(100 * p)}"] = (y >= lo) & (y <= hi)
    sup, dis = paper_coefficients()
    tilde6 = laws.supervised_loss(N, D, **{k: sup[k] for k in ("E", "A", "B", "alpha", "beta", "gamma")})
    pred6 = laws.distillation_loss(N, D, d["L_T"].to_numpy(), tilde6, **dis)
    out["ratio_table6"] = d["L_T"].to_numpy() / tilde6
    out["resid_table6"] = y - np.log(pred6)
    return out


def coefficient_table(fit) -> pd.DataFrame:
    summ = bl.summary(fit)
    t6 = table6_intervals()
    rows = []
    for name in TABLE6_NAMES:
        if name not in summ.index:
            continue
        lo, hi = summ.loc[name, "eti90_lb"], summ.loc[name, "eti90_ub"]
        point = t6[name][0]
        rows.append({"coefficient": name, "mean": summ.loc[name, "mean"], "eti90_lb": lo, "eti90_ub": hi,
                     "table6": point, "table6_ci": t6[name][1:], "table6_inside_90": bool(lo <= point <= hi)})
    return pd.DataFrame(rows)


def groups(r: pd.DataFrame) -> pd.DataFrame:
    g = r.groupby(["protocol", "N_S"])
    return g.agg(n=("L_S", "size"), coverage50=("in50", "mean"), coverage90=("in90", "mean"),
                 mean_resid_measured=("resid_measured", "mean"), mean_resid_latent=("resid_latent", "mean"),
                 mean_resid_table6=("resid_table6", "mean")).reset_index()


def residual_structure(r: pd.DataFrame) -> dict:
    """Where the one students' noise sd comes from: each protocol's residual spread (latent teachers) in total, between
    its teachers' means and within a teacher, per size; and the fixed-teacher IsoFLOP students' residuals as a surface
    over (teacher, size, tokens) with each teacher's slope per e-fold of tokens (averaged over its sizes)."""
    spread = {}
    for protocol, p in r.groupby("protocol"):
        by_teacher = p.groupby("L_T")["resid_latent"]
        within = np.sqrt((by_teacher.var() * (by_teacher.size() - 1)).sum() / (len(p) - by_teacher.ngroups))
        spread[protocol] = {"n": len(p), "teachers": by_teacher.ngroups, "sd": float(p["resid_latent"].std()),
                            "sd_teacher_means": float(by_teacher.mean().std()), "sd_within_teacher": float(within),
                            "sd_by_size": p.groupby("N_S")["resid_latent"].std().to_dict()}
    iso = r[r["protocol"] == "fixed teacher, IsoFLOP students"]
    # each (teacher, size) series' line in log tokens: its slope, and the spread left around it (sd with the two
    # fitted coefficients per series taken off the degrees of freedom)
    slopes, ss, dof = {}, 0.0, 0
    for key, g in iso.groupby(["L_T", "N_S"]):
        if len(g) > 2:
            x, y = np.log(g["D_S"].to_numpy()), g["resid_latent"].to_numpy()
            line = np.polyfit(x, y, 1)
            slopes[key] = line[0]
            ss += float(np.sum((y - np.polyval(line, x)) ** 2))
            dof += len(g) - 2
    per_teacher = pd.Series(slopes).groupby(level=0).mean()
    surface = iso.pivot_table(index="L_T", columns=["N_S", "D_S"], values="resid_latent")
    return {"spread": spread,
            "isoflop_token_slope_by_teacher": {f"{t:.4f}": float(v) for t, v in per_teacher.items()},
            "isoflop_sd_left_after_each_series_line": float(np.sqrt(ss / dof)),
            "isoflop_token_slope_corr_with_log_L_T": float(np.corrcoef(np.log(per_teacher.index), per_teacher)[0, 1]),
            "isoflop_surface": {f"{t:.4f}": {f"{n / 1e9:.3g}B {dd:.3g}": float(v) for (n, dd), v in row.items()
                                             if np.isfinite(v)} for t, row in surface.iterrows()}}


def plot_residuals(r: pd.DataFrame, d1: np.ndarray, d1_table6: float, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    sizes = sorted(r["N_S"].unique())
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(sizes)))
    for ax, (col, ratio, title) in zip(axes, [("resid_table6", "ratio_table6", "Table 6's point law"),
                                              ("resid_measured", "ratio", "the posterior (median, measured L_T)")],
                                       strict=True):
        for n, colour in zip(sizes, colours, strict=True):
            s = r[r["N_S"] == n]
            ax.scatter(s[ratio], 100 * s[col], s=12, color=colour, label=f"{n / 1e6:.0f}M")
        ax.axhline(0, color="k", lw=0.8)
        if col == "resid_table6":
            ax.axvline(d1_table6, color="crimson", ls="--", lw=1, label=f"d1 = {d1_table6:.3f}")
        else:
            lo, hi = np.quantile(d1, tails(0.9))
            ax.axvspan(lo, hi, color="crimson", alpha=0.15, label=f"d1 90%: {lo:.2f}-{hi:.2f}")
        ax.axvline(0.8, color="0.5", ls=":", lw=1)
        ax.set_xlabel("L_T / L~_S (teacher loss over the student's supervised loss)")
        ax.set_title(f"log-loss residual of {title}")
    axes[0].set_ylabel("observed - predicted (% of log loss)")
    axes[0].legend(fontsize=7, loc="lower left", title="student")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ppc(r: pd.DataFrame, g: pd.DataFrame, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    labels = [f"{p.split(',')[0]}\n{n / 1e6:.0f}M (n={k})" for p, n, k in zip(g["protocol"], g["N_S"], g["n"],
                                                                                 strict=True)]
    x = np.arange(len(g))
    axes[0].bar(x - 0.2, g["coverage50"], 0.4, label="50% interval")
    axes[0].bar(x + 0.2, g["coverage90"], 0.4, label="90% interval")
    axes[0].axhline(0.5, color="C0", ls=":")
    axes[0].axhline(0.9, color="C1", ls=":")
    axes[0].set_xticks(x, labels, fontsize=6)
    axes[0].set_ylabel("share of students inside")
    axes[0].set_title("posterior predictive coverage by protocol and student size")
    axes[0].legend(fontsize=7)
    for (p, n), s in r.groupby(["protocol", "N_S"]):
        axes[1].scatter(s["L_T"], 100 * s["resid_latent"], s=10, marker="o" if p.startswith("fixed") else "^",
                        label=f"{p.split(',')[0]} {n / 1e6:.0f}M")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xlabel("teacher loss L_T (nats)")
    axes[1].set_ylabel("residual at the latent teacher (% of log loss)")
    axes[1].set_title("residuals against the teacher's loss")
    axes[1].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pareto(k: np.ndarray, r: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.scatter(r["ratio"], k, s=10, c=np.log10(r["N_S"]), cmap="viridis")
    for v in (0.5, 0.7):
        ax.axhline(v, color="crimson", ls=":", lw=1)
    ax.set_xlabel("L_T / L~_S")
    ax.set_ylabel("Pareto k")
    ax.set_title("PSIS-LOO Pareto k per student (colour: log10 N_S)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pareto_k(fit) -> np.ndarray:
    import arviz as az
    import xarray as xr

    from bayeslaw.posterior.likelihood import log_likelihood, observed_terms

    (_, log_mu, observed, sigma), = [t for t in observed_terms(fit) if t[0] == "obs_student"]
    ll = log_likelihood(fit, log_mu, observed, sigma)
    post = fit.idata["posterior"].to_dataset()
    ll = ll.assign_coords(chain=post["chain"], draw=post["draw"])
    tree = xr.DataTree.from_dict({"posterior": post, "log_likelihood": xr.Dataset({"obs": ll})})
    loo = az.loo(tree, pointwise=True)
    return np.asarray(loo.pareto_k), {"elpd_loo": float(loo.elpd), "se": float(loo.se), "p_loo": float(loo.p)}


def sensitivity(noises: list[float], seed: int, spec: dict) -> list[dict]:
    """Refits at other teacher noises, of the form and likelihood of the posterior criticised (its card's ``spec``)."""
    out = []
    for tn in noises:
        f = bl.fit("busbridge2025_digitized", law="distillation", teacher_noise=tn, seed=seed,
                   weak_teacher=bool(spec.get("weak_teacher")), likelihood=spec["likelihood"])
        m = f.card["diagnostics"]["metrics"]
        s = bl.summary(f)
        out.append({"teacher_noise": tn, "passed": f.diagnostics_passed, "elpd_loo": m["elpd_loo"],
                    "p_loo": m["p_loo"], "max_pareto_k": m["max_pareto_k"], "ppc_coverage90": m["ppc_coverage90"],
                    **{k: float(s.loc[k, "mean"]) for k in ("c0", "f1", "d1", "alpha_p", "sigma_dis", "nu")
                       if k in s.index}})
        print(out[-1], flush=True)
    return out


def extension(seed: int, paper_fit) -> dict:
    """The one extension tried: a break whose location moves with the student's capacity, against the
    paper's form, by PSIS-LOO on the same students (the shipped posterior's table and settings)."""
    from bayeslaw.inference import engine as inference

    tilted = inference.fit(tables.load_shipped("busbridge2025_digitized"), law="distillation",
                           teacher_noise=paper_fit.card["spec"]["teacher_noise"], break_tilt=True, seed=seed,
                           source=paper_fit.card["data"]["source"])
    loos, ks = {}, {}
    for name, f in (("paper form", paper_fit), ("break tilt", tilted)):
        k, loo = pareto_k(f)
        loos[name], ks[name] = loo, k
    diff = _elpd_difference(paper_fit, tilted)
    s = bl.summary(tilted)
    tilt = tilted.idata["posterior"]["break_tilt"].values.ravel()
    r = per_student(tilted, tables.load_shipped("busbridge2025_digitized"), seed)
    return {"passed": tilted.diagnostics_passed, "failures": tilted.card["diagnostics"]["failures"],
            "break_tilt_mean": float(tilt.mean()), "break_tilt_eti90": np.quantile(tilt, tails(0.9)).tolist(),
            "loo": loos, "elpd_diff_tilt_minus_paper": diff,
            "d1": [float(s.loc["d1", "mean"]), float(s.loc["d1", "eti90_lb"]), float(s.loc["d1", "eti90_ub"])],
            "by_ratio_resid_measured": r.groupby(pd.cut(r["ratio"], [0, 0.8, 0.9, 1.0, 1.1, 2.0]), observed=True)[
                "resid_measured"].mean().rename(index=str).to_dict()}


def _elpd_difference(a, b) -> dict[str, float]:
    """elpd(b) - elpd(a) with its standard error from the pointwise PSIS-LOO values."""
    import arviz as az
    import xarray as xr

    from bayeslaw.posterior.likelihood import log_likelihood, observed_terms

    point = []
    for f in (a, b):
        (_, log_mu, observed, sigma), = [t for t in observed_terms(f) if t[0] == "obs_student"]
        post = f.idata["posterior"].to_dataset()
        ll = log_likelihood(f, log_mu, observed, sigma).assign_coords(chain=post["chain"], draw=post["draw"])
        tree = xr.DataTree.from_dict({"posterior": post, "log_likelihood": xr.Dataset({"obs": ll})})
        point.append(np.asarray(az.loo(tree, pointwise=True).elpd_i))
    d = point[1] - point[0]
    return {"elpd_diff": float(d.sum()), "se": float(np.sqrt(d.size) * d.std())}


def point_fit(d: pd.DataFrame) -> dict:
    """The paper's recipe on the same students: Table 6's supervised law fixed, Huber (delta 1e-4) on log L_S,
    L-BFGS-B from 256 starts of the paper's grid, the nine distillation coefficients free."""
    from bayeslaw.validate import pointfit
    from bayeslaw.validate.backtest import table6_supervised

    sup = table6_supervised()
    coef = pointfit.fit_distillation(d["N_S"], d["D_S"], d["L_T"], d["L_S"], sup,
                                     starts=pointfit.paper_distillation_grid(256), delta=pointfit.PAPER_HUBER_DELTA)
    tilde = np.exp(sup.log_loss(d["N_S"], d["D_S"]))
    pred = laws.distillation_loss(d["N_S"].to_numpy(), d["D_S"].to_numpy(), d["L_T"].to_numpy(), tilde, **coef)
    resid = np.log(d["L_S"].to_numpy()) - np.log(pred)
    return {"coefficients": coef, "median_abs_resid": float(np.median(np.abs(resid))),
            "mean_resid_by_size": pd.Series(resid).groupby(d["N_S"].to_numpy()).mean().to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("posterior", nargs="?", default=str(ROOT / "models/distillation_busbridge2025_digitized.nc"))
    ap.add_argument("--sensitivity", action="store_true", help="refit at teacher noise 0.001 and 0.01 (~3 min)")
    ap.add_argument("--extension", action="store_true", help="fit the break-tilt extension, compare by LOO (~2 min)")
    args = ap.parse_args()
    fit = bl.load(args.posterior, expect_law="distillation")
    d = tables.load_shipped("busbridge2025_digitized")
    r = per_student(fit, d, fit.card["seed"])
    g = groups(r)
    coefs = coefficient_table(fit)
    k, loo = pareto_k(fit)
    d1 = np.exp(as_arrays(coefficients(fit))["log_d1"])
    # outputs named after the posterior: the default's plain, another's with its suffix (e.g. _paper_form)
    suffix = Path(args.posterior).stem.removeprefix("distillation_busbridge2025_digitized")
    IMG.mkdir(parents=True, exist_ok=True)
    plot_residuals(r, d1, paper_coefficients()[1]["d1"], IMG / f"digitized{suffix}_residuals.png")
    plot_ppc(r, g, IMG / f"digitized{suffix}_ppc.png")
    plot_pareto(k, r, IMG / f"digitized{suffix}_pareto_k.png")
    below = r["L_S"] < r["L_T"]
    strong = r["ratio_table6"] < 0.8
    result = {
        "posterior": str(Path(args.posterior).name), "diagnostics_passed": fit.diagnostics_passed,
        "median_abs_resid_table6": float(np.median(np.abs(r["resid_table6"]))),
        "median_abs_resid_posterior_measured": float(np.median(np.abs(r["resid_measured"]))),
        "median_abs_resid_posterior_latent": float(np.median(np.abs(r["resid_latent"]))),
        "table6_strong_teachers": {"n": int(strong.sum()),
                                   "mean_resid_by_size": r[strong].groupby("N_S")["resid_table6"].mean().to_dict()},
        "posterior_strong_teachers_mean_resid": float(r.loc[r["ratio"] < 0.8, "resid_measured"].mean()),
        "past_break": {"n": int((r["ratio"] > np.median(d1)).sum()),
                       "mean_resid_measured": float(r.loc[r["ratio"] > np.median(d1), "resid_measured"].mean())},
        "below_teacher": {"n": int(below.sum()), "mean_ratio": float(r.loc[below, "ratio"].mean()),
                          "mean_resid_measured": float(r.loc[below, "resid_measured"].mean())},
        "by_ratio": r.groupby(pd.cut(r["ratio"], [0, 0.8, 0.9, 1.0, 1.1, 2.0]), observed=True)[
            ["resid_measured", "resid_latent", "resid_table6"]].mean().rename(index=str).to_dict(),
        "coverage_overall": {"50": float(r["in50"].mean()), "90": float(r["in90"].mean())},
        "groups": g.to_dict(orient="records"),
        "residual_structure": residual_structure(r),
        "loo_students": loo | {"max_k": float(k.max()), "n_k_above_0.5": int((k > 0.5).sum()),
                               "n_k_above_0.7": int((k > 0.7).sum())},
        "coefficients": coefs.to_dict(orient="records"),
        "identification": fit.card["diagnostics"]["metrics"]["contraction"],
    }
    result["point_fit"] = point_fit(d)
    out = ROOT / "reports" / f"busbridge2025_digitized{suffix}_criticism.json"
    if out.exists():  # keep the refits of an earlier --extension / --sensitivity run unless redone
        earlier = json.loads(out.read_text())
        for key in ("extension_break_tilt", "teacher_noise_sensitivity"):
            if key in earlier:
                result[key] = earlier[key]
    if args.extension:
        result["extension_break_tilt"] = extension(fit.card["seed"], fit)
        print(json.dumps(result["extension_break_tilt"], indent=1, default=float))
    if args.sensitivity:
        result["teacher_noise_sensitivity"] = sensitivity([0.001, 0.01], fit.card["seed"], fit.card["spec"])
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    pd.set_option("display.width", 160)
    print(g.round(4).to_string())
    print(coefs.round(4).to_string())
    print(json.dumps({k: v for k, v in result.items() if k not in ("groups", "coefficients", "extension_break_tilt",
                                                                 "teacher_noise_sensitivity", "residual_structure")},
                     indent=1,
                     default=float))
    rs = result["residual_structure"]
    print(json.dumps(rs["spread"], indent=1, default=float))
    print("IsoFLOP students' residual slope per e-fold of tokens, by teacher:",
          json.dumps({k: round(v, 5) for k, v in rs["isoflop_token_slope_by_teacher"].items()}),
          f"(correlation with log L_T {rs['isoflop_token_slope_corr_with_log_L_T']:.2f}); sd left after each "
          f"(teacher, size) series' own line in log tokens {rs['isoflop_sd_left_after_each_series_line']:.3%}")
    print(f"written: {out}, {IMG}/digitized{suffix}_*.png")


if __name__ == "__main__":
    main()
