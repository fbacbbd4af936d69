"""The laws against the reference values of the paper and against each other across namespaces."""

import numpy as np
import pytensor.tensor as pt
import pytest
from scipy import optimize

from bayeslaw.core import laws, params


def _L(N, D, p):
    return laws.supervised_loss(N, D, **p)


def test_supervised_reference_values(paper_supervised):
    assert _L(1.821e9, 20 * 1.821e9, paper_supervised) == pytest.approx(2.251, abs=5e-4)
    assert _L(546e6, 20 * 546e6, paper_supervised) == pytest.approx(2.515, abs=5e-4)


def _student(D_S, sup, dis, N_S=546e6, N_T=1.821e9):
    L_T = _L(N_T, 20 * N_T, sup)
    return laws.distillation_loss(N_S, D_S, L_T, _L(N_S, D_S, sup), **dis), _L(N_S, D_S, sup)


def test_distillation_reference_values(paper_supervised, paper_distillation):
    L_S, _ = _student(20 * 546e6, paper_supervised, paper_distillation)
    assert L_S == pytest.approx(2.424, abs=5e-4)  # the paper measured 2.42 (Table 7)
    L_S, L_sup = _student(512e9, paper_supervised, paper_distillation)
    assert L_S == pytest.approx(2.289, abs=5e-4) and L_S > L_sup
    for m, gain in ((20, 0.091), (40, 0.055), (80, 0.028)):
        L_S, L_sup = _student(m * 546e6, paper_supervised, paper_distillation)
        assert L_sup - L_S == pytest.approx(gain, abs=1.5e-3)


def test_log_forms_equal_direct_forms(paper_supervised, paper_distillation):
    rng = np.random.default_rng(0)
    N, D = 10 ** rng.uniform(7, 11, 50), 10 ** rng.uniform(9, 13, 50)
    p = paper_supervised
    direct = _L(N, D, p)
    lse = laws.supervised_log_loss(np.log(N), np.log(D), log_E=np.log(p["E"]), log_A=np.log(p["A"]),
                                   log_B=np.log(p["B"]), alpha=p["alpha"], beta=p["beta"],
                                   gamma=p["gamma"])
    np.testing.assert_allclose(np.exp(lse), direct, rtol=1e-12)
    ls, ld = params.amplitudes_to_centred(np.log(p["A"]), np.log(p["B"]), p["alpha"], p["beta"])
    cen = laws.supervised_log_loss_centred(np.log(N), np.log(D), log_E=np.log(p["E"]),
                                           log_size_term=ls, log_data_term=ld, alpha=p["alpha"],
                                           beta=p["beta"], gamma=p["gamma"])
    np.testing.assert_allclose(cen, lse, rtol=1e-12)

    L_T = 10 ** rng.uniform(0.2, 0.5, 50)
    Lt = _L(N, D, p)
    dis = paper_distillation
    direct = laws.distillation_loss(N, D, L_T, Lt, **dis)
    slopes = params.paper_to_slopes(**{k: v for k, v in dis.items() if k != "c0"})
    log_form = laws.distillation_log_loss_slopes(np.log(N), np.log(D), np.log(L_T), np.log(Lt),
                                                 c0=dis["c0"], **slopes)
    np.testing.assert_allclose(np.exp(log_form), direct, rtol=1e-10)
    back = params.slopes_to_paper(**slopes)
    for k, v in back.items():  # round trip
        assert v == pytest.approx(dis[k], rel=1e-12)


def test_log_form_is_finite_far_past_the_break(paper_distillation):
    slopes = params.paper_to_slopes(**{k: v for k, v in paper_distillation.items() if k != "c0"})
    out = laws.distillation_log_loss_slopes(np.log(1e8), np.log(1e9), np.log(10.0), np.log(2.0),
                                            c0=2.5, **slopes)
    assert np.isfinite(out) and out == pytest.approx(np.log(10.0), abs=1e-12)


