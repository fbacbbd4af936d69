"""Command-line interface: parse, call the Python API (:mod:`bayeslaw.api`), print. No logic of its own.

The API is a name table that loads each verb on first use, so --help and argument errors load nothing heavy.

Exit codes: 0 success, 1 a fit failed its diagnostic gates, 2 bad input (the message
says what to fix). Only bayeslaw's own errors (:class:`~bayeslaw.core.errors.BayeslawError`)
are bad input; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bayeslaw import api
from bayeslaw.core import bounds
from bayeslaw.core.compute import PAPER_ARCHITECTURE, SCENARIOS
from bayeslaw.core.errors import BayeslawError, DataError, DataWarning, DiagnosticsWarning, InputError
from bayeslaw.core.progress import every_tenth
from bayeslaw.core.serving import OUTPUT_SHARE, Demand, Lifetime, PricedBudgets, Prices
from bayeslaw.data.registry import DATA_DIR, SHIPPED
from bayeslaw.decision.question import Question, Teacher
from bayeslaw.inference.config import ADAPTATIONS, LAW_DEFAULTS, SAMPLERS, SamplerConfig, default_config
from bayeslaw.reporting import text

EXIT_CODES = """exit codes:
  0  success
  1  a fit failed its diagnostic gates (its results are still written, marked FAILED)
  2  bad input: the message says what to fix; nothing is written"""


def _columns(spec: str | None) -> dict[str, str] | None:
    if not spec:
        return None
    out = {}
    for item in spec.split(","):
        if "=" not in item:
            raise DataError(f"--columns takes canonical=theirs pairs, e.g. N=params; got {item!r}")
        k, v = (x.strip() for x in item.split("=", 1))
        if k in out:
            raise DataError(f"--columns maps {k} twice ({k}={out[k]} and {k}={v}); give each canonical column once")
        out[k] = v
    return out


def _floats(values: list[str] | None, what: str) -> np.ndarray:
    try:
        return np.array([float(v) for v in values or []])
    except ValueError as err:
        raise DataError(f"{what} must be numbers like 1e9: {err}") from err


def _cap(value: str) -> float | None:
    """--teacher-cap: a multiple of the budget, or 'none'."""
    if value.strip().lower() == "none":
        return None
    try:
        return float(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"a multiple of the budget such as 100, or 'none'; got {value!r}") from err


def _pair(a: list[str] | None, b: list[str] | None, names: str) -> bool:
    """Whether a pair of options was given; one without the other is an error."""
    if bool(a) != bool(b):
        raise DataError(f"give {names} together (one value each, or one of them a single value)")
    return bool(a)


def _emit(args: argparse.Namespace, shown: str, result: Any, *, fit: Any = None, warnings: list[str] | None = None,
          posterior: str | None = None) -> None:
    """Print the text, or with --json the one strict-JSON envelope (:func:`bayeslaw.reporting.text.envelope`)."""
    if args.json:
        payload = text.envelope(args.command, result, fit=fit, warnings=warnings, posterior=posterior)
        print(json.dumps(payload, indent=2, allow_nan=False))
    elif not args.quiet:
        print(shown)


def _say(prefix: str, args: argparse.Namespace):
    """Progress lines on stderr (nothing with --quiet or --json)."""

    def say(msg: str) -> None:
        if not (args.quiet or args.json):
            print(f"[{prefix}] {msg}", file=sys.stderr, flush=True)

    return say


#: The posterior ``report`` answers from when none is named.
REPORT_DEFAULT = "models/distillation_busbridge2025_digitized.nc"

COEFFICIENTS_HELP = ("a published point law instead of a posterior, answered as one draw (no posterior uncertainty, "
                     "no run noise, no extrapolation error): a preset (table6, table6-supervised, hoffmann, sardana, "
                     "epoch), key=value pairs on the paper's scale (E,A,B,alpha,beta[,gamma] and for distillation "
                     "A_p,B_p,alpha_p,beta_p,gamma_p,c0,c1,f1,d1), or a preset then overrides (table6,E=1.7)")


def _sampler_config(args: argparse.Namespace, law: str) -> SamplerConfig:
    """The sampler options of a command; what is not given takes the law's default."""
    return default_config(law, sampler=args.sampler, draws=args.draws, tune=args.tune,
                          chains=args.chains, target_accept=args.target_accept,
                          adaptation=args.adaptation, thin=args.thin)


def _per_law(setting: str) -> str:
    return "default " + ", ".join(f"{d[setting]} ({law})" for law, d in LAW_DEFAULTS.items())


def _sampler_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sampler")
    g.add_argument("--sampler", default="nutpie", choices=list(SAMPLERS))
    g.add_argument("--draws", type=int, default=None,
                   help=_per_law("draws"))
    g.add_argument("--tune", type=int, default=None, help="default 1000")
    g.add_argument("--chains", type=int, default=4)
    g.add_argument("--thin", type=int, default=1, help="keep every n-th draw (storage)")
    g.add_argument("--target-accept", type=float, default=None, help=_per_law("target_accept"))
    g.add_argument("--adaptation", default=None, choices=list(ADAPTATIONS),
                   help="nutpie mass-matrix adaptation (default low_rank)")
    g.add_argument("--no-escalate", action="store_true",
                   help="fit: do not retry a fit that fails its gates with the law's safer settings (a retry "
                        "happens only when --draws, --tune, --target-accept and --adaptation are left unset)")
    g.add_argument("--seed", type=int, default=0, help="one seed for every stochastic stage")


def _data_check_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data checks")
    g.add_argument("--allow-duplicates", action="store_true",
                   help="keep exact duplicate runs (refused by default: they would narrow every interval)")
    g.add_argument("--losses-in-nats", action="store_true",
                   help="accept losses that look like perplexities for the model sizes given")


def _gamma_free(args: argparse.Namespace) -> bool:
    """``--gamma``: the supervised law's form (fixed unless asked); refused for the joint distillation model, whose
    supervised law is the paper's form (gamma free) whatever the flag says."""
    if args.gamma is not None and args.law == "distillation":
        raise InputError(f"--gamma {args.gamma} sets a supervised fit's form; the distillation model's supervised "
                         "law is the paper's (gamma free): leave --gamma out with --law distillation")
    return args.gamma == "free"


