"""Variants of the extrapolation-discrepancy model, scored leave-one-study-out beside the shipped one.

The shipped model (bayeslaw.model.build.build_discrepancy) learns each study's error spread (a step at the edge and
growth per decade) and, since issue 25, its signed lean beyond the runs (``shift_edge + shift_growth decades``,
partially pooled). Scored beside it:
- ``unsigned``: the model shipped before, without the lean (``signed=False``): bands centred on the law.
- ``correlated``: the unsigned model plus a study's log edge and log growth correlated (rho = 2 Beta(2, 2) - 1, LKJ(2)
  in two dimensions): a study whose law errs at the edge may err faster beyond it. Tried for issue 16; not shipped.
And a check of the Marin sweeps' size definition: their N (parameter_count) holds the untied input and output
embeddings, 2 x 128256 x d_model (84% of the smallest model, 9% of the largest); the Huber point fit of each
split with N without them (``non_embedding``) against N as shipped.
Each variant is scored as ``bayeslaw calibrate --loso`` scores the shipped model: the same held-out runs (seed 0), each
study's population learned from the other six, a new study's error drawn from it.

Run: .venv/bin/python scripts/calibration_variants.py [--cache FILE]   (about 10 minutes on 2 cores; with
--cache the held-out runs are kept in FILE, a pickle, and read back on the next run)
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslaw.core.intervals import tails
from bayeslaw.core.seeds import Streams
from bayeslaw.data.registry import DATA_DIR
from bayeslaw.data.tables import load_shipped
from bayeslaw.inference import calibration as cal
from bayeslaw.model import build
from bayeslaw.posterior import extrapolation as ex
from bayeslaw.validate import backtest as bt
from bayeslaw.validate import pointfit


def correlated(residual, sd, decades, study, studies, signed=True):
    with pm.Model(coords={"study": studies, "run": np.arange(residual.size)}) as model:
        r, s, d, j, pop = build.discrepancy_parts(residual, sd, decades, study)
        rho = pm.Deterministic("rho", 2.0 * pm.Beta("rho_beta", 2.0, 2.0) - 1.0)
        edge = pm.Deterministic("edge", pt.exp(pop["mu_e"] + pop["sd_e"] * pop["z_e"]), dims="study")
        z_g = rho * pop["z_e"] + pt.sqrt(1 - rho ** 2) * pop["z_g"]
        growth = pm.Deterministic("growth", pt.exp(pop["mu_g"] + pop["sd_g"] * z_g), dims="study")
        tau2 = pt.where(d > 0, edge[j] ** 2 + (growth[j] * d) ** 2, 0.0)
        pm.StudentT("obs", nu=build.create_nu(build._nu_prior()), mu=0.0, sigma=pt.sqrt(s ** 2 + tau2),
                    observed=r, dims="run")
    return model


def unsigned(residual, sd, decades, study, studies, signed=True):
    return build.build_discrepancy(residual, sd, decades, study, studies, signed=False)


def new_correlated(fit, n, rng):
    post = fit.draws(["mu_log_edge", "mu_log_growth", "sd_log_edge", "sd_log_growth", "rho"])
    pick = rng.integers(0, post["rho"].size, n)
    z, w, rho = ex._central(rng, n), ex._central(rng, n), post["rho"][pick]
    edge = np.exp(post["mu_log_edge"][pick] + post["sd_log_edge"][pick] * z)
    growth = np.exp(post["mu_log_growth"][pick] + post["sd_log_growth"][pick] * (rho * z + np.sqrt(1 - rho ** 2) * w))
    return ex.NewStudies(edge, growth, np.zeros(n), np.zeros(n))


def score(h: cal.HeldOut, variant: str, seed: int = 0) -> pd.DataFrame:
    names = list(dict.fromkeys(h.runs["study"]))
    y, rows = np.log(h.runs["observed"].to_numpy()), []
    for k, name in enumerate(names):
        build_model = {"shipped": build.build_discrepancy, "correlated": correlated, "unsigned": unsigned}[variant]
        cal.build_discrepancy = build_model  # fit_discrepancy builds through this name
        ex_new = ex._new_studies
        if variant == "correlated":
            ex._new_studies = new_correlated
        try:
            fit = cal.fit_discrepancy(h, [s for s in names if s != name], seed=Streams(seed).child("leave_one_out", k))
            m = (h.runs["study"] == name).to_numpy()
            d = h.runs["decades"].to_numpy()[m]
            rng = np.random.default_rng(Streams(seed).extrapolation(k))
            mean, sd = ex.population_error(fit, d, cal.KEEP, rng)
        finally:
            cal.build_discrepancy, ex._new_studies = build.build_discrepancy, ex_new
        noise = rng.standard_normal((cal.KEEP, m.size))[:, m]  # as calibrate --loso draws it
        x = h.log_new[m] + (mean + sd * noise).T
        lo50, hi50, lo90, hi90 = np.quantile(x, [0.25, 0.75, 0.05, 0.95], axis=1)
        med = np.exp(np.median(x, axis=1))
        rows.append(pd.DataFrame({"study": name, "in50": (y[m] >= lo50) & (y[m] <= hi50),
                                  "in90": (y[m] >= lo90) & (y[m] <= hi90),
                                  "rel_error": np.abs(med - np.exp(y[m])) / np.exp(y[m]),
                                  "crps": bt.crps(np.exp(x.T), np.exp(y[m])),
                                  "gates": fit.diagnostics_passed}))
        rho = ""
        if variant == "correlated":
            lo, hi = np.quantile(fit.draws(["rho"])["rho"], tails(0.9))
            rho = f", rho 90% interval {lo:.2f} to {hi:.2f}"
        print(f"{variant}: {name} scored (population gates {'passed' if fit.diagnostics_passed else 'FAILED'}{rho})",
              flush=True)
    return pd.concat(rows, ignore_index=True).assign(variant=variant)


def marin_without_embeddings() -> pd.DataFrame:
    """Per Marin split: the point fit's held-out median |error| and signed median error, N with and without
    the embeddings (vocabulary 128256, untied: parameter_count - 2 x 128256 x hidden_dim is 16 L d^2 + norms)."""
    starts, rows = pointfit.epoch_grid()[::15], []
    for sweep in ("comma", "dclm"):
        raw = pd.read_csv(DATA_DIR / "marin_isoflops" / f"isoflop-{sweep}.csv")
        width = dict(zip(raw["parameter_count"], raw["model.hidden_dim"], strict=True))
        df = load_shipped(f"marin_{sweep}").reset_index(drop=True)
        df["N_non_embedding"] = df["N"] - 2 * 128256 * df["N"].map(width)
        for sp in cal.study_splits(f"marin_{sweep}", df):
            tr, te = df[sp.train], df[sp.test]
            row = {"study": f"marin_{sweep}", "split": sp.label, "held_out": len(te)}
            for col, tag in (("N", "shipped"), ("N_non_embedding", "non_embedding")):
                fit = pointfit.fit_supervised(tr[col], tr["D"], tr["loss"], starts=starts, tight=False)
                pred = np.exp(fit.log_loss(te[col], te["D"]))
                err = (te["loss"].to_numpy() - pred) / pred
                row |= {f"{tag}_median_abs_error": np.median(np.abs(err)), f"{tag}_median_signed_error":
                        np.median(err)}
            rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, help="keep the held-out runs in this pickle and reuse it")
    args = ap.parse_args()
    if args.cache and args.cache.exists():
        h = pickle.loads(args.cache.read_bytes())
    else:
        h = cal.held_out(seed=0, progress=print)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(h))
    per = pd.concat([score(h, v) for v in ("shipped", "unsigned", "correlated")], ignore_index=True)
    cov = per.pivot_table(index="variant", columns="study", values="in90", sort=False)
    pooled = per.groupby("variant", sort=False).agg(pooled_50=("in50", "mean"), pooled_90=("in90", "mean"),
                                                    crps=("crps", "mean"), median_rel_error=("rel_error", "median"))
    pd.set_option("display.width", 200)
    print("\n90% coverage per study:\n" + cov.round(2).to_string())
    print("\npooled:\n" + pooled.round(4).to_string())
    print("\nMarin, Huber point fits, N with and without embeddings:\n"
          + marin_without_embeddings().round(4).to_string(index=False))


if __name__ == "__main__":
    main()
