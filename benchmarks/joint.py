"""Benchmark: wall time of the joint distillation fit on the SYNTHETIC paper-design table (~770 runs),
next to the supervised-only fit of its supervised runs, both in this run, 4 chains x 1000 draws.

Run: ``.venv/bin/python benchmarks/joint.py``. Target: joint fit <= 120 s on 2 cores.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    from bayeslaw import api

    data = HERE.parent / "data" / "synthetic"
    dis, sup = (data / f"SYNTHETIC_paper_design_{k}.csv" for k in ("distillation", "supervised"))
    res = {}
    for label, kwargs in (("supervised_only", {"law": "supervised", "gamma_free": True}),
                          ("joint", {"law": "distillation", "supervised": sup})):
        t0 = time.perf_counter()
        fit = api.fit(sup if label == "supervised_only" else dis, seed=20250208, **kwargs)
        wall = time.perf_counter() - t0
        m = fit.card["diagnostics"]["metrics"]
        res[label] = {"wall_seconds": wall, **fit.card["timing"], "min_ess_bulk": m["min_ess_bulk"],
                      "divergences": m["divergences"], "max_rhat": m["max_rhat"],
                      "n_runs": fit.card["data"]["n_runs"], "passed": fit.diagnostics_passed}
        print(f"{label:<16} {wall:7.1f} s wall (compile {fit.card['timing']['compile_seconds']:.1f} s, "
              f"sampling {fit.card['timing']['sampling_wall_seconds']:.1f} s), min ESS_bulk "
              f"{m['min_ess_bulk']:.0f}, {m['divergences']} divergences, gates "
              f"{'PASSED' if fit.diagnostics_passed else 'FAILED'}", flush=True)
    ratio = res["joint"]["wall_seconds"] / res["supervised_only"]["wall_seconds"]
    target = res["joint"]["wall_seconds"] <= 120
    print(f"joint / supervised-only wall time = {ratio:.1f}; joint <= 120 s: {'MET' if target else 'MISSED'}")
    write_results("joint", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
