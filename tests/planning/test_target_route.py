"""plan --target (issue 27): the cheapest lifetime recipe per route that reaches a loss with a probability, checked
against the continuous cheapest recipe of the law (Sardana et al.'s question) and against its own definition."""

import json

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.core.errors import InputError
from bayeslaw.core.serving import Demand, Lifetime, Prices
from bayeslaw.decision.free_size import SUPERVISED
from bayeslaw.decision.pipeline import calibration_for, decision_draws
from bayeslaw.decision.question import Teacher
from bayeslaw.decision.target_route import FINE, _reach_grid, cheapest_routes
from bayeslaw.planning.lifetime import target_recipe
from bayeslaw.posterior import draws as posterior_draws
from tests.conftest import ROOT

STEP = 10 ** (1 / FINE)


@pytest.fixture(scope="module")
def table6():
    return api.point_law("table6")


@pytest.mark.parametrize("T", [0.0, 1e12])
def test_the_supervised_route_is_the_laws_cheapest_recipe_on_the_grid(table6, T):
    """One draw of Table 6's supervised law: the cheapest budget on the grid lies between the continuous cheapest
    lifetime cost of the loss (planning.lifetime, Sardana's objective) and one grid step (and a quarter-decade size
    step) above it."""
    ds = cheapest_routes(table6, 2.3, inference_tokens=[T])
    exact = target_recipe(posterior_draws.laws(table6), 2.3, Lifetime(Demand.total(T)))
    got = float(ds["budget"].sel(route=SUPERVISED).item())
    assert exact["cost"][0] <= got <= exact["cost"][0] * STEP ** 2
    assert float(ds["p_reach"].sel(route=SUPERVISED).item()) == 1.0  # one draw: it reaches or not
    assert float(ds["loss_median"].sel(route=SUPERVISED).item()) <= 2.3


@pytest.mark.heavy  # the shipped posterior, 200 draws
def test_each_answer_is_the_cheapest_on_its_grid():
    """On the shipped posterior: each route's recipe reaches the target with at least the probability asked, and one
    grid step cheaper no size of that route does; a larger serving demand never makes a route cheaper."""
    fit = api.load(ROOT / "models/distillation_busbridge2025_digitized.nc")
    teacher = Teacher(N_T=7e9, L_T=2.05)
    ds = cheapest_routes(fit, 2.3, inference_tokens=[0.0, 1e12], max_draws=200, teachers=(teacher,))
    draws = decision_draws(fit, max_draws=200, seed=0, calibration=calibration_for(fit, True))
    for t in (0.0, 1e12):
        for r in ds["route"].values:
            c = float(ds["budget"].sel(tokens=t, route=r))
            assert np.isfinite(c) and float(ds["p_reach"].sel(tokens=t, route=r)) >= 0.9
            L, _ = _reach_grid(draws, np.geomspace(1e7, 1e12, 21), np.array([c / STEP]), ("teacher_inference",), t,
                               1, 100.0, (teacher,), (None, None))
            assert float((L.sel(route=r) <= 2.3).mean("draw").max()) < 0.9
    assert bool((ds["budget"].sel(tokens=1e12) >= ds["budget"].sel(tokens=0.0)).all())
    assert set(ds["verdict"].values) <= {"distil", "train supervised"}


def test_cli_target_in_money_and_bad_input(capsys):
    """--prices: the answer in money is the FLOP answer at the price of a training FLOP; bad combinations exit 2."""
    assert main(["plan", "--coefficients", "table6", "--target", "2.3", "--inference-tokens", "1e12", "--json"]) == 0
    flops = json.loads(capsys.readouterr().out)["result"]["target_routes"]
    assert main(["plan", "--coefficients", "table6", "--target", "2.3", "--inference-tokens", "1e12", "--prices",
                 "default", "--json"]) == 0
    money = json.loads(capsys.readouterr().out)["result"]["target_routes"]
    w_train = Prices().per_flop()[0]
    sup = next(r for r in money if r["route"] == SUPERVISED)
    assert sup["cost"] == pytest.approx(sup["budget"] * w_train)
    # priced serving (cheaper per FLOP than training here) buys a larger model than the FLOP question's
    assert sup["size"] >= next(r for r in flops if r["route"] == SUPERVISED)["size"]
    assert main(["plan", "--coefficients", "table6", "--target", "2.3", "--budget", "1e21"]) == 2
    assert "leave out --student, --budget" in capsys.readouterr().err
    assert main(["plan", "--coefficients", "table6", "--target", "1.0"]) == 2
    assert "below the law's irreducible" in capsys.readouterr().err
    assert main(["plan", "--coefficients", "table6"]) == 2
    assert "--budget" in capsys.readouterr().err
    with pytest.raises(InputError, match="probability"):
        cheapest_routes(api.point_law("table6"), 2.3, prob=1.5)