def cmd_fit(args: argparse.Namespace) -> int:
    if args.out:
        bounds.check_writable(args.out, "--out")
        bounds.check_not_input(args.out, "--out", {"run table": args.data, "supervised table": args.supervised,
                                                    "prior file": args.priors})
    fit = api.fit(
        args.data,
        law=args.law,
        columns=_columns(args.columns),
        supervised=args.supervised,
        gamma_free=_gamma_free(args),
        likelihood=args.likelihood,
        priors=args.priors,
        preset=args.preset,
        preset_scale=args.preset_scale,
        teacher_noise=args.teacher_noise,
        supervised_scale=args.supervised_scale,
        size_effect=args.size_effect,
        weak_teacher=_weak_teacher(args),
        include_outliers=args.include_outliers,
        sampler=args.sampler, draws=args.draws, tune=args.tune, chains=args.chains,
        target_accept=args.target_accept, adaptation=args.adaptation, thin=args.thin, seed=args.seed,
        progress=not args.quiet, allow_duplicates=args.allow_duplicates, losses_in_nats=args.losses_in_nats,
        escalate=not args.no_escalate,
    )
    out = fit.save(args.out) if args.out else None
    shown = text.format_fit(fit, api.summary(fit))
    if out:
        shown += f"\nsaved posterior: {out}"
    _emit(args, shown, {"card": fit.card, "path": str(out) if out else None}, fit=fit,
          warnings=text.fit_notes(fit), posterior=str(out) if out else None)
    return 0 if fit.diagnostics_passed else 1


def cmd_diagnose(args: argparse.Namespace) -> int:
    fit = api.load(args.posterior)
    diag = api.diagnose(fit)
    _emit(args, text.format_diagnosis(fit, diag), diag.to_dict(), fit=fit, posterior=args.posterior,
          warnings=diag.warnings)
    return 0 if diag.passed else 1


def _serving_args(p: argparse.ArgumentParser) -> None:
    """The serving demand and, for costs in money, the prices (docs/serving.md)."""
    p.add_argument("--inference-tokens", dest="inference_tokens", type=float, default=0.0,
                   help="tokens the trained model will serve over its lifetime (raw count; default 0: training "
                        "only); each costs one forward pass, F(N) FLOPs (2N with --flops 6nd)")
    p.add_argument("--output-share", dest="output_share", type=float, default=OUTPUT_SHARE,
                   help=f"share of the inference tokens that are generated (decode); only prices use it "
                        f"(default {OUTPUT_SHARE}: 1000 input and 250 output tokens per request)")
    _price_args(p, demand=False)


PRICES_HELP = ("costs in money: --budget is then money (training plus serving) and --target recipes are the "
               "cheapest in money; 'default' (A100s: training $1.40/h at utilisation 0.5; int8 serving $0.60/h, "
               "prefill 0.4, decode 0.2) or key=value pairs over it, keys train_peak, serve_peak, train_hour, "
               "serve_hour, train_utilisation, prefill_utilisation, decode_utilisation (docs/serving.md)")


def _price_args(p: argparse.ArgumentParser, demand: bool = True) -> None:
    """--prices (budgets in money) and, where the verb has no other serving options, --output-share."""
    if demand:
        p.add_argument("--output-share", dest="output_share", type=float, default=OUTPUT_SHARE,
                       help=f"share of the inference tokens that are generated (decode); only prices use it "
                            f"(default {OUTPUT_SHARE})")
    p.add_argument("--prices", default=None, help=PRICES_HELP)


def _priced(args: argparse.Namespace, budgets: np.ndarray,
            tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, PricedBudgets | None]:
    """Budgets and demands as the FLOP question the planner answers: unchanged without --prices; with them the
    budgets are money and each demand its training-priced forward passes (:class:`PricedBudgets`)."""
    tokens = np.atleast_1d(np.asarray(tokens, float))
    demands = tuple(Demand.total(float(t), args.output_share) for t in tokens)  # checked either way
    if args.prices is None:
        return budgets, tokens, None
    pb = PricedBudgets(tuple(float(b) for b in budgets), demands, Prices.parse(args.prices))
    return pb.flops(), np.asarray(pb.serving_tokens()), pb


def _lifetime(args: argparse.Namespace) -> Lifetime:
    """The lifetime cost the serving options describe (checked: exit 2 with what to change)."""
    demand = Demand.total(args.inference_tokens, args.output_share)
    prices = None if args.prices is None else Prices.parse(args.prices)
    return Lifetime(demand, prices, None if getattr(args, "flops", "3fnd") == "6nd" else PAPER_ARCHITECTURE)


def _fit_or_point(args: argparse.Namespace) -> Any:
    """The posterior named, or the published point law of ``--coefficients`` (one draw; docs/guide.md)."""
    if args.coefficients is not None:
        if args.posterior is not None:
            raise DataError(f"give a posterior or --coefficients, not both (got {args.posterior} and "
                            f"--coefficients {args.coefficients})")
        return api.point_law(args.coefficients)
    if args.posterior is None:
        raise DataError("give a posterior (e.g. models/supervised_chinchilla_epoch240.nc), or a published law with "
                        "--coefficients (e.g. --coefficients table6, or E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28)")
    return api.load(args.posterior)


def cmd_predict(args: argparse.Namespace) -> int:
    fit = _fit_or_point(args)
    parts, payload = [], {}
    ds = opt = cheap = None
    say = _say("predict", args)
    progress = every_tenth(lambda done, total: say(f"predicted {done} of {total} points"))
    if fit.law == "distillation":
        if args.N or args.D or args.budget or args.target is not None:
            raise DataError("this posterior is a distillation (joint) one: give the student as --N-S and --D-S and "
                            "the teacher as --L-T, or --N-T and --D-T")
        if not _pair(args.N_S, args.D_S, "--N-S and --D-S"):
            raise DataError("give the student as --N-S and --D-S and the teacher as --L-T, or --N-T and --D-T")
        ds = api.predict_distillation(
            fit, N_S=_floats(args.N_S, "--N-S"), D_S=_floats(args.D_S, "--D-S"),
            L_T=_floats(args.L_T, "--L-T") if args.L_T else None,
            N_T=_floats(args.N_T, "--N-T") if args.N_T else None,
            D_T=_floats(args.D_T, "--D-T") if args.D_T else None,
            prob=args.prob, kind=args.interval, seed=args.seed, margin=args.margin, progress=progress)
        parts.append(text.format_prediction(ds))
        payload["prediction"] = text.prediction_records(ds)
    else:
        if args.N_S or args.D_S or args.L_T or args.N_T or args.D_T:
            raise DataError("this posterior is supervised: give --N and --D (or --budget); --N-S, --D-S and the "
                            "teacher options need a distillation posterior")
        if _pair(args.N, args.D, "--N and --D"):
            ds = api.predict(fit, _floats(args.N, "--N"), _floats(args.D, "--D"), prob=args.prob,
                             kind=args.interval, seed=args.seed, progress=progress)
            parts.append(text.format_prediction(ds))
            payload["prediction"] = text.prediction_records(ds)
        life = _lifetime(args)
        if args.budget:
            C, T, priced = _priced(args, _floats(args.budget, "--budget"), np.array([life.demand.tokens]))
            opt = api.optimum(fit, C, prob=args.prob, kind=args.interval, flops=args.flops,
                              inference_tokens=float(T[0]), seed=args.seed)
            if priced is not None:
                parts.append(priced.note())
                payload["money"] = priced.record()
                # label the demand as asked; its serving is money here, so its FLOPs are training-priced ones
                opt = opt.rename({v: v.replace("serving_flops", "serving_training_priced_flops")
                                  for v in opt.data_vars if str(v).startswith("serving_flops")})
                opt.attrs["inference_tokens"] = life.demand.tokens
            parts.append(text.format_optimum(opt))
            payload["optimum"] = text.prediction_records(opt)
        if args.target is not None:
            from bayeslaw.decision.lifetime import records  # light CLI: the verb's own JSON form

            cheap = api.cheapest(fit, args.target, life, prob=args.prob, kind=args.interval, seed=args.seed)
            parts.append(text.format_cheapest(cheap))
            payload["cheapest"] = records(cheap)
        if not parts:
            raise DataError("give --N and --D for a prediction, --budget for the optimum, or --target for the "
                            "cheapest recipe that reaches a loss")
    parts.insert(0, text.data_line(fit))
    warns = api.prediction_caveats(fit, prediction=ds, optimum=opt, cheapest=cheap)
    parts += [f"warning: {w}" for w in warns]
    if not fit.diagnostics_passed:
        parts.insert(0, text.failed_banner(fit))
    _emit(args, "\n\n".join(parts), payload, fit=fit, warnings=warns, posterior=args.posterior)
    return 0


