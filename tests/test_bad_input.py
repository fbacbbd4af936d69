"""A user's mistakes, as a table: each is refused with exit code 2, a message that says what to fix,
no traceback, and nothing written. No case fits a model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.core.errors import BayeslawError, DataError, InputError
from bayeslaw.data.tables import load_shipped
from tests.conftest import ROOT, synthetic_supervised

CHIN = str(ROOT / "models/supervised_chinchilla_epoch240.nc")
JOINT = str(ROOT / "models/distillation_SYNTHETIC_paper_design.nc")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    runs = synthetic_supervised(n=30, seed=4)
    runs.to_csv(d / "runs.csv", index=False)
    # perplexities of 1e8-1e9-parameter models: all below 20, so only the sizes give them away
    ppl = pd.DataFrame({"N": np.geomspace(1e8, 1e9, 12), "D": np.geomspace(2e9, 2e10, 12),
                        "loss": np.linspace(19.6, 9.6, 12)})
    ppl.to_csv(d / "perplexity.csv", index=False)
    pd.concat([runs, runs.iloc[:3]]).to_csv(d / "duplicates.csv", index=False)
    runs.rename(columns={"N": "params"}).to_csv(d / "params.csv", index=False)
    (d / "folder").mkdir()
    (d / "a_file").write_text("not a folder")
    (d / "corrupt.nc").write_text("not a posterior")
    students = load_shipped("busbridge2025_digitized").drop(columns="teacher_id").head(60)
    students.assign(L_T=np.where(students.index == 5, np.nan, students["L_T"])).to_csv(d / "teacher_nan.csv",
                                                                                         index=False)
    students.to_csv(d / "students.csv", index=False)
    students[students["N_S"] == students["N_S"].iloc[0]].to_csv(d / "one_size.csv", index=False)
    # prior files a hostile user writes (issue 26; lam = 0 segfaulted the sampler)
    priors = {"lam0.json": '{"sigma": {"dist": "Exponential", "kwargs": {"lam": 0}}}',
              "string.json": '{"alpha": {"dist": "LogNormal", "kwargs": {"mu": "a", "sigma": 0.1}}}',
              "list.json": '{"alpha": {"dist": "LogNormal", "kwargs": [1, 2]}}',
              "nodist.json": '{"alpha": {"kwargs": {"mu": 0, "sigma": 1}}}',
              "nosigma.json": '{"alpha": {"dist": "LogNormal", "kwargs": {"mu": -1}}}',
              "gamma.json": '{"sigma": {"dist": "Gamma", "kwargs": {"alpha": -1, "beta": 1}}}',
              "uniform.json": '{"alpha": {"dist": "Uniform", "kwargs": {"lower": 1, "upper": 0}}}',
              "notamapping.json": '{"alpha": 3}'}
    for name, text in priors.items():
        (d / name).write_text(text)
    (d / "binary.json").write_bytes(bytes(range(256)))
    (d / "priors_dir").mkdir()
    return d


# (argv with {d} for the files folder, message fragment, paths under {d} that must not exist afterwards)
CASES = [
    (["fit", "{d}/nope.csv"], "does not exist", []),
    (["fit", "{d}/perplexity.csv", "--out", "{d}/p.nc"], "looks like perplexity", ["p.nc"]),
    (["fit", "{d}/duplicates.csv", "--out", "{d}/p.nc"], "repeat an earlier run exactly", ["p.nc"]),
    (["fit", "chinchilla", "--columns", "N=params"], "shipped table with its own column mapping", []),
    (["fit", "{d}/params.csv", "--columns", "N=params,N=size"], "maps N twice", []),
    (["fit", "{d}/params.csv", "--columns", "N=params,D=params"], "maps several canonical columns", []),
    (["fit", "{d}/runs.csv", "--columns", "Nparams"], "canonical=theirs", []),
    (["fit", "{d}/runs.csv", "--out", "{d}/folder"], "is a folder", []),
    (["fit", "{d}/runs.csv", "--out", "{d}/a_file/post.nc"], "is a file, not a folder", []),
    (["fit", "{d}/runs.csv", "--draws", "5"], "draws >= 10", []),
    (["fit", "{d}/runs.csv", "--target-accept", "1.5"], "target_accept must lie", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/missing.toml"], "does not exist", []),
    (["fit", "{d}/runs.csv", "--law", "distillation"], "lacks required column(s) ['N_S', 'D_S', 'L_S']", []),
    (["fit", "{d}/students.csv", "--law", "distillation", "--preset", "weak", "--out", "{d}/p.nc"],
     "without supervised runs the supervised law must come from the busbridge2025 preset", ["p.nc"]),
    (["fit", "{d}/teacher_nan.csv", "--law", "distillation", "--out", "{d}/p.nc"], "NaN values at rows [5]",
     ["p.nc"]),
    (["fit", "busbridge2025_digitized"], "shipped distillation table, not a supervised one", []),
    (["fit", "busbridge2025_digitized", "--law", "distillation", "--teacher-noise", "0"], "teacher_noise", []),
    (["fit", "{d}/runs.csv", "--size-effect", "--out", "{d}/p.nc"], "--law distillation only", ["p.nc"]),
    (["fit", "{d}/one_size.csv", "--law", "distillation", "--size-effect", "--out", "{d}/p.nc"],
     "needs students of at least two sizes", ["p.nc"]),
    (["calibrate", "--size-effect", "--out", "{d}/e.nc"], "give them with --distillation", ["e.nc"]),
    (["calibrate", "--no-lean", "--distillation", "--out", "{d}/e.nc"], "without --distillation and --ratio",
     ["e.nc"]),
    (["backtest", "busbridge2025_digitized", "--law", "distillation", "--student-threshold", "2.2",
      "--out-dir", "{d}/bt"], "keeps 328 of 328 students", ["bt"]),
    (["predict", CHIN, "--N", "1e9"], "give --N and --D together", []),
    (["predict", CHIN, "--N", "1e9", "2e9", "3e9", "--D", "1e10", "2e10"], "same length", []),
    (["predict", CHIN, "--N", "7", "--D", "1.4e12"], "raw counts", []),
    (["predict", CHIN, "--N", "1e9", "--D", "2e10", "--prob", "1.5"], "(0, 1)", []),
    (["predict", CHIN, "--N", "1e9", "--D", "2e10", "--prob", "0"], "(0, 1)", []),
    (["predict", CHIN, "--budget", "100"], "too small to train", []),
    (["predict", CHIN, "--N-S", "1e9", "--D-S", "1e10", "--L-T", "2"], "this posterior is supervised", []),
    (["predict", JOINT, "--N", "1e9", "--D", "2e10"], "distillation (joint) one", []),
    (["predict", JOINT, "--N-S", "5e8", "--D-S", "1e10", "--L-T", "25"], "cross-entropy", []),
    (["predict", JOINT, "--L-T", "2.3"], "give the student", []),
    # losses no model reaches: below the law's irreducible E in >= 95% of the draws (issue 25)
    (["predict", JOINT, "--N-S", "5e8", "--D-S", "1e10", "--L-T", "0.9"], "below the law's irreducible loss E", []),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "7e9:L=0.8", "--out-dir", "{d}/r1"],
     "below the law's irreducible loss E", ["r1"]),
    (["report", CHIN, "--budget", "1e21", "--target", "1.2", "--out-dir", "{d}/r2"],
     "below the law's irreducible loss E", ["r2"]),
    (["predict", "{d}/corrupt.nc", "--N", "1e9", "--D", "2e10"], "not a readable posterior", []),
    (["diagnose", "{d}/nope.nc"], "does not exist", []),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--prob", "0"], "(0, 1)", []),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--draws", "0"], "--draws", []),
    (["plan", JOINT, "--student", "1", "--budget", "1e21"], "raw parameter counts", []),
    (["plan", CHIN, "--student", "1e9", "--budget", "1e21"], "distillation (joint) posterior", []),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--out", "{d}/folder"], "is a folder", []),
    (["report", JOINT, "--student", "1e9", "--budget", "1e40", "--out-dir", "{d}/r"], "beyond the planning box",
     ["r"]),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--target", "30", "--out-dir", "{d}/r"],
     "cross-entropy", ["r"]),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--out-dir", "{d}/a_file"], "is a file", []),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "7e9:lots", "--out-dir", "{d}/r"],
     "N_T:D_T", ["r"]),
    (["report", JOINT, "--budget", "1e21", "--out-dir", "{d}/r"], "give its size (--student)", ["r"]),
    (["report", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher-cap", "-3", "--out-dir", "{d}/r"],
     "--teacher-cap", ["r"]),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--margin", "-0.1"], "--margin", []),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher-cap", "0"], "--teacher-cap", []),
    (["compare", "{d}/runs.csv", "--exclude", "loss >>> 3"], "--exclude", []),
    (["generate", "--out", "{d}/a_file"], "is a file", []),
    (["generate", "--out", "{d}/a_file/sub"], "is a file, not a folder", []),
    (["prior-predictive", "--N", "7", "--D", "2e10"], "raw counts", []),
    (["backtest", "{d}/runs.csv", "--split", "compute:1e30", "--out-dir", "{d}/bt"], "holds out no runs", ["bt"]),
    # issue 26: seeds, thinning, generator settings, outputs that would destroy an input, abbreviations
    (["predict", CHIN, "--N", "1e9", "--D", "2e10", "--seed", "-1"], "a seed is a non-negative integer", []),
    (["fit", "{d}/runs.csv", "--thin", "200", "--out", "{d}/p.nc"], "keeps 5 of 1000 draws per chain", ["p.nc"]),
    (["fit", "{d}/runs.csv", "--out", "{d}/runs.csv"], "is the run table this command reads", []),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e20", "--out", JOINT], "is the posterior this command reads",
     []),
    (["generate", "--noise", "-1", "--out", "{d}/g", "--small"], "must lie in [0, 0.5]", ["g"]),
    (["generate", "--noise", "nan", "--out", "{d}/g", "--small"], "must lie in [0, 0.5]", ["g"]),
    (["generate", "--noise", "1e300", "--out", "{d}/g", "--small"], "must lie in [0, 0.5]", ["g"]),
    (["generate", "--eval-noise", "-1", "--out", "{d}/g", "--small"], "--eval-noise is the sd", ["g"]),
    (["generate", "--outlier-df", "0", "--out", "{d}/g", "--small"], "must be positive", ["g"]),
    (["generate", "--out", str(ROOT / "data/synthetic"), "--small"], "holds the shipped SYNTHETIC tables", []),
    (["plan", JOINT, "--budget", "1e20", "--teacher", "7e9:L=0.8"], "measured loss of existing teacher", []),
    (["plan", JOINT, "--student", "1e9", "--budget", "1e20", "--teacher", "7e9:2e12:sunk", "--teacher-ca", "3"],
     "unrecognized arguments: --teacher-ca", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/lam0.json"], "Exponential lam must be positive", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/string.json"], "kwargs must be numbers", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/list.json"], "kwargs must be a mapping", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/nodist.json"], 'lacks "dist"', []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/nosigma.json"], "LogNormal needs ['sigma']", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/gamma.json"], "Gamma alpha must be positive", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/uniform.json"], "lower (1.0) must lie below upper", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/notamapping.json"], "a prior is a mapping", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/binary.json"], "could not parse prior file", []),
    (["fit", "{d}/runs.csv", "--priors", "{d}/priors_dir"], "is not a file", []),
    # no inf or nan as a result: budgets and points outside the planning box are refused
    (["predict", CHIN, "--budget", "1e40"], "lies beyond the planning box", []),
    (["predict", CHIN, "--budget", "1e35"], "lies beyond the planning box", []),
    (["predict", CHIN, "--budget", "1e13"], "too small to train any model", []),
    (["predict", CHIN, "--N", "1e300", "--D", "1e300"], "beyond the planning box", []),
    (["report", CHIN, "--budget", "1e33", "--out-dir", "{d}/rep"], "sweeps up to 100x", ["rep"]),
]


@pytest.mark.parametrize("argv, message, unwritten", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_refused_with_exit_2_and_nothing_written(files, capsys, argv, message, unwritten):
    rc = main([a.format(d=files) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert message in err and "Traceback" not in err
    for name in unwritten:
        assert not (files / name).exists()


def test_shipped_tables_and_inputs_are_untouched_by_refused_outputs(files, capsys):
    shipped = ROOT / "data/synthetic/SYNTHETIC_paper_design_distillation.csv"
    before = shipped.read_bytes()
    assert main(["generate", "--out", str(shipped.parent), "--small"]) == 2
    assert shipped.read_bytes() == before
    runs = (files / "runs.csv").read_bytes()
    assert main(["fit", str(files / "runs.csv"), "--out", str(files / "runs.csv")]) == 2
    assert (files / "runs.csv").read_bytes() == runs


def test_repeated_teachers_are_all_kept():
    from bayeslaw.cli import build_parser

    args = build_parser().parse_args(["report", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "2e9:4e10",
                                      "--teacher", "7e9:2e12:sunk", "1e10:L=2.1"])
    assert args.teacher == ["2e9:4e10", "7e9:2e12:sunk", "1e10:L=2.1"]


def test_json_errors_are_json(files, capsys):
    assert main(["predict", CHIN, "--N", "7", "--D", "1e10", "--json"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["exit_code"] == 2 and "raw counts" in payload["error"] and payload["command"] == "predict"


def test_python_api_mistakes_are_bayeslaw_errors():
    joint, chin = api.load(JOINT), api.load(CHIN)
    with pytest.raises(InputError, match="predict_distillation"):
        api.predict(joint, [1e9], [2e10])
    with pytest.raises(InputError, match="at least one"):
        api.plan(joint, [1e9], [])
    with pytest.raises(DataError, match="not NoneType"):
        api.fit(None)
    with pytest.raises(InputError, match="same length"):
        api.predict(chin, [1e9, 2e9], [1e10, 2e10, 3e10])
    # a scenario given as a string is one scenario, not its letters
    _, summary = api.plan(joint, [1e9], [1e21], "best_case", max_draws=4)
    assert list(summary["scenario"].values) == ["best_case"]
    assert issubclass(DataError, BayeslawError)
