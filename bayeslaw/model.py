"""PyMC models built from the laws, the priors and a validated run table.

Specifications are plain frozen dataclasses that serialise to JSON (they go into the
model card); ``build_*`` turns a specification and a table into a ``pm.Model``. The
observed data enter as ``pm.Data`` so a compiled model can be refitted on new runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslaw import laws
from bayeslaw.priors import Prior, PriorSet, from_json, merge, supervised_defaults, to_json

LIKELIHOODS = ("student_t", "normal")


@dataclass(frozen=True)
class SupervisedSpec:
    """What defines a supervised-law model (everything but the data).

    Parameters
    ----------
    gamma_free
        ``False``: Chinchilla form (gamma = 1). ``True``: the distillation paper's form.
    likelihood
        ``"student_t"`` (robust to outlier runs, default) or ``"normal"``, on log loss.
    priors
        Overrides of :func:`bayeslaw.priors.supervised_defaults`, by parameter name.
    """

    gamma_free: bool = False
    likelihood: str = "student_t"
    priors: dict[str, Prior] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        # Resolve now so a bad override fails before any sampling.
        object.__setattr__(self, "priors", self.resolved_priors())

    @property
    def law(self) -> str:
        return "supervised"

    def resolved_priors(self) -> PriorSet:
        defaults = supervised_defaults(gamma_free=self.gamma_free, likelihood=self.likelihood)
        return merge(defaults, self.priors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "gamma_free": self.gamma_free,
            "likelihood": self.likelihood,
            "priors": to_json(self.priors),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SupervisedSpec:
        return cls(bool(d["gamma_free"]), str(d["likelihood"]), from_json(d["priors"]))


def observe_log_loss(name: str, mu, obs, *, likelihood: str, sigma, nu=None, dims=None):
    """The observation model on log loss, shared by every law."""
    if likelihood == "student_t":
        return pm.StudentT(name, nu=nu, mu=mu, sigma=sigma, observed=obs, dims=dims)
    return pm.Normal(name, mu=mu, sigma=sigma, observed=obs, dims=dims)


def supervised_coefficients(spec: SupervisedSpec) -> dict[str, Any]:
    """Create the supervised coefficients (inside a model context) and their paper-scale twins."""
    p = spec.priors
    c = {name: p[name].create(name) for name in ("log_E", "log_size_term", "log_data_term",
                                                 "alpha", "beta")}
    c["gamma"] = p["gamma"].create("gamma") if spec.gamma_free else 1.0
    log_A, log_B = laws.centred_to_amplitudes(
        c["log_size_term"], c["log_data_term"], c["alpha"], c["beta"]
    )
    pm.Deterministic("E", pt.exp(c["log_E"]))
    pm.Deterministic("A", pt.exp(log_A))
    pm.Deterministic("B", pt.exp(log_B))
    pm.Deterministic("a_opt", c["beta"] / (c["alpha"] + c["beta"]))
    return c


def supervised_mean(c: dict[str, Any], log_N, log_D):
    """Mean of log loss under the supervised law (PyTensor)."""
    return laws.supervised_log_loss_centred(
        log_N,
        log_D,
        log_E=c["log_E"],
        log_size_term=c["log_size_term"],
        log_data_term=c["log_data_term"],
        alpha=c["alpha"],
        beta=c["beta"],
        gamma=c["gamma"],
        xp=pt,
    )


def build_supervised(spec: SupervisedSpec, df: pd.DataFrame) -> pm.Model:
    """The supervised law as a PyMC model of ``log(loss)`` for a validated table."""
    coords = {"run": np.arange(len(df))}
    with pm.Model(coords=coords) as model:
        log_N = pm.Data("log_N", np.log(df["N"].to_numpy()), dims="run")
        log_D = pm.Data("log_D", np.log(df["D"].to_numpy()), dims="run")
        log_loss = pm.Data("log_loss", np.log(df["loss"].to_numpy()), dims="run")
        c = supervised_coefficients(spec)
        sigma = spec.priors["sigma"].create("sigma")
        nu = spec.priors["nu"].create("nu") if spec.likelihood == "student_t" else None
        mu = supervised_mean(c, log_N, log_D)
        observe_log_loss(
            "obs", mu, log_loss, likelihood=spec.likelihood, sigma=sigma, nu=nu, dims="run"
        )
    return model


@dataclass(frozen=True)
class JointSpec:
    """The joint supervised + distillation model (everything but the data).

    Parameters
    ----------
    likelihood
        ``"student_t"`` or ``"normal"`` on log loss, for supervised runs and students alike.
    preset
        ``"weak"`` (weakly informative) or ``"busbridge2025"`` (centred on Table 6).
    preset_scale
        Multiplies the preset's prior widths (``busbridge2025`` only).
    priors
        Overrides by parameter name, applied on top of the preset.
    teacher_noise
        Sd of a teacher's *measured* log loss around its true value: the validation-set
        measurement error, known from the evaluation set's size (default 0.2%). It is fixed,
        not learned: with one measurement per teacher it cannot be told apart from the
        teacher's own deviation from the supervised law (a prototype that learned it
        sampled with r_hat 1.5).
    """

    likelihood: str = "student_t"
    preset: str = "weak"
    preset_scale: float = 1.0
    priors: dict[str, Prior] = field(default_factory=dict)
    teacher_noise: float = 0.002

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if not self.teacher_noise > 0:
            raise ValueError("teacher_noise (sd of a teacher's measured log loss) must be positive")
        if self.preset not in ("weak", "busbridge2025"):
            raise ValueError(f"preset must be 'weak' or 'busbridge2025', got {self.preset!r}")
        if not self.preset_scale > 0:
            raise ValueError("preset_scale must be positive")
        object.__setattr__(self, "priors", self.resolved_priors())
        for name in ("log_k", "log_s"):  # sampled as shifts (see distillation_coefficients)
            self.priors[name].location_keys(name)

    @property
    def law(self) -> str:
        return "distillation"

    def resolved_priors(self) -> PriorSet:
        from bayeslaw.priors import busbridge2025_preset, distillation_defaults

        if self.preset == "busbridge2025":
            base = busbridge2025_preset(likelihood=self.likelihood, scale=self.preset_scale)
        else:
            base = distillation_defaults(likelihood=self.likelihood)
        return merge(base, self.priors)

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law, "likelihood": self.likelihood, "preset": self.preset,
                "preset_scale": self.preset_scale, "priors": to_json(self.priors),
                "teacher_noise": self.teacher_noise}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JointSpec:
        return cls(d["likelihood"], d["preset"], float(d["preset_scale"]), from_json(d["priors"]),
                   float(d["teacher_noise"]))


def distillation_amplitudes(c: dict[str, Any]) -> tuple[Any, Any]:
    """The slopes form's log-amplitudes (at N_REF, D_REF) from the sampled centred ones."""
    from bayeslaw.priors import D_LO, L_REF

    shift = c["c0"] * np.log(L_REF)
    return (c["log_size_amp_c"] + shift,
            c["log_data_amp_lo"] + shift - c["Q"] * np.log(laws.D_REF / D_LO))