def cmd_prior_predictive(args: argparse.Namespace) -> int:
    ds = api.prior_predictive(_floats(args.N, "--N"), _floats(args.D, "--D"),
                              gamma_free=args.gamma == "free", likelihood=args.likelihood,
                              priors=args.priors, prob=args.prob, seed=args.seed)
    _emit(args, text.format_prediction(ds, title="Prior predictive (what the priors imply)"),
          {"prior_predictive": text.prediction_records(ds)})
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    if args.out:
        bounds.check_writable(args.out, "--out")
        if args.posterior:
            bounds.check_not_input(args.out, "--out", {"posterior": args.posterior})
    fit = _fit_or_point(args)
    say = _say("plan", args)
    progress = every_tenth(lambda done, total: say(f"planned {done} of {total} draws"))

    demand = _floats(args.inference_tokens, "--inference-tokens")
    if args.target is not None:
        return _plan_target(args, fit, demand)
    if not args.budget:
        raise DataError("give the budgets to plan (--budget), or a --target loss for the cheapest recipe that "
                        "reaches it")
    budgets, served, priced = _priced(args, _floats(args.budget, "--budget"), demand)
    if args.student is None:
        return _plan_free_size(args, fit, budgets, demand, served, priced)
    if demand.size > 1:
        raise DataError("several --inference-tokens compare a chosen student size: leave out --student, or give one")
    if args.max_tokens_per_param is not None or args.min_tokens_per_param is not None:
        raise DataError("--min/--max-tokens-per-param bound the student size the planner chooses: with --student the "
                        "size and the budget fix the ratio (the warnings name it); leave out --student to bound it")
    args.inference_tokens = float(served[0])
    sizes = _floats(args.student, "--student")
    n_draws = min(args.draws, fit.n_draws) if args.draws else fit.n_draws
    say(f"planning {n_draws} posterior draws x {sizes.size} student size(s) x {budgets.size} budget(s) x "
        f"{len(args.scenario)} scenario(s)")
    grid, summary = api.plan(fit, sizes, budgets, tuple(args.scenario), n_students=args.students,
                             max_draws=args.draws, seed=args.seed, prob=args.prob, progress=progress,
                             backend=args.backend, scheduler=args.scheduler, out=args.out, margin=args.margin,
                             teacher_cap=args.teacher_cap, inference_tokens=args.inference_tokens,
                             teachers=tuple(_teacher(t) for t in args.teacher or []))
    parts = [text.data_line(fit), text.format_plan(summary, detail=args.detail)]
    if args.inference_tokens:
        parts.insert(1, f"each budget is a lifetime budget: the student's serving of {float(demand[0]):.3g} "
                        "tokens (one forward pass each) is paid from it before training")
    records = text.plan_records(summary)
    if priced is not None:
        parts.insert(1, priced.note())
        records["money"] = priced.record()
    if not fit.diagnostics_passed:
        parts.insert(0, text.failed_banner(fit))
    if args.out:
        parts.append(f"full grid written: {args.out}")
    _emit(args, "\n".join(parts), records, fit=fit,
          warnings=list(summary.attrs.get("warnings", [])), posterior=args.posterior)
    return 0


def _plan_free_size(args: argparse.Namespace, fit: Any, budgets: np.ndarray, demand: np.ndarray,
                    served: np.ndarray, priced: PricedBudgets | None) -> int:
    """``plan`` without ``--student``: the size per route, budget and serving demand (docs/serving.md)."""
    from bayeslaw.decision.free_size import free_size, free_size_caveats  # light CLI: only this mode needs it

    if args.out:
        raise DataError("--out writes the per-draw grid of fixed student sizes; without --student there is none")
    _say("plan", args)(f"choosing the student size: {min(args.draws or fit.n_draws, fit.n_draws)} draws x "
                       f"{budgets.size} budget(s) x {demand.size} serving demand(s)")
    ds = free_size(fit, budgets, tuple(args.scenario), inference_tokens=served, n_students=args.students,
                   max_draws=args.draws, seed=args.seed, prob=args.prob, margin=args.margin,
                   teacher_cap=args.teacher_cap, min_tokens_per_param=args.min_tokens_per_param,
                   max_tokens_per_param=args.max_tokens_per_param,
                   teachers=tuple(_teacher(t) for t in args.teacher or []))
    ds = ds.assign_coords(tokens=demand)  # the demand as asked (priced: the planner served its forward passes)
    parts = [text.data_line(fit), text.format_free_size(ds)]
    payload: dict[str, Any] = {"free_size": text.free_size_records(ds)}
    if priced is not None:
        parts.insert(1, priced.note())
        payload["money"] = priced.record()
    warns = free_size_caveats(fit, ds)
    parts += [f"warning: {w}" for w in warns]
    if not fit.diagnostics_passed:
        parts.insert(0, text.failed_banner(fit))
    _emit(args, "\n".join(parts), payload, fit=fit, warnings=warns, posterior=args.posterior)
    return 0


