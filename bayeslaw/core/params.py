"""Parameter names, reference constants and the maps between sampled and paper coefficients.

The models sample centred, log-scale coordinates (they remove correlations that slow NUTS);
people, the paper and the planner speak the paper's coefficients. Both sets of names and
every map between them live here, over an array namespace ``xp`` (numpy, PyTensor, JAX), so
the model, the predictions and the planner use one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

Array = Any

#: Reference scales that centre the amplitudes of the power-law terms. The sampled
#: ``log_size_term`` is log(A / N_REF**alpha), i.e. the log of the size term at
#: 1e9 parameters; likewise ``log_data_term`` at 1e11 tokens. Centring removes most
#: of the (log A, alpha) and (log B, beta) correlation that slows NUTS.
N_REF = 1e9
D_REF = 1e11
#: Reference teacher loss at which c0 is centred: the model samples amplitudes that
#: include the factor L_REF**-c0, which removes the c0 / amplitude correlation.
L_REF = 2.4
#: The distillation data term is centred at this many tokens, the low end of distillation
#: runs: the data only bound that term from above, and measured there the bound does not
#: move with its slope Q (centred at 1e11 it did, and NUTS diverged in the corner Q -> 0).
D_LO = 3e9
#: Log of L_T / L~_S at which the break is measured: parity, inside the runs and
#: before the break (its location d1 lies above 1 for the paper's law).
BREAK_REF = 0.0

#: The supervised law's coefficients as sampled (``gamma`` only when it is free) ...
SUPERVISED_SAMPLED = ("log_E", "log_size_term", "log_data_term", "alpha", "beta", "gamma")
#: ... and on the paper's scale (Eq. 1).
SUPERVISED_PAPER = ("E", "A", "B", "alpha", "beta", "gamma")
#: The distillation law's coefficients in the slopes form (the model derives ``log_k``,
#: ``log_s`` and ``log_data_amp_lo`` from what it samples; see bayeslaw.model.build) ...
DISTILLATION_SAMPLED = ("log_size_amp_c", "log_data_amp_lo", "P", "Q", "gamma_p", "c0",
                        "log_k", "log_s", "log_d1")
#: ... and on the paper's scale (Eq. 8).
DISTILLATION_PAPER = ("A_p", "B_p", "alpha_p", "beta_p", "gamma_p", "c0", "c1", "f1", "d1")
#: The student size (parameters) at which a size-dependent students' noise has sd ``sigma_dis``
#: (``JointSpec.noise_by_size``): near the middle of the paper's students on the log scale.
NOISE_SIZE_REF = 1e9
#: Coefficients of Eq. 8's extensions (JointSpec.break_tilt, .weak_teacher, .token_tilt); 0 in the paper's form.
DISTILLATION_EXTENSIONS = ("break_tilt", "weak_teacher_gain", "token_tilt")
#: A cut posterior (``JointSpec.supervised_cut``) fixes the supervised twin ``L~_S`` inside Eq. 8: its
#: coefficients travel beside the draws under these names (prefix + a supervised name, either scale).
TWIN = "twin_"


def twin_of(c: dict[str, Array], names: tuple[str, ...] = SUPERVISED_SAMPLED) -> dict[str, Array]:
    """The supervised coefficients that give Eq. 8 its ``L~_S``: the fixed twin of a cut posterior where ``c``
    carries one (``twin_<name>``), else the sampled supervised law itself."""
    return {k: c.get(TWIN + k, c[k]) for k in names}
#: What a fit's summary table reports, per law.
REPORTED = {
    "supervised": [*SUPERVISED_PAPER, "a_opt", "sigma", "nu"],
    "distillation": [*SUPERVISED_PAPER, *DISTILLATION_PAPER, *DISTILLATION_EXTENSIONS, "size_effect_sd", "sigma_sup",
                     "sigma_dis", "nu"],
}


# --------------------------------------------------------------------------- supervised


def centred_to_amplitudes(
    log_size_term: Array, log_data_term: Array, alpha: Array, beta: Array
) -> tuple[Array, Array]:
    """Map centred log-amplitudes back to the paper's ``(log A, log B)``."""
    return log_size_term + alpha * np.log(N_REF), log_data_term + beta * np.log(D_REF)