def distillation_power(c: dict[str, Any], log_N_S, log_D_S, xp=pt):
    """Log power term of the distillation law at students ``(N_S, D_S)``."""
    size_amp, data_amp = distillation_amplitudes(c)
    return laws.distillation_power_slopes(log_N_S, log_D_S, log_size_amp=size_amp,
                                          log_data_amp=data_amp, P=c["P"], Q=c["Q"],
                                          gamma_p=c["gamma_p"], xp=xp)


def distillation_mean_from_power(c: dict[str, Any], log_L_T, log_L_tilde, log_power, xp=pt):
    """Mean of log student loss given the log power term (see :func:`distillation_power`)."""
    return laws.distillation_log_loss_from_power(log_L_T, log_L_tilde, log_power, c0=c["c0"],
                                                 log_k=c["log_k"], log_s=c["log_s"],
                                                 log_d1=c["log_d1"], xp=xp)


def distillation_mean(c: dict[str, Any], log_N_S, log_D_S, log_L_T, log_L_tilde, xp=pt):
    """Mean of log student loss; the same code evaluates PyTensor graphs and numpy draws."""
    size_amp, data_amp = distillation_amplitudes(c)
    return laws.distillation_log_loss_slopes(
        log_N_S, log_D_S, log_L_T, log_L_tilde,
        log_size_amp=size_amp, log_data_amp=data_amp,
        P=c["P"], Q=c["Q"], gamma_p=c["gamma_p"], c0=c["c0"], log_k=c["log_k"], log_s=c["log_s"],
        log_d1=c["log_d1"], xp=xp,
    )


