"""PyMC models built from the laws, a specification and a validated run table.

``build_*`` turns a :mod:`bayeslaw.model.spec` specification and a table into a ``pm.Model``.
The observed data enter as ``pm.Data`` so a compiled model can be refitted on new runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslaw.core import extrapolation as law_error
from bayeslaw.core import laws, params
from bayeslaw.core.errors import DataError
from bayeslaw.core.params import BREAK_REF
from bayeslaw.model.presets import supervised_defaults
from bayeslaw.model.priors import PriorSet
from bayeslaw.model.spec import JointSpec, SupervisedSpec


def observe_log_loss(name: str, mu, obs, *, likelihood: str, sigma, nu=None, dims=None):
    """The observation model on log loss, shared by every law."""
    if likelihood == "student_t":
        return pm.StudentT(name, nu=nu, mu=mu, sigma=sigma, observed=obs, dims=dims)
    return pm.Normal(name, mu=mu, sigma=sigma, observed=obs, dims=dims)


#: The Student-t likelihood's degrees of freedom start here: below 1 a new run's predictive has no
#: mean (small real tables gave nu < 1 draws, and a backtest a CRPS of 1e14). The prior "nu" is on
#: ``nu - NU_MIN``; heavier tails than Cauchy are not what a scaling-law run's outliers look like.
NU_MIN = 1.0


def create_nu(prior) -> Any:
    """The Student-t degrees of freedom ``nu = NU_MIN + x``, ``x`` with the prior given for "nu"."""
    return pm.Deterministic("nu", NU_MIN + prior.create("nu_minus_one"))


def create_supervised(spec: SupervisedSpec) -> dict[str, Any]:
    """Create the supervised coefficients (inside a model context) and their paper-scale twins."""
    p = spec.priors
    c = {name: p[name].create(name) for name in params.SUPERVISED_SAMPLED if name != "gamma"}
    c["gamma"] = p["gamma"].create("gamma") if spec.gamma_free else 1.0
    paper = params.supervised_to_paper(c, xp=pt)
    for name in ("E", "A", "B"):
        pm.Deterministic(name, paper[name])
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
        c = create_supervised(spec)
        sigma = spec.priors["sigma"].create("sigma")
        nu = create_nu(spec.priors["nu"]) if spec.likelihood == "student_t" else None
        mu = supervised_mean(c, log_N, log_D)
        observe_log_loss(
            "obs", mu, log_loss, likelihood=spec.likelihood, sigma=sigma, nu=nu, dims="run"
        )
    return model


def distillation_power(c: dict[str, Any], log_N_S, log_D_S, log_L_T=None, xp=pt):
    """Log power term of the distillation law at students ``(N_S, D_S)`` (and their teachers' ``log_L_T`` with the
    experimental token tilt)."""
    size_amp, data_amp = params.distillation_amplitudes(c)
    return laws.distillation_power_slopes(log_N_S, log_D_S, log_size_amp=size_amp,
                                          log_data_amp=data_amp, P=c["P"], Q=c["Q"],
                                          gamma_p=c["gamma_p"], log_L_T=log_L_T,
                                          token_tilt=c.get("token_tilt", 0.0), xp=xp)


def distillation_mean_from_power(c: dict[str, Any], log_L_T, log_L_tilde, log_power, xp=pt):
    """Mean of log student loss given the log power term (see :func:`distillation_power`)."""
    return laws.distillation_log_loss_from_power(log_L_T, log_L_tilde, log_power, c0=c["c0"],
                                                 log_k=c["log_k"], log_s=c["log_s"],
                                                 log_d1=c["log_d1"], break_tilt=c.get("break_tilt", 0.0),
                                                 weak_teacher_gain=c.get("weak_teacher_gain", 0.0), xp=xp)


def _log_softplus(z):
    """``log(softplus(z))``; below -30 it is ``z`` (clamped so neither branch's gradient is NaN)."""
    return pt.switch(z < -30.0, z, pt.log(pt.softplus(pt.maximum(z, -30.0))))


def create_distillation(p: PriorSet) -> dict[str, Any]:
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
    if "break_tilt" in p:  # the experimental extension (JointSpec.break_tilt)
        c["break_tilt"] = p["break_tilt"].create("break_tilt")
    if "weak_teacher_gain" in p:  # JointSpec.weak_teacher
        c["weak_teacher_gain"] = p["weak_teacher_gain"].create("weak_teacher_gain")
    if "token_tilt" in p:  # the experimental extension (JointSpec.token_tilt)
        c["token_tilt"] = p["token_tilt"].create("token_tilt")
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
    sizes, size_index = np.unique(dis["N_S"].to_numpy(), return_inverse=True)
    if spec.size_effect and sizes.size < 2:
        raise DataError(f"a per-size offset (size_effect, --size-effect) needs students of at least two sizes; these "
                        f"are all N_S = {sizes[0]:.3g}: fit without it")
    if spec.noise_by_size and sizes.size < 2:
        raise DataError(f"a students' noise that varies with size (noise_by_size) needs students of at least two "
                        f"sizes; these are all N_S = {sizes[0]:.3g}: fit without it")
    coords = {"run": np.arange(len(sup)), "student": np.arange(len(dis)),
              "teacher": teachers["teacher_id"].astype(str).to_numpy(),
              "measured_teacher": np.flatnonzero(measured)} | ({"student_size": sizes} if spec.size_effect else {})
    # Students' sizes and tokens are fixed when the model is built (refits change losses only).
    _, first_of_point, point_index = np.unique(dis[["N_S", "D_S"]].to_numpy(), axis=0,
                                               return_index=True, return_inverse=True)
    point_index = point_index.reshape(-1)
    N_T = np.where(has_size, teachers["N_T"].to_numpy(), 1e9)
    D_T = np.where(has_size, teachers["D_T"].to_numpy(), 2e10)
    sup_spec = SupervisedSpec(gamma_free=True, likelihood=spec.likelihood,
                              priors={k: p[k] for k in params.SUPERVISED_SAMPLED}
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

        c = create_supervised(sup_spec)
        c.update(create_distillation(p))
        # Without supervised runs it stays its prior: the scatter of a new teacher given by size.
        sigma_sup = p["sigma_sup"].create("sigma_sup")
        sigma_dis = p["sigma_dis"].create("sigma_dis")
        nu = create_nu(p["nu"]) if spec.likelihood == "student_t" else None

        if len(sup):
            observe_log_loss("obs", supervised_mean(c, log_N, log_D), log_loss,
                             likelihood=spec.likelihood, sigma=sigma_sup, nu=nu, dims="run")
        if has_size.any():
            law_T = supervised_mean(c, np.log(N_T), np.log(D_T))
            prior_mu = pt.where(has_size, law_T, np.log(2.5))
            prior_sd = pt.where(has_size, sigma_sup, 0.5)
        else:  # teachers known by their loss only: a vague prior, the measurement does the work
            prior_mu, prior_sd = np.log(2.5), 0.5
        # Start each teacher at its measured loss: measured to ~0.2%, a random start e^+-1
        # away throws the students' likelihood and the first warm-up steps far off.
        start = np.log(np.where(measured, teachers["L_T"].to_numpy(), 2.5))
        log_L_T = pm.Normal("log_L_T", mu=prior_mu, sigma=prior_sd, dims="teacher", initval=start)
        teacher_noise = p["teacher_noise"].create("teacher_noise") if spec.learn_teacher_noise else spec.teacher_noise
        pm.Normal("obs_teacher", mu=log_L_T[np.flatnonzero(measured)], sigma=teacher_noise,
                  observed=log_L_T_obs, dims="measured_teacher")
        # The supervised twin and the power term depend on (N_S, D_S) alone: evaluated once
        # per distinct student (the paper's design has 70 for 700 runs) and shared.
        point_N, point_D = log_N_S[first_of_point], log_D_S[first_of_point]
        twin = c if not spec.supervised_cut else {k: p[k].median for k in params.SUPERVISED_SAMPLED}
        # with the token tilt the power term depends on the teacher too: one per student
        power = (distillation_power(c, log_N_S, log_D_S, log_L_T[teacher_index]) if spec.token_tilt else
                 distillation_power(c, point_N, point_D)[point_index])
        mu_S = distillation_mean_from_power(
            c, log_L_T[teacher_index], supervised_mean(twin, point_N, point_D)[point_index], power)
        if spec.teacher_effect:
            sd = p["teacher_effect_sd"].create("teacher_effect_sd")
            z = pm.Normal("teacher_effect_z", 0.0, 1.0, dims="teacher")  # non-centred: sd is small and learned
            mu_S = mu_S + pm.Deterministic("teacher_effect", sd * z, dims="teacher")[teacher_index]
        if spec.size_effect:
            sd = p["size_effect_sd"].create("size_effect_sd")
            # non-centred, and summing to zero: with a handful of sizes a common offset would trade against the
            # law's own amplitude (a ridge that failed r_hat on log_d1)
            z = pm.ZeroSumNormal("size_effect_z", sigma=1.0, dims="student_size")
            mu_S = mu_S + pm.Deterministic("size_effect", sd * z, dims="student_size")[size_index.reshape(-1)]
        if spec.noise_by_size:
            slope = p["noise_size_slope"].create("noise_size_slope")
            sigma_dis = sigma_dis * pt.exp(slope * (log_N_S - np.log(params.NOISE_SIZE_REF)))
        observe_log_loss("obs_student", mu_S, log_L_S, likelihood=spec.likelihood, sigma=sigma_dis,
                         nu=nu, dims="student")

        paper = params.distillation_to_paper(c, xp=pt)
        for name in params.DISTILLATION_PAPER:
            if name not in ("gamma_p", "c0"):
                pm.Deterministic(name, paper[name])
    return model


#: Priors of the extrapolation-discrepancy model (sd of log loss): the step at the edge of the fitted runs
#: around 0.5% and its growth per decade around 1%, each within a factor e^2 (95%) of that; the studies'
#: spread on the log scale HalfNormal(0.5): studies differ by up to a factor ~e (95%). With HalfNormal(1) the
#: population of a new study has tails that put a few draws' error at e^7 times the typical one (a loss off
#: by a factor of e^20: the leave-one-study-out CRPS then exploded to 1e4 while coverage was fine).
DISCREPANCY_PRIORS = {"mu_edge": (math.log(0.005), 1.0), "mu_growth": (math.log(0.01), 1.0), "sd_studies": 0.75,
                      "mu_shift": (0.0, 0.01), "sd_shift": 0.01}
# the signed part (``signed=True``): a new study's mean error at the edge and per decade each within about +-2% (95%)
# around a population mean near 0, studies spread by about 1%: the law may lean one way when it extrapolates


def build_discrepancy(residual: np.ndarray, sd: np.ndarray, decades: np.ndarray, study: np.ndarray,
                      studies: list[str], *, signed: bool = True) -> pm.Model:
    """A hierarchical model of how a scaling law errs beyond its fitted runs, partially pooled over studies.

    For a held-out run ``i`` of study ``j`` predicted from the runs below a cutoff: its log-loss residual
    (observed minus the posterior predictive median) is Student-t with scale ``sqrt(sd_i**2 + tau_ij**2)``,
    where ``sd_i`` is the predictive's own sd (law and run noise) and ``tau_ij = sqrt(edge_j**2 +
    (growth_j decades_i)**2)`` the law's extrapolation error for a run ``decades_i > 0`` decades beyond the
    fitted runs (0 inside them). ``log edge_j`` and ``log growth_j`` are drawn around population means
    with population sds (non-centred); a new study draws its own from the population.

    With ``signed`` (the default) the residual's location beyond the runs is ``shift_edge_j + shift_growth_j
    decades_i`` (0 inside): a study's law may lean one way when it extrapolates (the held-out runs of most
    studies' splits beat their law). Each is drawn around a population mean with a population sd (non-centred;
    :data:`DISCREPANCY_PRIORS`), so a new study draws its own lean, whose sign the population's mean sets and
    whose spread it learns. Without it the location is 0 (the model shipped before the signed lean).
    """
    pri = DISCREPANCY_PRIORS
    with pm.Model(coords={"study": studies, "run": np.arange(residual.size)}) as model:
        r, s, d, j, pop = discrepancy_parts(residual, sd, decades, study)
        edge = pm.Deterministic("edge", pt.exp(pop["mu_e"] + pop["sd_e"] * pop["z_e"]), dims="study")
        growth = pm.Deterministic("growth", pt.exp(pop["mu_g"] + pop["sd_g"] * pop["z_g"]), dims="study")
        nu = create_nu(_nu_prior())
        tau2 = law_error.error_variance(edge[j], growth[j], d, xp=pt)
        mean = 0.0
        if signed:
            shift = {}
            for part in ("edge", "growth"):
                mu = pm.Normal(f"mu_shift_{part}", *pri["mu_shift"])
                spread = pm.HalfNormal(f"sd_shift_{part}", pri["sd_shift"])
                z = pm.Normal(f"z_shift_{part}", 0.0, 1.0, dims="study")
                shift[part] = pm.Deterministic(f"shift_{part}", mu + spread * z, dims="study")
            mean = law_error.error_mean(shift["edge"][j], shift["growth"][j], d, xp=pt)
        pm.StudentT("obs", nu=nu, mu=mean, sigma=pt.sqrt(s ** 2 + tau2), observed=r, dims="run")
    return model


#: Priors of the tokens-per-parameter drift (per decade beyond the most tokens per parameter fitted, on log loss):
#: a mean shift within about +-20% per decade, study-to-study spread and extra error of a few percent per decade.
RATIO_DRIFT_PRIORS = {"mu_slope": (0.0, 0.1), "sd_slope": 0.05, "spread": 0.05}


def build_ratio_drift(residual: np.ndarray, sd: np.ndarray, ratio_decades: np.ndarray, study: np.ndarray,
                      studies: list[str]) -> pm.Model:
    """How a scaling law errs on runs trained on more tokens per parameter than any it was fitted on.

    A held-out run ``i`` of study ``j``, ``d_i`` decades past the fitted runs' most tokens per parameter: its
    log-loss residual (observed minus the posterior predictive median) is Student-t with location
    ``slope_j d_i`` (a signed drift: fits at typical ratios overestimate what extra tokens buy) and scale
    ``sqrt(sd_i**2 + (spread d_i)**2)``. ``slope_j`` is drawn around a population mean with a population sd
    (non-centred), so a new study draws its own.
    """
    pri = RATIO_DRIFT_PRIORS
    with pm.Model(coords={"study": studies, "run": np.arange(residual.size)}) as model:
        r = pm.Data("residual", residual, dims="run")
        s = pm.Data("predictive_sd", sd, dims="run")
        d = pm.Data("ratio_decades", ratio_decades, dims="run")
        j = pm.Data("study_index", study, dims="run")
        mu = pm.Normal("mu_slope", *pri["mu_slope"])
        tau = pm.HalfNormal("sd_slope", pri["sd_slope"])
        z = pm.Normal("z_slope", 0.0, 1.0, dims="study")
        slope = pm.Deterministic("slope", mu + tau * z, dims="study")
        spread = pm.HalfNormal("spread", pri["spread"])
        nu = create_nu(_nu_prior())
        pm.StudentT("obs", nu=nu, mu=slope[j] * d, sigma=pt.sqrt(s ** 2 + (spread * d) ** 2), observed=r, dims="run")
    return model


def discrepancy_parts(residual: np.ndarray, sd: np.ndarray, decades: np.ndarray,
                      study: np.ndarray) -> tuple[Any, ...]:
    """Inside a model with ``study`` and ``run`` dims: the discrepancy model's data and its population of edge
    and growth (means, sds and each study's standard-normal offsets, by the names ``mu_e``, ``mu_g``, ``sd_e``,
    ``sd_g``, ``z_e``, ``z_g``), created in the shipped model's order so that a variant that starts from them
    samples the same parameters."""
    pri = DISCREPANCY_PRIORS
    data = (pm.Data("residual", residual, dims="run"), pm.Data("predictive_sd", sd, dims="run"),
            pm.Data("decades", decades, dims="run"), pm.Data("study_index", study, dims="run"))
    pop = {"mu_e": pm.Normal("mu_log_edge", *pri["mu_edge"]), "mu_g": pm.Normal("mu_log_growth", *pri["mu_growth"]),
           "sd_e": pm.HalfNormal("sd_log_edge", pri["sd_studies"]),
           "sd_g": pm.HalfNormal("sd_log_growth", pri["sd_studies"])}
    pop["z_e"] = pm.Normal("z_edge", 0.0, 1.0, dims="study")
    pop["z_g"] = pm.Normal("z_growth", 0.0, 1.0, dims="study")
    return (*data, pop)


def _nu_prior():
    """The one nu prior of every model (bayeslaw.model.presets)."""
    return supervised_defaults(gamma_free=False, likelihood="student_t")["nu"]


def build_student_discrepancy(residual: np.ndarray, sd: np.ndarray, decades: np.ndarray, outside: np.ndarray,
                              prior: dict[str, tuple[float, float]]) -> pm.Model:
    """How the distillation law errs beyond its fitted students: one study's edge and growth, its prior the
    supervised population's (partial pooling with the studies already calibrated; a cut, so that the students
    do not move the supervised population).

    A held-out student's log-loss residual is Student-t with scale ``sqrt(sd**2 + tau**2)``, ``tau`` the error of
    :func:`bayeslaw.core.extrapolation.error_variance` where the student lies ``outside`` the fitted students (in
    loss, teacher strength, size or tokens), 0 inside. ``prior`` gives ``(mean, sd)`` of ``log_edge`` and
    ``log_growth``: a new study of the population (:func:`bayeslaw.posterior.extrapolation.new_study_prior`).
    """
    with pm.Model(coords={"run": np.arange(residual.size)}) as model:
        r = pm.Data("residual", residual, dims="run")
        s = pm.Data("predictive_sd", sd, dims="run")
        d = pm.Data("decades", decades, dims="run")
        out = pm.Data("outside", outside.astype(float), dims="run")
        log_edge = pm.Normal("log_edge", *prior["log_edge"])
        log_growth = pm.Normal("log_growth", *prior["log_growth"])
        edge = pm.Deterministic("edge", pt.exp(log_edge))
        growth = pm.Deterministic("growth", pt.exp(log_growth))
        nu = create_nu(_nu_prior())
        tau2 = law_error.error_variance(edge, growth, d, xp=pt, outside=out > 0.5)
        pm.StudentT("obs", nu=nu, mu=0.0, sigma=pt.sqrt(s ** 2 + tau2), observed=r, dims="run")
    return model
