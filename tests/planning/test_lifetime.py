"""Serving-aware supervised recipes: Sardana et al.'s published examples, and what must hold over draws.

The examples are from "Beyond Chinchilla-Optimal" (Sardana et al., ICML 2024, arXiv 2401.00448), on Hoffmann
et al.'s coefficients with 6ND training and 2N FLOPs per served token.
"""

import math

import numpy as np
import pytest
from scipy import optimize

from bayeslaw.core import laws
from bayeslaw.core.compute import CostModel
from bayeslaw.core.errors import InputError
from bayeslaw.core.params import Laws
from bayeslaw.core.serving import Demand, Lifetime, Prices
from bayeslaw.planning.lifetime import target_recipe, tokens_for_loss
from bayeslaw.planning.optima import supervised_optimum

HOFFMANN = dict(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283, gamma=1.0)
POINT = Laws.from_points(HOFFMANN)
SIX_ND = dict(arch=None)  # Sardana et al. count 6ND and 2N per served token


def sig4(x: float) -> str:
    return f"{x:.3e}"


def test_sardana_flops_example():
    """Loss 1.947 with 2e12 inference tokens: N = 2.418e10, D = 2.657e12, 70.96% of the parameters and 95.22% of
    the lifetime FLOPs of the equal-loss Chinchilla-optimal model (serving the same demand)."""
    r = target_recipe(POINT, 1.947, Lifetime(Demand.total(2e12), **SIX_ND))
    plain = target_recipe(POINT, 1.947, Lifetime(**SIX_ND))
    assert (sig4(r["N"][0]), sig4(r["D"][0])) == ("2.418e+10", "2.657e+12")
    assert f"{r['N'][0] / plain['N'][0]:.4f}" == "0.7096"
    plain_lifetime = plain["training_flops"][0] + 2 * plain["N"][0] * 2e12
    assert f"{r['cost'][0] / plain_lifetime:.4f}" == "0.9522"
    # the parts add up: 6ND training and 2N per served token
    assert r["training_flops"][0] == pytest.approx(6 * r["N"][0] * r["D"][0], rel=1e-12)
    assert r["serving_flops"][0] == pytest.approx(2 * r["N"][0] * 2e12, rel=1e-12)


def test_sardana_cost_example():
    """1e10 requests of 1000 input and 250 output tokens; training $1.40/h (A100, utilisation 0.5), inference $0.60/h
    on int8 hardware (prefill 0.4, decode 0.2): N = 2.053e10, D = 3.302e12 at 88.76% of the Chinchilla recipe's cost."""
    life = Lifetime(Demand(1e10 * 1000, 1e10 * 250), Prices(), **SIX_ND)
    r = target_recipe(POINT, 1.947, life)
    plain = target_recipe(POINT, 1.947, Lifetime(**SIX_ND))
    assert (sig4(r["N"][0]), sig4(r["D"][0])) == ("2.053e+10", "3.302e+12")
    assert f"{r['cost'][0] / life.cost(plain['N'][0], plain['training_flops'][0]):.4f}" == "0.8876"
    # dollars by hand: FLOPs / (utilisation x peak) seconds at the hourly price
    N, D = r["N"][0], r["D"][0]
    by_hand = (6 * N * D / (0.5 * 312e12) * 1.40 + (2 * N * 1e13 / (0.4 * 624e12) + 2 * N * 2.5e12 / (0.2 * 624e12))
               * 0.60) / 3600
    assert r["cost"][0] == pytest.approx(by_hand, rel=1e-12)


def test_target_recipe_reaches_the_target_and_matches_a_reference():
    """The recipe's loss is the target; its cost is scipy's bounded minimum of the same objective."""
    life = Lifetime(Demand.total(3e12))
    r = target_recipe(POINT, 2.0, life)
    N, D = r["N"][0], r["D"][0]
    assert laws.supervised_loss(N, D, **HOFFMANN) == pytest.approx(2.0, abs=1e-10)

    def cost(log_N):
        log_D = tokens_for_loss(POINT, 2.0, np.array([log_N]))[0]
        return math.log(life.cost(math.exp(log_N), 3 * _F(math.exp(log_N)) * math.exp(log_D)))

    lo = math.log((HOFFMANN["A"] / (2.0 - HOFFMANN["E"])) ** (1 / HOFFMANN["alpha"])) + 1e-6
    ref = optimize.minimize_scalar(cost, bounds=(lo, lo + 20), method="bounded", options={"xatol": 1e-10})
    assert math.log(r["cost"][0]) <= ref.fun + 1e-9
    assert math.log(N) == pytest.approx(ref.x, abs=1e-4)