def _plan_target(args: argparse.Namespace, fit: Any, demand: np.ndarray) -> int:
    """``plan --target L``: the cheapest lifetime recipe per route that reaches L (docs/serving.md)."""
    from bayeslaw.decision.target_route import cheapest_routes, in_money, target_route_caveats  # light CLI: this mode

    if args.student is not None or args.budget or args.out:
        raise DataError("--target asks for the cheapest lifetime budget and student size that reach a loss: leave "
                        "out --student, --budget and --out (for a chosen student and budget, `bayeslaw report "
                        "--target` gives the compute to be 90% sure)")
    life = [Lifetime(Demand.total(float(t), args.output_share),
                     None if args.prices is None else Prices.parse(args.prices)) for t in demand]
    served = [lt.in_training_flops(np.ones(1))[1] for lt in life]  # priced: training-priced forward passes
    _say("plan", args)(f"the cheapest recipe per route that reaches {args.target:g} nats with probability "
                       f"{args.prob:.0%}: {min(args.draws or fit.n_draws, fit.n_draws)} draws x {demand.size} "
                       "serving demand(s)")
    ds = cheapest_routes(fit, args.target, tuple(args.scenario), inference_tokens=served, prob=args.prob,
                         n_students=args.students, max_draws=args.draws, seed=args.seed, teacher_cap=args.teacher_cap,
                         teachers=tuple(_teacher(t) for t in args.teacher or []),
                         min_tokens_per_param=args.min_tokens_per_param,
                         max_tokens_per_param=args.max_tokens_per_param)
    ds = ds.assign_coords(tokens=demand)  # the demand as asked
    if args.prices is not None:  # the answer in money: a training-FLOP equivalent at the training price
        ds = in_money(ds, life[0].prices)
    parts = [text.data_line(fit), text.format_target_routes(ds)]
    warns = target_route_caveats(fit, ds)
    parts += [f"warning: {w}" for w in warns]
    if not fit.diagnostics_passed:
        parts.insert(0, text.failed_banner(fit))
    _emit(args, "\n".join(parts), {"target_routes": text.target_route_records(ds)}, fit=fit, warnings=warns,
          posterior=args.posterior)
    return 0


def _teacher(spec: str) -> Teacher:
    """--teacher N_T:D_T (charged where the scenario charges pretraining), N_T:D_T:sunk (it exists), or
    N_T:L=loss (an existing teacher by its measured loss: sunk in every scenario)."""
    try:
        parts = spec.split(":")
        if len(parts) == 2 and parts[1].startswith("L="):
            return Teacher(N_T=float(parts[0]), L_T=float(parts[1][2:]))
        if len(parts) == 2:
            return Teacher(N_T=float(parts[0]), D_T=float(parts[1]))
        if len(parts) == 3 and parts[2] == "sunk":
            return Teacher(N_T=float(parts[0]), D_T=float(parts[1]), sunk=True)
        raise ValueError(spec)
    except ValueError as err:
        raise DataError(f"--teacher takes N_T:D_T (e.g. 7e9:1.4e11), N_T:D_T:sunk (a teacher you already have) "
                        f"or N_T:L=loss (an existing teacher by its measured loss, e.g. 7e9:L=2.05); "
                        f"got {spec!r}") from err


def cmd_report(args: argparse.Namespace) -> int:
    budgets, served, priced = _priced(args, np.sort(_floats(args.budget, "--budget")), [args.inference_tokens])
    size = None if args.student is None else float(_floats([args.student], "--student")[0])
    question = Question(student_size=size,
                        budgets=tuple(float(b) for b in budgets), scenario=args.scenario,
                        n_students=args.students, target=args.target,
                        teachers=tuple(_teacher(t) for t in args.teacher or []), prob=args.prob,
                        other_scenarios=tuple(args.compare_scenarios or ()), margin=args.margin,
                        teacher_cap=args.teacher_cap, inference_tokens=float(served[0]), priced=priced)
    question.check()  # bad input fails before the posterior is read
    bounds.check_writable(args.out_dir, "--out-dir", directory=True)

    progress = _say("report", args)

    if args.coefficients is not None and args.posterior != REPORT_DEFAULT:
        raise DataError(f"give a posterior or --coefficients, not both (got {args.posterior} and --coefficients "
                        f"{args.coefficients})")
    source = args.posterior if args.coefficients is None else api.point_law(args.coefficients)
    analysis, written = api.report(source, question, out_dir=args.out_dir, stem=args.stem,
                                   max_draws=args.draws, seed=args.seed, progress=progress)
    shown = text.format_report(analysis, written)
    payload = {"html": str(written.html), "markdown": str(written.markdown), "images": str(written.images),
               **text.report_records(analysis)}
    _emit(args, shown, payload, warnings=analysis.warnings, posterior=str(args.posterior))
    return 0 if analysis.diagnosis.passed else 1


def cmd_pilot(args: argparse.Namespace) -> int:
    budgets, served, priced = _priced(args, np.sort(_floats(args.budget, "--budget")), [args.inference_tokens])
    size = None if args.student is None else float(_floats([args.student], "--student")[0])
    question = Question(student_size=size, budgets=tuple(float(b) for b in budgets),
                        scenario=args.scenario, n_students=args.students, target=args.target,
                        teachers=tuple(_teacher(t) for t in args.teacher or []), prob=args.prob,
                        margin=args.margin, teacher_cap=args.teacher_cap, inference_tokens=float(served[0]),
                        priced=priced)
    question.check()  # bad input fails before the posterior is read
    candidates = api.read_candidates(args.candidates) if args.candidates else None
    if args.refit:
        from bayeslaw.inference.preposterior import refit_with_outcomes  # light CLI: PyMC only when refits are asked
    else:
        refit_with_outcomes = None
    fit = api.load(args.posterior)
    say = _say("pilot", args)
    say(f"the value of {'your' if candidates else 'the default'} candidate runs for {len(question.budgets)} "
        f"decision(s) over {min(args.draws, fit.n_draws)} draws")
    result = api.pilot(fit, question, candidates=candidates, max_draws=args.draws, seed=args.seed, most=args.most,
                       extrapolation=not args.no_extrapolation_error, refit=args.refit,
                       refitter=refit_with_outcomes if args.refit else None)
    parts = [text.data_line(fit), text.format_pilot(result)]
    records = result.records()
    if priced is not None:
        parts.insert(1, priced.note())
        records["money"] = priced.record()
    if not fit.diagnostics_passed:
        parts.insert(0, text.failed_banner(fit))
    _emit(args, "\n".join(parts), records, fit=fit, warnings=list(result.warnings), posterior=args.posterior)
    return 0


def _weak_teacher(args: argparse.Namespace) -> bool | None:
    """The form a distillation command asks for: the weak-teacher gain (True), Eq. 8 as printed (False), or the
    table's default (None); both flags at once are refused."""
    if getattr(args, "paper_form", False) and getattr(args, "weak_teacher", None):
        raise InputError("--paper-form (Eq. 8 as printed) and --weak-teacher (with the gain) ask for different laws: "
                         "give one")
    if getattr(args, "paper_form", False):
        return False
    return getattr(args, "weak_teacher", None)


