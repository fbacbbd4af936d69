"""Distillation from a given teacher: a chosen or existing (sunk) one, and the fixed-token comparison."""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayeslaw.core import bounds, compute
from bayeslaw.core.compute import PAPER_ARCHITECTURE, Architecture
from bayeslaw.core.errors import InputError
from bayeslaw.core.params import Laws
from bayeslaw.planning.optima import LOG_MAX, LOG_MIN, _log_sup_nd, _problem_axes, distillation_optimum, log_student


def distill_with_teacher(law: Laws, N_S: np.ndarray, C: np.ndarray, scenario: str, *, N_T: float,
                         D_T: float | None = None, L_T: float | None = None, n_students: int = 1,
                         teacher_sunk: bool = False,
                         arch: Architecture | None = PAPER_ARCHITECTURE) -> dict[str, np.ndarray]:
    """A chosen teacher: the student spends what the scenario leaves of the budget on tokens.

    The teacher is ``(N_T, D_T)`` (its loss from the supervised law, per draw) or an existing
    teacher ``(N_T, L_T)`` with a measured loss. Its pretraining ``3 F(N_T) D_T / k`` is charged
    when the scenario counts it, unless ``teacher_sunk``. No search: ``D_S`` follows from the
    budget. Returns ``L_S, D_S, L_T`` of shape (draw, size, budget), NaN where the budget does
    not cover the teacher's cost or ``D_S`` leaves [1e6, 1e17].
    """
    sc = compute.get_scenario(scenario)
    log_NS, log_C = _problem_axes(law.n_draws, N_S, C)
    if L_T is None and D_T is None:
        raise InputError("give the teacher's tokens D_T (its loss then follows the law) or its measured loss L_T")
    charge_pre = sc.delta_pretrain > 0 and not teacher_sunk
    if charge_pre and D_T is None:
        raise InputError(f"scenario {sc.name} charges the teacher's pretraining: give D_T, or teacher_sunk=True")
    if L_T is not None:
        log_LT = np.full(log_NS.shape, np.log(float(L_T)))
    else:
        log_LT = _log_sup_nd(np, law, np.full(log_NS.shape, np.log(float(N_T))),
                             np.full(log_NS.shape, np.log(float(D_T))))
    # Eq. 9 is linear in D_S: what the student's tokens cost each, and the teacher's pretraining
    pre = compute.teacher_pretraining_flops(float(N_T), float(D_T) if charge_pre else 0.0, sc,
                                            n_students=n_students, teacher_sunk=not charge_pre, arch=arch)
    per_token = compute.student_token_flops(np.exp(log_NS), float(N_T), sc, arch=arch)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_DS = np.log(np.exp(log_C) - pre) - np.log(per_token)
    feasible = np.isfinite(log_DS) & (log_DS >= LOG_MIN) & (log_DS <= LOG_MAX)
    log_DS = np.where(feasible, log_DS, LOG_MIN)
    tilde = _log_sup_nd(np, law.twin(), log_NS, log_DS)  # Eq. 8's L~_S (a cut posterior's fixed twin)
    log_LS = log_student(law, log_NS, log_DS, log_LT, tilde, 2)
    nan = np.where(feasible, 1.0, np.nan)
    return {"L_S": np.exp(log_LS) * nan, "D_S": np.exp(log_DS) * nan, "L_T": np.exp(log_LT)}


def fixed_tokens(law: Laws, student_sizes, tokens, *, arch: Architecture | None = PAPER_ARCHITECTURE,
                 iters: int | None = None) -> xr.Dataset:
    """Distilled vs supervised at the same student tokens ``D_S``, with the best teacher.

    The paper's fixed-token comparison: the teacher's cost is not counted.

    Parameters
    ----------
    law
        Paper-scale coefficient draws of a joint posterior.
    student_sizes, tokens
        Student sizes (parameters) and student tokens, inside the planning box.
    arch, iters
        As in :func:`bayeslaw.planning.grid.plan_grid`.

    Returns
    -------
    xarray.Dataset
        Dims ``(draw, student_size, tokens)``: ``L_S`` with the best-case teacher, its loss ``L_T``
        (the best-case L_T*), the supervised student ``L_sup`` on the same tokens and ``diff``.
    """
    N_S = np.atleast_1d(np.asarray(student_sizes, float))
    D = np.atleast_1d(np.asarray(tokens, float))
    bounds.check_student_tokens(D)
    bounds.check_plan(N_S, compute.supervised_flops(N_S.max(), D, arch), ("best_case",), 1)
    L_S, L_T, L_sup = [], [], []
    for n in N_S:
        C = compute.supervised_flops(n, D, arch)
        res = distillation_optimum(law, [n], C, "best_case", arch=arch, iters=iters)
        L_S.append(res["L_S"][:, 0, :])
        L_T.append(res["L_T"][:, 0, :])
        L_sup.append(np.exp(_log_sup_nd(np, law, np.full((law.n_draws, D.size), np.log(n)),
                                        np.broadcast_to(np.log(D), (law.n_draws, D.size)))))
    dims = ("draw", "student_size", "tokens")
    ds = xr.Dataset({"L_S": (dims, np.stack(L_S, 1)), "L_T": (dims, np.stack(L_T, 1)),
                     "L_sup": (dims, np.stack(L_sup, 1))},
                    coords={"draw": np.arange(law.n_draws), "student_size": N_S, "tokens": D})
    ds["diff"] = ds["L_S"] - ds["L_sup"]
    ds.attrs.update(comparison="same student tokens; best-case teacher (its cost not counted)")
    return ds
