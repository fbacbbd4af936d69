"""Two experimental variants of the default distillation posterior, measured against it (issue 25).

The default posterior's one noise sd is wider than the ladder's large students need (the 90% bands over-cover on
two splits). ``--variant noise_by_size`` lets the students' noise sd vary log-linearly with their size
(``JointSpec(noise_by_size=True)``); ``--variant token_tilt`` lets Eq. 8's data amplitude depend on the teacher
(``JointSpec(token_tilt=True)``), the misfit the fixed-teacher IsoFLOP students show (their residual slope in log
tokens runs with the teacher; ``scripts/criticise_distillation.py``). Each fits the default form with the variant on
all 328 students and prints its gates, its coefficients, PSIS-LOO of the students against the default posterior and
the IsoFLOP residual structure; with ``--backtest`` it also runs the default's in-table backtest (thresholds 2.50
2.45 2.40 2.35, seed 1, with the Huber point-fit baseline) and prints it beside the committed default's
(reports/backtests/busbridge2025_digitized_summary.csv). Nothing is written under the repository.

Run: .venv/bin/python scripts/distillation_variants.py --variant {noise_by_size,token_tilt} [--backtest]
     [--likelihood student_t] [--seed 20250208]
(about 1-3 minutes for the fit, 6 more for the backtest, on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from criticise_distillation import per_student, residual_structure  # scripts/ is on the path when run
from distillation_size_effect_loo import students_loo

import bayeslaw.api as bl
from bayeslaw.data import tables
from bayeslaw.inference.fit import fit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "models/distillation_busbridge2025_digitized.nc"
COMMITTED = ROOT / "reports/backtests/busbridge2025_digitized_summary.csv"
COLUMNS = ["split", "method", "rel_error_median", "coverage50", "coverage90", "crps", "lpd"]
#: each variant's own coefficients
SHOWN = {"noise_by_size": ["noise_size_slope", "sigma_dis"], "token_tilt": ["token_tilt", "c0", "sigma_dis"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=tuple(SHOWN), required=True)
    ap.add_argument("--seed", type=int, default=20250208)
    ap.add_argument("--backtest", action="store_true", help="also run the 4-split in-table backtest (~6 min)")
    ap.add_argument("--likelihood", choices=("normal", "student_t"), default=None,
                    help="default: the table's (Normal, as the default posterior)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    variant = {args.variant: True}
    t0 = time.perf_counter()
    post = fit("busbridge2025_digitized", law="distillation", seed=args.seed, likelihood=args.likelihood, **variant)
    diag = post.card["diagnostics"]
    print(f"{args.variant} ({post.card['spec']['likelihood']}): {time.perf_counter() - t0:.0f} s, "
          f"gates {'passed' if diag['passed'] else 'FAILED'} {'; '.join(diag['failures'])}")
    names = [*SHOWN[args.variant], "weak_teacher_gain", *(["nu"] if args.likelihood == "student_t" else [])]
    for name, v in post.draws(names).items():
        q = np.percentile(v, [5, 50, 95])
        print(f"  {name} {q[1]:.4g} (90% {q[0]:.4g} to {q[2]:.4g})")
    if args.variant == "noise_by_size":
        d = post.draws(["noise_size_slope", "sigma_dis"])
        slope, sigma = np.median(d["noise_size_slope"]), np.median(d["sigma_dis"])
        print("  students' noise sd at " + ", ".join(f"{n / 1e9:.3g}B {sigma * (n / 1e9) ** slope:.3%}"
                                                     for n in (1.43e8, 1.98e8, 5.46e8, 9.75e8, 1.82e9)))
    base = bl.load(DEFAULT)
    pointwise, students = {}, tables.load_shipped("busbridge2025_digitized")
    for name, p in (("default", base), (args.variant, post)):
        res = students_loo(p)
        pointwise[name] = np.asarray(res.elpd_i).ravel()
        k = np.asarray(res.pareto_k).ravel()
        print(f"  students' elpd_loo {name}: {res.elpd:.1f} (se {res.se:.1f}), max Pareto k {k.max():.2f} "
              f"({(k > 0.7).sum()} above 0.7)")
        rs = residual_structure(per_student(p, students, 1))
        iso, ladder = rs["spread"]["fixed teacher, IsoFLOP students"], rs["spread"]["teacher ladder"]
        print(f"    IsoFLOP students' residual sd {iso['sd']:.3%}, ladder's {ladder['sd']:.3%}; "
              "IsoFLOP slope per e-fold of tokens by teacher (%): "
              + json.dumps({t: round(100 * v, 3) for t, v in rs["isoflop_token_slope_by_teacher"].items()}))
    diff = pointwise[args.variant] - pointwise["default"]
    print(f"  difference {diff.sum():+.1f} (se {np.sqrt(diff.size) * diff.std():.1f})")
    if not args.backtest:
        return
    from bayeslaw.validate.backtest import backtest

    with tempfile.TemporaryDirectory() as out:
        bt, _ = backtest("busbridge2025_digitized", law="distillation", student_threshold=(2.50, 2.45, 2.40, 2.35),
                         seed=1, likelihood=args.likelihood, out_dir=out, stem=args.variant, progress=print,
                         **variant)
    pd.set_option("display.width", 200)
    print(f"{args.variant}:")
    print(bt.summary[COLUMNS].round(4).to_string(index=False))
    print(bt.fits[["split", "diagnostics_passed", "failures", "attempts"]].to_string(index=False))
    committed = pd.read_csv(COMMITTED)
    print("committed default:")
    print(committed[COLUMNS].round(4).to_string(index=False))
    for name, s in ((args.variant, bt.summary), ("default", committed)):
        s = s[~s["method"].str.startswith("Huber")]
        with_error = s["method"].str.contains("error")
        print(f"summed lpd, {name}: {s.loc[~with_error, 'lpd'].sum():.1f} without the distillation error, "
              f"{s.loc[with_error, 'lpd'].sum():.1f} with it")


if __name__ == "__main__":
    main()