def cmd_backtest(args: argparse.Namespace) -> int:
    bounds.check_writable(args.out_dir, "--out-dir", directory=True)
    bt, paths = api.backtest(
        args.data, law=args.law, supervised=args.supervised, splits=args.split,
        student_threshold=_floats(args.student_threshold, "--student-threshold"),
        supervised_threshold=args.supervised_threshold, teacher_noise=args.teacher_noise,
        size_effect=args.size_effect, weak_teacher=_weak_teacher(args), gamma_free=_gamma_free(args),
        likelihood=args.likelihood, include_outliers=args.include_outliers,
        sampler=_sampler_config(args, args.law), seed=args.seed, baseline=not args.no_baseline,
        extrapolation_error=args.extrapolation_error, out_dir=args.out_dir, stem=args.stem,
        progress=_say("backtest", args), allow_duplicates=args.allow_duplicates,
        losses_in_nats=args.losses_in_nats, columns=_columns(args.columns))
    shown = text.format_backtest(bt) + "\n" + "\n".join(f"{k}: {v}" for k, v in paths.items())
    _emit(args, shown, text.backtest_records(bt, paths))
    return 0 if bt.fits["diagnostics_passed"].all() else 1


def cmd_compare(args: argparse.Namespace) -> int:
    res = api.compare(args.data, exclude=args.exclude, sampler=_sampler_config(args, "supervised"),
                         seed=args.seed, progress=_say("compare", args), allow_duplicates=args.allow_duplicates,
                         losses_in_nats=args.losses_in_nats)
    shown = text.format_comparison(res)
    _emit(args, shown, {"table": res.table.reset_index().to_dict(orient="records"), "n_common": res.n_common,
                        "pareto_warnings": res.pareto_warnings,
                        "diagnostics_passed": {k: v["passed"] for k, v in res.diagnostics.items()}})
    return 0 if all(v["passed"] for v in res.diagnostics.values()) else 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    from bayeslaw.decision.pipeline import SHIPPED_ERROR_MODELS, distillation_error_path  # light CLI: paths only

    if (args.size_effect or args.paper_form) and not args.distillation:
        raise InputError("--size-effect and --paper-form learn the distillation law's error of posteriors of that "
                         "form: give them with --distillation")
    if args.no_lean and (args.distillation or args.ratio):
        raise InputError("--no-lean is the supervised calibration's zero-mean variant: give it without "
                         "--distillation and --ratio")
    shipped = (SHIPPED_ERROR_MODELS["ratio_drift" if args.ratio else "calibration"] if not args.distillation
               else distillation_error_path(args.distillation, args.size_effect, _weak_teacher(args)))
    out = Path(args.out) if args.out else shipped
    if out.resolve() == shipped.resolve() and out.exists() and not args.overwrite_shipped:
        raise InputError(f"{'--out ' + args.out if args.out else 'by default this'} would overwrite the shipped "
                         f"{shipped.name} (every prediction's bands use it): give --out elsewhere, or rebuild it on "
                         "purpose with --overwrite-shipped (make models)")
    bounds.check_writable(str(out), "--out")
    bounds.check_writable(args.out_dir, "--out-dir", directory=True)
    if args.ratio:
        if args.distillation:
            raise DataError("--ratio and --distillation learn different errors: give one")
        fit, table, paths = api.calibrate_ratio(args.studies, out=args.out, loso=args.loso, out_dir=args.out_dir,
                                                seed=args.seed, progress=_say("calibrate", args))
        shown = text.format_ratio_drift(fit, table) + "\n" + "\n".join(f"{k}: {v}" for k, v in paths.items())
        _emit(args, shown, {"card": fit.card, "paths": paths,
                            "loso": None if table is None else table.to_dict(orient="records")},
              fit=None, posterior=paths["ratio_drift"])
        return 0 if fit.diagnostics_passed else 1
    if args.distillation:
        fit, h, paths = api.calibrate_distillation(args.distillation, out=args.out, out_dir=args.out_dir,
                                                   seed=args.seed, size_effect=args.size_effect,
                                                   weak_teacher=_weak_teacher(args), progress=_say("calibrate", args))
        shown = text.format_student_error(fit, h.fits) + "\n" + "\n".join(f"{k}: {v}" for k, v in paths.items())
        _emit(args, shown, {"card": fit.card, "paths": paths, "splits": h.fits}, fit=None,
              posterior=paths["distillation_error"])
        return 0 if fit.diagnostics_passed else 1
    fit, summary, paths = api.calibrate(args.studies, out=args.out, loso=args.loso, out_dir=args.out_dir,
                                        seed=args.seed, progress=_say("calibrate", args), signed=not args.no_lean)
    tables = (None, None, None) if summary is None else (summary.scores, summary.widths, summary.expected)
    shown = text.format_calibration(fit, *tables) + "\n" + "\n".join(f"{k}: {v}" for k, v in paths.items())
    result = {"card": fit.card, "paths": paths} | {
        key: None if df is None else df.to_dict(orient="records")
        for key, df in zip(("loso", "widths", "expected_coverage"), tables, strict=True)}
    _emit(args, shown, result, fit=None, warnings=[f"skipped: {v}" for v in fit.card["data"].get("skipped", {})
                                                   .values()], posterior=paths.get("calibration"))
    return 0 if fit.diagnostics_passed else 1


def cmd_generate(args: argparse.Namespace) -> int:
    bounds.check_writable(args.out, "--out", directory=True)
    shipped = (DATA_DIR / "synthetic").resolve()
    if Path(args.out).resolve() == shipped and not args.overwrite_shipped and any(shipped.glob("SYNTHETIC_*.csv")):
        raise InputError(f"--out {args.out} holds the shipped SYNTHETIC tables (the shipped posteriors were fitted to "
                         "them); write elsewhere, or rebuild them on purpose with --overwrite-shipped (make models)")
    dis, sup = api.generate(args.out, stem=args.stem, seed=args.seed, noise=args.noise,
                               eval_noise=args.eval_noise, outlier_df=args.outlier_df, small=args.small)
    _emit(args, f"SYNTHETIC tables written (generated from the law, not measured):\n  {dis}\n  {sup}",
          {"distillation": str(dis), "supervised": str(sup)})
    return 0


#: The form of the distillation law, and the likelihood, on fit and backtest.
WEAK_TEACHER_HELP = ("distillation: let a student beat a teacher weaker than its own supervised loss, which Eq. 8's "
                     "leading term L_T forbids (a learned share of the gap past parity; docs/validation.md); the "
                     "default for the paper's digitized students")
PAPER_FORM_HELP = ("distillation: Eq. 8 exactly as the paper prints it (no weak-teacher gain), Student-t unless "
                   "--likelihood says otherwise")
LIKELIHOOD_HELP = ("on log loss; default Student-t, or what a shipped distillation table states for its default "
                   "form (the paper's digitized students: normal)")
