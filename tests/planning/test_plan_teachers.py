"""``plan --teacher`` (issue 26): each given teacher is an option of its own against supervised training, on the
plan's draws, checked against the law and the compute formulas evaluated by hand."""

import json

import numpy as np
import pytest

from bayeslaw import api, decide
from bayeslaw.cli import main
from bayeslaw.core import compute, laws
from bayeslaw.core.errors import InputError
from bayeslaw.decision.pipeline import subsample
from bayeslaw.decision.question import Teacher
from tests.conftest import ROOT

DIGITIZED = ROOT / "models/distillation_busbridge2025_digitized.nc"
N_S, C, DRAWS = 1e9, np.array([1e20, 1e21]), 200


@pytest.fixture(scope="module")
def digitized():
    return api.load(DIGITIZED)


@pytest.fixture(scope="module")
def planned(digitized):
    teachers = (Teacher(3e9, L_T=2.3), Teacher(7e9, D_T=2e12, sunk=True), Teacher(7e10, D_T=2e12))
    grid, summary = api.plan(digitized, [N_S], C, ("teacher_inference", "teacher_pretraining"), max_draws=DRAWS,
                             extrapolation=False, teachers=teachers)
    return teachers, grid, summary


def test_a_measured_teacher_is_eq8_at_the_tokens_its_budget_buys(digitized, planned):
    teachers, grid, _ = planned
    law, _ = subsample(digitized, DRAWS, 0)  # the plan's own subsample (seed 0)
    twin = law.twin()
    for sc in ("teacher_inference", "teacher_pretraining"):
        # a measured teacher exists: only its logits are charged, and only where the scenario charges them
        D_S = C / compute.student_token_flops(N_S, 3e9, sc)
        tilde = laws.supervised_loss(N_S, D_S[None, :], **{k: v[:, None] for k, v in twin.supervised().items()})
        want = laws.distillation_loss(N_S, D_S[None, :], 2.3, tilde,
                                      **{k: v[:, None] for k, v in law.distillation().items()})
        got = grid["L_S_teacher"].sel(teacher=teachers[0].label, student_size=N_S, scenario=sc).values
        np.testing.assert_allclose(got, want, rtol=1e-9)
        np.testing.assert_allclose(grid["D_S_teacher"].sel(teacher=teachers[0].label, scenario=sc).values[:, 0],
                                   np.broadcast_to(D_S, (DRAWS, C.size)), rtol=1e-12)


def test_each_teacher_has_the_verdict_of_its_own_paired_draws(planned):
    teachers, grid, summary = planned
    for t in teachers:
        diff = grid["L_S_teacher"].sel(teacher=t.label) - grid["L_sup"]
        v = decide.verdict(diff, margin=decide.MARGIN, prob=0.9)
        assert (summary["teacher_verdict"].sel(teacher=t.label).values == v["verdict"].values).all()
        np.testing.assert_array_equal(summary["teacher_p_better"].sel(teacher=t.label).values, v["p_better"].values)


def test_a_teacher_whose_pretraining_the_budget_cannot_pay_is_unusable(planned):
    teachers, grid, summary = planned
    big = teachers[2].label  # 7e10 params on 2e12 tokens: ~8.4e23 FLOPs of pretraining
    assert bool(summary["teacher_unaffordable"].sel(teacher=big, scenario="teacher_pretraining").all())
    assert not bool(summary["teacher_unaffordable"].sel(teacher=big, scenario="teacher_inference").any())
    # the same teacher, sunk, is charged nothing for its pretraining in either scenario
    sunk = teachers[1].label
    assert not bool(summary["teacher_unaffordable"].sel(teacher=sunk).any())
    a = grid["D_S_teacher"].sel(teacher=sunk)
    np.testing.assert_allclose(a.sel(scenario="teacher_pretraining").values,
                               (C / (3 * compute.forward_flops_per_token(N_S)))[None, None, :].repeat(DRAWS, 0)
                               .reshape(a.sel(scenario="teacher_pretraining").shape), rtol=1e-9)


def test_plan_teacher_on_the_command_line(capsys):
    rc = main(["plan", str(DIGITIZED), "--student", "1e9", "--budget", "1e20", "--draws", "100", "--teacher",
               "3e9:L=2.3", "--teacher", "7e10:2e12", "--scenario", "teacher_pretraining", "--json"])
    assert rc == 0
    cell = json.loads(capsys.readouterr().out)["result"]["cells"][0]
    by = {t["teacher"]: t for t in cell["teachers"]}
    assert by["existing teacher 3e9 params, L_T 2.300"]["usable"] is True
    assert by["teacher 7e10 params on 2e12 tokens"] == {"teacher": "teacher 7e10 params on 2e12 tokens",
                                                        "verdict": None, "usable": False}
    rc = main(["plan", str(DIGITIZED), "--student", "1e9", "--budget", "1e20", "--draws", "100", "--teacher",
               "3e9:L=2.3"])
    out = capsys.readouterr().out
    assert rc == 0 and "distil from existing teacher 3e9 params, L_T 2.300" in out


def test_bad_teachers_are_refused(digitized):
    with pytest.raises(InputError, match="given twice"):
        api.plan(digitized, [N_S], [1e20], max_draws=10, teachers=(Teacher(3e9, L_T=2.3), Teacher(3e9, L_T=2.3)))
    with pytest.raises(InputError, match="below the law's irreducible loss E"):
        api.plan(digitized, [N_S], [1e20], max_draws=10, teachers=(Teacher(3e9, L_T=0.9),))
    with pytest.raises(InputError, match="raw count"):
        api.plan(digitized, [N_S], [1e20], max_draws=10, teachers=(Teacher(3e9, D_T=200.0),))


def test_every_scenario_has_a_recipe_with_the_laws_error_on(digitized):
    """A best-case teacher has no size or tokens (it is free): the law's error and the tokens-per-parameter drift at
    the teacher must then be nothing, not NaN (it made every best-case cell 'outside the planner's bounds')."""
    _, summary = api.plan(digitized, [3e8, 1e9], [1e20, 1e22], max_draws=50)
    for sc in summary["scenario"].values:
        assert np.isfinite(summary["p_distill_wins"].sel(scenario=sc).values).all(), sc