#: Log of L_T / L~_S at which the break is measured: parity, inside the runs and
#: before the break (its location d1 lies above 1 for the paper's law).
BREAK_REF = 0.0


def _log_softplus(z):
    """``log(softplus(z))``; below -30 it is ``z`` (clamped so neither branch's gradient is NaN)."""
    return pt.switch(z < -30.0, z, pt.log(pt.softplus(pt.maximum(z, -30.0))))


def distillation_coefficients(p: PriorSet) -> dict[str, Any]:
    """Create the distillation coefficients (inside a model context).

    The break ``-k softplus(s (x - log d1))`` (x = log L_T - log L~_S) is sampled where the
    runs measure it: its log size ``log_break_ref`` and approximate log-slope
    ``log_slope_ref`` at ``x = BREAK_REF``, with ``log_d1`` beside them; ``log_k`` and
    ``log_s`` are derived. In ``(log k, log s, log d1)`` the posterior is a ridge that bends
    with the sharpness (only the pre-break amplitude ``k d1^-s`` is measured). Each new
    coordinate is its old one shifted by a function of coordinates created before it, so
    the map has Jacobian 1 and the priors on ``log_k``, ``log_s``, ``log_d1`` are exactly
    the specified ones. The slope uses the prior's central sharpness, so that its shift
    depends on ``d1`` alone.
    """
    c = {name: p[name].create(name) for name in ("log_size_amp_c", "P", "Q", "gamma_p", "c0")}
    # The data part enters as its ratio to the size part: the runs bound the data term only
    # from above, and in the amplitude that bound curves with gamma' (a corner NUTS diverged in).
    log_data_ratio = p["log_data_ratio"].create("log_data_ratio")
    c["log_data_amp_lo"] = pm.Deterministic("log_data_amp_lo",
                                            c["log_size_amp_c"] + c["gamma_p"] * log_data_ratio)
    c["log_d1"] = p["log_d1"].create("log_d1")
    z0 = np.exp(p["log_s"].centre) * (BREAK_REF - c["log_d1"])
    slope_shift = -pt.softplus(-z0) - _log_softplus(z0)  # log(sigmoid(z0) / softplus(z0))
    log_slope_ref = p["log_s"].create_shifted("log_slope_ref", slope_shift)
    c["log_s"] = pm.Deterministic("log_s", log_slope_ref - slope_shift)
    size_shift = _log_softplus(pt.exp(c["log_s"]) * (BREAK_REF - c["log_d1"]))
    log_break_ref = p["log_k"].create_shifted("log_break_ref", size_shift)
    c["log_k"] = pm.Deterministic("log_k", log_break_ref - size_shift)
    return c


