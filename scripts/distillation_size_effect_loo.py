"""PSIS-LOO of the paper's form against its extensions on all of the digitized students (docs/validation.md, "A
per-size offset" and "The weak-teacher gain").

Fits ``busbridge2025_digitized`` at the shipped settings and one seed once per variant: the paper's form, with
``JointSpec(size_effect=True)``, with it and a Normal likelihood (the default set), or with ``--weak-teacher`` the
paper's form, the weak-teacher gain (``JointSpec(weak_teacher=True)``), with a Normal likelihood, and the gain with
the per-size offset; compares
the students' pointwise elpd (given their latent teachers, from ArviZ's PSIS-LOO) with the paper's form's, paired:
the difference and its standard error. Prints each fit's gates and time, the students' noise, the offsets and their
spread, the gain.

Run: .venv/bin/python scripts/distillation_size_effect_loo.py [--seed 0] [--weak-teacher] (three or four fits, about
3-5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from arviz_base import from_dict
from arviz_stats import loo

from bayeslaw.inference.fit import fit
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.likelihood import log_likelihood, observed_terms

#: (name, size_effect, weak_teacher, likelihood), the paper's form first.
VARIANTS = (("paper's form", False, False, "student_t"), ("per-size offset", True, False, "student_t"),
            ("per-size offset, Normal", True, False, "normal"))
WEAK_TEACHER_VARIANTS = (("paper's form", False, False, "student_t"), ("weak-teacher gain", False, True, "student_t"),
                         ("weak-teacher gain, Normal", False, True, "normal"),
                         ("weak-teacher gain + per-size offset", True, True, "student_t"))


def students_loo(post: Fit):
    """PSIS-LOO of the students' term alone (given their latent teachers): arviz-stats' result, pointwise."""
    (_, log_mu, observed, sigma), = [t for t in observed_terms(post) if t[0] == "obs_student"]
    ll = log_likelihood(post, log_mu, observed, sigma).values
    tree = from_dict({"posterior": {"x": np.zeros(ll.shape[:2])}, "log_likelihood": {"obs_student": ll}})
    return loo(tree, pointwise=True)


def students_elpd(post: Fit) -> np.ndarray:
    """Pointwise PSIS-LOO elpd of the students (given their latent teachers)."""
    return np.asarray(students_loo(post).elpd_i).ravel()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weak-teacher", action="store_true", help="compare the weak-teacher gain instead")
    args = ap.parse_args()
    elpd = {}
    variants = WEAK_TEACHER_VARIANTS if args.weak_teacher else VARIANTS
    for name, size, weak, likelihood in variants:
        t0 = time.perf_counter()
        post = fit("busbridge2025_digitized", law="distillation", seed=args.seed, size_effect=size,
                   weak_teacher=weak, likelihood=likelihood)
        diag = post.card["diagnostics"]
        m = diag["metrics"]
        print(f"{name}: {time.perf_counter() - t0:.0f} s, gates {'passed' if diag['passed'] else 'FAILED'} "
              f"{'; '.join(diag['failures'])}; elpd_loo {m['elpd_loo']:.1f} (se {m['elpd_loo_se']:.1f}), "
              f"max Pareto k {m['max_pareto_k']:.2f} ({m['n_pareto_k_bad']} above 0.7)")
        d = post.draws(["sigma_dis", *(["nu"] if likelihood == "student_t" else [])])
        print(f"  students' noise {np.median(d['sigma_dis']):.3%}"
              + (f", nu {np.median(d['nu']):.1f}" if "nu" in d else " (Normal)"))
        if size:
            e = post.draws(["size_effect", "size_effect_sd"])
            sizes = post.idata["posterior"]["size_effect"].coords["student_size"].values
            q = np.percentile(e["size_effect_sd"], [5, 50, 95])
            print("  offsets " + ", ".join(f"{n / 1e9:.3g}B {v:+.2%}" for n, v in
                                           zip(sizes, np.median(e["size_effect"], axis=0), strict=True))
                  + f"; spread sd {q[1]:.2%} (90% {q[0]:.2%}-{q[2]:.2%})")
        if weak:
            q = np.percentile(post.draws(["weak_teacher_gain"])["weak_teacher_gain"], [5, 50, 95])
            print(f"  weak-teacher gain {q[1]:.3f} (90% {q[0]:.3f}-{q[2]:.3f})")
        elpd[name] = students_elpd(post)
    base = elpd[variants[0][0]]
    for name, e in elpd.items():
        diff = e - base
        print(f"students' elpd, {name}: {e.sum():.1f}; against the paper's form {diff.sum():+.1f} "
              f"(se {np.sqrt(diff.size) * diff.std():.1f})")


if __name__ == "__main__":
    main()
