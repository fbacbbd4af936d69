"""F(N) against the paper's Table 13 and the scenario accounting of Eq. 9."""

import numpy as np
import pandas as pd
import pytest

from bayeslaw.core import compute
from bayeslaw.data.registry import DATA_DIR


def test_sigma_constants():
    a = compute.PAPER_ARCHITECTURE
    assert a.sigma1 == pytest.approx(0.037857, rel=1e-4)
    assert a.sigma2 == pytest.approx(2.20128, rel=1e-5)


def test_forward_flops_match_table13():
    t = pd.read_csv(DATA_DIR / "distillation_busbridge2025/busbridge2025_table13_model_sizes.csv")
    N = t["N_nonembedding_B"].to_numpy() * 1e9
    # Table 13 was computed with the 32168-token vocabulary of its models ...
    table_arch = compute.Architecture(n_vocab=32168)
    F = compute.forward_flops_per_token(N, table_arch)
    np.testing.assert_allclose(F / 1e9, t["C_fwd_approx_2N_sigma_B"], rtol=3e-3)  # N has 4 digits
    np.testing.assert_allclose(F / 1e9, t["C_fwd_per_token_B"], rtol=1e-2)
    # ... the paper's default (32768, the reference's 72132 N^-2/3 term) is within 0.5%
    F_default = compute.forward_flops_per_token(N)
    np.testing.assert_allclose(F_default / 1e9, t["C_fwd_approx_2N_sigma_B"], rtol=5e-3)
    assert compute.PAPER_ARCHITECTURE.sigma2 * 32768 == pytest.approx(72132, rel=1e-4)
    assert compute.forward_flops_per_token(1e9, arch=None) == 2e9


def test_scenarios_and_k_students():
    F = compute.forward_flops_per_token
    N_S, D_S, N_T, D_T = 1e9, 2e10, 3e9, 6e10
    student = 3 * F(N_S) * D_S
    assert compute.distillation_flops(N_S, D_S, N_T, D_T, "best_case") == student
    assert compute.distillation_flops(N_S, D_S, N_T, D_T, "teacher_inference") == pytest.approx(
        student + F(N_T) * D_S)
    assert compute.distillation_flops(N_S, D_S, N_T, D_T, "teacher_pretraining") == pytest.approx(
        student + 3 * F(N_T) * D_T)
    both = compute.distillation_flops(N_S, D_S, N_T, D_T, "pretraining_inference", n_students=4)
    assert both == pytest.approx(student + F(N_T) * (D_S + 3 * D_T / 4))
    sunk = compute.distillation_flops(N_S, D_S, N_T, D_T, "pretraining_inference", teacher_sunk=True)
    assert sunk == pytest.approx(student + F(N_T) * D_S)
    with pytest.raises(ValueError, match="unknown scenario"):
        compute.get_scenario("cheap")


def test_flops_elasticity_is_the_log_derivative():
    N = np.geomspace(1e6, 1e15, 7)
    h = 1e-5
    log_F = lambda n: np.log(compute.forward_flops_per_token(n))  # noqa: E731
    num = (log_F(N * np.exp(h)) - log_F(N * np.exp(-h))) / (2 * h)
    np.testing.assert_allclose(compute.flops_elasticity(N), num, rtol=1e-8)
    assert compute.flops_elasticity(N)[0] < 0.9  # attention and vocabulary matter for small models
    np.testing.assert_array_equal(compute.flops_elasticity(N, arch=None), 1.0)


def test_the_cost_model_is_eq9_in_log_space():
    """Every term of the one cost model against the linear formulas (Eq. 9, App. H) computed by hand."""
    from bayeslaw.core.compute import SCENARIOS, CostModel, distillation_flops, forward_flops_per_token

    N_S, N_T, D_S, D_T, C = 1e9, 7e9, 2e10, 1.4e11, 1e21
    F_S, F_T = forward_flops_per_token(N_S), forward_flops_per_token(N_T)
    for name in SCENARIOS:
        cost = CostModel(name, n_students=4)
        sc = SCENARIOS[name]
        token = np.exp(cost.log_student_token(np.log(F_S), np.log(F_T)))
        assert token == pytest.approx(3 * F_S + sc.delta_logits * F_T, rel=1e-12)
        pre = np.exp(cost.log_teacher_pretraining(np.log(F_T), np.log(D_T)))
        assert pre == pytest.approx(3 * F_T * D_T / 4, rel=1e-12)
        total = token * D_S + (pre if cost.charges_pretraining else 0.0)
        assert total == pytest.approx(distillation_flops(N_S, D_S, N_T, D_T, name, n_students=4), rel=1e-12)
    cost = CostModel()
    assert np.exp(cost.log_tokens(np.log(C), np.log(F_S))) == pytest.approx(C / (3 * F_S), rel=1e-12)
    assert np.exp(cost.log_training(np.log(F_S), np.log(D_S))) == pytest.approx(3 * F_S * D_S, rel=1e-12)
    assert CostModel(serving_tokens=1e12).serving_flops(N_S) == pytest.approx(F_S * 1e12, rel=1e-12)
    assert CostModel(arch=None, serving_tokens=2.0).serving_flops(5.0) == 20.0  # 2N per token, two tokens


@pytest.mark.parametrize("bad", [{"n_students": 0}, {"serving_tokens": -1.0}, {"serving_tokens": float("nan")},
                                 {"scenario": "teacher_magic"}])
def test_the_cost_model_refuses_what_it_cannot_cost(bad):
    from bayeslaw.core.compute import CostModel
    from bayeslaw.core.errors import InputError

    with pytest.raises(InputError):
        CostModel(**bad)
