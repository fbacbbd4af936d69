"""The supervised and distillation scaling laws as pure functions.

Every function takes an array namespace ``xp`` (``numpy``, ``pytensor.tensor`` or
``jax.numpy``) and uses only ``xp.log``, ``xp.exp`` and ``xp.logaddexp``, so the same
code builds a PyMC graph, evaluates posterior draws with numpy and runs the planner
on JAX. Nothing here knows about PyMC. The maps between the sampled coordinates and the
paper's coefficients are in :mod:`bayeslaw.core.params`.

Notation follows Busbridge et al. (ICML 2025): ``N`` non-embedding parameters, ``D``
training tokens (raw counts, never billions), losses in nats/token.

Two forms are given for each law: the direct form as printed in the paper, and the
log-sum-exp form that the models sample (stable when the intermediate powers over- or
underflow, which the distillation break does during warm-up).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from bayeslaw.core import params
from bayeslaw.core.params import D_REF, N_REF

Array = Any

def _softplus(x: Array, xp: ModuleType) -> Array:
    return xp.logaddexp(0.0, x)


# --------------------------------------------------------------------------- supervised


def supervised_loss(
    N: Array,
    D: Array,
    *,
    E: Array,
    A: Array,
    B: Array,
    alpha: Array,
    beta: Array,
    gamma: Array = 1.0,
    xp: ModuleType = np,
) -> Array:
    """Supervised law, direct form: ``L = E + (A / N**alpha + B / D**beta)**gamma`` (Eq. 1)."""
    return E + (A / N**alpha + B / D**beta) ** gamma


def supervised_log_loss(
    log_N: Array,
    log_D: Array,
    *,
    log_E: Array,
    log_A: Array,
    log_B: Array,
    alpha: Array,
    beta: Array,
    gamma: Array = 1.0,
    xp: ModuleType = np,
) -> Array:
    """Supervised law in log-sum-exp form; returns ``log L``.

    ``log L = LSE(log E, gamma * LSE(log A - alpha log N, log B - beta log D))``.
    """
    inner = xp.logaddexp(log_A - alpha * log_N, log_B - beta * log_D)
    return xp.logaddexp(log_E, gamma * inner)


def supervised_log_loss_centred(
    log_N: Array,
    log_D: Array,
    *,
    log_E: Array,
    log_size_term: Array,
    log_data_term: Array,
    alpha: Array,
    beta: Array,
    gamma: Array = 1.0,
    xp: ModuleType = np,
) -> Array:
    """Supervised law in the centred parameterisation that the models sample.

    ``log_size_term = log A - alpha log N_REF`` and ``log_data_term = log B - beta log D_REF``.
    Algebraically identical to :func:`supervised_log_loss`.
    """
    inner = xp.logaddexp(
        log_size_term - alpha * (log_N - np.log(N_REF)),
        log_data_term - beta * (log_D - np.log(D_REF)),
    )
    return xp.logaddexp(log_E, gamma * inner)


def supervised_optimum_6nd(
    C: Array,
    *,
    E: Array,
    A: Array,
    B: Array,
    alpha: Array,
    beta: Array,
    gamma: Array = 1.0,
    xp: ModuleType = np,
) -> tuple[Array, Array, Array]:
    """Compute-optimal ``(N*, D*, L*)`` at budget ``C`` FLOPs with ``C = 6 N D``.

    The outer exponent ``gamma`` is monotone, so the optimum of the inner sum is the
    optimum of the law: ``N* = G (C/6)**a``, ``D* = (C/6) / N*`` with
    ``a = beta / (alpha + beta)`` and ``G = (alpha A / (beta B))**(1 / (alpha + beta))``.
    """
    a = beta / (alpha + beta)
    log_G = (xp.log(alpha * A) - xp.log(beta * B)) / (alpha + beta)
    log_C6 = xp.log(C / 6.0)
    log_N = log_G + a * log_C6
    log_D = log_C6 - log_N
    N = xp.exp(log_N)
    D = xp.exp(log_D)
    L = supervised_loss(N, D, E=E, A=A, B=B, alpha=alpha, beta=beta, gamma=gamma, xp=xp)
    return N, D, L


# ------------------------------------------------------------------------- distillation


def distillation_loss(
    N_S: Array,
    D_S: Array,
    L_T: Array,
    L_S_tilde: Array,
    *,
    A_p: Array,
    B_p: Array,
    alpha_p: Array,
    beta_p: Array,
    gamma_p: Array,
    c0: Array,
    c1: Array,
    f1: Array,
    d1: Array,
    weak_teacher_gain: Array = 0.0,
    xp: ModuleType = np,
) -> Array:
    """Distillation law, direct form (Eq. 8).

    ``L_S = L_T + L_T**-c0 * (1 + (L_T / (L~_S d1))**(1/f1))**(-c1 f1)
    * (A'/N_S**alpha' + B'/D_S**beta')**gamma'``, its leading ``L_T`` lowered past parity by the
    weak-teacher gain (:func:`weak_teacher_lead`; 0, the paper's form, by default).

    Overflows for teachers far past the break; use :func:`distillation_log_loss` there.
    """
    brk = (1.0 + (L_T / (L_S_tilde * d1)) ** (1.0 / f1)) ** (-c1 * f1)
    power = (A_p / N_S**alpha_p + B_p / D_S**beta_p) ** gamma_p
    lead = xp.exp(weak_teacher_lead(xp.log(L_T), xp.log(L_S_tilde), weak_teacher_gain, xp))
    return lead + L_T ** (-c0) * brk * power


def distillation_log_loss(
    log_N_S: Array,
    log_D_S: Array,
    log_L_T: Array,
    log_L_S_tilde: Array,
    *,
    log_A_p: Array,
    log_B_p: Array,
    alpha_p: Array,
    beta_p: Array,
    gamma_p: Array,
    c0: Array,
    log_k: Array,
    log_s: Array,
    log_d1: Array,
    weak_teacher_gain: Array = 0.0,
    xp: ModuleType = np,
) -> Array:
    """Distillation law in log-sum-exp form; returns ``log L_S``.

    The break is written ``-k * softplus(s * (log L_T - log L~_S - log d1))`` with
    ``k = c1 f1`` and ``s = 1 / f1`` so that nothing is raised to a large power.
    """
    power = gamma_p * xp.logaddexp(log_A_p - alpha_p * log_N_S, log_B_p - beta_p * log_D_S)
    return distillation_log_loss_from_power(log_L_T, log_L_S_tilde, power, c0=c0, log_k=log_k,
                                            log_s=log_s, log_d1=log_d1, weak_teacher_gain=weak_teacher_gain, xp=xp)


def distillation_log_loss_slopes(
    log_N_S: Array,
    log_D_S: Array,
    log_L_T: Array,
    log_L_S_tilde: Array,
    *,
    log_size_amp: Array,
    log_data_amp: Array,
    P: Array,
    Q: Array,
    gamma_p: Array,
    c0: Array,
    log_k: Array,
    log_s: Array,
    log_d1: Array,
    break_tilt: Array = 0.0,
    weak_teacher_gain: Array = 0.0,
    token_tilt: Array = 0.0,
    xp: ModuleType = np,
) -> Array:
    """Distillation law in the "slopes" parameterisation that the joint model samples.

    ``P = gamma' alpha'`` and ``Q = gamma' beta'`` are the asymptotic slopes of the
    power term, and ``log_size_amp = gamma' (log A' - alpha' log N_REF)``,
    ``log_data_amp = gamma' (log B' - beta' log D_REF)`` its centred log-amplitudes.
    The power term becomes ``gamma' * LSE((log_size_amp - P x_N) / gamma',
    (log_data_amp - Q x_D) / gamma')``, which removes the curved ridge
    ``log A' ~ const / gamma'`` of the form as written. Algebraically identical to
    :func:`distillation_log_loss`.
    """
    power = distillation_power_slopes(log_N_S, log_D_S, log_size_amp=log_size_amp,
                                      log_data_amp=log_data_amp, P=P, Q=Q, gamma_p=gamma_p, log_L_T=log_L_T,
                                      token_tilt=token_tilt, xp=xp)
    return distillation_log_loss_from_power(log_L_T, log_L_S_tilde, power, c0=c0, log_k=log_k,
                                            log_s=log_s, log_d1=log_d1, break_tilt=break_tilt,
                                            weak_teacher_gain=weak_teacher_gain, xp=xp)


def distillation_power_slopes(
    log_N_S: Array,
    log_D_S: Array,
    *,
    log_size_amp: Array,
    log_data_amp: Array,
    P: Array,
    Q: Array,
    gamma_p: Array,
    log_L_T: Array | None = None,
    token_tilt: Array = 0.0,
    xp: ModuleType = np,
) -> Array:
    """Log of the power term ``(A'/N_S**alpha' + B'/D_S**beta')**gamma'`` in the slopes form.

    It depends on the student's size and tokens only, so a model can evaluate it once per
    distinct ``(N_S, D_S)`` and share it among that student's teachers. ``token_tilt`` (0 in the paper; experimental)
    makes the data amplitude depend on the teacher, ``B' (L_T / 2.1) ** -token_tilt``: a stronger teacher's students
    gain more from their tokens (the fixed-teacher IsoFLOP students' residuals, docs/validation.md); it needs
    ``log_L_T``.
    """
    x_N = log_N_S - np.log(N_REF)
    x_D = log_D_S - np.log(D_REF)
    data = (log_data_amp - Q * x_D) / gamma_p
    if not (isinstance(token_tilt, float | int) and token_tilt == 0.0):
        data = data - token_tilt * (log_L_T - LOG_TOKEN_TILT_REF)
    return gamma_p * xp.logaddexp((log_size_amp - P * x_N) / gamma_p, data)


#: The teacher loss at which the token tilt leaves the data amplitude as fitted (near the middle of the paper's
#: fixed teachers, 1.90-2.75, on the log scale).
LOG_TOKEN_TILT_REF = math.log(2.1)


def distillation_log_loss_from_power(
    log_L_T: Array,
    log_L_S_tilde: Array,
    log_power: Array,
    *,
    c0: Array,
    log_k: Array,
    log_s: Array,
    log_d1: Array,
    break_tilt: Array = 0.0,
    weak_teacher_gain: Array = 0.0,
    xp: ModuleType = np,
) -> Array:
    """``log L_S`` from the teacher, the student's supervised loss and the log power term.

    ``break_tilt`` (0 in the paper) is an experimental extension: the break's ratio becomes
    ``L_T / (d1 L~_S (L~_S / 2.5)^tilt)``, so that where the break sits moves with the student's
    capacity (docs/distillation.md compares it with the paper's form by PSIS-LOO).

    ``weak_teacher_gain`` (``kappa``, 0 in the paper) lets a student beat a teacher weaker than its own
    supervised twin: Eq. 8's leading term ``L_T`` becomes ``L_T (L~_S / L_T)^(kappa h)`` with ``h`` a smooth
    indicator of ``L_T > L~_S`` (:func:`weak_teacher_lead`), so past parity the student closes the share
    ``kappa`` of the log gap between its teacher and its own supervised loss, and nothing changes for a
    teacher stronger than the student (every student of the paper's fit but its weak-teacher ladder).
    """
    k = xp.exp(log_k)
    s = xp.exp(log_s)
    x = log_L_T - log_L_S_tilde - log_d1 - break_tilt * (log_L_S_tilde - LOG_TILT_REF)
    brk = -k * _softplus(s * x, xp)
    lead = weak_teacher_lead(log_L_T, log_L_S_tilde, weak_teacher_gain, xp)
    return xp.logaddexp(lead, -c0 * log_L_T + brk + log_power)


#: How sharply :func:`weak_teacher_lead` turns on at parity, in log loss: within about 1% of ``L_T = L~_S``.
PARITY_WIDTH = 0.01


def weak_teacher_lead(log_L_T: Array, log_L_S_tilde: Array, gain: Array, xp: ModuleType = np) -> Array:
    """Eq. 8's leading term, ``log L_T``, less ``gain`` times the log gap past parity (smoothed over
    :data:`PARITY_WIDTH`): ``log L_T - gain * w softplus((log L_T - log L~_S) / w)``.

    With ``gain`` in [0, 1] the lead stays between the student's own supervised loss and its teacher's
    (to within ``0.7 w gain`` at parity); ``gain = 0`` is the paper's ``log L_T`` exactly.
    """
    if isinstance(gain, float | int) and gain == 0.0:
        return log_L_T
    gap = _softplus((log_L_T - log_L_S_tilde) / PARITY_WIDTH, xp) * PARITY_WIDTH
    return log_L_T - gain * gap


#: The student supervised loss at which the break tilt leaves the break where the paper puts it.
LOG_TILT_REF = math.log(2.5)


def distillation_log_loss_sampled(
    c: dict[str, Array],
    log_N_S: Array,
    log_D_S: Array,
    log_L_T: Array,
    log_L_S_tilde: Array,
    xp: ModuleType = np,
) -> Array:
    """``log L_S`` (Eq. 8) in the coordinates the joint model samples.

    ``c`` holds :data:`~bayeslaw.core.params.DISTILLATION_SAMPLED` (the centred amplitudes, the
    slopes and the break); the same code evaluates PyTensor graphs and numpy draws.
    """
    size_amp, data_amp = params.distillation_amplitudes(c)
    return distillation_log_loss_slopes(
        log_N_S, log_D_S, log_L_T, log_L_S_tilde,
        log_size_amp=size_amp, log_data_amp=data_amp,
        P=c["P"], Q=c["Q"], gamma_p=c["gamma_p"], c0=c["c0"], log_k=c["log_k"], log_s=c["log_s"],
        log_d1=c["log_d1"], break_tilt=c.get("break_tilt", 0.0),
        weak_teacher_gain=c.get("weak_teacher_gain", 0.0), token_tilt=c.get("token_tilt", 0.0), xp=xp,
    )