#: The per-size offset's flag, on fit and backtest.
SIZE_EFFECT_HELP = ("distillation: an offset on the students' log loss per student size, what students of one size "
                    "share beyond Eq. 8 (docs/validation.md); plans and predictions draw each new size's offset")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--quiet", action="store_true", help="no progress, no text output")
    # no abbreviations: `plan --teacher ...` must not be read as --teacher-cap
    p = argparse.ArgumentParser(prog="bayeslaw", description=__doc__.split("\n")[0], epilog=EXIT_CODES,
                                formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)
    _add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        return _add(name, parents=[common], epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
                    allow_abbrev=False, **kw)

    sub.add_parser = add_parser  # every subcommand takes --json and --quiet

    f = sub.add_parser("fit", help="fit a law to a run table with NUTS and save the posterior")
    f.add_argument("data", help=f"CSV/parquet run table, or a shipped table: {sorted(SHIPPED)}")
    f.add_argument("--law", choices=["supervised", "distillation"], default="supervised")
    f.add_argument("--columns", help="mapping canonical=theirs, e.g. N=params,D=tokens,loss=val")
    f.add_argument("--supervised", help="distillation only: the supervised runs table")
    f.add_argument("--gamma", choices=["fixed", "free"], default=None,
                   help="supervised: fixed (gamma=1, Chinchilla form; the default) or free (the distillation paper's "
                        "form)")
    f.add_argument("--likelihood", choices=["student_t", "normal"], default=None, help=LIKELIHOOD_HELP)
    f.add_argument("--priors", help="JSON or TOML file of prior overrides")
    f.add_argument("--preset", choices=["weak", "busbridge2025"], default=None,
                   help="distillation only: prior preset (default weak with --supervised, busbridge2025 without: "
                        "the supervised law then comes from Table 6's prior)")
    f.add_argument("--teacher-noise", type=float, default=None,
                   help="distillation only: sd of a teacher's measured log loss around its true value "
                        "(default: the shipped table's stated estimate, else 0.002)")
    f.add_argument("--supervised-scale", type=float, default=None,
                   help="distillation with the busbridge2025 preset: a further factor on its supervised prior "
                        "widths (default: the shipped table's, 1/3 for the paper's own runs; else 1)")
    f.add_argument("--size-effect", action="store_true", help=SIZE_EFFECT_HELP)
    f.add_argument("--weak-teacher", action="store_true", default=None, help=WEAK_TEACHER_HELP)
    f.add_argument("--paper-form", action="store_true", help=PAPER_FORM_HELP)
    f.add_argument("--preset-scale", type=float, default=1.0,
                   help="multiply the preset's prior widths")
    f.add_argument("--include-outliers", action="store_true",
                   help="shipped tables: keep the runs excluded by default (see each table's SOURCE.txt)")
    f.add_argument("--out", help="where to save the posterior (.nc)")
    _sampler_args(f)
    _data_check_args(f)
    f.set_defaults(func=cmd_fit)

    d = sub.add_parser("diagnose", help="check a saved posterior against the gates")
    d.add_argument("posterior")
    d.set_defaults(func=cmd_diagnose)

    q = sub.add_parser("predict", help="loss bands at new runs; supervised optimum at budgets")
    q.add_argument("posterior", nargs="?", default=None, help="a posterior (or give --coefficients)")
    q.add_argument("--coefficients", default=None, help=COEFFICIENTS_HELP)
    q.add_argument("--N", nargs="+", help="parameters (raw count)")
    q.add_argument("--D", nargs="+", help="tokens (raw count)")
    q.add_argument("--budget", nargs="+", help="FLOPs (3 F(N) D, or 6ND with --flops 6nd) for the compute-optimal "
                                               "N*, D*, L*")
    q.add_argument("--N-S", dest="N_S", nargs="+", help="distillation: student parameters")
    q.add_argument("--D-S", dest="D_S", nargs="+", help="distillation: student tokens")
    q.add_argument("--L-T", dest="L_T", nargs="+", help="distillation: teacher loss")
    q.add_argument("--N-T", dest="N_T", nargs="+", help="distillation: teacher parameters")
    q.add_argument("--D-T", dest="D_T", nargs="+", help="distillation: teacher tokens")
    q.add_argument("--prob", type=float, default=0.9, help="interval probability (default 0.9)")
    q.add_argument("--interval", choices=["eti", "hdi"], default="eti")
    q.add_argument("--flops", choices=["3fnd", "6nd"], default="3fnd",
                   help="--budget: count FLOPs as the paper does, 3 F(N) D (default), or as 6ND")
    q.add_argument("--margin", type=float, default=None,
                   help="distillation: practical-equivalence margin in nats (default 0.01)")
    q.add_argument("--target", type=float, default=None,
                   help="the cheapest N and D whose run reaches this loss (nats/token) with probability --prob, "
                        "training plus serving --inference-tokens (Sardana et al.)")
    _serving_args(q)
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=cmd_predict)

    pp = sub.add_parser("prior-predictive", help="what the supervised priors imply for the loss")
    pp.add_argument("--N", nargs="+", default=["1e8", "1e9", "1e10"])
    pp.add_argument("--D", nargs="+", default=["2e9", "2e10", "2e11"])
    pp.add_argument("--gamma", choices=["fixed", "free"], default="fixed")
    pp.add_argument("--likelihood", choices=["student_t", "normal"], default="student_t")
    pp.add_argument("--priors")
    pp.add_argument("--prob", type=float, default=0.9)
    pp.add_argument("--seed", type=int, default=0)
    pp.set_defaults(func=cmd_prior_predictive)

    pl = sub.add_parser("plan", help="distil or train supervised: probabilities, bands, recipes")
    pl.add_argument("posterior", nargs="?", default=None,
                    help="a distillation (joint) posterior (or give --coefficients)")
    pl.add_argument("--coefficients", default=None, help=COEFFICIENTS_HELP)
    pl.add_argument("--student", nargs="+", default=None,
                    help="student sizes (parameters); leave out to choose the size: per route, the size of lowest "
                         "loss at each (lifetime) budget, from 1e7 to 1e12 parameters")
    pl.add_argument("--budget", nargs="+", help="compute budgets (FLOPs; money with --prices)")
    pl.add_argument("--target", type=float, default=None,
                    help="without --student and --budget: per route, the cheapest lifetime budget and student size "
                         "whose recipe reaches this loss (nats/token) with probability --prob")
    pl.add_argument("--scenario", nargs="+", default=["teacher_inference"],
                    choices=list(SCENARIOS))
    pl.add_argument("--students", type=int, default=1, help="students sharing one teacher")
    pl.add_argument("--draws", type=int, default=1000, help="posterior draws to use (seeded subsample)")
    pl.add_argument("--prob", type=float, default=0.9)
    pl.add_argument("--seed", type=int, default=0)
    pl.add_argument("--out", help="write the full per-draw grid (netCDF)")
    pl.add_argument("--backend", choices=["numpy", "jax"], default="numpy",
                    help="jax: jit-compiled searches (the jax extra; CPU or GPU)")
    pl.add_argument("--scheduler", help="run the draw chunks on Dask: 'local' (a LocalCluster) or an address")
    pl.add_argument("--teacher-cap", default=str(bounds.TEACHER_CAP_RATIO), type=_cap,
                    help="teacher inference: cap the teacher's pretraining compute at this multiple of the budget "
                         "(default 100); 'none' gives the uncapped bound (the best teacher you could have)")
    pl.add_argument("--margin", type=float, default=None,
                    help="practical-equivalence margin in nats: smaller differences are a tie (default 0.01)")
    pl.add_argument("--detail", action="store_true", help="also print every cell's losses and recipe with bands")
    pl.add_argument("--teacher", nargs="+", action="extend",
                    help="teachers to compare, each with its own verdict: N_T:D_T (pretraining charged where the "
                         "scenario charges it), N_T:D_T:sunk or N_T:L=loss (teachers you have)")
    pl.add_argument("--inference-tokens", dest="inference_tokens", nargs="+", default=["0"],
                    help="tokens the student will serve over its lifetime (raw count; default 0): each budget is then "
                         "a lifetime budget and the student's serving is paid from it first; without --student "
                         "several values compare how the choice moves with demand")
    pl.add_argument("--max-tokens-per-param", dest="max_tokens_per_param", type=float, default=None,
                    help="without --student: only student sizes whose recipe trains at most this many tokens per "
                         "parameter are chosen (e.g. 202, the most of the paper's fitted students); default: "
                         "unbounded, with a warning past the measured range")
    pl.add_argument("--min-tokens-per-param", dest="min_tokens_per_param", type=float, default=None,
                    help="without --student: only sizes trained on at least this many tokens per parameter (e.g. 21, "
                         "the fewest of the paper's fitted students); default: unbounded")
    _price_args(pl)
    pl.set_defaults(func=cmd_plan)

    r = sub.add_parser("report", help="a risk report (HTML + Markdown) for a budget decision")
    r.add_argument("posterior", nargs="?", default=REPORT_DEFAULT,
                   help="a distillation (joint) posterior (default: the shipped one), or a supervised one for the "
                        "supervised-only report")
    r.add_argument("--coefficients", default=None, help=COEFFICIENTS_HELP + "; the report then has no diagnostics, "
                                                        "reach or pilot sections (nothing was sampled or fitted)")
    r.add_argument("--student", help="student size (parameters, raw count, e.g. 1e9); required for a distillation "
                                     "posterior, optional for a supervised one (then also that model on each budget)")
    r.add_argument("--budget", nargs="+", required=True, help="compute budget(s) in FLOPs, e.g. 1e21")
    r.add_argument("--scenario", default="teacher_inference",
                   choices=list(SCENARIOS))
    r.add_argument("--compare-scenarios", nargs="+", metavar="SCENARIO",
                   choices=list(SCENARIOS),
                   help="add the optimal recipe of other scenarios as options (e.g. pretraining a new teacher)")
    r.add_argument("--students", type=int, default=1, help="students sharing one teacher")
    r.add_argument("--target", type=float, help="target loss (nats/token)")
    r.add_argument("--teacher", nargs="+", action="extend",
                   help="teachers to compare: N_T:D_T (pretraining charged where the scenario charges it), "
                        "N_T:D_T:sunk or N_T:L=loss (teachers you have; default: 2x and 10x the student on 20 "
                        "tokens/param); repeat it or list several")
    r.add_argument("--margin", type=float, default=bounds.PRACTICAL_MARGIN,
                   help="practical-equivalence margin in nats: smaller differences are a tie (default 0.01)")
    r.add_argument("--teacher-cap", default=str(bounds.TEACHER_CAP_RATIO), type=_cap,
                   help="teacher inference: the recommended teacher's pretraining at most this multiple of the "
                        "budget (default 100; 'none': uncapped)")
    r.add_argument("--inference-tokens", dest="inference_tokens", type=float, default=0.0,
                   help="tokens the model will serve over its lifetime (raw count; default 0): each budget is then a "
                        "lifetime budget that pays for its serving first (docs/serving.md)")
    _price_args(r)
    r.add_argument("--prob", type=float, default=0.9, help="band probability (default 0.9)")
    r.add_argument("--draws", type=int, default=1000, help="posterior draws to plan with (seeded subsample)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out-dir", default="reports")
    r.add_argument("--stem", help="file name without extension (default from the question)")
    r.set_defaults(func=cmd_report)

    pi = sub.add_parser("pilot", help="the pilot runs worth buying before a decision (value of information)")
    pi.add_argument("posterior", help="a distillation (joint) posterior, or a supervised one")
    pi.add_argument("--student", help="distillation: the student size (parameters, raw count)")
    pi.add_argument("--budget", nargs="+", required=True, help="compute budget(s) in FLOPs")
    pi.add_argument("--scenario", default="teacher_inference", choices=list(SCENARIOS))
    pi.add_argument("--students", type=int, default=1, help="students sharing one teacher")
    pi.add_argument("--target", type=float,
                    help="supervised: the decision is whether the compute-optimal run reaches this loss")
    pi.add_argument("--teacher", nargs="+", action="extend",
                    help="teachers as options and for the distillation pilots: N_T:D_T, N_T:D_T:sunk or N_T:L=loss")
    pi.add_argument("--candidates", help="CSV of candidate runs: kind (supervised|distillation), N, D and a "
                                         "distillation run's N_T with D_T or L_T, sunk (default: a grid around "
                                         "the question)")
    pi.add_argument("--margin", type=float, default=bounds.PRACTICAL_MARGIN)
    pi.add_argument("--teacher-cap", default=str(bounds.TEACHER_CAP_RATIO), type=_cap)
    pi.add_argument("--prob", type=float, default=0.9, help="the certainty a settled verdict needs (default 0.9)")
    pi.add_argument("--draws", type=int, default=1000, help="posterior draws (seeded subsample)")
    pi.add_argument("--most", type=int, default=3, help="the largest set of runs bought together")
    pi.add_argument("--no-extrapolation-error", action="store_true",
                    help="the law alone: no extrapolation error beyond the fitted runs (not recommended)")
    pi.add_argument("--refit", type=int, default=0, metavar="K",
                    help="supervised, without the extrapolation error: value runs whose importance weights "
                         "degenerate by K NUTS refits (seconds each)")
    pi.add_argument("--seed", type=int, default=0)
    pi.add_argument("--inference-tokens", dest="inference_tokens", type=float, default=0.0,
                    help="distillation: tokens the student will serve over its lifetime (default 0); each budget is "
                         "then a lifetime budget that pays for its serving first (docs/serving.md)")
    _price_args(pi)
    pi.set_defaults(func=cmd_pilot)

    b = sub.add_parser("backtest", help="leave-future-out backtests against a point-fit baseline")
    b.add_argument("data", help=f"run table (CSV/parquet) or a shipped table: {sorted(SHIPPED)}")
    b.add_argument("--law", choices=["supervised", "distillation"], default="supervised")
    b.add_argument("--supervised", help="distillation only: the supervised runs table")
    b.add_argument("--columns", help="map canonical names to your table's, e.g. N=params,D=tokens,loss=val_loss")
    b.add_argument("--split", nargs="+", default=["rolling"],
                   help="supervised splits: compute:C (fit 6ND < C), loss:L (fit loss >= L), ratio:R (fit D/N <= R), "
                        "largest:K, rolling[:C1,C2,...] (default: rolling at the 50/65/80%% compute quantiles)")
    b.add_argument("--student-threshold", nargs="+", default=["2.45", "2.40"],
                   help="distillation: one split per threshold, fitting the students with L_S >= it "
                        "(default 2.45 2.40)")
    b.add_argument("--supervised-threshold", type=float, default=2.2, help="distillation: fit runs with L >= this")
    b.add_argument("--teacher-noise", type=float, default=None,
                   help="distillation: sd of a teacher's measured log loss around its true value (default: the "
                        "shipped table's stated estimate, else 0.002)")
    b.add_argument("--size-effect", action="store_true", help=SIZE_EFFECT_HELP)
    b.add_argument("--weak-teacher", action="store_true", default=None, help=WEAK_TEACHER_HELP)
    b.add_argument("--paper-form", action="store_true", help=PAPER_FORM_HELP)
    b.add_argument("--gamma", choices=["fixed", "free"], default=None,
                   help="supervised: fixed (gamma=1, the default) or free (the distillation paper's form)")
    b.add_argument("--likelihood", choices=["student_t", "normal"], default=None, help=LIKELIHOOD_HELP)
    b.add_argument("--include-outliers", action="store_true")
    b.add_argument("--no-baseline", action="store_true", help="skip the Huber + L-BFGS-B baseline")
    b.add_argument("--extrapolation-error", action="store_true",
                   help="also score the law plus an extrapolation error per decade, calibrated by "
                        "leave-future-out inside each split's training runs")
    b.add_argument("--out-dir", default="reports")
    b.add_argument("--stem", help="file name stem (default from the law and table)")
    _sampler_args(b)
    _data_check_args(b)
    b.set_defaults(func=cmd_backtest)

    cp = sub.add_parser("compare", help="PSIS-LOO comparison of law variants (gamma, likelihood, outliers)")
    cp.add_argument("data", help=f"run table (CSV/parquet) or a shipped table: {sorted(SHIPPED)}")
    cp.add_argument("--exclude", help="pandas expression marking outlier runs, e.g. 'loss > 3.5' "
                                      "(shipped tables: their documented exclusions)")
    _sampler_args(cp)
    _data_check_args(cp)
    cp.set_defaults(func=cmd_compare)

    ca = sub.add_parser("calibrate", help="learn from public studies how fast a law's error grows beyond its runs")
    ca.add_argument("--studies", nargs="+", default=None,
                    help="shipped supervised tables, one study each (default: all seven)")
    ca.add_argument("--out", help="the calibration posterior (default models/extrapolation_calibration.nc)")
    ca.add_argument("--loso", action="store_true",
                    help="also evaluate it leaving one study out, against bayeslaw without it, with its in-sample "
                         "calibration and the point fit (slower)")
    ca.add_argument("--out-dir", default="reports/calibration", help="where the evaluation goes")
    ca.add_argument("--distillation", nargs="?", const="busbridge2025_digitized", default=None, metavar="TABLE",
                    help="learn the distillation law's own error beyond its fitted students instead, from a "
                         "distillation table (default the paper's digitized students; models/distillation_error.nc)")
    ca.add_argument("--size-effect", action="store_true",
                    help="with --distillation: learn it from split fits with per-student-size offsets, the error "
                         "such posteriors use (models/distillation_error_size_effect.nc with --paper-form)")
    ca.add_argument("--paper-form", action="store_true",
                    help="with --distillation: learn it from split fits of Eq. 8 as printed, the error such "
                         "posteriors use (models/distillation_error_paper_form.nc)")
    ca.add_argument("--ratio", action="store_true",
                    help="learn how the law errs past the tokens per parameter it was fitted on instead (one split "
                         "by tokens per parameter per study; models/ratio_drift.nc; --loso also scores it study by "
                         "study)")
    ca.add_argument("--no-lean", action="store_true",
                    help="learn the zero-mean error shipped before issue 25 (each study's spread only, bands centred "
                         "on the law) instead of spread and lean; for comparison (use it from Python with "
                         "extrapolation=FILE)")
    ca.add_argument("--seed", type=int, default=0)
    ca.add_argument("--overwrite-shipped", action="store_true",
                    help="allow writing over the shipped posterior in models/ (make models does)")
    ca.set_defaults(func=cmd_calibrate)

    g = sub.add_parser("generate", help="write a SYNTHETIC paper-design distillation study")
    g.add_argument("--out", default="data/synthetic")
    g.add_argument("--overwrite-shipped", action="store_true",
                   help="let --out replace the shipped SYNTHETIC tables in data/synthetic (make models does)")
    g.add_argument("--stem", default="paper_design")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--noise", type=float, default=0.005, help="relative noise per run (sd of log loss)")
    g.add_argument("--eval-noise", type=float, default=0.001, help="teachers' measurement noise")
    g.add_argument("--outlier-df", type=float, default=None, help="Student-t noise with this many dof")
    g.add_argument("--small", action="store_true", help="a small design (for tests and calibration)")
    g.set_defaults(func=cmd_generate)
    return p


