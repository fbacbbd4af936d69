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


def test_tokens_per_param_bounds_hold_in_every_draw(digitized, chosen):
    """--min/--max-tokens-per-param: every chosen recipe (the supervised route's after its allocation error too)
    trains within the bounds in every draw; the bounds bind where the unbounded choice left them (the distilled
    route's ~4 tokens/param at no demand); bounds no size meets leave no recipe, saying why; bad bounds exit 2."""
    from bayeslaw.decision.free_size import NO_RECIPE_BOUNDED

    ds = free_size(digitized, [1e21, 1e22, 1e23], ("teacher_inference",), inference_tokens=[0.0, 1e11, 1e12, 1e13],
                   max_draws=400, min_tokens_per_param=21.0, max_tokens_per_param=202.0)
    r = ds["tokens_per_param"].values
    ok = np.isfinite(r)
    assert ok.mean() > 0.5 and np.all((r[ok] >= 21.0 * (1 - 1e-9)) & (r[ok] <= 202.0 * (1 + 1e-9)))
    free = chosen["tokens_per_param"].values
    assert np.nanmin(free) < 21.0 or np.nanmax(free) > 202.0  # the unbounded choice leaves them somewhere
    assert ds.attrs["min_tokens_per_param"] == 21.0 and ds.attrs["max_tokens_per_param"] == 202.0
    none = free_size(digitized, [1e21], ("teacher_inference",), max_draws=50, max_tokens_per_param=1e-6)
    assert str(none["verdict"].values.ravel()[0]) == NO_RECIPE_BOUNDED
    for lo, hi in ((-1.0, None), (None, float("nan")), (300.0, 200.0)):
        with pytest.raises(InputError, match="tokens-per-param"):
            free_size(digitized, [1e21], max_draws=50, min_tokens_per_param=lo, max_tokens_per_param=hi)


