"""Why the distillation posterior extrapolates worse than the Huber point fit: the in-table backtest of the
paper's digitized students (fit L_S >= threshold, predict the rest) at several widths of the supervised law's
Table 6 prior (``supervised_scale``; the shipped posterior uses 1/3). docs/validation.md quotes its output.

Run: .venv/bin/python scripts/distillation_supervised_scale.py [--scales 0.02 0.1] [--thresholds 2.45 2.40]
(about a minute per fit on 2 cores).
"""

from __future__ import annotations

import argparse

import numpy as np

from bayeslaw.data.tables import load_shipped
from bayeslaw.validate.backtest import backtest_distillation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[0.02, 0.1])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[2.45, 2.40])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cut", choices=("default", "on", "off"), default="default",
                    help="the supervised cut (default: on without supervised runs)")
    args = ap.parse_args()
    table = load_shipped("busbridge2025_digitized")
    print("supervised_scale  split         median |error|  mean error  90% coverage  50% coverage  CRPS     gates")
    for scale in args.scales:
        bt = backtest_distillation(table, thresholds=tuple(args.thresholds), supervised_scale=scale,
                                   supervised_cut={"default": None, "on": True, "off": False}[args.cut],
                                   baseline=False, seed=args.seed)
        gates = dict(zip(bt.fits["split"], bt.fits["diagnostics_passed"], strict=True))
        for split, r in bt.per_run.groupby("split", sort=False):
            err = (r["median"] - r["observed"]) / r["observed"]
            print(f"{scale:<17g} {split:<13} {np.median(np.abs(err)):>13.2%} {err.mean():>+11.2%} "
                  f"{r['in90'].mean():>13.2f} {r['in50'].mean():>13.2f} {r['crps'].mean():>8.4f} "
                  f"{'passed' if gates[split] else 'FAILED'}", flush=True)


if __name__ == "__main__":
    main()
