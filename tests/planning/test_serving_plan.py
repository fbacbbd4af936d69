"""Serving-aware distillation planning (issue 27): the lifetime budget pays the student's serving first; the
student size as a choice; with no demand, today's outputs exactly."""

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.core import compute
from bayeslaw.core.errors import InputError
from bayeslaw.core.params import Laws
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.decision.free_size import NO_RECIPE, SIZES, SUPERVISED, free_size
from bayeslaw.decision.pipeline import decision_draws
from bayeslaw.planning.grid import plan_grid
from bayeslaw.planning.optima import drift_penalty
from bayeslaw.posterior.extrapolation import resolve_calibration
from bayeslaw.validate import slsqp
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy  # planner grids over 1000 posterior draws

SUP, DIS = paper_coefficients()
POINT = Laws.from_points(SUP, DIS)
DIGITIZED = ROOT / "models/distillation_busbridge2025_digitized.nc"


@pytest.fixture(scope="module")
def digitized():
    return api.load(DIGITIZED)


@pytest.mark.parametrize("scenario", ["teacher_inference", "teacher_pretraining", "pretraining_inference"])
@pytest.mark.parametrize("N_S, C, T", [(1e9, 1e22, 1e12), (3e8, 1e21, 1e12), (1e9, 1e23, 1e13)])
def test_serving_in_the_budget_matches_slsqp(scenario, N_S, C, T):
    """The planner's reduction (budget minus serving) against SLSQP with serving inside the budget constraint."""
    got = plan_grid(POINT, [N_S], [C], (scenario,), serving_tokens=T, teacher_cap=None)
    ref, _ = slsqp.optimum({**SUP, **DIS}, N_S, C, scenario, serving_tokens=T)
    assert float(got["L_S"].values.ravel()[0]) == pytest.approx(ref, abs=1e-3)
    left = C - compute.forward_flops_per_token(N_S) * T
    assert float(got["training_budget"].values.ravel()[0]) == pytest.approx(left, rel=1e-12)
    # the supervised student trains on what serving leaves
    same = plan_grid(POINT, [N_S], [left], (scenario,), teacher_cap=None)
    assert float(got["L_sup"].values.ravel()[0]) == float(same["L_sup"].values.ravel()[0])


def test_no_demand_is_todays_plan(digitized):
    a = api.plan(digitized, [1e9], [1e21, 1e22], ("teacher_inference",), max_draws=200)
    b = api.plan(digitized, [1e9], [1e21, 1e22], ("teacher_inference",), max_draws=200, inference_tokens=0.0)
    for k in ("L_S", "L_sup", "diff", "D_S", "N_T"):
        np.testing.assert_array_equal(a[0][k].values, b[0][k].values)
    assert (a[1]["verdict"].values == b[1]["verdict"].values).all()


def test_serving_that_leaves_nothing_is_refused(digitized):
    with pytest.raises(InputError, match="leaves too little"):
        api.plan(digitized, [1e9], [1e20], ("teacher_inference",), max_draws=50, inference_tokens=1e13)


@pytest.fixture(scope="module")
def chosen(digitized):
    return free_size(digitized, [1e21, 1e22, 1e23], ("teacher_inference",),
                     inference_tokens=[0.0, 1e11, 1e12, 1e13], max_draws=400)


def test_more_demand_a_smaller_student_in_every_draw(chosen):
    """With a larger serving demand the chosen student is never larger, in every draw and route where both
    demands leave a recipe, and smaller on average."""
    size = chosen["size"]
    for a, b in zip(size["tokens"].values[:-1], size["tokens"].values[1:], strict=True):
        lo, hi = size.sel(tokens=a), size.sel(tokens=b)
        ok = np.isfinite(lo) & np.isfinite(hi)
        assert bool((hi.where(ok) <= lo.where(ok)).where(ok, True).all())
        assert float(hi.where(ok).mean()) < float(lo.where(ok).mean())


def test_the_chosen_size_beats_its_neighbours(digitized, chosen):
    """Per draw, no other candidate size of the same route has a lower expected loss (the law and, past the fitted
    tokens per parameter, the draw's expected drift): the chosen size (the law's, before the allocation error) is
    the argmin."""
    dd = decision_draws(digitized, max_draws=400, seed=0, calibration=resolve_calibration(True))  # the same draws
    law = dd.planning_law
    assert law.drift_slope is not None
    grid = plan_grid(law, SIZES, [1e22], ("teacher_inference",), serving_tokens=1e12, infeasible="nan",
                     teacher_cap=100.0)
    D = grid["training_budget"].isel(budget=0).values / (3 * compute.forward_flops_per_token(SIZES))
    with np.errstate(invalid="ignore"):  # sizes whose serving takes the budget: no tokens (NaN)
        penalty = drift_penalty(law, np.log(SIZES)[None, :], np.log(D)[None, :])
    law_loss = grid["L_sup"].isel(budget=0) * np.exp(penalty)
    picked = chosen["size_law"].sel(tokens=1e12, budget=1e22, route=SUPERVISED).reset_coords(drop=True)
    at = law_loss.sel(student_size=picked)  # pointwise: each draw its own size
    np.testing.assert_array_equal(at.values, law_loss.fillna(np.inf).min("student_size").values)


def test_free_size_without_a_training_budget_says_so(digitized):
    ds = free_size(digitized, [1e20], ("teacher_inference",), inference_tokens=[1e14], max_draws=50)
    assert str(ds["verdict"].values.ravel()[0]) == NO_RECIPE


def test_free_size_cli_json(capsys):
    import json

    from bayeslaw.cli import main

    rc = main(["plan", str(DIGITIZED), "--budget", "1e21", "--inference-tokens", "0", "1e12", "--draws", "200",
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    rows = out["result"]["free_size"]
    assert {r["inference_tokens"] for r in rows} == {0.0, 1e12}
    sup = {r["inference_tokens"]: r["size"]["median"] for r in rows if r["route"] == SUPERVISED}
    assert sup[1e12] < sup[0.0]


def test_report_with_a_serving_demand(tmp_path, capsys):
    """report --inference-tokens: lifetime budgets; the supervised student trains on what serving leaves."""
    import json

    from bayeslaw.cli import main

    rc = main(["report", str(DIGITIZED), "--student", "1e9", "--budget", "1e21", "1e22", "--inference-tokens",
               "1e11", "--draws", "200", "--out-dir", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert any("lifetime budget" in p.read_text() for p in tmp_path.glob("*.md"))
    verdicts = out["result"]["verdict"]
    assert [v["budget"] for v in verdicts] == [1e21, 1e22]
    assert main(["report", str(DIGITIZED), "--student", "1e9", "--budget", "1e20", "--inference-tokens", "1e12",
                 "--out-dir", str(tmp_path)]) == 2
    assert "serving" in capsys.readouterr().err


def test_pilot_with_a_serving_demand(capsys):
    """pilot --inference-tokens: a joint question's decisions on lifetime budgets (the options' losses are the
    serving-aware plan's); a supervised posterior refuses it, saying why."""
    import json

    from bayeslaw.cli import main

    assert main(["pilot", str(DIGITIZED), "--student", "1e9", "--budget", "1e21", "--inference-tokens", "1e11",
                 "--draws", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["result"]
    assert out["inference_tokens"] == 1e11 and out["candidates"]
    chinchilla = str(ROOT / "models/supervised_chinchilla_epoch240.nc")
    assert main(["pilot", chinchilla, "--budget", "1e21", "--inference-tokens", "1e11"]) == 2
    assert "serving demand" in capsys.readouterr().err