def test_a_given_teacher_is_a_route_of_its_own(digitized):
    """plan --teacher without --student: each teacher's route chooses, per draw, the size of least law loss
    distilled from it (teacher_option per size, by hand), and enters the distil-or-not verdict."""
    from bayeslaw.decision.pipeline import DecisionDraws, teacher_option
    from bayeslaw.decision.question import Teacher

    teacher = Teacher(N_T=7e9, L_T=2.05)
    sizes = np.geomspace(1e8, 1e10, 9)
    ds = free_size(digitized, [1e21], ("teacher_inference",), inference_tokens=[1e11], sizes=sizes, max_draws=60,
                   teachers=(teacher,))
    route = f"distil from {teacher.label}"
    assert route in ds["route"].values
    dd = decision_draws(digitized, max_draws=60, seed=0, calibration=resolve_calibration(True))
    law = DecisionDraws(dd.law, dd.index)
    by_hand = np.stack([teacher_option(law, float(n), np.array([1e21]), "teacher_inference", teacher,
                                       serving_tokens=1e11)["L_S"][:, 0, 0] for n in sizes], axis=1)
    want = sizes[np.nanargmin(by_hand, axis=1)]
    got = ds["size"].sel(route=route, tokens=1e11, budget=1e21).values
    np.testing.assert_array_equal(got, want)
    assert str(ds["distil_route"].sel(tokens=1e11, budget=1e21).values) in ds["route"].values


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
    serving-aware plan's)."""
    import json

    from bayeslaw.cli import main

    assert main(["pilot", str(DIGITIZED), "--student", "1e9", "--budget", "1e21", "--inference-tokens", "1e11",
                 "--draws", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["result"]
    assert out["inference_tokens"] == 1e11 and out["candidates"]


def test_supervised_pilot_with_a_serving_demand():
    """A supervised pilot on lifetime budgets: the sizes it chooses between span the lifetime N* (smaller than the
    training-only one), each option's loss is the law at the tokens the budget buys once that size's serving is
    paid, and a compute-optimal run that serving leaves nothing for misses the target in every draw."""
    from bayeslaw.decision.pilot import _coefs, _noise, supervised_decisions, supervised_options
    from bayeslaw.decision.question import Question
    from bayeslaw.planning.optima import supervised_optimum
    from bayeslaw.posterior.likelihood import supervised_log_mean

    fit = api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")
    draws = decision_draws(fit, max_draws=200, seed=0, calibration=None)
    rng = np.random.default_rng(0)
    C, T = 1e23, 1e13
    plain = supervised_decisions(fit, draws, Question(student_size=None, budgets=(C,)), rng)[0]
    served = supervised_decisions(fit, draws, Question(student_size=None, budgets=(C,), inference_tokens=T), rng)[0]
    life = supervised_optimum(draws.law, np.array([C]), serving_tokens=T)["N"][:, 0]
    assert np.median(life) < 0.5 * np.median(supervised_optimum(draws.law, np.array([C]))["N"][:, 0])
    assert served.sizes.min() < np.median(life) < served.sizes.max() < plain.sizes.min()
    # by hand: the loss of one option is the law at D = (C - F(N) T) / (3 F(N))
    c = _coefs(fit, draws)
    sigma, nu = _noise(fit, draws, "supervised")
    N = float(served.sizes[4])
    named = supervised_options(draws.law, c, None, C, None, np.array([N]), sigma, nu, rng, serving_tokens=T)
    F = float(compute.forward_flops_per_token(N))
    D = (C - F * T) / (3 * F)
    want = np.exp(supervised_log_mean(c, [N], [D])[:, 0])
    np.testing.assert_allclose(next(iter(named.values())), want, rtol=1e-12)
    # a demand the smallest compute-optimal recipe cannot serve: no recipe, so the target is missed in every draw
    assert float(compute.forward_flops_per_token(1e6)) * 1e13 > 1e19  # serving alone costs more than the budget
    hopeless = supervised_options(draws.law, c, None, 1e19, 2.5, None, sigma, nu, rng, serving_tokens=1e13)
    assert np.all(hopeless["it misses 2.5"] == 0) and np.all(hopeless["it reaches 2.5"] == 1)


def test_money_budgets_answer_the_equivalent_flop_question(tmp_path, capsys):
    """--prices on plan, the free size, pilot and report: a money budget is planned as the FLOP budget it buys
    with the demand as training-priced forward passes -- the same cells as that FLOP question -- and every output
    says so (note, JSON ``money``), with the demand labelled as asked."""
    import json

    from bayeslaw.cli import main
    from bayeslaw.core.serving import Demand, PricedBudgets, Prices

    pb = PricedBudgets((2e5, 2e6), (Demand.total(1e12),), Prices())
    C, (T,) = pb.flops(), pb.serving_tokens()
    common = ["--draws", "200", "--json"]

    def plan(*args):
        assert main(["plan", str(DIGITIZED), "--student", "1e9", *args, *common]) == 0
        return json.loads(capsys.readouterr().out)["result"]

    money = plan("--budget", "2e5", "2e6", "--inference-tokens", "1e12", "--prices", "default")
    flops = plan("--budget", *(repr(float(c)) for c in C), "--inference-tokens", repr(T))
    assert money["money"]["budgets"] == [2e5, 2e6] and money["money"]["inference_tokens"] == [1e12]
    assert len(money["cells"]) == 2
    assert [c["p_better"] for c in money["cells"]] == [c["p_better"] for c in flops["cells"]]
    assert main(["plan", str(DIGITIZED), "--budget", "2e6", "--inference-tokens", "0", "1e12", "--prices", "default",
                 *common]) == 0
    free = json.loads(capsys.readouterr().out)["result"]
    assert sorted({r["inference_tokens"] for r in free["free_size"]}) == [0.0, 1e12]
    assert free["money"]["serving_forward_passes"][1] == pytest.approx(T)
    assert main(["report", str(ROOT / "models/supervised_chinchilla_epoch240.nc"), "--budget", "2e6",
                 "--inference-tokens", "1e12", "--prices", "default", "--out-dir", str(tmp_path), "--quiet"]) == 0
    md = next(tmp_path.glob("*.md")).read_text()
    assert "Costs in money: budgets in money at --prices" in md and "serving 1e+12 tokens" in md
    assert main(["plan", str(DIGITIZED), "--student", "1e9", "--budget", "1e21", "--prices", "default"]) == 2
    assert "a FLOP count given by mistake" in capsys.readouterr().err