#: The cyclic collector's thresholds in a command-line process. Importing PyMC, nutpie and ArviZ
#: and compiling a model create millions of long-lived objects that the default thresholds
#: (2000, 10, 10) make the collector traverse again and again: about 0.4 s of a `bayeslaw fit`
#: (benchmarks/cli_fit.py). Cyclic garbage is still collected, only less often.
GC_THRESHOLDS = (100_000, 50, 1000)


def main(argv: list[str] | None = None) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed why; return its code (2) instead of leaving the interpreter
        code = exc.code if isinstance(exc.code, int) else 2
        if code and "--json" in (sys.argv[1:] if argv is None else argv):
            print(json.dumps({"error": "invalid command line (the message is on stderr)", "kind": "UsageError",
                              "command": None, "exit_code": code}))
        return code
    # the API warns Python users of what the CLI prints from the model card itself
    warnings.filterwarnings("ignore", category=DataWarning)
    warnings.filterwarnings("ignore", category=DiagnosticsWarning)
    try:
        seed = getattr(args, "seed", None)
        if seed is not None and seed < 0:
            raise InputError(f"--seed {seed}: a seed is a non-negative integer")
        code = int(args.func(args) or 0)
        # everything is written and closed: spare the exiting interpreter a last traversal of
        # those objects (about 1 s of a 5.6 s `bayeslaw fit`)
        gc.freeze()
        return code
    except BayeslawError as err:
        print(f"bayeslaw {args.command}: error: {err}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(err), "kind": type(err).__name__, "command": args.command,
                              "exit_code": 2}))
        return 2
    except KeyboardInterrupt:
        print(f"bayeslaw {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())