def _F(N: float) -> float:
    return float(CostModel(serving_tokens=1.0).serving_flops(N))


def test_no_demand_is_the_compute_optimal_frontier():
    """With T = 0 the cheapest recipe for L is the compute-optimal model whose budget buys exactly L."""
    r = target_recipe(POINT, 2.05, Lifetime())
    o = supervised_optimum(POINT, np.array([r["cost"][0]]))
    assert o["L"][0, 0] == pytest.approx(2.05, abs=1e-6)
    assert o["N"][0, 0] == pytest.approx(r["N"][0], rel=2e-3)


def test_budget_and_target_questions_agree():
    """The lowest loss at a lifetime budget C, then the cheapest recipe for that loss, costs C (the two searches
    are different problems with one answer)."""
    for T in (1e11, 1e12, 1e13):
        o = supervised_optimum(POINT, np.array([1e23]), serving_tokens=T)
        r = target_recipe(POINT, float(o["L"][0, 0]), Lifetime(Demand.total(T)))
        assert r["cost"][0] == pytest.approx(1e23, rel=1e-5)
        assert r["N"][0] == pytest.approx(o["N"][0, 0], rel=2e-3)


def test_budget_optimum_matches_scipy_within_1e_3_nats():
    """The planner's search for the new objective against scipy's bounded search, as the planner is checked: every
    budget of 1e19-1e25 (a decade apart) with every demand 0, 1e10-1e14 that leaves something to train with."""
    cases = [(C, T) for C in np.geomspace(1e19, 1e25, 7) for T in (0.0, 1e10, 1e11, 1e12, 1e13, 1e14)
             if _F(1e6) * T < C]
    assert len(cases) == 36
    worst = 0.0
    for C, T in cases:
        o = supervised_optimum(POINT, np.array([C]), serving_tokens=T)

        def loss(log_N, C=C, T=T):
            N = math.exp(log_N)
            left = C - _F(N) * T
            if left <= 0:
                return 1e9
            return laws.supervised_loss(N, left / (3 * _F(N)), **HOFFMANN)

        # a dense grid, then scipy's bounded search around its best cell
        grid = np.linspace(math.log(1e6), math.log(1e17), 4001)
        i = int(np.argmin([loss(x) for x in grid]))
        best = optimize.minimize_scalar(loss, bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 4000)]),
                                        method="bounded", options={"xatol": 1e-10})
        worst = max(worst, abs(o["L"][0, 0] - best.fun))
    assert worst <= 1e-3


def test_more_demand_a_smaller_model_on_more_tokens_in_every_draw():
    """The property over draws: with a larger T the chosen model is smaller and trained on more tokens per
    parameter, in every draw where a recipe exists."""
    rng = np.random.default_rng(3)
    n = 400
    draws = Laws(**{k: v * np.exp(0.05 * rng.standard_normal(n)) if k != "gamma" else np.ones(n)
                    for k, v in HOFFMANN.items()})
    prev = None
    for T in (0.0, 1e11, 1e12, 1e13, 1e14):
        r = target_recipe(draws, 2.1, Lifetime(Demand.total(T)))
        o = supervised_optimum(draws, np.array([1e23]), serving_tokens=T)
        cur = (r["N"], r["D"] / r["N"], o["N"][:, 0], o["D"][:, 0] / o["N"][:, 0])
        if prev is not None:
            for a, b in ((prev[0], cur[0]), (prev[2], cur[2])):
                ok = np.isfinite(a) & np.isfinite(b)
                assert ok.mean() > 0.95 and np.all(b[ok] < a[ok])
            for a, b in ((prev[1], cur[1]), (prev[3], cur[3])):
                ok = np.isfinite(a) & np.isfinite(b)
                assert np.all(b[ok] > a[ok])
        prev = cur


def test_no_demand_leaves_the_optimum_unchanged():
    """T = 0 gives today's optimum bit for bit."""
    draws = Laws(**{k: np.full(5, v) * np.linspace(0.95, 1.05, 5) if k != "gamma" else np.ones(5)
                    for k, v in HOFFMANN.items()})
    C = np.geomspace(1e19, 1e25, 7)
    a, b = supervised_optimum(draws, C), supervised_optimum(draws, C, serving_tokens=0.0)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_unreachable_target_and_a_budget_serving_eats():
    assert np.isnan(target_recipe(POINT, 1.6, Lifetime())["N"][0])  # below E
    o = supervised_optimum(POINT, np.array([1e18]), serving_tokens=1e14)  # serving alone costs more than C
    assert np.isnan(o["N"][0, 0]) and np.isnan(o["L"][0, 0])