def amplitudes_to_centred(
    log_A: Array, log_B: Array, alpha: Array, beta: Array
) -> tuple[Array, Array]:
    """Map the paper's ``(log A, log B)`` to the centred log-amplitudes."""
    return log_A - alpha * np.log(N_REF), log_B - beta * np.log(D_REF)


def supervised_to_paper(c: dict[str, Array], xp: ModuleType = np) -> dict[str, Array]:
    """``E, A, B, alpha, beta, gamma`` from the sampled supervised coefficients."""
    log_A, log_B = centred_to_amplitudes(c["log_size_term"], c["log_data_term"], c["alpha"], c["beta"])
    return {"E": xp.exp(c["log_E"]), "A": xp.exp(log_A), "B": xp.exp(log_B),
            "alpha": c["alpha"], "beta": c["beta"], "gamma": c["gamma"]}


def supervised_to_log(c: dict[str, Array], xp: ModuleType = np) -> dict[str, Array]:
    """The log-sum-exp form's ``log_E, log_A, log_B, alpha, beta, gamma`` from paper coefficients."""
    return {"log_E": xp.log(c["E"]), "log_A": xp.log(c["A"]), "log_B": xp.log(c["B"]),
            "alpha": c["alpha"], "beta": c["beta"], "gamma": c["gamma"]}


# ------------------------------------------------------------------------- distillation


def break_from_paper(c1: Array, f1: Array, d1: Array, xp: ModuleType = np) -> dict[str, Array]:
    """The break's sampled coordinates: ``log_k = log(c1 f1)``, ``log_s = -log f1``, ``log_d1``."""
    return {"log_k": xp.log(c1 * f1), "log_s": -xp.log(f1), "log_d1": xp.log(d1)}


def slopes_to_paper(
    log_size_amp: Array,
    log_data_amp: Array,
    P: Array,
    Q: Array,
    gamma_p: Array,
    log_k: Array,
    log_s: Array,
    log_d1: Array,
    xp: ModuleType = np,
) -> dict[str, Array]:
    """Map the slopes form's parameters to the paper's ``A', B', ..., c1, f1, d1``."""
    alpha_p = P / gamma_p
    beta_p = Q / gamma_p
    log_A_p = log_size_amp / gamma_p + alpha_p * np.log(N_REF)
    log_B_p = log_data_amp / gamma_p + beta_p * np.log(D_REF)
    f1 = xp.exp(-log_s)
    return {
        "A_p": xp.exp(log_A_p),
        "B_p": xp.exp(log_B_p),
        "alpha_p": alpha_p,
        "beta_p": beta_p,
        "gamma_p": gamma_p,
        "c1": xp.exp(log_k) / f1,
        "f1": f1,
        "d1": xp.exp(log_d1),
    }


def paper_to_slopes(
    *,
    A_p: Array,
    B_p: Array,
    alpha_p: Array,
    beta_p: Array,
    gamma_p: Array,
    c1: Array,
    f1: Array,
    d1: Array,
    xp: ModuleType = np,
) -> dict[str, Array]:
    """Inverse of :func:`slopes_to_paper`."""
    return {
        "log_size_amp": gamma_p * (xp.log(A_p) - alpha_p * np.log(N_REF)),
        "log_data_amp": gamma_p * (xp.log(B_p) - beta_p * np.log(D_REF)),
        "P": gamma_p * alpha_p,
        "Q": gamma_p * beta_p,
        "gamma_p": gamma_p,
        **break_from_paper(c1, f1, d1, xp),
    }


def distillation_amplitudes(c: dict[str, Array]) -> tuple[Array, Array]:
    """The slopes form's log-amplitudes (at N_REF, D_REF) from the sampled centred ones.

    The model samples the size amplitude for a teacher of loss ``L_REF`` and the data amplitude
    at ``D_LO`` tokens (see the constants above); this undoes both shifts.
    """
    shift = c["c0"] * np.log(L_REF)
    return (c["log_size_amp_c"] + shift,
            c["log_data_amp_lo"] + shift - c["Q"] * np.log(D_REF / D_LO))


