"""The one set of input checks: units mistakes and the planning box, each with a message that says what to fix."""

import numpy as np
import pytest

from bayeslaw.core import bounds, compute
from bayeslaw.core.errors import BayeslawError, InputError


@pytest.mark.parametrize("N, D, message", [
    ([7.0], [1.4e12], "looks scaled"),          # billions
    ([7e9], [140.0], "looks scaled"),
    ([-1e9], [1e10], "positive finite"),
    ([np.nan], [1e10], "positive finite"),
])
def test_points(N, D, message):
    with pytest.raises(InputError, match=message):
        bounds.check_points(np.asarray(N), np.asarray(D))


def test_losses_intervals_and_budgets():
    bounds.check_loss([2.3, 19.9], "loss")
    for bad in (0.0, 20.0, np.inf, -2.0):
        with pytest.raises(InputError, match="cross-entropy in nats/token"):
            bounds.check_loss(bad, "target loss")
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        bounds.check_interval(1.5)
    with pytest.raises(InputError, match="interval kind"):
        bounds.check_interval(0.9, "hpd")
    with pytest.raises(InputError, match="too small to train any model"):
        bounds.check_optimum_budgets(np.array([1e6]))


def test_planning_box_and_minimum_budget():
    assert bounds.min_budget(1e9) == pytest.approx(3 * compute.forward_flops_per_token(1e9) * 1e6)
    bounds.check_plan(np.array([1e9]), np.array([1e21]), ("best_case",), 1)
    with pytest.raises(InputError, match="within \\[1e6, 1e17\\]"):
        bounds.check_plan(np.array([1.0]), np.array([1e21]), ("best_case",), 1)
    with pytest.raises(InputError, match="cannot train the smallest student"):
        bounds.check_plan(np.array([1e9]), np.array([1e15]), ("best_case",), 1)
    with pytest.raises(InputError, match="unknown scenario"):
        bounds.check_plan(np.array([1e9]), np.array([1e21]), ("cheap",), 1)
    with pytest.raises(InputError, match="at least one"):
        bounds.check_plan(np.array([1e9]), np.array([]), ("best_case",), 1)
    assert issubclass(InputError, BayeslawError) and issubclass(InputError, ValueError)


def test_the_optimum_budget_range_is_the_planning_box_by_hand():
    lo, hi = bounds.optimum_budget_range("6nd")
    assert lo == pytest.approx(6 * 1e6 * 1e6) and hi == pytest.approx(6 * 1e17 * 1e17)
    lo3, hi3 = bounds.optimum_budget_range("3fnd", headroom=100)
    assert lo3 == pytest.approx(3 * compute.forward_flops_per_token(1e6) * 1e6)
    assert hi3 == pytest.approx(3 * compute.forward_flops_per_token(1e17) * 1e17 / 100)
    bounds.check_optimum_budgets(np.array([1e20, 1e30]))
    for bad, match in ((1e13, "too small"), (1e35, "beyond the planning box")):
        with pytest.raises(InputError, match=match):
            bounds.check_optimum_budgets(np.array([1e20, bad]))