def test_weak_teacher_gain_moves_only_students_of_weaker_teachers(paper_supervised, paper_distillation):
    slopes = params.paper_to_slopes(**{k: v for k, v in paper_distillation.items() if k != "c0"})
    N, D = 1.82e9, 38.9e9
    Lt = _L(N, D, paper_supervised)  # 2.245: the paper's 1.82B ladder student's supervised twin
    L_T = np.array([1.9, 2.1, Lt * 1.03, Lt * 1.11, Lt * 1.5])

    def law(gain):
        return laws.distillation_log_loss_slopes(np.log(N), np.log(D), np.log(L_T), np.log(Lt),
                                                 c0=paper_distillation["c0"], weak_teacher_gain=gain, **slopes)

    paper, moved = law(0.0), law(0.3)
    np.testing.assert_array_equal(law(0), paper)  # gain 0 is the paper's form exactly
    # a teacher 7-15% stronger than the student's own supervised loss: within 0.3 * 0.01 * softplus(-6.7) = 4e-6
    np.testing.assert_allclose(moved[:2], paper[:2], atol=5e-6)
    assert np.all(moved[2:] < paper[2:])
    # far past parity the break has closed Eq. 8's added term: by hand, L_S = L_T (L~_S / L_T)^gain
    assert np.exp(moved[-1]) == pytest.approx(L_T[-1] * (Lt / L_T[-1]) ** 0.3, rel=1e-6)
    assert np.exp(paper[-1]) == pytest.approx(L_T[-1], rel=1e-9)
    # with gain 1 the lead falls to the student's own supervised loss, never below it (nor below a stronger
    # teacher's) by more than the smoothing at parity, w log 2
    lead = laws.weak_teacher_lead(np.log(L_T), np.log(Lt), 1.0)
    assert np.all(lead >= np.minimum(np.log(L_T), np.log(Lt)) - laws.PARITY_WIDTH * np.log(2) - 1e-12)
    assert np.all(lead <= np.log(L_T))
    assert lead[-1] == pytest.approx(np.log(Lt), abs=1e-12)
    # PyTensor evaluates the same code
    sym = laws.weak_teacher_lead(pt.as_tensor(np.log(L_T)), pt.as_tensor(np.log(Lt)), pt.as_tensor(0.3), xp=pt)
    np.testing.assert_allclose(sym.eval(), laws.weak_teacher_lead(np.log(L_T), np.log(Lt), 0.3), rtol=1e-12)


def test_token_tilt_is_the_paper_form_with_a_teachers_own_data_amplitude(paper_supervised, paper_distillation):
    # by hand: B' becomes B' (L_T / 2.1) ** -tilt in Eq. 8 as printed; 0 is the paper's form exactly
    N, D = np.array([1.43e8, 5.46e8, 1.82e9]), np.array([3.7e9, 4.92e10, 3.89e10])
    L_T = np.array([1.9, 2.1, 2.75])
    Lt = _L(N, D, paper_supervised)
    dis = paper_distillation
    slopes = params.paper_to_slopes(**{k: v for k, v in dis.items() if k != "c0"})

    def law(tilt):
        return laws.distillation_log_loss_slopes(np.log(N), np.log(D), np.log(L_T), np.log(Lt), c0=dis["c0"],
                                                 token_tilt=tilt, **slopes)

    np.testing.assert_array_equal(law(0.0), law(0))
    np.testing.assert_allclose(np.exp(law(0.0)), laws.distillation_loss(N, D, L_T, Lt, **dis), rtol=1e-10)
    tilted = laws.distillation_loss(N, D, L_T, Lt, **(dis | {"B_p": dis["B_p"] * (L_T / 2.1) ** -3.0}))
    np.testing.assert_allclose(np.exp(law(3.0)), tilted, rtol=1e-10)
    assert law(3.0)[1] == pytest.approx(law(0.0)[1], abs=1e-15)  # at the reference teacher nothing moves
    # PyTensor evaluates the same code
    sym = laws.distillation_power_slopes(pt.as_tensor(np.log(N)), pt.as_tensor(np.log(D)), log_L_T=pt.as_tensor(
        np.log(L_T)), token_tilt=pt.as_tensor(3.0), xp=pt, **{k: slopes[k] for k in ("log_size_amp", "log_data_amp",
                                                                                    "P", "Q", "gamma_p")})
    num = laws.distillation_power_slopes(np.log(N), np.log(D), log_L_T=np.log(L_T), token_tilt=3.0,
                                         **{k: slopes[k] for k in ("log_size_amp", "log_data_amp", "P", "Q",
                                                                   "gamma_p")})
    np.testing.assert_allclose(sym.eval(), num, rtol=1e-12)


@pytest.mark.heavy
def test_same_code_evaluates_in_pytensor_and_jax(paper_supervised):
    p = paper_supervised
    args = dict(log_E=np.log(p["E"]), log_A=np.log(p["A"]), log_B=np.log(p["B"]),
                alpha=p["alpha"], beta=p["beta"], gamma=p["gamma"])
    x = np.log(np.array([1e8, 1e9])), np.log(np.array([1e10, 1e11]))
    ref = laws.supervised_log_loss(*x, **args)
    tens = laws.supervised_log_loss(pt.as_tensor(x[0]), pt.as_tensor(x[1]), xp=pt, **args).eval()
    np.testing.assert_allclose(tens, ref, rtol=1e-12)
    jnp = pytest.importorskip("jax.numpy")
    import jax

    jax.config.update("jax_enable_x64", True)
    got = laws.supervised_log_loss(jnp.asarray(x[0]), jnp.asarray(x[1]), xp=jnp, **args)
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12)


def test_closed_form_optimum_matches_numerical_minimum(paper_supervised):
    p = paper_supervised
    C = 1e21
    N, D, L = laws.supervised_optimum_6nd(C, **p)
    assert 6 * N * D == pytest.approx(C, rel=1e-12)
    res = optimize.minimize_scalar(lambda x: _L(np.exp(x), C / 6 / np.exp(x), p),
                                   bounds=(np.log(1e6), np.log(1e14)), method="bounded",
                                   options={"xatol": 1e-10})
    assert np.exp(res.x) == pytest.approx(N, rel=1e-4)
    assert res.fun == pytest.approx(L, abs=1e-9)