def build_joint(spec: JointSpec, dis: pd.DataFrame, sup: pd.DataFrame, teachers: pd.DataFrame,
                teacher_index: np.ndarray) -> pm.Model:
    """The joint model: supervised runs, latent teacher losses, teacher measurements, students.

    Every teacher's true log loss is a latent ``log_L_T[j]``. A teacher of known size and
    tokens is a supervised run: its true loss scatters around the supervised law with the
    supervised runs' sd. Its measured loss (when given) observes the latent value with
    ``teacher_noise``. All students of a teacher depend on the same latent value, so their
    shared dependence on that teacher's luck is modelled instead of left in the residuals.
    """
    p = spec.priors
    has_size = np.isfinite(teachers["N_T"].to_numpy()) & np.isfinite(teachers["D_T"].to_numpy())
    measured = np.isfinite(teachers["L_T"].to_numpy())
    coords = {"run": np.arange(len(sup)), "student": np.arange(len(dis)),
              "teacher": teachers["teacher_id"].astype(str).to_numpy(),
              "measured_teacher": np.flatnonzero(measured)}
    # Students' sizes and tokens are fixed when the model is built (refits change losses only).
    _, first_of_point, point_index = np.unique(dis[["N_S", "D_S"]].to_numpy(), axis=0,
                                               return_index=True, return_inverse=True)
    point_index = point_index.reshape(-1)
    N_T = np.where(has_size, teachers["N_T"].to_numpy(), 1e9)
    D_T = np.where(has_size, teachers["D_T"].to_numpy(), 2e10)
    sup_spec = SupervisedSpec(gamma_free=True, likelihood=spec.likelihood,
                              priors={k: p[k] for k in ("log_E", "log_size_term", "log_data_term",
                                                        "alpha", "beta", "gamma")}
                              | ({"nu": p["nu"]} if spec.likelihood == "student_t" else {}))
    with pm.Model(coords=coords) as model:
        log_N = pm.Data("log_N", np.log(sup["N"].to_numpy()), dims="run")
        log_D = pm.Data("log_D", np.log(sup["D"].to_numpy()), dims="run")
        log_loss = pm.Data("log_loss", np.log(sup["loss"].to_numpy()), dims="run")
        log_N_S = pm.Data("log_N_S", np.log(dis["N_S"].to_numpy()), dims="student")
        log_D_S = pm.Data("log_D_S", np.log(dis["D_S"].to_numpy()), dims="student")
        log_L_S = pm.Data("log_L_S", np.log(dis["L_S"].to_numpy()), dims="student")
        log_L_T_obs = pm.Data("log_L_T_obs", np.log(teachers["L_T"].to_numpy()[measured]),
                              dims="measured_teacher")

        c = supervised_coefficients(sup_spec)
        c.update(distillation_coefficients(p))
        sigma_sup = p["sigma_sup"].create("sigma_sup")
        sigma_dis = p["sigma_dis"].create("sigma_dis")
        nu = p["nu"].create("nu") if spec.likelihood == "student_t" else None

        observe_log_loss("obs", supervised_mean(c, log_N, log_D), log_loss,
                         likelihood=spec.likelihood, sigma=sigma_sup, nu=nu, dims="run")
        law_T = supervised_mean(c, np.log(N_T), np.log(D_T))
        prior_mu = pt.where(has_size, law_T, np.log(2.5))
        prior_sd = pt.where(has_size, sigma_sup, 0.5)
        # Start each teacher at its measured loss: measured to ~0.2%, a random start e^+-1
        # away throws the students' likelihood and the first warm-up steps far off.
        start = np.log(np.where(measured, teachers["L_T"].to_numpy(), 2.5))
        log_L_T = pm.Normal("log_L_T", mu=prior_mu, sigma=prior_sd, dims="teacher", initval=start)
        pm.Normal("obs_teacher", mu=log_L_T[np.flatnonzero(measured)], sigma=spec.teacher_noise,
                  observed=log_L_T_obs, dims="measured_teacher")
        # The supervised twin and the power term depend on (N_S, D_S) alone: evaluated once
        # per distinct student (the paper's design has 70 for 700 runs) and shared.
        point_N, point_D = log_N_S[first_of_point], log_D_S[first_of_point]
        mu_S = distillation_mean_from_power(
            c, log_L_T[teacher_index], supervised_mean(c, point_N, point_D)[point_index],
            distillation_power(c, point_N, point_D)[point_index])
        observe_log_loss("obs_student", mu_S, log_L_S, likelihood=spec.likelihood, sigma=sigma_dis,
                         nu=nu, dims="student")

        paper = laws.slopes_to_paper(*distillation_amplitudes(c), c["P"], c["Q"],
                                     c["gamma_p"], c["log_k"], c["log_s"], c["log_d1"], xp=pt)
        for name, value in paper.items():
            if name != "gamma_p":
                pm.Deterministic(name, value)
    return model
