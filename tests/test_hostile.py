"""The hostile-input suite (issue 26): what a careless or hostile user types, against every command and the Python
API. Each case is refused with exit code 2 (CLI) or a ``BayeslawError`` (API), one line that says what to fix, no
traceback, and nothing written: neither in the case's folder nor over a shipped file. No case fits a model.

With tests/test_bad_input.py (the first round) this is more than 150 cases, all in the fast tier."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.core.errors import BayeslawError
from bayeslaw.decision.question import Question, Teacher
from tests.conftest import ROOT, synthetic_supervised

CHIN = "models/supervised_chinchilla_epoch240.nc"
JOINT = "models/distillation_busbridge2025_digitized.nc"
CAL = "models/extrapolation_calibration.nc"
SHIPPED = [ROOT / "models" / n for n in ("extrapolation_calibration.nc", "ratio_drift.nc", "distillation_error.nc",
                                         "distillation_error_paper_form.nc", "distillation_error_size_effect.nc",
                                         "supervised_chinchilla_epoch240.nc")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    runs = synthetic_supervised(n=30, seed=4)
    tables = {
        "runs": runs, "negloss": runs.assign(loss=-runs["loss"]), "zeroN": runs.assign(N=0.0),
        "nanloss": runs.assign(loss=np.nan),
        "onenan": runs.assign(loss=np.where(runs.index == 3, np.nan, runs["loss"])),
        "infloss": runs.assign(loss=np.inf), "billions": runs.assign(D=runs["D"] / 1e9),
        "textN": runs.assign(N=runs["N"].astype(str) + "x"), "noloss": runs.drop(columns="loss"),
        "empty": runs.head(0), "two": runs.head(2), "huge": runs.assign(loss=runs["loss"] * 1e3),
        "boolloss": runs.assign(loss=True),
        "dupcol": pd.concat([runs, runs[["loss"]]], axis=1),
    }
    for name, df in tables.items():
        df.to_csv(d / f"{name}.csv", index=False)
    runs.to_csv(d / "semicolon.csv", index=False, sep=";")
    (d / "blank.csv").write_text("")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 10)
    (d / "cands_bad.csv").write_text("kind,N,D\nteleport,1e9,2e10\n")
    (d / "cands_neg.csv").write_text("kind,N,D\nsupervised,-1e9,2e10\n")
    (d / "cands_col.csv").write_text("kind,size,D\nsupervised,1e9,2e10\n")
    (d / "cands_empty.csv").write_text("kind,N,D\n")
    return d


# (argv with {d} for the case's folder, the start of the message that says what to fix)
CASES = [
    (["fit", "{d}/negloss.csv"],
     "column 'loss' (nats/token) must be positive; non"),
    (["fit", "{d}/zeroN.csv"],
     "column 'N' (parameters (count)) must be positive"),
    (["fit", "{d}/nanloss.csv"],
     "column 'loss' (validation cross-entropy) has mis"),
    (["fit", "{d}/onenan.csv"],
     "column 'loss' (validation cross-entropy) has mis"),
    (["fit", "{d}/infloss.csv"],
     "column 'loss' has infinite values at rows [0, 1,"),
    (["fit", "{d}/billions.csv"],
     "column 'D' looks scaled in every row (163.7, 28."),
    (["fit", "{d}/textN.csv"],
     "column 'N' has non-numeric values at rows [0, 1,"),
    (["fit", "{d}/noloss.csv"],
     "run table lacks required column(s) ['loss']; it"),
    (["fit", "{d}/empty.csv"],
     "run table is empty"),
    (["fit", "{d}/two.csv"],
     "a supervised fit needs at least 8 runs, got 2"),
    (["fit", "{d}/blank.csv"],
     "could not read {d}/blank.csv: No columns to pars"),
    (["fit", "{d}/binary.csv"],
     "run table lacks required column(s) ['N', 'D', 'l"),
    (["fit", "{d}/semicolon.csv"],
     "run table lacks required column(s) ['N', 'D', 'l"),
    (["fit", "{d}/huge.csv"],
     "column 'loss' has values up to 3375 (rows [0, 1,"),
    (["fit", "{d}/boolloss.csv"],
     "column 'loss' holds True/False values, not numbe"),
    (["fit", "{d}/dupcol.csv"],
     "column(s) ['loss'] appear more than once in the"),
    (["fit", "nosuchstudy"],
     "run table nosuchstudy does not exist"),
    (["fit", "{d}/runs.csv", "--chains", "0"],
     "need draws >= 10, tune >= 0, chains >= 1 and thi"),
    (["fit", "{d}/runs.csv", "--tune", "-5"],
     "need draws >= 10, tune >= 0, chains >= 1 and thi"),
    (["fit", "{d}/runs.csv", "--sampler", "magic"],
     "argument --sampler: invalid choice: 'magic' (cho"),
    (["fit", "{d}/runs.csv", "--gamma", "maybe"],
     "argument --gamma: invalid choice: 'maybe' (choos"),
    (["fit", "{d}/runs.csv", "--draws", "abc"],
     "argument --draws: invalid int value: 'abc'"),
    (["fit", "{d}/runs.csv", "--seed", "1.5"],
     "argument --seed: invalid int value: '1.5'"),
    (["fit", "{d}/runs.csv", "--exclude", "nonsense_col > 3"],
     "unrecognized arguments: --exclude nonsense_col >"),
    (["fit", "{d}/runs.csv", "--columns", "loss=nope"],
     "column mapping refers to ['nope'], not in the ta"),
    (["fit", "{d}/runs.csv", "--target-accept", "nan"],
     "target_accept must lie in [0.5, 1), got nan"),
    (["fit", "{d}/runs.csv", "--thin", "0"],
     "need draws >= 10, tune >= 0, chains >= 1 and thi"),
    (["predict", CHIN, "--N", "nan", "--D", "2e10"],
     "N and D must be positive finite raw counts"),
    (["predict", CHIN, "--N", "inf", "--D", "2e10"],
     "N and D must be positive finite raw counts"),
    (["predict", CHIN, "--N", "-1e9", "--D", "2e10"],
     "argument --N: expected at least one argument"),
    (["predict", CHIN, "--N", "1e9", "--D", "0"],
     "N and D must be positive finite raw counts"),
    (["predict", CHIN, "--N", "1e9", "--D", "2e10", "--interval", "box"],
     "argument --interval: invalid choice: 'box' (choo"),
    (["predict", CHIN, "--N", "abc", "--D", "2e10"],
     "--N must be numbers like 1e9: could not convert"),
    (["predict", CHIN, "--budget", "nan"],
     "budgets must be positive FLOPs"),
    (["predict", CHIN, "--budget", "-1e21"],
     "argument --budget: expected at least one argumen"),
    (["predict", CHIN, "--target", "-2"],
     "target loss (--target) must be a cross-entropy i"),
    (["predict", CHIN, "--target", "nan"],
     "target loss (--target) must be a cross-entropy i"),
    (["predict", CHIN, "--target", "2.1", "--inference-tokens", "-5"],
     "inference tokens (--inference-tokens) must be a"),
    (["predict", CHIN, "--budget", "1e21", "--inference-tokens", "nan"],
     "inference tokens (--inference-tokens) must be a"),
    (["predict", CHIN, "--target", "2.1", "--prices", "gpu=free"],
     "--prices takes 'default' or key=value pairs with"),
    (["predict", CHIN, "--target", "2.1", "--prices", "train_util=2"],
     "--prices takes 'default' or key=value pairs with"),
    (["predict", CHIN, "--budget", "1e21", "--flops", "7nd"],
     "argument --flops: invalid choice: '7nd' (choose"),
    (["predict", CHIN, "--N", "1e9", "--D", "2e10", "--prob", "nan"],
     "interval probability must lie in (0, 1), got nan"),
    (["predict", CAL, "--N", "1e9", "--D", "2e10"],
     "predict needs a supervised posterior or a distil"),
    (["predict", JOINT, "--N-S", "1e9", "--D-S", "2e10", "--N-T", "7e9"],
     "give the teacher as L_T (its loss) or as N_T and"),
    (["predict", JOINT, "--N-S", "1e9", "--D-S", "2e10", "--L-T", "nan"],
     "teacher loss L_T must be a cross-entropy in nats"),
    (["predict", JOINT, "--N-S", "1e9", "--D-S", "2e10", "--L-T", "-2"],
     "teacher loss L_T must be a cross-entropy in nats"),
    (["predict", JOINT, "--N-S", "1e9", "--D-S", "2e10", "--L-T", "2.3", "2.4"],
     "L_T takes one value or one per student (1), got"),
    (["predict", JOINT, "--N-S", "1e9", "--D-S", "2e10", "--N-T", "7", "--D-T", "2e11"],
     "N or D looks scaled (N < 1e4 or D < 1e6): give r"),
    (["predict", "{d}/runs.csv", "--N", "1e9", "--D", "2e10"],
     "{d}/runs.csv is not a readable posterior (corrup"),
    (["predict", "{d}", "--N", "1e9", "--D", "2e10"],
     "{d} is a folder, not a posterior file (e.g. mode"),
    (["predict", "{d}/binary.csv", "--N", "1e9", "--D", "2e10"],
     "{d}/binary.csv is not a readable posterior (corr"),
    (["diagnose", "{d}/runs.csv"],
     "{d}/runs.csv is not a readable posterior (corrup"),
    (["diagnose", "{d}"],
     "{d} is a folder, not a posterior file (e.g. mode"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--max-tokens-per-param", "200"],
     "--min/--max-tokens-per-param bound the student si"),
    (["plan", JOINT, "--budget", "1e21", "--min-tokens-per-param", "300", "--max-tokens-per-param", "200"],
     "--min-tokens-per-param (300) must be below --max-t"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--prices", "default"],
     "with --prices each --budget is money, and 1e+21 i"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e6", "--prices", "gpus=8"],
     "--prices takes 'default' or key=value pairs with "),
    (["report", JOINT, "--student", "1e9", "--budget", "-5", "--prices", "default", "--out-dir", "{d}"],
     "with --prices each --budget is money, a positive "),
    (["plan", JOINT, "--student", "1e9", "--budget", "nan"],
     "budgets must be positive FLOPs"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "1e21"],
     "each budget once, please: 1e21 is given more tha"),
    (["plan", JOINT, "--student", "1e9", "1e9", "--budget", "1e21"],
     "each student size once, please: 1e9 is given mor"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--students", "0"],
     "n_students must be >= 1, got 0"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--scenario", "free_lunch"],
     "argument --scenario: invalid choice: 'free_lunch"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--backend", "torch"],
     "argument --backend: invalid choice: 'torch' (cho"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--inference-tokens", "1e11", "1e12"],
     "several --inference-tokens compare a chosen stud"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "7e9"],
     "--teacher takes N_T:D_T (e.g. 7e9:1.4e11), N_T:D"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "7e9:L=abc"],
     "--teacher takes N_T:D_T (e.g. 7e9:1.4e11), N_T:D"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "0:2e11"],
     "teacher size must be a raw parameter count >= 1e"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "7e9:200"],
     "teacher tokens must be a raw count >= 1e6 (e.g."),
    (["plan", JOINT, "--budget", "1e21", "--out", "{d}/g.nc"],
     "--out writes the per-draw grid of fixed student"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--draws", "-3"],
     "the number of posterior draws to plan with (--dr"),
    (["plan", CAL, "--student", "1e9", "--budget", "1e21"],
     "plan needs a distillation (joint) posterior (e.g"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--margin", "nan"],
     "the practical-equivalence margin (--margin) must"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--prob", "1"],
     "interval probability must lie in (0, 1), got 1.0"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--scenario", "free_lunch", "--out-dir", "{d}/r"],
     "argument --scenario: invalid choice: 'free_lunch"),
    (["report", JOINT, "--student", "nan", "--budget", "1e21", "--out-dir", "{d}/r"],
     "student size must be a raw parameter count in [1"),
    (["report", JOINT, "--student", "1e9", "--budget", "-1", "--out-dir", "{d}/r"],
     "budget -1 FLOPs cannot train a 1e+09-parameter s"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--students", "-2", "--out-dir", "{d}/r"],
     "n_students must be >= 1, got -2"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--draws", "0", "--out-dir", "{d}/r"],
     "the number of posterior draws to plan with (--dr"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--inference-tokens", "-1", "--out-dir", "{d}/r"],
     "inference tokens (--inference-tokens) must be a"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--stem", "sub/x", "--out-dir", "{d}/r"],
     "--stem names the report's files, not a path: got"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--stem", "", "--out-dir", "{d}/r"],
     "--stem names the report's files, not a path: got"),
    (["report", CAL, "--budget", "1e21", "--out-dir", "{d}/r"],
     "a distillation report compares ways to train one"),
    (["report", CHIN, "--budget", "1e21", "--target", "nan", "--out-dir", "{d}/r"],
     "target loss must be a cross-entropy in nats/toke"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", "{d}/cands_bad.csv"],
     "--candidates {d}/cands_bad.csv, line 2: a candid"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", "{d}/cands_neg.csv"],
     "--candidates {d}/cands_neg.csv, line 2: a candid"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", "{d}/cands_col.csv"],
     "--candidates {d}/cands_col.csv: unknown column(s"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", "{d}/cands_empty.csv"],
     "--candidates {d}/cands_empty.csv: no rows (colum"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", "{d}/nope.csv"],
     "--candidates {d}/nope.csv: no such file"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--most", "0"],
     "--most takes the largest number of runs bought t"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--refit", "3"],
     "refits value a run for a supervised posterior wi"),
    (["pilot", JOINT, "--budget", "1e21"],
     "a distillation posterior's pilot question needs"),
    (["pilot", CHIN, "--budget", "1e21", "--target", "1.0"],
     "target loss 1 nats/token lies below the law's ir"),
    (["pilot", CAL, "--budget", "1e21"],
     "pilot needs a supervised posterior or a distilla"),
    (["pilot", CHIN, "--budget", "1e21", "--inference-tokens", "1e15"],
     "serving 1e+15 tokens"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--draws", "5"],
     "the value of a run needs at least 50 posterior d"),
    (["backtest", "{d}/runs.csv", "--split", "nonsense"],
     "split must be compute:C, loss:L, ratio:R, larges"),
    (["backtest", "{d}/runs.csv", "--split", "largest:0"],
     "can hold out 1 to 29 of the 30 model sizes, not"),
    (["backtest", "{d}/runs.csv", "--split", "ratio:-3"],
     "split 'D/N <= -3' leaves 0 runs to fit on (need"),
    (["backtest", "{d}/runs.csv", "--split", "loss:abc"],
     "bad split 'loss:abc': could not convert string t"),
    (["backtest", "busbridge2025_digitized", "--law", "distillation", "--student-threshold", "9"],
     "--student-threshold 9 keeps 0 of 328 students to"),
    (["backtest", "busbridge2025_digitized", "--law", "distillation", "--teacher-noise", "0"],
     "--teacher-noise is the sd of a teacher's measure"),
    (["backtest", "{d}/runs.csv", "--teacher-noise", "0.001"],
     "--teacher-noise is the sd of a teacher's measure"),
    (["backtest", "{d}/runs.csv", "--size-effect"],
     "--size-effect is an offset per student size in t"),
    (["backtest", "busbridge2025_digitized", "--law", "distillation", "--gamma", "fixed"],
     "--gamma fixed sets a supervised fit's form; the "),
    (["fit", "busbridge2025_digitized", "--law", "distillation", "--gamma", "free"],
     "--gamma free sets a supervised fit's form; the d"),
    (["compare", "{d}/nope.csv"],
     "run table {d}/nope.csv does not exist"),
    (["compare", "{d}/two.csv"],
     "a supervised fit needs at least 8 runs, got 2"),
    (["calibrate", "--seed", "-4"],
     "--seed -4: a seed is a non-negative integer"),
    (["generate", "--small", "--out", "{d}/g2", "--seed", "-1"],
     "--seed -1: a seed is a non-negative integer"),
    (["generate", "--small", "--out", "{d}/g2", "--noise", "0.9"],
     "--noise is the sd of log loss and must lie in [0"),
    (["prior-predictive", "--N", "1e9", "--D", "-2"],
     "N and D must be positive finite raw counts"),
    (["prior-predictive", "--N", "1e9", "--D", "2e10", "--priors", "{d}/binary.csv"],
     "could not parse prior file {d}/binary.csv (JSON,"),
    (["prior-predictive", "--N", "1e9", "--D", "2e10", "--draws", "0"],
     "unrecognized arguments: --draws 0"),
    (["calibrate", "--out", "{d}/cal.nc", "--out-dir", "{d}/runs.csv"], "--out-dir"),
    # os.access says yes to root there; nothing can be written
    (["fit", "{d}/runs.csv", "--out", "/proc/post.nc"], "cannot write in /proc"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--out", "/proc/grid.nc"], "cannot write in /proc"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--out-dir", "/proc/reports"], "cannot write in /proc"),
    (["generate", "--small", "--out", "/sys/synthetic"], "cannot write in /sys"),
    (["calibrate", "--ratio", "--out-dir", "{d}/cal"], "would overwrite the shipped ratio_drift.nc"),
    (["calibrate", "--distillation", "--out-dir", "{d}/cal"], "would overwrite the shipped distillation_error.nc"),
    (["calibrate", "--distillation", "--size-effect", "--paper-form", "--out-dir", "{d}/cal"],
     "would overwrite the shipped distillation_error_size_effect.nc"),
    (["calibrate", "--distillation", "--paper-form", "--out-dir", "{d}/cal"],
     "would overwrite the shipped distillation_error_paper_form.nc"),
    (["calibrate", "--paper-form"], "--size-effect and --paper-form learn the distillation law's error"),
    (["fit", "{d}/runs.csv", "--weak-teacher"], "--weak-teacher extends the distillation law (Eq. 8)"),
    (["backtest", "{d}/runs.csv", "--weak-teacher"], "--weak-teacher extends the distillation law (Eq. 8)"),
    (["fit", "busbridge2025_digitized", "--law", "distillation", "--paper-form", "--weak-teacher"],
     "--paper-form (Eq. 8 as printed) and --weak-teacher"),
    (["calibrate", "--out", CAL], "would overwrite the shipped extrapolation_calibration.nc"),
    (["plan", CAL, "--student", "1e9", "--budget", "1e21"], "an error model"),
    (["predict", "models/ratio_drift.nc", "--N", "1e9", "--D", "2e10"], "an error model"),
    (["report", CAL, "--student", "1e9", "--budget", "1e21", "--out-dir", "{d}/r"], "an error model"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "1e21", "--out-dir", "{d}/r"], "each budget once"),
    (["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "1e21"], "each budget once"),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--stem", "..", "--out-dir", "{d}/r"], "--stem"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "3e9:L=2.3", "3e9:L=2.3"], "given twice"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "3e9:L=0.5"], "irreducible loss E"),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "3e9:2e11:maybe"], "--teacher takes"),
]


def _listing(d):
    return sorted(p.relative_to(d) for p in d.rglob("*"))


def _shipped():
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in SHIPPED]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0])[:70] for c in CASES])
def test_refused_with_exit_2_one_line_and_nothing_written(folder, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(ROOT)
    before, shipped = _listing(folder), _shipped()
    rc = main([a.format(d=folder) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert message.format(d=folder) in err and "Traceback" not in err
    assert _listing(folder) == before and _shipped() == shipped


@pytest.fixture(scope="module")
def fits():
    return {"chin": api.load(ROOT / CHIN), "joint": api.load(ROOT / JOINT), "cal": api.load(ROOT / CAL)}


def _runs():
    return synthetic_supervised(n=30, seed=4)


# Python API: (call on the loaded posteriors, the start of the message)
API_CASES = [
    (lambda f: api.predict(f["chin"], np.full((2, 2), 1e9), np.full((2, 2), 2e10)), "1-D lists of points"),
    (lambda f: api.predict(f["chin"], [10**400], [2e10]), "sizes and tokens must be numbers"),
    (lambda f: api.predict(f["chin"], ["big"], [2e10]), "sizes and tokens must be numbers"),
    (lambda f: api.predict(f["chin"], [1e9], [2e10], prob=1.5), "interval probability"),
    (lambda f: api.predict(f["chin"], [1e9], [2e10], kind="box"), ""),
    (lambda f: api.predict(f["cal"], [1e9], [2e10]), "an error model"),
    (lambda f: api.predict(f["joint"], [1e9], [2e10]), "predict_distillation"),
    (lambda f: api.predict_distillation(f["joint"], N_S=[1e9, 2e9], D_S=2e10, L_T=[2.3, 2.4, 2.5]),
     "one value or one per student"),
    (lambda f: api.predict_distillation(f["joint"], N_S=1e9, D_S=2e10), "give the teacher"),
    (lambda f: api.predict_distillation(f["joint"], N_S=1e9, D_S=2e10, L_T=0.5), "irreducible loss E"),
    (lambda f: api.optimum(f["chin"], [1e40]), "planning box"),
    (lambda f: api.optimum(f["cal"], [1e21]), "an error model"),
    (lambda f: api.plan(f["joint"], [1e9], [1e21], ()), "at least one compute scenario"),
    (lambda f: api.plan(f["joint"], [1e9, 1e9], [1e21]), "each student size once"),
    (lambda f: api.plan(f["joint"], [1e9], [1e21, 1e21]), "each budget once"),
    (lambda f: api.plan(f["joint"], [1e9], [1e21], "free_lunch"), "free_lunch"),
    (lambda f: api.plan(f["cal"], [1e9], [1e21]), "an error model"),
    (lambda f: api.plan(f["chin"], [1e9], [1e21]), "distillation (joint) posterior"),
    (lambda f: api.plan(f["joint"], [1e9], [1e21], teachers=(Teacher(3e9),)), "its tokens"),
    (lambda f: api.plan(f["joint"], [1e9], [1e21], inference_tokens=-1), "inference tokens"),
    (lambda f: api.pilot(f["chin"], Question(student_size=None, budgets=(1e21,), target=1.0)), "irreducible loss E"),
    (lambda f: api.pilot(f["cal"], Question(student_size=None, budgets=(1e21,))), "an error model"),
    (lambda f: api.report(f["joint"], Question(student_size=1e9, budgets=(1e21,)), stem="a/b"), "--stem"),
    (lambda f: api.fit(_runs().assign(loss=True)), "True/False"),
    (lambda f: api.fit(pd.concat([_runs(), _runs()[["loss"]]], axis=1)), "appear more than once"),
    (lambda f: api.fit(_runs().assign(N=_runs()["N"] * 1e290)), "beyond the 1e+17"),
    (lambda f: api.fit(_runs().assign(loss=1e-300)), "no language model's cross-entropy"),
    (lambda f: api.fit(_runs().assign(D=np.where(_runs().index == 2, 1e300, _runs()["D"]))), "rows [2]"),
    (lambda f: api.fit(_runs().head(0)), "empty"),
    (lambda f: api.fit(_runs(), draws=5), "draws"),
]


@pytest.mark.parametrize("call, message", API_CASES, ids=[f"api{i}" for i in range(len(API_CASES))])
def test_python_api_refuses_with_a_bayeslaw_error(fits, call, message):
    with pytest.raises(BayeslawError, match=None) as err:
        call(fits)
    assert message in str(err.value)


def test_the_suite_is_large_enough():
    from tests.test_bad_input import CASES as FIRST_ROUND

    assert len(CASES) + len(API_CASES) + len(FIRST_ROUND) >= 150