def centred_distillation(slopes: dict[str, float], c0: float) -> tuple[float, float]:
    """Inverse of :func:`distillation_amplitudes`: ``(log_size_amp_c, log_data_amp_lo)``."""
    shift = c0 * math.log(L_REF)
    return (slopes["log_size_amp"] - shift,
            slopes["log_data_amp"] - shift + slopes["Q"] * math.log(D_REF / D_LO))


def distillation_to_paper(c: dict[str, Array], xp: ModuleType = np) -> dict[str, Array]:
    """``A', B', alpha', beta', gamma', c0, c1, f1, d1`` from the sampled distillation coefficients."""
    paper = slopes_to_paper(*distillation_amplitudes(c), c["P"], c["Q"], c["gamma_p"], c["log_k"],
                            c["log_s"], c["log_d1"], xp=xp)
    return {**paper, "c0": c["c0"]}


# ------------------------------------------------------------------------------ draws


@dataclass(frozen=True)
class Laws:
    """Coefficient draws on the paper's scale, each an array of shape (draw,).

    The container the planner works on: a posterior gives one with
    :func:`bayeslaw.posterior.draws.laws`, a point fit or the paper's Table 6 one draw with
    :meth:`from_points`. The distillation coefficients are ``None`` for a supervised posterior.
    """

    E: np.ndarray
    A: np.ndarray
    B: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    A_p: np.ndarray | None = None
    B_p: np.ndarray | None = None
    alpha_p: np.ndarray | None = None
    beta_p: np.ndarray | None = None
    gamma_p: np.ndarray | None = None
    c0: np.ndarray | None = None
    c1: np.ndarray | None = None
    f1: np.ndarray | None = None
    d1: np.ndarray | None = None
    #: the weak-teacher gain (``JointSpec.weak_teacher``; None: the paper's form, 0)
    weak_teacher_gain: np.ndarray | None = None
    #: a cut posterior's fixed supervised twin (paper scale, shape (draw,)): Eq. 8's ``L~_S``; None: the law's
    twin_E: np.ndarray | None = None
    twin_A: np.ndarray | None = None
    twin_B: np.ndarray | None = None
    twin_alpha: np.ndarray | None = None
    twin_beta: np.ndarray | None = None
    twin_gamma: np.ndarray | None = None
    #: the planner's expected drift past the fitted runs' most tokens per parameter (``drift_ratio``, per draw): a
    #: teacher the planner trains longer than that is charged ``drift_slope`` log loss per decade (None: the law)
    drift_slope: np.ndarray | None = None
    drift_ratio: np.ndarray | None = None

    @property
    def n_draws(self) -> int:
        return int(np.size(self.E))

    @property
    def has_distillation(self) -> bool:
        return self.c0 is not None

    def take(self, idx: slice | np.ndarray) -> Laws:
        return Laws(**{k: (None if v is None else np.asarray(v)[idx]) for k, v in self.__dict__.items()})

    def twin(self) -> Laws:
        """The law whose supervised part gives Eq. 8's ``L~_S``: this one, or a cut posterior's fixed twin."""
        if self.twin_E is None:
            return self
        fixed = {k: getattr(self, TWIN + k) for k in SUPERVISED_PAPER}
        return Laws(**{**self.__dict__, **fixed} | {TWIN + k: None for k in SUPERVISED_PAPER})

    def supervised(self) -> dict[str, np.ndarray]:
        """The supervised coefficients by name."""
        return {k: getattr(self, k) for k in SUPERVISED_PAPER}

    def distillation(self) -> dict[str, np.ndarray]:
        """The distillation coefficients by name (with the weak-teacher gain where the law has one)."""
        gain = {} if self.weak_teacher_gain is None else {"weak_teacher_gain": self.weak_teacher_gain}
        return {k: getattr(self, k) for k in DISTILLATION_PAPER} | gain

    @classmethod
    def from_points(cls, sup: dict[str, float], dis: dict[str, float] | None = None) -> Laws:
        """A one-draw 'posterior' from point coefficients (e.g. the paper's Table 6)."""
        d = {k: np.atleast_1d(float(v)) for k, v in {**sup, **(dis or {})}.items()}
        return cls(**d)