@pytest.mark.parametrize("bad", [lambda: Demand.total(-1.0), lambda: Demand.total(float("inf")),
                                 lambda: Demand.total(1e12, 1.5), lambda: Prices(train_utilisation=0.0),
                                 lambda: Prices(decode_utilisation=1.2), lambda: Prices(train_hour=float("nan")),
                                 lambda: Prices.parse("train_hour=abc"), lambda: Prices.parse("gpus=8")])
def test_bad_demand_and_prices_say_what_to_fix(bad):
    with pytest.raises(InputError):
        bad()


def test_prices_parse_over_the_defaults():
    p = Prices.parse("train_hour=2.5, serve-hour=1")
    assert (p.train_hour, p.serve_hour, p.train_peak) == (2.5, 1.0, 312e12)
    assert Prices.parse("default") == Prices()


def test_a_money_budget_is_the_flop_question_with_the_same_answer(capsys):
    """Sardana's cost example the other way round: a money budget equal to the cheapest recipe's cost buys that
    recipe's loss, at that recipe (the priced budget is solved as a FLOP budget with training-priced serving)."""
    import json

    from bayeslaw.cli import main
    from bayeslaw.core.serving import PricedBudgets

    life = Lifetime(Demand(1e10 * 1000, 1e10 * 250), Prices(), **SIX_ND)
    r = target_recipe(POINT, 1.947, life)
    dollars = float(r["cost"][0])
    pb = PricedBudgets((dollars,), (life.demand,), Prices())
    C, (T,) = pb.flops(), pb.serving_tokens()
    # the identity: money / (price of a training FLOP) = training FLOPs + T forward passes
    w_train = Prices().per_flop()[0]
    for N, train in ((1e9, 3e22), (7e10, 2e24)):
        assert life.cost(N, train) / w_train == pytest.approx(train + T * 2 * N, rel=1e-12)
    o = supervised_optimum(POINT, C, arch=None, serving_tokens=T)
    assert o["N"][0, 0] == pytest.approx(r["N"][0], rel=3e-3)
    assert o["L"][0, 0] == pytest.approx(1.947, abs=1e-6)
    # the CLI: --prices makes --budget money; the JSON says what it was solved as
    assert main(["predict", "--coefficients", "sardana", "--budget", f"{dollars!r}", "--prices", "default",
                 "--inference-tokens", "1.25e13", "--flops", "6nd", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["result"]
    assert out["money"]["budgets"] == [dollars]
    assert out["money"]["training_flops"][0] == pytest.approx(float(C[0]), rel=1e-12)
    assert out["optimum"]["N_opt_median"][0] == pytest.approx(r["N"][0], rel=3e-3)
    assert out["optimum"]["inference_tokens"] == 1.25e13 and "serving_flops_median" not in out["optimum"]
    # a FLOP count given as money is refused, saying so
    assert main(["predict", "--coefficients", "hoffmann", "--budget", "1e23", "--prices", "default"]) == 2
    assert "a FLOP count given by mistake" in capsys.readouterr().err


def test_more_demand_a_smaller_model_trained_longer_in_every_draw():
    """Sardana et al.'s finding as a property of the lifetime optimum over 400 draws of the shipped Chinchilla
    posterior: with more serving demand N* never grows and D*/N* never falls, at every budget. (The free student
    size chooses among quarter-decade sizes, where a size kept from one demand to the next trains on fewer tokens:
    there the property is 'never larger', tested in tests/planning/test_serving_plan.py.)"""
    from bayeslaw import api
    from bayeslaw.posterior import draws as posterior_draws
    from tests.conftest import ROOT

    law = posterior_draws.laws(api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")).take(slice(0, 400))
    C = np.array([1e21, 1e22, 1e23])
    prev = supervised_optimum(law, C)
    for T in (1e10, 1e11, 1e12, 1e13):
        o = supervised_optimum(law, C, serving_tokens=T)
        assert np.isfinite(o["N"]).all()
        assert np.all(o["N"] <= prev["N"] * (1 + 1e-6))
        assert np.all(o["D"] / o["N"] >= prev["D"] / prev["N"] * (1 - 1e-6))
        assert np.mean(o["N"] < prev["N"] * 0.999) > 0.9  # and it does move
        prev = o
