"""Backtests and model comparison: splits by hand, scores against closed forms, calibration on a known law."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayeslaw.cli import main
from bayeslaw.core.errors import DataError
from bayeslaw.data import splits
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.model.build import build_supervised
from bayeslaw.model.spec import SupervisedSpec
from bayeslaw.validate import backtest, compare, pointfit
from tests.conftest import synthetic_supervised

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons

TINY = pd.DataFrame({"N": [1e8, 1e8, 1e9, 1e9, 1e10], "D": [1e9, 1e10, 1e10, 1e11, 1e11],
                     "loss": [3.0, 2.8, 2.6, 2.4, 2.2]})


def test_splits_by_hand(monkeypatch):
    monkeypatch.setattr(splits, "MIN_TRAIN", 1)
    # 6ND: 6e17, 6e18, 6e19, 6e20, 6e21
    sp = splits.by_compute(TINY, 1e20)
    assert sp.train.tolist() == [True, True, True, False, False] and sp.test.tolist() == [False, False, False, True,
                                                                                         True]
    assert splits.by_loss(TINY, 2.5).train.tolist() == [True, True, True, False, False]
    assert splits.largest(TINY, 1).test.tolist() == [False, False, False, False, True]
    assert splits.largest(TINY, 2).test.tolist() == [False, False, True, True, True]
    roll = splits.rolling(TINY, [1e19, 1e21])
    assert [int(s.train.sum()) for s in roll] == [2, 4]
    assert [s.label for s in splits.parse("rolling:1e19,1e21", TINY)] == ["6ND < 1e+19", "6ND < 1e+21"]


def test_bad_splits_say_what_to_fix():
    with pytest.raises(DataError, match="runs to fit on"):
        splits.by_compute(TINY, 1e20)  # 3 runs < MIN_TRAIN
    with pytest.raises(DataError, match="compute:C, loss:L"):
        splits.parse("future:1", TINY)
    with pytest.raises(DataError, match="bad split"):
        splits.parse("compute:lots", TINY)
    with pytest.raises(DataError, match="model sizes"):
        splits.largest(TINY, 3)


def test_crps_against_hand_and_closed_form():
    assert backtest.crps(np.array([[0.0], [1.0]]), np.array([0.0]))[0] == pytest.approx(0.25)
    x = np.random.default_rng(0).standard_normal((20000, 1))
    y = 0.3
    closed = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / np.sqrt(np.pi)
    assert backtest.crps(x, np.array([y]))[0] == pytest.approx(closed, abs=0.01)


def test_score_runs_by_hand():
    draws = np.log(np.linspace(2.0, 3.0, 101))[:, None] * np.ones((1, 2))  # predictive uniform-ish on [2, 3]
    obs = np.array([2.5, 2.97])
    ll = np.zeros((101, 2))
    r = backtest.score_runs(obs, draws, ll)
    assert r["median"].tolist() == pytest.approx([2.5, 2.5])
    assert r["rel_error"].tolist() == pytest.approx([0.0, 0.47 / 2.97])
    assert r["in50"].tolist() == [1.0, 0.0] and r["in90"].tolist() == [1.0, 0.0]
    assert r["lpd"].tolist() == pytest.approx([0.0, 0.0])


@pytest.mark.slow  # hundreds of L-BFGS-B starts; CI runs the slow tier
def test_point_fit_recovers_a_noise_free_law():
    df = synthetic_supervised(n=60, seed=3, noise=0.0)
    p = pointfit.fit_supervised(df["N"], df["D"], df["loss"], starts=pointfit.epoch_grid()[::45])
    assert p.E == pytest.approx(1.8, rel=1e-3) and p.alpha == pytest.approx(0.35, rel=1e-3)
    assert p.beta == pytest.approx(0.37, rel=1e-3)


def test_backtest_on_a_known_law_is_calibrated():
    # a correctly specified law: the held-out runs' intervals must cover about nominally
    df = synthetic_supervised(n=160, seed=11, noise=0.01)
    sp = splits.by_compute(df, np.quantile(6 * df["N"] * df["D"], 0.75))
    # 120 noisy runs: at the default target_accept 0.9 the fit meets 2 divergences (and says so)
    bt = backtest.backtest_supervised(df, [sp], seed=5, baseline_starts=100,
                                      sampler=SamplerConfig(target_accept=0.95))
    s = bt.summary.set_index("method")
    assert bt.fits["diagnostics_passed"].all()
    assert s.loc["bayeslaw", "n_test"] == 40
    # 40 runs: a 90% interval covers 36 on average, sd 1.9
    assert 0.75 <= s.loc["bayeslaw", "coverage90"] <= 1.0
    assert 0.3 <= s.loc["bayeslaw", "coverage50"] <= 0.7
    # both estimators are consistent here: similar median error, at the noise level (1%)
    assert s.loc["bayeslaw", "rel_error_median"] < 0.015
    assert s.loc["bayeslaw", "rel_error_median"] == pytest.approx(s.loc["Huber + L-BFGS-B (point)",
                                                                      "rel_error_median"], rel=0.3)
    assert np.isfinite(s.loc["bayeslaw", "lpd"]) and np.isnan(s.loc["Huber + L-BFGS-B (point)", "lpd"])


def test_compare_prefers_student_t_when_runs_have_outliers():
    df = synthetic_supervised(n=80, seed=4, noise=0.005)
    bumped = df.copy()
    bumped.loc[::16, "loss"] *= 1.06  # five runs 6% off the law
    res = compare.compare_supervised(
        bumped, variants={"t": {"likelihood": "student_t"}, "normal": {"likelihood": "normal"}}, seed=2)
    assert res.table.index[0] == "t" and res.n_common == 80
    assert float(res.table.loc["normal", "elpd_diff"]) < -10


def test_cli_backtest_writes_tables_and_plot(tmp_path, capsys):
    df = synthetic_supervised(n=120, seed=8, noise=0.01)
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    cut = float(np.quantile(6 * df["N"] * df["D"], 0.7))
    rc = main(["backtest", str(path), "--split", f"compute:{cut}", "--seed", "1", "--target-accept", "0.95",
               "--no-baseline", "--out-dir", str(tmp_path / "out"), "--stem", "bt", "--json"])
    payload = json.loads(capsys.readouterr().out, parse_constant=_strict)
    assert rc == 0 and payload["command"] == "backtest"
    scores = payload["result"]["scores"]
    assert scores[0]["n_heldout"] == 36 and scores[0]["fit_passed_gates"] is True
    assert set(scores[0]) >= {"split", "method", "n_heldout", "median_rel_error", "coverage_50", "coverage_90",
                              "crps", "lpd", "fit_passed_gates"}
    # what a right predictive would see on these 36 runs; no point fit, so no bootstrap against it
    s = scores[0]
    assert 0 <= s["coverage90_if_right_5pct"] < 0.9 < s["coverage90_if_right_95pct"] <= 1
    assert 0 < s["coverage90_p_value"] <= 1 and 0 < s["coverage90_target_chance"] < 1
    assert s["p_median_error_at_or_below_point"] is None
    for k in ("per_run", "summary", "fits", "plot"):
        assert (tmp_path / "out" / f"bt{'' if k == 'plot' else '_' + ('runs' if k == 'per_run' else k)}"
                f"{'.png' if k == 'plot' else '.csv'}").exists()
    assert main(["backtest", str(path), "--split", "compute:1e3", "--out-dir", str(tmp_path / "x")]) == 2
    assert "runs to fit on" in capsys.readouterr().err


@pytest.mark.slow  # a dozen refits of inner splits (about a minute)
def test_extrapolation_error_is_learned_from_the_training_runs_only():
    clean = synthetic_supervised(n=150, seed=21, noise=0.005)
    # the same runs with a law that drifts: +1% per decade of compute above 1e19 FLOPs
    drift = clean.copy()
    decades = np.maximum(0, np.log10(6 * drift["N"] * drift["D"] / 1e19))
    drift["loss"] *= 1 + 0.01 * decades
    spec, cfg = SupervisedSpec(), SamplerConfig(draws=500)
    compiled = CompiledSampler(build_supervised(spec, clean), cfg)
    tau_clean = backtest.calibrate_extrapolation(clean, compiled, spec, cfg, seed=3)
    tau_drift = backtest.calibrate_extrapolation(drift, compiled, spec, cfg, seed=3)
    def sd_at_one_decade(cal):
        return float(backtest.extrapolation_sd(cal["edge_mean"], cal["tau_mean"], 1.0))

    assert sd_at_one_decade(tau_clean) < 0.005  # a correct law: little error beyond the fitted runs
    assert sd_at_one_decade(tau_drift) > 2 * sd_at_one_decade(tau_clean)
    assert tau_clean["weights"].sum() == pytest.approx(1.0)
    assert float(backtest.extrapolation_sd(0.01, 0.02, 0.0)) == 0.0  # nothing inside the fitted range
    # by hand: fitted up to N = 1e9 and 6ND = 6e19; N = 1e10 on 1e10 tokens is one decade beyond in both
    assert backtest.decades_beyond(TINY.iloc[:3], [1e10, 1e8], [1e10, 1e9]).tolist() == pytest.approx([1.0, 0.0])


def _strict(token: str):
    raise ValueError(f"strict JSON has no {token}")
