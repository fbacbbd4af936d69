"""One split of the digitized students' in-table backtest taken apart: where the posterior median's error against the
Huber point fit comes from (docs/validation.md, "Why the median loses on L_S >= 2.40").

For one fit (the backtest's seed for that split) it prints the held-out students' median |error| and signed mean
error of the posterior's new-run median, of its mean law, of the law at the measured teacher instead of the latent
one, of the posterior draws that fit the training students best by the point fit's own objective, and of the point
fit; and the training students' fit of each. Variants: --teacher-noise, --learn-teacher-noise, --teacher-effect,
--preset-scale (distillation priors only: the supervised widths are kept), --likelihood.

Run: .venv/bin/python scripts/distillation_accuracy_diagnosis.py [--threshold 2.40] [--teacher-noise 0.001]
(one fit, about a minute on 2 cores, three with the noise learned; the point fit another minute).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from bayeslaw.core import laws
from bayeslaw.core.seeds import Streams
from bayeslaw.data.registry import SHIPPED
from bayeslaw.data.splits import by_loss
from bayeslaw.data.tables import load_shipped, validate_distillation
from bayeslaw.inference.config import ESCALATION, default_config
from bayeslaw.inference.engine import fit
from bayeslaw.inference.student_error import THRESHOLDS, predict_students
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.likelihood import student_log_mean
from bayeslaw.validate import pointfit
from bayeslaw.validate.backtest import table6_supervised


def _error(observed: np.ndarray, log_pred: np.ndarray, N: np.ndarray) -> str:
    r = log_pred - np.log(observed)  # positive: predicted above observed (pessimistic)
    sizes = " ".join(f"{n / 1e9:.2f}B {np.median(r[N == n]):+.2%}" for n in np.unique(N))
    return f"median |error| {np.median(np.abs(r)):.3%}  signed mean {r.mean():+.3%}  signed median by size: {sizes}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=2.40, choices=THRESHOLDS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--teacher-noise", type=float, default=None)
    ap.add_argument("--learn-teacher-noise", action="store_true")
    ap.add_argument("--teacher-effect", action="store_true")
    ap.add_argument("--size-effect", action="store_true")
    ap.add_argument("--weak-teacher", action="store_true")
    ap.add_argument("--preset-scale", type=float, default=1.0)
    ap.add_argument("--likelihood", choices=("student_t", "normal"), default="student_t")
    args = ap.parse_args()
    shipped = SHIPPED["busbridge2025_digitized"]
    dis = validate_distillation(load_shipped("busbridge2025_digitized"))
    split = by_loss(dis, args.threshold, loss="L_S")
    tr, te = dis[split.train].reset_index(drop=True), dis[split.test].reset_index(drop=True)
    i = THRESHOLDS.index(args.threshold)  # the backtest's (scripts/backtests.sh): a split's seed is its place
    config = default_config("distillation")
    post = fit(tr, law="distillation", sampler=config, seed=Streams(args.seed).split(i),
               escalate=[replace(config, **r) for r in ESCALATION["distillation"][1:]],
               teacher_noise=args.teacher_noise or shipped.teacher_noise, likelihood=args.likelihood,
               learn_teacher_noise=args.learn_teacher_noise, teacher_effect=args.teacher_effect,
               size_effect=args.size_effect, weak_teacher=args.weak_teacher,
               preset_scale=args.preset_scale,
               supervised_scale=shipped.supervised_scale / args.preset_scale)
    diag = post.card["diagnostics"]
    print(f"L_S >= {args.threshold:g}: {len(tr)} students fitted, {len(te)} held out; gates "
          f"{'passed' if diag['passed'] else 'FAILED ' + '; '.join(diag['failures'])}")
    if args.learn_teacher_noise:
        q = np.percentile(post.draws(["teacher_noise"])["teacher_noise"], [50, 5, 95])
        print(f"teacher noise learned: {q[0]:.2%} (90%: {q[1]:.2%}-{q[2]:.2%})")
    if args.teacher_effect:
        q = np.percentile(post.draws(["teacher_effect_sd"])["teacher_effect_sd"], [50, 5, 95])
        print(f"per-teacher offset sd: {q[0]:.3%} (90%: {q[1]:.3%}-{q[2]:.3%})")
    if args.size_effect:
        q = np.percentile(post.draws(["size_effect_sd"])["size_effect_sd"], [50, 5, 95])
        eff = np.median(post.draws(["size_effect"])["size_effect"], axis=0)
        sizes = post.idata["posterior"]["size_effect"].coords["student_size"].values
        print(f"per-size offset sd: {q[0]:.3%} (90%: {q[1]:.3%}-{q[2]:.3%}); medians: "
              + ", ".join(f"{n / 1e9:.3g}B {e:+.3%}" for n, e in zip(sizes, eff, strict=True)))
    if args.weak_teacher:
        q = np.percentile(post.draws(["weak_teacher_gain"])["weak_teacher_gain"], [50, 5, 95])
        print(f"weak-teacher gain: {q[0]:.3f} (90%: {q[1]:.3f}-{q[2]:.3f})")
    print(f"students' noise sd (sigma_dis), posterior median: {np.median(post.draws(['sigma_dis'])['sigma_dis']):.3%}")
    obs, N = te["L_S"].to_numpy(), te["N_S"].to_numpy()
    p = predict_students(post, te, np.random.default_rng(Streams(args.seed).extrapolation(i)))
    print("posterior, new-run median:        ", _error(obs, np.median(p["log_new"], 0), N))
    print("posterior, mean-law median:       ", _error(obs, np.median(p["log_mu"], 0), N))
    c = as_arrays(coefficients(post))

    def law_at_measured(df):
        log_T = np.broadcast_to(np.log(df["L_T"].to_numpy())[None], (post.n_draws, len(df)))
        return student_log_mean(c, df["N_S"].to_numpy(), df["D_S"].to_numpy(), log_T)[0]

    held = law_at_measured(te)
    print("posterior at the measured teacher:", _error(obs, np.median(held, 0), N))
    train_res = np.log(tr["L_S"].to_numpy())[None] - law_at_measured(tr)
    objective = pointfit.huber(train_res, pointfit.PAPER_HUBER_DELTA)[0].sum(axis=1)
    order = np.argsort(objective)
    for share in (0.01, 0.2):
        best = order[: max(1, int(share * order.size))]
        print(f"best {share:.0%} of draws (point fit's objective on the training students, mean "
              f"{objective[best].mean():.3e}):", _error(obs, np.median(held[best], 0), N))
    dc = pointfit.fit_distillation(tr["N_S"], tr["D_S"], tr["L_T"], tr["L_S"], table6_supervised(),
                                   starts=pointfit.paper_distillation_grid(256), delta=pointfit.PAPER_HUBER_DELTA)

    def point(df):
        tilde = np.exp(table6_supervised().log_loss(df["N_S"], df["D_S"]))
        return np.log(laws.distillation_loss(df["N_S"].to_numpy(), df["D_S"].to_numpy(), df["L_T"].to_numpy(),
                                             tilde, **dc))

    print("Huber point fit:                  ", _error(obs, point(te), N))
    point_obj = pointfit.huber(np.log(tr["L_S"].to_numpy()) - point(tr), pointfit.PAPER_HUBER_DELTA)[0].sum()
    print(f"training students, the point fit's objective: point fit {point_obj:.3e}, posterior draws: best "
          f"{objective.min():.3e}, median {np.median(objective):.3e}")


if __name__ == "__main__":
    main()
