"""Benchmark: wall time of the joint distillation fit on the SYNTHETIC paper-design table (~770 runs),
next to the supervised-only fit of its supervised runs, both in this run, 4 chains x 1000 draws;
then the joint fit at its default settings (more draws: ``inference.LAW_DEFAULTS``); then the joint fit
of the paper's digitized students (328, no supervised runs) at the defaults, beside the SYNTHETIC one.

Run: ``.venv/bin/python benchmarks/joint.py``. Targets on 2 cores: joint fit (4 x 1000) <= 120 s; the
digitized table at the defaults: 0 divergences, max r_hat <= 1.01, min ESS_bulk >= 400, <= 120 s.
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
    for label, kwargs in (("supervised_only", {"law": "supervised", "gamma_free": True, "draws": 1000}),
                          ("joint", {"law": "distillation", "supervised": sup, "draws": 1000}),
                          ("joint_default", {"law": "distillation", "supervised": sup}),
                          ("digitized_default", {"law": "distillation"})):
        table = {"supervised_only": sup, "digitized_default": "busbridge2025_digitized"}.get(label, dis)
        t0 = time.perf_counter()
        fit = api.fit(table, seed=20250208, **kwargs)
        wall = time.perf_counter() - t0
        m = fit.card["diagnostics"]["metrics"]
        res[label] = {"wall_seconds": wall, **fit.card["timing"], "draws": fit.card["sampler"]["draws"],
                      "target_accept": fit.card["sampler"]["target_accept"], "min_ess_bulk": m["min_ess_bulk"],
                      "divergences": m["divergences"], "max_rhat": m["max_rhat"],
                      "n_runs": fit.card["data"]["n_runs"], "passed": fit.diagnostics_passed}
        print(f"{label:<16} 4 x {fit.card['sampler']['draws']:<5} {wall:7.1f} s wall "
              f"(compile {fit.card['timing']['compile_seconds']:.1f} s, "
              f"sampling {fit.card['timing']['sampling_wall_seconds']:.1f} s), min ESS_bulk "
              f"{m['min_ess_bulk']:.0f}, max r_hat {m['max_rhat']:.4f}, {m['divergences']} divergences, gates "
              f"{'PASSED' if fit.diagnostics_passed else 'FAILED'}", flush=True)
    ratio = res["joint"]["wall_seconds"] / res["supervised_only"]["wall_seconds"]
    target = res["joint"]["wall_seconds"] <= 120
    print(f"joint / supervised-only wall time = {ratio:.1f}; joint (4 x 1000) <= 120 s: "
          f"{'MET' if target else 'MISSED'}; joint at its defaults: {res['joint_default']['wall_seconds']:.1f} s")
    dig = res["digitized_default"]
    met = (dig["divergences"] == 0 and dig["max_rhat"] <= 1.01 and dig["min_ess_bulk"] >= 400
           and dig["wall_seconds"] <= 120)
    print(f"digitized paper runs at the defaults: {dig['wall_seconds']:.1f} s = "
          f"{dig['wall_seconds'] / res['joint_default']['wall_seconds']:.2f} x the SYNTHETIC fit at its defaults; "
          f"0 divergences, r_hat <= 1.01, ESS_bulk >= 400, <= 120 s: {'MET' if met else 'MISSED'}")
    write_results("joint", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
