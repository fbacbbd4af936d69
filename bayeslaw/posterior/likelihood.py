"""The fitted likelihood, evaluated from draws: run noise, log densities, the observed terms.

Used for PSIS-LOO, posterior predictive checks and held-out scores without rebuilding the
PyMC model: each likelihood term of a fit is recomputed in numpy from its coefficient draws
and the observed data the fit stored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import special

from bayeslaw.core import laws, params
from bayeslaw.core.errors import InputError
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import as_arrays, coefficients

SUPERVISED_NOISE = {"supervised": "sigma", "distillation": "sigma_sup"}


def supervised_log_mean(coefs: dict[str, np.ndarray], N: Any, D: Any) -> np.ndarray:
    """``log L`` of the supervised law for every draw (rows) and every (N, D) point (columns).

    ``coefs`` holds the sampled supervised coefficients (:data:`bayeslaw.core.params.SUPERVISED_SAMPLED`),
    each an array of shape ``(draw,)``; extra entries are ignored.
    """
    N = np.atleast_1d(np.asarray(N, dtype=float))
    D = np.atleast_1d(np.asarray(D, dtype=float))
    col = {k: np.asarray(coefs[k])[:, None] for k in params.SUPERVISED_SAMPLED}
    return laws.supervised_log_loss_centred(np.log(N)[None, :], np.log(D)[None, :], **col)


def student_log_mean(c: dict[str, np.ndarray], N_S, D_S, log_L_T) -> tuple[np.ndarray, np.ndarray]:
    """``(log L_S, log L)`` per draw (rows) and point (columns), ``log_L_T`` (draw, point): the distilled student
    and the same student trained supervised by the posterior's supervised law.

    Eq. 8 takes its ``L~_S`` from :func:`bayeslaw.core.params.twin_of`: a cut posterior's fixed twin, which is
    not the supervised option (that is the sampled supervised law, with its uncertainty).
    """
    log_sup = supervised_log_mean(c, N_S, D_S)
    log_tilde = supervised_log_mean(params.twin_of(c), N_S, D_S) if params.TWIN + "log_E" in c else log_sup
    col = {k: np.asarray(v)[:, None] for k, v in c.items()}
    log_S = laws.distillation_log_loss_sampled(col, np.log(np.asarray(N_S, float))[None, :],
                                               np.log(np.asarray(D_S, float))[None, :], log_L_T, log_tilde, xp=np)
    return log_S, log_sup


def degrees_of_freedom(fit: Fit) -> np.ndarray | None:
    """The draws' Student-t degrees of freedom, or None for a Normal likelihood."""
    return fit.draws(["nu"])["nu"] if fit.card["spec"]["likelihood"] == "student_t" else None


def noise_parameters(fit: Fit, sigma_name: str = "sigma") -> tuple[np.ndarray, np.ndarray | None]:
    """Per-draw noise sd on log loss and Student-t degrees of freedom (None: Normal likelihood).

    A students' noise that varies with size (``JointSpec.noise_by_size``) has no one sd per draw: ask
    :func:`student_noise` for it, which needs the students' sizes.
    """
    if sigma_name == "sigma_dis" and fit.card["spec"].get("noise_by_size"):
        raise InputError("this posterior's students' noise varies with their size (noise_by_size): their noise sd "
                         "comes from student_noise(fit, N_S), not one per draw")
    sigma = fit.draws([sigma_name])[sigma_name]
    return sigma, degrees_of_freedom(fit)


