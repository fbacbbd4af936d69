"""A distilled prediction says how far beyond the fitted students it lies: size, tokens, tokens per parameter,
loss and teacher strength (issue 25), and reports carry the in-table backtests' coverage."""

import csv

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.core.fmt import sci
from bayeslaw.decision.caveats import (
    ABOUT_90,
    CHANCE,
    DISTILLATION_BACKTEST,
    REACH,
    VALIDATION,
    distillation_backtest_caveat,
)
from bayeslaw.posterior import reach
from bayeslaw.posterior.extrapolation import WITH_STUDENT_ERROR
from tests.conftest import ROOT

DIGITIZED = ROOT / "models/distillation_busbridge2025_digitized.nc"


@pytest.fixture(scope="module")
def digitized():
    return api.load(DIGITIZED)


def test_the_fitted_students_span_is_read_from_the_fit(digitized):
    span = reach.fitted_students(digitized)
    rng = digitized.card["data"]["range"]
    assert (span.loss, span.teacher_loss) == (rng["L_S"][0], rng["L_T"][0])
    assert span.size == pytest.approx(rng["N_S"][1]) and span.tokens == pytest.approx(rng["D_S"][1])
    assert reach.fitted_students(api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")) is None


def test_student_reach_by_hand():
    span = reach.FittedStudents(size=2e9, tokens=1e11, tokens_per_param=200.0, loss=2.3, teacher_loss=1.9)
    r = reach.student_reach(span, [1e9, 4e10], [2e11, 1e11], [2.2, 2.4], [1.8, 2.0])
    assert r["size_factor"].tolist() == pytest.approx([0.5, 20.0])
    assert r["token_factor"].tolist() == pytest.approx([2.0, 1.0])
    assert r["tokens_per_param_factor"].tolist() == pytest.approx([1.0, 2.5 / 200])
    assert r["loss_below"].tolist() == pytest.approx([1 - 2.2 / 2.3, 0.0])
    assert r["teacher_loss_below"].tolist() == pytest.approx([1 - 1.8 / 1.9, 0.0])
    inside = {k: float(v[1]) for k, v in r.items()} | {"size_factor": 1.0}
    assert reach.describe_student("x", inside) is None
    assert "4.3% below the lowest fitted student loss" in reach.describe_student("x", {k: float(v[0]) for k, v in
                                                                                      r.items()})


def test_a_prediction_below_the_fitted_students_names_how_far(digitized):
    ds = api.predict_distillation(digitized, N_S=[5e8, 1e9], D_S=[1e10, 2e11], L_T=[2.3, 1.8], seed=1)
    assert float(ds["below_student_loss"][0]) == 0.0 and float(ds["below_teacher_loss"][0]) == 0.0
    assert float(ds["below_student_loss"][1]) > 0.01 and float(ds["below_teacher_loss"][1]) == pytest.approx(
        1 - 1.8 / reach.fitted_students(digitized).teacher_loss)
    caveats = api.prediction_caveats(digitized, prediction=ds)
    student = [c for c in caveats if c.kind == REACH and "distilled student" in str(c)]
    assert len(student) == 1 and "N_S=1e+09" in str(student[0]) and "N_S=5e+08" not in str(student[0])


def test_reports_carry_the_in_table_backtests_coverage(tmp_path):
    with DISTILLATION_BACKTEST.open() as f:
        rows = [r for r in csv.DictReader(f) if r["method"] == WITH_STUDENT_ERROR]
    c = distillation_backtest_caveat()
    assert c.kind == VALIDATION and len(rows) >= 2
    for r in rows:
        n = int(float(r["n_test"]))
        assert f"90% bands held {round(float(r['coverage90']) * n)} of {n}" in str(c)
    stated = all(ABOUT_90[0] <= float(r["coverage90"]) <= ABOUT_90[1] or float(r["coverage90_p_value"]) >= CHANCE
                 for r in rows)
    assert ("held about their stated rate" in str(c)) == stated
    # a table whose bands held too little says so, and falls back to the law's bands without a learned error
    head = "split,method,n_test,rel_error_median,rel_error_mean,coverage50,coverage90,crps,lpd\n"
    (tmp_path / "s.csv").write_text(head + "L_S >= 2.4,bayeslaw,65,0.004,0.004,0.0,0.0923,0.008,105\n")
    old = str(distillation_backtest_caveat(tmp_path / "s.csv"))
    assert "were over-confident" in old and "90% bands held 6 of 65 (9%)" in old
    # outside 80-95%: wider than needed where a right band rarely strays that far, chance where it often does
    head2 = head.rstrip("\n") + ",coverage90_p_value\n"
    (tmp_path / "w.csv").write_text(head2 + "L_S >= 2.35,bayeslaw,40,0.002,0.002,0.5,1.0,0.004,150,0.031\n"
                                    + "L_S >= 2.4,bayeslaw,65,0.002,0.002,0.5,0.9,0.004,150,0.9\n")
    wide = str(distillation_backtest_caveat(tmp_path / "w.csv"))
    assert "wider than they needed to be" in wide and "strays" not in wide
    (tmp_path / "c.csv").write_text(head2 + "L_S >= 2.35,bayeslaw,40,0.002,0.002,0.5,0.975,0.004,150,0.2\n"
                                    + "L_S >= 2.4,bayeslaw,65,0.002,0.002,0.5,0.9,0.004,150,0.9\n")
    chance = str(distillation_backtest_caveat(tmp_path / "c.csv"))
    assert "held about their stated rate" in chance
    assert "L_S >= 2.35's 39 of 40 lies as far from 90% as a band exactly right strays on that many students with " \
           "probability 0.20;" in chance and "L_S >= 2.4's" not in chance  # only splits outside 80-95%
    # a split fit that failed its gates is named (the fits table beside the summary)
    (tmp_path / "c_fits.csv").write_text("split,diagnostics_passed\nL_S >= 2.5,False\nL_S >= 2.4,True\n")
    (tmp_path / "c_summary.csv").write_text((tmp_path / "c.csv").read_text())
    failed = str(distillation_backtest_caveat(tmp_path / "c_summary.csv"))
    assert "the L_S >= 2.5 split's fit failed its gates" in failed and "2.4 split's fit failed" not in failed
    assert "failed its gates" not in chance
    missing = distillation_backtest_caveat(ROOT / "no_such_file.csv")
    assert missing.kind == VALIDATION and "not been backtested" in str(missing)
    assert np.isfinite(float(rows[0]["coverage90"]))


def test_a_long_warning_counts_every_student_and_names_the_first_few():
    notes = [f"student {i}" for i in range(8)]
    w = reach.student_warning(notes, most=6)
    assert w.startswith("8 distilled student(s)") and "student 5; and 2 more" in w and "student 6" not in w
    assert reach.student_warning(notes[:3], most=6).endswith("student 0; student 1; student 2")
    assert reach.warning(notes, most=6).startswith("8 prediction(s)") and w.endswith("; and 2 more")


def test_a_prediction_far_below_the_fitted_runs_is_named_too():
    chin = api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")
    scale = reach.fitted_scale(chin)
    assert 0 < scale.smallest_size < scale.size and 0 < scale.smallest_compute < scale.compute
    ds = api.predict(chin, [1e5, 1e9], [2e6, 2e10])
    said = [str(c) for c in api.prediction_caveats(chin, prediction=ds) if c.kind == REACH]
    assert len(said) == 1 and "N=1e+05" in said[0] and "x the smallest fitted model" in said[0]
    assert "N=1e+09" not in said[0]  # inside the fitted runs: nothing to say
    # by hand: 1e5 against the smallest fitted model, 6ND against the smallest fitted run
    note = reach.describe_below("x", scale, 1e5, 2e6)
    assert f"{sci(1e5 / scale.smallest_size)}x the smallest fitted model" in note
    assert f"{sci(6 * 1e5 * 2e6 / scale.smallest_compute)}x the smallest fitted run's compute" in note
    assert reach.describe_below("x", scale, scale.smallest_size, 1e12) is None


def test_a_student_on_fewer_tokens_per_parameter_than_any_fitted_one_is_named(digitized):
    span = reach.fitted_students(digitized)
    assert 0 < span.fewest_tokens_per_param < span.tokens_per_param
    r = reach.student_reach(span, [1e9, 1e9], [span.fewest_tokens_per_param * 1e9, 4e9], [2.5, 2.5], [2.3, 2.3])
    assert r["tokens_per_param_below"][0] == pytest.approx(0.0, abs=1e-12)
    assert r["tokens_per_param_below"][1] == pytest.approx(1 - 4.0 / span.fewest_tokens_per_param)
    note = reach.describe_student("x", {k: float(v[1]) for k, v in r.items()})
    assert "fewest tokens per parameter" in note
