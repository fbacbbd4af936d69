"""The command line as a user drives it: outputs, exit codes, and errors that say what to fix."""

import json

import pytest

from bayeslaw.cli import main
from tests.conftest import ROOT, synthetic_supervised

CHIN = str(ROOT / "models/supervised_chinchilla_epoch240.nc")


@pytest.mark.heavy
def test_fit_diagnose_predict_round_trip(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    synthetic_supervised(n=40, seed=2).rename(columns={"loss": "val_loss"}).to_csv(csv, index=False)
    out = tmp_path / "post.nc"
    rc = main(["fit", str(csv), "--columns", "loss=val_loss", "--draws", "600", "--tune", "500",
               "--chains", "2", "--seed", "3", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "90% equal-tailed interval" in text and "diagnostics: PASSED" in text and out.exists()
    assert main(["diagnose", str(out)]) == 0
    assert "RESULT: PASSED" in capsys.readouterr().out
    assert main(["predict", str(out), "--N", "1e9", "--D", "2e10", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)["result"]["prediction"]
    assert payload["interval_prob"] == 0.9 and payload["interval_kind"] == "eti"
    assert payload["loss_new_lower"][0] < payload["loss_mean_median"][0] < payload["loss_new_upper"][0]


@pytest.mark.heavy
def test_failed_fit_exits_nonzero(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    synthetic_supervised(n=30, seed=2).to_csv(csv, index=False)
    rc = main(["fit", str(csv), "--draws", "20", "--tune", "5", "--chains", "2",
               "--out", str(tmp_path / "bad.nc")])
    out = capsys.readouterr().out
    assert rc == 1 and "FAILED its diagnostic gates" in out
    # the same fit as strict JSON: the one envelope, the failure said in it
    rc = main(["fit", str(csv), "--draws", "20", "--tune", "5", "--chains", "2", "--json", "--quiet"])
    payload = json.loads(capsys.readouterr().out, parse_constant=lambda t: (_ for _ in ()).throw(ValueError(t)))
    assert rc == 1 and payload["command"] == "fit" and payload["diagnostics_passed"] is False
    assert payload["result"]["card"]["diagnostics"]["failures"]
    assert main(["diagnose", str(tmp_path / "bad.nc")]) == 1
    assert "RESULT: FAILED" in capsys.readouterr().out
    main(["predict", str(tmp_path / "bad.nc"), "--N", "1e9", "--D", "2e10"])
    assert "WARNING" in capsys.readouterr().out


def test_predict_shipped_and_optimum(capsys):
    assert main(["predict", CHIN, "--budget", "5.76e23", "--interval", "hdi", "--prob", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "80% hdi" in out and "N* 7" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "nope.csv"], "does not exist"),
        (["predict", "nope.nc", "--N", "1e9", "--D", "1e10"], "does not exist"),
        (["predict", CHIN, "--N", "7", "--D", "1.4e12"], "raw counts"),
        (["predict", CHIN, "--N", "abc", "--D", "1e10"], "must be numbers"),
        (["predict", CHIN], "give --N and --D"),
        (["predict", CHIN, "--budget", "100"], "too small to train"),
        (["fit", "chinchilla", "--priors", "missing.toml"], "does not exist"),
        (["fit", "chinchilla", "--columns", "Nparams"], "canonical=theirs"),
    ],
)
def test_bad_input_gets_a_clear_error(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_corrupt_posterior(tmp_path, capsys):
    bad = tmp_path / "x.nc"
    bad.write_text("not a posterior")
    assert main(["diagnose", str(bad)]) == 2
    assert "not a readable posterior" in capsys.readouterr().err


def test_prior_predictive(capsys):
    assert main(["prior-predictive", "--N", "1e9", "--D", "2e10"]) == 0
    out = capsys.readouterr().out
    assert "Prior predictive" in out


def test_help_lists_the_exit_codes(capsys):
    for argv in (["--help"], ["fit", "--help"]):
        assert main(argv) == 0
        assert "exit codes" in capsys.readouterr().out
    # a usage error returns argparse's 2 (and JSON under --json) instead of leaving the interpreter
    assert main(["fit", "--no-such-flag", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["exit_code"] == 2


def test_a_bug_is_a_traceback_not_bad_input(monkeypatch):
    """Only bayeslaw's own errors are bad input (exit 2); anything else surfaces as itself."""
    from bayeslaw import api

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("an internal bug")

    monkeypatch.setattr(api, "load", broken)
    with pytest.raises(ZeroDivisionError):
        main(["diagnose", CHIN])


def _bayeslaw() -> str:
    import shutil
    import sys
    from pathlib import Path

    return shutil.which("bayeslaw") or str(Path(sys.executable).with_name("bayeslaw"))


@pytest.mark.heavy
def test_ctrl_c_exits_130_with_one_line(tmp_path):
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([_bayeslaw(), "fit", "chinchilla", "--draws", "20000", "--out", str(tmp_path / "p.nc")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(6)  # inside the fit by now (imports, compile or sampling)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err.strip().splitlines()[-1]
    assert not (tmp_path / "p.nc").exists()


@pytest.mark.heavy
def test_a_closed_pipe_ends_quietly():
    import subprocess

    proc = subprocess.Popen([_bayeslaw(), "predict", CHIN, "--N", "1e9", "--D", "2e10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # the reader is gone before anything is written, as with `| head` having quit
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "Broken pipe" not in err, err


def test_calibrate_says_what_wider_bands_would_do_and_where_each_study_falls(monkeypatch, capsys, tmp_path):
    # the rendering of `calibrate --loso` (the evaluation itself takes ten minutes: its tables as shipped)
    import numpy as np
    import pandas as pd

    from bayeslaw import api
    from bayeslaw.posterior.extrapolation import load_calibration
    from bayeslaw.validate.calibration import LosoSummary

    rep = ROOT / "reports/calibration"
    tables = LosoSummary(*(pd.read_csv(rep / f) for f in ("loso_summary.csv", "widths.csv", "expected_coverage.csv")))
    monkeypatch.setattr(api, "calibrate", lambda *a, **k: (load_calibration(), tables, {}))
    out_args = ["--out", str(tmp_path / "cal.nc")]  # not the shipped file (nothing is written: the fit is stubbed)
    assert main(["calibrate", "--loso", *out_args]) == 0
    out = capsys.readouterr().out
    first = tables.widths.iloc[0]
    assert f"x1     90% {first['coverage_90']:.3f}" in out
    missed = tables.widths[~tables.widths["all_targets"]]
    assert out.count("misses ") == len(missed) and out.count("every target holds") == len(tables.widths) - len(missed)
    both = float(np.prod(1 - tables.expected["p_below_target"]))
    assert f"all studies >= 0.75 if the population were exactly right: probability {both:.2f}" in out
    assert main(["calibrate", "--loso", "--json", *out_args]) == 0
    res = json.loads(capsys.readouterr().out)["result"]
    assert [w["width"] for w in res["widths"]] == tables.widths["width"].tolist()
    assert {e["study"] for e in res["expected_coverage"]} == set(tables.expected["study"])
    assert isinstance(res["widths"][0]["all_targets"], bool) and len(res["loso"]) == len(tables.scores)