def student_noise(fit: Fit, N_S: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Students' run noise: ``(draw, student)`` sd on log loss and the ``(draw,)`` degrees of freedom (or None).

    One sd per draw (``sigma_dis``) for every student unless the fit's noise varies with size
    (``JointSpec.noise_by_size``): then ``sigma_dis * (N / NOISE_SIZE_REF) ** noise_size_slope``, with ``N`` held
    inside the fitted students' sizes, so a larger or smaller student than any fitted takes the nearest fitted
    size's noise rather than a trend carried past the data.
    """
    N_S = np.ravel(np.asarray(N_S, float))
    sigma = fit.draws(["sigma_dis"])["sigma_dis"]
    nu = degrees_of_freedom(fit)
    if not fit.card["spec"].get("noise_by_size"):
        return np.broadcast_to(sigma[:, None], (sigma.size, N_S.size)), nu
    fitted = fit.idata["observed_data"]["log_N_S"].values
    x = np.clip(np.log(N_S), fitted.min(), fitted.max()) - np.log(params.NOISE_SIZE_REF)
    slope = fit.draws(["noise_size_slope"])["noise_size_slope"]
    return sigma[:, None] * np.exp(slope[:, None] * x[None, :]), nu


def scaled_noise(sigma: np.ndarray, nu: np.ndarray | None, shape: tuple[int, int],
                 rng: np.random.Generator) -> np.ndarray:
    """``shape`` (draw, run) draws of run noise: ``sigma`` ``(draw,)`` or ``(draw, run)`` times a standard Normal
    or Student-t with the draw's ``nu``."""
    sigma = sigma[:, None] if np.ndim(sigma) == 1 else sigma
    if nu is not None:
        return sigma * rng.standard_t(np.broadcast_to(nu[:, None], shape))
    return sigma * rng.standard_normal(shape)


def term_noise(fit: Fit, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """New-run noise draws for an observed term's ``(draw, run)`` sd (:func:`observed_terms`), with the fit's
    Student-t degrees of freedom if it has them."""
    nu = degrees_of_freedom(fit)
    return scaled_noise(sigma, nu, sigma.shape, rng)


def noise_draws(fit: Fit, shape: tuple[int, int], rng: np.random.Generator,
                sigma_name: str = "sigma", draws: np.ndarray | None = None) -> np.ndarray:
    """Observation noise on log loss for new runs, one row per posterior draw (or per draw of ``draws``,
    indices of a subsample). Students' noise comes from :func:`student_noise` (with :func:`scaled_noise`): it may
    vary with their size."""
    if sigma_name == "sigma_dis":
        raise InputError("students' run noise needs their sizes: student_noise(fit, N_S), then scaled_noise")
    sigma, nu = noise_parameters(fit, sigma_name)
    if draws is not None:
        sigma, nu = sigma[draws], None if nu is None else nu[draws]
    return scaled_noise(sigma, nu, shape, rng)


def log_density(observed_log: np.ndarray, log_mean: np.ndarray, sigma: np.ndarray,
                nu: np.ndarray | None) -> np.ndarray:
    """``(draw, run)`` log density of observed log losses; ``sigma`` and ``nu`` broadcast per draw.

    Written out rather than through ``scipy.stats``: its argument checks over every (draw, run)
    cell took 0.6 s of a 6 s fit; the gamma-function terms depend on the draw only.
    """
    z2 = ((observed_log[None, :] - log_mean) / sigma) ** 2
    if nu is not None:
        const = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
        return const - np.log(sigma) - (nu + 1) / 2 * np.log1p(z2 / nu)
    return -0.5 * np.log(2 * np.pi) - np.log(sigma) - z2 / 2


def log_likelihood(fit: Fit, log_mean: np.ndarray, observed_log: np.ndarray, sigma: np.ndarray) -> xr.DataArray:
    """Pointwise log-likelihood of observed log losses.

    Parameters
    ----------
    fit
        The posterior (its draws' Student-t degrees of freedom, if any, and its chains).
    log_mean
        The law's log loss per draw and run, shape ``(draw, run)``.
    observed_log
        Observed log losses, shape ``(run,)``.
    sigma
        The noise sd per draw and run, ``(draw, run)`` (an observed term's, :func:`observed_terms`).

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, run)``.
    """
    nu = degrees_of_freedom(fit)
    ll = log_density(observed_log, log_mean, sigma, None if nu is None else nu[:, None])
    post = fit.idata["posterior"]
    ll = ll.reshape(post.sizes["chain"], post.sizes["draw"], -1)
    return xr.DataArray(ll, dims=("chain", "draw", "run"))


def size_columns(fit: Fit, N_S: Any) -> np.ndarray:
    """Each student size's column among a per-size-offset fit's sizes (``JointSpec.size_effect``; the posterior's
    ``student_size`` coordinate), -1 for a size the fit did not have.

    Parameters
    ----------
    fit
        A joint posterior fitted with per-size offsets.
    N_S
        Student sizes (raw counts).

    Returns
    -------
    numpy.ndarray
        Integer columns, the shape of ``N_S`` flattened.
    """
    fitted = fit.idata["posterior"]["size_effect"].coords["student_size"].values
    same = np.isclose(np.ravel(np.asarray(N_S, float))[:, None], fitted[None, :], rtol=1e-9)
    return np.where(same.any(axis=1), same.argmax(axis=1), -1)


def _runs_noise(fit: Fit, sigma_name: str, n: int) -> np.ndarray:
    sigma, _ = noise_parameters(fit, sigma_name)
    return np.broadcast_to(sigma[:, None], (sigma.size, n))


def observed_terms(fit: Fit) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Each likelihood term of a fit: ``(name, log_mean (draw, run), observed log, noise sd (draw, run))``.

    A supervised fit has one term (its runs); a joint fit two: the supervised runs and the
    students, each student evaluated at its teacher's latent loss draw.
    """
    obs = fit.idata["observed_data"].to_dataset()
    c = as_arrays(coefficients(fit))
    out = []
    if obs["log_N"].size:  # a joint fit without supervised runs has none
        out.append(("obs", supervised_log_mean(c, np.exp(obs["log_N"].values), np.exp(obs["log_D"].values)),
                    obs["log_loss"].values, _runs_noise(fit, SUPERVISED_NOISE[fit.law], obs["log_N"].size)))
    if fit.law == "distillation":
        teacher = np.asarray(fit.card["data"]["teachers"]["index"])
        log_L_T = fit.draws(["log_L_T"])["log_L_T"][:, teacher]
        log_S, _ = student_log_mean(c, np.exp(obs["log_N_S"].values), np.exp(obs["log_D_S"].values), log_L_T)
        if fit.card["spec"].get("teacher_effect"):  # the offset a teacher's students share (JointSpec.teacher_effect)
            log_S = log_S + fit.draws(["teacher_effect"])["teacher_effect"][:, teacher]
        if fit.card["spec"].get("size_effect"):  # the offset a size's students share (JointSpec.size_effect)
            size = size_columns(fit, np.exp(obs["log_N_S"].values))
            log_S = log_S + fit.draws(["size_effect"])["size_effect"][:, size]
        out.append(("obs_student", log_S, obs["log_L_S"].values, student_noise(fit, np.exp(obs["log_N_S"].values))[0]))
    return out
