"""The value of information against closed forms: EVPI and EVSI of a Gaussian state (Raiffa and Schlaifer)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayeslaw.decision import value as voi


def _normal_regret(mu: float, s: float) -> float:
    """E[max(-theta, 0)] for theta ~ N(mu, s): the expected regret of choosing 'nothing' over 'theta'."""
    return s * stats.norm.pdf(mu / s) - mu * stats.norm.cdf(-mu / s)


def _gaussian_decision(mu: float, s: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    theta = np.random.default_rng(seed).normal(mu, s, n)
    return np.column_stack([theta, np.zeros(n)]), theta  # option 0 loses theta, option 1 nothing


@pytest.mark.parametrize(("mu", "s", "tau"), [(0.3, 1.0, 0.5), (0.1, 0.5, 1.0), (0.8, 1.0, 0.2)])
def test_evpi_and_evsi_match_the_closed_forms(mu, s, tau):
    loss, theta = _gaussian_decision(mu, s, 4000, 1)
    now = voi.now(loss)
    assert now.choice == 1  # E[theta] = mu > 0: choose the option that loses nothing
    assert now.evpi == pytest.approx(_normal_regret(mu, s), rel=0.06)
    assert now.p_wrong == pytest.approx(stats.norm.cdf(-mu / s), abs=0.02)
    # a run that measures theta with noise tau: the posterior mean is N(mu, s_m) a priori
    s_m = s * s / np.sqrt(s * s + tau * tau)
    v = voi.preposterior(loss, theta[:, None], np.full((theta.size, 1), tau), None, np.random.default_rng(2))
    assert v.evsi == pytest.approx(_normal_regret(mu, s_m), rel=0.12)
    assert 0.0 <= v.evsi <= now.evpi
    assert v.regret_before == pytest.approx(now.evpi, rel=0.1)


def test_a_perfect_run_is_worth_evpi_and_a_useless_one_nothing():
    loss, theta = _gaussian_decision(0.3, 1.0, 2000, 3)
    now = voi.now(loss)
    perfect = voi.preposterior(loss, theta[:, None], np.full((theta.size, 1), 1e-4), None, np.random.default_rng(4))
    assert perfect.evsi == pytest.approx(now.evpi, rel=0.02)
    assert perfect.p_wrong_after < 0.01 and perfect.p_sure_after > 0.99
    assert perfect.ess.max() < 5  # each outcome names its draw: the weights' degeneracy is reported
    assert perfect.ess_low == 1.0
    useless = voi.preposterior(loss, np.zeros((theta.size, 1)), np.full((theta.size, 1), 0.1), None,
                               np.random.default_rng(4))
    assert useless.evsi == 0.0 and useless.p_change == 0.0
    assert useless.ess.min() == pytest.approx(theta.size)


def test_evsi_stays_within_zero_and_evpi_on_random_decisions():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n, a, k = 500, int(rng.integers(2, 5)), int(rng.integers(1, 3))
        state = rng.standard_normal((n, 3))
        loss = state @ rng.standard_normal((3, a)) + rng.standard_normal((n, a)) * 0.3
        pred = state @ rng.standard_normal((3, k))
        v = voi.preposterior(loss, pred, np.full((n, k), rng.uniform(0.05, 1.0)), rng.uniform(3, 30, n), rng)
        now = voi.now(loss)
        assert v.evsi >= 0.0
        assert v.evsi <= v.regret_before + 1e-12  # exact: the chosen option's regret bounds the improvement
        assert v.evsi <= now.evpi * 1.25 + 1e-3  # EVPI up to Monte Carlo error
        assert 0.0 <= v.p_wrong_after <= 1.0 and 0.0 <= v.p_change <= 1.0


def test_more_runs_are_worth_at_least_as_much():
    loss, theta = _gaussian_decision(0.2, 1.0, 3000, 6)
    one = voi.preposterior(loss, theta[:, None], np.full((theta.size, 1), 1.0), None, np.random.default_rng(7))
    two = voi.preposterior(loss, np.column_stack([theta, theta]), np.full((theta.size, 2), 1.0), None,
                           np.random.default_rng(7))
    assert two.evsi > one.evsi  # two measurements of theta: noise tau / sqrt(2)
    s_m = 1.0 / np.sqrt(1.0 + 0.5)
    assert two.evsi == pytest.approx(_normal_regret(0.2, s_m), rel=0.15)


def test_bad_matrices_are_refused():
    with pytest.raises(ValueError, match=">= 2 options"):
        voi.now(np.zeros((10, 1)))
    with pytest.raises(ValueError, match="finite"):
        voi.now(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="draws"):
        voi.preposterior(np.zeros((10, 2)), np.zeros((9, 1)), np.ones((9, 1)), None, np.random.default_rng(0))


def test_many_sets_at_once_match_one_at_a_time():
    rng = np.random.default_rng(8)
    state = rng.standard_normal((300, 2))
    loss = state @ rng.standard_normal((2, 3))
    runs = [state @ rng.standard_normal(2) for _ in range(5)]
    ll = np.stack([voi.log_likelihoods(r[:, None], np.full((300, 1), 0.5), None, np.random.default_rng(k))[0]
                   for k, r in enumerate(runs)])
    many = voi.evsi_many(loss, ll, chunk=2)
    for k in range(5):
        assert many[k] == pytest.approx(voi.update(loss, ll[k]).evsi, rel=1e-10, abs=1e-12)
    both = voi.update(loss, ll[0] + ll[1]).evsi
    assert voi.evsi_many(loss, (ll[0] + ll[1])[None])[0] == pytest.approx(both, rel=1e-10)


def test_the_greedy_buys_what_the_closed_form_values_and_stops_where_the_draws_collapse():
    loss, theta = _gaussian_decision(0.3, 1.0, 2000, 6)
    now = voi.now(loss)
    n = theta.size
    # three runs measuring theta with noise 1, one that measures nothing (cheapest), one too dear for the budget
    pred = np.column_stack([theta, theta, theta, np.zeros(n), theta])
    ll = voi.log_likelihoods(pred, np.full((n, 5), 1.0), None, np.random.default_rng(7))
    cost = np.array([1.0, 1.0, 1.0, 0.1, 10.0])
    got = voi.buy_greedily(loss, ll, cost, budget=5.0)
    assert sorted(got.chosen) == [0, 1, 2]  # never the run that tells nothing, never the one over budget
    # k runs of noise 1 are one of noise 1/sqrt(k): Raiffa and Schlaifer's EVSI, step by step
    for k, v in enumerate(got.evsi, start=1):
        assert v == pytest.approx(_normal_regret(0.3, 1.0 / np.sqrt(1.0 + 1.0 / k)), rel=0.15)
        assert v <= now.evpi
    assert voi.ess_low(ll[got.chosen].sum(axis=0)[None])[0] <= voi.ESS_LOW_SHARE


def test_the_greedy_does_not_chase_collapsed_weights():
    loss, theta = _gaussian_decision(0.3, 1.0, 400, 8)
    now = voi.now(loss)
    n = theta.size
    pred = np.column_stack([theta] * 6)
    ll = voi.log_likelihoods(pred, np.full((n, 6), 0.05), None, np.random.default_rng(9))  # precise runs
    # valuing sets of precise runs by weights alone: the estimate passes EVPI (each outcome names a draw)
    assert voi.evsi_many(loss, ll.sum(axis=0)[None])[0] > now.evpi * 0.99
    assert voi.ess_low(ll[:2].sum(axis=0)[None])[0] > voi.ESS_LOW_SHARE
    guarded = voi.buy_greedily(loss, ll, np.ones(6), budget=6.0)
    assert guarded.chosen == [] and guarded.collapsed
    first = voi.buy_greedily(loss, ll, np.ones(6), budget=6.0, first_any_ess=True)  # a caller that refits after it
    assert len(first.chosen) == 1 and first.evsi[0] == pytest.approx(now.evpi, rel=0.05)  # one precise run: all


def test_runs_sharing_a_misfit_have_the_equicorrelated_gaussians_likelihood():
    rng = np.random.default_rng(21)
    n_draw, n_cand = 6, 5
    pred = rng.normal(0.0, 0.1, (n_draw, n_cand))
    sigma, tau = rng.uniform(0.02, 0.05, n_draw), rng.uniform(0.01, 0.08, n_draw)
    band = np.array([0, 0, 1, 0, 1])
    sets = voi.SharedMisfitSets(pred, sigma, tau, band, np.random.default_rng(22), n_outcomes=4)
    for i in (0, 2, 3):
        sets.add(i, sets.sets(np.array([i]))[0])
    chosen = [0, 2, 3, 4]
    got = sets.sets(np.array([4]))[0]  # (outcome, draw): the set {0, 2, 3} plus run 4
    same = band[chosen][:, None] == band[chosen][None, :]
    for o in range(4):
        for d in range(n_draw):
            cov = sigma[d] ** 2 * np.eye(len(chosen)) + tau[d] ** 2 * same  # a misfit per band, shared inside it
            want = stats.multivariate_normal(pred[d, chosen], cov).logpdf(sets.outcomes[o, chosen])
            assert got[o, d] == pytest.approx(want, rel=1e-10)


def test_runs_of_one_band_are_worth_one_run_up_to_the_misfit_and_the_greedy_spreads_over_bands():
    loss, theta = _gaussian_decision(0.3, 1.0, 2000, 23)
    n = theta.size
    sigma, tau = np.full(n, 1.0), np.full(n, 0.7)
    pred = np.column_stack([theta] * 4)
    band = np.array([0, 0, 0, 1])
    # k runs of one band measure theta with noise sd sqrt(tau^2 + sigma^2 / k): Raiffa and Schlaifer's EVSI again
    for k in (1, 3):
        sets = voi.SharedMisfitSets(pred, sigma, tau, band, np.random.default_rng(24 + k))
        for i in range(k - 1):
            sets.add(i, sets.sets(np.array([i]))[0])
        v = voi.evsi_many(loss, sets.sets(np.array([k - 1])))[0]
        noise = np.sqrt(0.49 + 1.0 / k)
        assert v == pytest.approx(_normal_regret(0.3, 1.0 / np.sqrt(1.0 + noise ** 2)), rel=0.15)
    # a second run of another band (noise sds 1.22 each: 0.86 together) beats one of the same band (1.0)
    got = voi.buy_greedily(loss, voi.SharedMisfitSets(pred, sigma, tau, band, np.random.default_rng(27)),
                           np.array([1.0, 1.0, 1.0, 1.05]), budget=2.1)
    assert band[got.chosen[0]] == 0 and band[got.chosen[1]] == 1
    # without the shared misfit (tau -> 0) the same runs are independent: the additive sets' values
    indep = voi.buy_greedily(loss, voi.SharedMisfitSets(pred, sigma, np.full(n, 1e-9), band,
                                                        np.random.default_rng(27)), np.ones(4), budget=2.0)
    assert indep.evsi[1] == pytest.approx(_normal_regret(0.3, 1.0 / np.sqrt(1.0 + 0.5)), rel=0.15)


def test_a_shared_misfit_sets_likelihood_is_the_same_bought_in_any_order_or_from_a_subset():
    rng = np.random.default_rng(31)
    pred = rng.normal(0.0, 0.1, (50, 6))
    sets = voi.SharedMisfitSets(pred, np.full(50, 0.03), np.full(50, 0.02), np.array([0, 1, 0, 2, 1, 0]),
                                np.random.default_rng(32))
    greedy = sets.subset([1, 2, 4, 5])
    for i in (0, 3, 1):  # positions in the subset: candidates 1, 5, 2
        greedy.add(i, greedy.sets(np.array([i]))[0])
    assert np.allclose(greedy.total, sets.log_lik([5, 2, 1]))
    assert np.allclose(sets.log_lik([1, 2, 5]), sets.log_lik([5, 1, 2]))
    assert np.allclose(greedy.sets(np.array([2]))[0], sets.log_lik([1, 2, 4, 5]))
