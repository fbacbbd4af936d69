"""The paper's way to find a distillation optimum: SciPy SLSQP, one problem at a time.

Minimise L_S over (log N_T, log D_T, log D_S) with the budget as an equality constraint and
sizes and tokens bounded to [1e6, 1e17], from several random starts (Busbridge et al. App. H).
It is the reference the vectorised planner is checked against and the baseline it is
benchmarked against; bayeslaw plans with :mod:`bayeslaw.planning`.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from bayeslaw.core import bounds, compute, laws, params


def optimum(coefs: dict[str, float], N_S: float, C: float, scenario: str, *, starts: int = 30,
            seed: int = 0, serving_tokens: float = 0.0) -> tuple[float, np.ndarray | None]:
    """``(L_S*, (N_T*, D_T*, D_S*))`` of the best successful start; ``(nan, None)`` if none succeeded.

    ``serving_tokens``: the student's lifetime serving, ``F(N_S)`` FLOPs per token, is part of the budget
    constraint (Eq. 9 plus serving equals ``C``), written here as a constraint, not as a smaller budget.

    In the best case the teacher is free and only its loss is chosen (``D_S`` follows from the
    budget); the returned point is then ``(L_T*, nan, D_S)``.
    """
    sc = compute.get_scenario(scenario)
    sup = {k: coefs[k] for k in params.SUPERVISED_PAPER}
    dis = {k: coefs[k] for k in params.DISTILLATION_PAPER}
    rng = np.random.default_rng(seed)

    def L(N, D):
        return laws.supervised_loss(N, D, **sup)

    if sc.name == "best_case":
        D_S = compute.supervised_tokens(N_S, C - compute.forward_flops_per_token(N_S) * serving_tokens)
        tilde = L(N_S, D_S)
        lo = np.log(L(bounds.BOX_MAX, bounds.BOX_MAX))
        box = [(lo, lo + np.log(10))]

        def g(x):
            return float(laws.distillation_loss(N_S, D_S, np.exp(x[0]), tilde, **dis))

        runs = [optimize.minimize(g, [rng.uniform(*box[0])], method="SLSQP", bounds=box) for _ in range(starts)]
        best = min(runs, key=lambda r: r.fun)
        return float(best.fun), np.array([np.exp(best.x[0]), np.nan, D_S])

    def f(x):
        N_T, D_T, D_S = np.exp(x)
        return float(laws.distillation_loss(N_S, D_S, L(N_T, D_T), L(N_S, D_S), **dis))

    serving = compute.forward_flops_per_token(N_S) * serving_tokens

    def budget(x):
        N_T, D_T, D_S = np.exp(x)
        return (compute.distillation_flops(N_S, D_S, N_T, D_T, sc) + serving) / C - 1

    best = None
    for _ in range(starts):
        r = optimize.minimize(f, rng.uniform(np.log(1e7), np.log(1e13), 3), method="SLSQP",
                              constraints=[{"type": "eq", "fun": budget}],
                              bounds=[(bounds.LOG_BOX_MIN, bounds.LOG_BOX_MAX)] * 3,
                              options={"ftol": 1e-12, "maxiter": 500})
        if r.success and abs(budget(r.x)) < 1e-6 and (best is None or r.fun < best.fun):
            best = r
    if best is None:
        return float("nan"), None
    return float(best.fun), np.exp(best.x)
