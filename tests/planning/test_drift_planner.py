"""The planner with a drift past the fitted tokens per parameter: a teacher is trained no longer than pays."""

import math
from dataclasses import replace

import numpy as np
import pytest

from bayeslaw.core import laws
from bayeslaw.core.params import Laws
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.planning.optima import distillation_optimum, drift_penalty, drift_tokens

SUP, DIS = paper_coefficients()
HOFFMANN = dict(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283, gamma=1.0)


def with_drift(law: Laws, slope: float, ratio: float) -> Laws:
    n = law.n_draws
    return replace(law, drift_slope=np.full(n, slope), drift_ratio=np.full(n, ratio))


def test_drift_tokens_closed_form_for_gamma_one():
    """With gamma = 1 the optimum past the boundary solves beta u = k (E + A N^-alpha + u), u = B D^-beta, k the
    drift per nat of log D: D = (B / u)^(1/beta)."""
    law = with_drift(Laws.from_points(HOFFMANN), slope=0.06, ratio=20.0)
    for N in (1e8, 1e9, 1e10):
        k = 0.06 / math.log(10)
        u = k * (HOFFMANN["E"] + HOFFMANN["A"] * N ** -HOFFMANN["alpha"]) / (HOFFMANN["beta"] - k)
        D = (HOFFMANN["B"] / u) ** (1 / HOFFMANN["beta"])
        assert D / N > 20.0  # past the boundary here
        got = float(drift_tokens(law, np.array([[math.log(N)]]), 1)[0, 0])
        assert got == pytest.approx(math.log(D), abs=1e-8)


def test_a_boundary_that_already_pays_is_kept():
    """Where the law's gain at the boundary is below the drift, the teacher stops at the boundary."""
    law = with_drift(Laws.from_points(HOFFMANN), slope=0.5, ratio=20.0)
    got = float(drift_tokens(law, np.array([[math.log(1e9)]]), 1)[0, 0])
    assert got == pytest.approx(math.log(20.0 * 1e9), abs=1e-12)


def test_a_drift_that_does_not_penalise_sets_no_limit():
    law = with_drift(Laws.from_points(HOFFMANN), slope=-0.01, ratio=20.0)
    assert float(drift_tokens(law, np.array([[math.log(1e9)]]), 1)[0, 0]) == pytest.approx(math.log(1e17))


def test_penalty_by_hand():
    law = with_drift(Laws.from_points(HOFFMANN), slope=0.05, ratio=100.0)
    pen = drift_penalty(law, np.array([[math.log(1e9)] * 3]), np.log(np.array([[5e10, 1e11, 1e13]])))
    np.testing.assert_allclose(pen[0], [0.0, 0.0, 0.05 * 2.0], atol=1e-12)


def test_teacher_inference_with_a_drift_beats_the_drift_blind_recipe_under_the_drift():
    """The drift-aware recipe's student, with its teacher charged the drift, is at least as good as the
    drift-blind recipe's student with the same charge (the blind teacher trains to the cap)."""
    point = Laws.from_points(SUP, DIS)
    drifted = with_drift(point, slope=0.057, ratio=200.0)
    N_S, C = np.array([1e9]), np.array([1e21])
    aware = distillation_optimum(drifted, N_S, C, "teacher_inference", teacher_cap=100.0)
    blind = distillation_optimum(point, N_S, C, "teacher_inference", teacher_cap=100.0)
    assert float(blind["D_T"][0, 0, 0] / blind["N_T"][0, 0, 0]) > 1000  # the cap binds, far past the boundary
    assert float(aware["D_T"][0, 0, 0] / aware["N_T"][0, 0, 0]) < 400
    # the blind recipe's student under the drift: its teacher's loss raised by the penalty, through Eq. 8
    N_T, D_T, D_S = (float(blind[k][0, 0, 0]) for k in ("N_T", "D_T", "D_S"))
    L_T = laws.supervised_loss(N_T, D_T, **SUP) * math.exp(0.057 * math.log10(D_T / N_T / 200.0))
    L_blind = laws.distillation_loss(1e9, D_S, L_T, laws.supervised_loss(1e9, D_S, **SUP), **DIS)
    assert float(aware["L_S"][0, 0, 0]) <= L_blind + 1e-9


@pytest.mark.parametrize("N_S,C", [(1e8, 1e25), (1e9, 1e25)])
def test_pretraining_with_a_drift_beats_the_drift_blind_recipe_under_the_drift(N_S, C):
    """Pretraining and inference charged: the drift-aware search picks a teacher trained less far past the fitted
    ratio, and its student, the teacher charged the drift through Eq. 8 by hand, is at least as good as the
    drift-blind recipe's under the same charge."""
    point = Laws.from_points(SUP, DIS)
    drifted = with_drift(point, slope=0.057, ratio=200.0)
    aware = distillation_optimum(drifted, np.array([N_S]), np.array([C]), "pretraining_inference")
    blind = distillation_optimum(point, np.array([N_S]), np.array([C]), "pretraining_inference")

    def under_drift(r):
        N_T, D_T, D_S = (float(r[k][0, 0, 0]) for k in ("N_T", "D_T", "D_S"))
        L_T = laws.supervised_loss(N_T, D_T, **SUP) * math.exp(0.057 * max(math.log10(D_T / N_T / 200.0), 0.0))
        return laws.distillation_loss(N_S, D_S, L_T, laws.supervised_loss(N_S, D_S, **SUP), **DIS), D_T / N_T

    L_aware, r_aware = under_drift(aware)
    L_blind, r_blind = under_drift(blind)
    assert r_blind > 1000 and r_aware < r_blind
    assert L_aware <= L_blind + 1e-9
    assert float(aware["L_S"][0, 0, 0]) == pytest.approx(L_aware, rel=1e-9)


def test_drift_tokens_match_a_dense_search_for_the_papers_gamma():
    """Table 6's supervised law (gamma about 0.4, no closed form): Newton's tokens are at least as good as the best
    of 4001 points on log D, for drifts of 1-12% per decade and sizes 1e8-1e11."""
    from bayeslaw.planning.optima import _log_sup_nd

    assert abs(SUP["gamma"] - 1.0) > 0.3
    n = 200
    rng = np.random.default_rng(0)
    law = with_drift(Laws(**{k: np.full(n, v) for k, v in {**SUP, **DIS}.items()}), 0.0, 200.0)
    law = replace(law, drift_slope=rng.uniform(0.01, 0.12, n))
    log_N = np.log(np.array([1e8, 1e9, 1e10, 1e11]))[None, :]
    got = drift_tokens(law, log_N, 1)
    for j in range(4):
        xs = np.log(200.0) + log_N[0, j] + np.linspace(0.0, np.log(1e17 / 200.0) - log_N[0, j], 4001)

        def f(x, j=j):
            N = np.full(x.shape, log_N[0, j])
            return _log_sup_nd(np, law, N, x) + drift_penalty(law, N, x)

        best = f(np.broadcast_to(xs, (n, xs.size))).min(axis=1)
        assert np.all(f(got[:, j:j + 1])[:, 0] <= best + 1e-12)
