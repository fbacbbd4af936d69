"""Predictions from posterior draws: mean-law and new-run bands, pointwise likelihood.

Everything is numpy over the draws (no PyMC): the laws module evaluates each draw, and
new runs add observation noise drawn from the fitted likelihood on log loss.
Results are xarray objects with a ``draw`` dimension (chains flattened).
"""

from __future__ import annotations

from typing import Any

import arviz_stats  # noqa: F401  (registers the .azstats accessor)
import numpy as np
import xarray as xr
from scipy import stats

from bayeslaw import laws
from bayeslaw.posterior import Fit

INTERVAL_KINDS = ("eti", "hdi")


def supervised_coefficients(fit: Fit) -> dict[str, np.ndarray]:
    """Per-draw supervised coefficients in the sampled (centred, log) parameterisation."""
    names = ["log_E", "log_size_term", "log_data_term", "alpha", "beta"]
    d = fit.draws([n for n in names + ["gamma"] if n in fit.idata["posterior"].data_vars])
    d.setdefault("gamma", np.ones_like(d["alpha"]))
    return d


def paper_coefficients(fit: Fit) -> dict[str, np.ndarray]:
    """Per-draw ``E, A, B, alpha, beta, gamma`` on the paper's scale."""
    c = supervised_coefficients(fit)
    log_A, log_B = laws.centred_to_amplitudes(
        c["log_size_term"], c["log_data_term"], c["alpha"], c["beta"]
    )
    return {"E": np.exp(c["log_E"]), "A": np.exp(log_A), "B": np.exp(log_B),
            "alpha": c["alpha"], "beta": c["beta"], "gamma": c["gamma"]}


def supervised_log_mean(coefs: dict[str, np.ndarray], N: Any, D: Any) -> np.ndarray:
    """``log L`` for every draw (rows) and every (N, D) point (columns)."""
    N = np.atleast_1d(np.asarray(N, dtype=float))
    D = np.atleast_1d(np.asarray(D, dtype=float))
    col = {k: np.asarray(v)[:, None] for k, v in coefs.items()}
    return laws.supervised_log_loss_centred(
        np.log(N)[None, :], np.log(D)[None, :], **col
    )


def noise_parameters(fit: Fit, sigma_name: str = "sigma") -> tuple[np.ndarray, np.ndarray | None]:
    """Per-draw noise sd on log loss and Student-t degrees of freedom (None: Normal likelihood)."""
    sigma = fit.draws([sigma_name])[sigma_name]
    nu = fit.draws(["nu"])["nu"] if fit.card["spec"]["likelihood"] == "student_t" else None
    return sigma, nu


def noise_draws(fit: Fit, shape: tuple[int, int], rng: np.random.Generator,
                sigma_name: str = "sigma") -> np.ndarray:
    """Observation noise on log loss for new runs, one row per posterior draw."""
    sigma, nu = noise_parameters(fit, sigma_name)
    if nu is not None:
        return sigma[:, None] * rng.standard_t(np.broadcast_to(nu[:, None], shape))
    return sigma[:, None] * rng.standard_normal(shape)


def log_density(observed_log: np.ndarray, log_mean: np.ndarray, sigma: np.ndarray,
                nu: np.ndarray | None) -> np.ndarray:
    """``(draw, run)`` log density of observed log losses; ``sigma`` and ``nu`` broadcast per draw."""
    if nu is not None:
        return stats.t.logpdf(observed_log[None, :], df=nu, loc=log_mean, scale=sigma)
    return stats.norm.logpdf(observed_log[None, :], loc=log_mean, scale=sigma)


def log_likelihood(fit: Fit, log_mean: np.ndarray, observed_log: np.ndarray,
                   sigma_name: str = "sigma") -> xr.DataArray:
    """Pointwise log-likelihood ``(chain, draw, run)`` of observed log losses."""
    sigma, nu = noise_parameters(fit, sigma_name)
    ll = log_density(observed_log, log_mean, sigma[:, None], None if nu is None else nu[:, None])
    post = fit.idata["posterior"]
    ll = ll.reshape(post.sizes["chain"], post.sizes["draw"], -1)
    return xr.DataArray(ll, dims=("chain", "draw", "run"))


def interval(samples: np.ndarray, prob: float, kind: str = "eti") -> tuple[np.ndarray, np.ndarray]:
    """Credible interval over axis 0 (draws): equal-tailed or highest-density."""
    if kind not in INTERVAL_KINDS:
        raise ValueError(f"interval kind must be one of {INTERVAL_KINDS}")
    if not 0 < prob < 1:
        raise ValueError(f"interval probability must lie in (0, 1), got {prob}")
    da = xr.DataArray(samples, dims=("draw",) + tuple(f"d{i}" for i in range(samples.ndim - 1)))
    res = getattr(da.azstats, kind)(prob=prob, dim="draw")
    return res.sel(ci_bound="lower").values, res.sel(ci_bound="upper").values


def _check_points(N: np.ndarray, D: np.ndarray) -> None:
    if np.any(~np.isfinite(N)) or np.any(N <= 0) or np.any(~np.isfinite(D)) or np.any(D <= 0):
        raise ValueError("N and D must be positive finite raw counts")
    if np.any(N < 1e4) or np.any(D < 1e6):
        raise ValueError(
            "N or D looks scaled (N < 1e4 or D < 1e6): give raw counts, e.g. 7e9 not 7"
        )


def predict_supervised(
    fit: Fit, N: Any, D: Any, *, prob: float = 0.9, kind: str = "eti", seed: int = 0
) -> xr.Dataset:
    """Loss at new ``(N, D)``: draws and bands for the mean law and for a new run.

    Returns a Dataset with dims ``(draw, point)`` for the draws (``loss_mean``,
    ``loss_new``) and ``point`` for the summaries; ``attrs`` pin the interval kind and
    probability.
    """
    N, D = np.broadcast_arrays(np.atleast_1d(np.asarray(N, float)), np.atleast_1d(np.asarray(D, float)))
    _check_points(N, D)
    coefs = supervised_coefficients(fit)
    log_mu = supervised_log_mean(coefs, N, D)
    rng = np.random.default_rng(seed)
    log_new = log_mu + noise_draws(fit, log_mu.shape, rng)
    return summarise_draws({"loss_mean": np.exp(log_mu), "loss_new": np.exp(log_new)},
                           {"N": N, "D": D}, prob=prob, kind=kind)


def summarise_draws(draws: dict[str, np.ndarray], point_coords: dict[str, np.ndarray], *,
                    prob: float, kind: str) -> xr.Dataset:
    """Attach median and interval bounds to ``(draw, point)`` draws."""
    ds = xr.Dataset(coords={k: ("point", np.asarray(v)) for k, v in point_coords.items()})
    for name, x in draws.items():
        ds[name] = (("draw", "point"), x)
        lo, hi = interval(x, prob, kind)
        ds[f"{name}_median"] = ("point", np.median(x, axis=0))
        ds[f"{name}_lower"] = ("point", lo)
        ds[f"{name}_upper"] = ("point", hi)
    ds.attrs.update(interval_kind=kind, interval_prob=prob)
    return ds


def supervised_optimum(fit: Fit, C: Any, *, prob: float = 0.9, kind: str = "eti") -> xr.Dataset:
    """Compute-optimal ``N*, D*, L*`` at budgets ``C`` (FLOPs = 6ND) as distributions."""
    C = np.atleast_1d(np.asarray(C, float))
    if np.any(~np.isfinite(C)) or np.any(C <= 0):
        raise ValueError("budgets must be positive FLOPs")
    if np.any(C < 1e12):
        raise ValueError(
            f"budget {C.min():.3g} FLOPs is too small to train any model (need >= 1e12 FLOPs)"
        )
    p = {k: v[:, None] for k, v in paper_coefficients(fit).items()}
    N, D, L = laws.supervised_optimum_6nd(C[None, :], **p)
    ds = summarise_draws({"N_opt": N, "D_opt": D, "L_opt": L}, {"C": C}, prob=prob, kind=kind)
    return ds.rename({"point": "budget"})


def observed_terms(fit: Fit) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """Each likelihood term of a fit: ``(name, log_mean (draw, run), observed log, sigma name)``.

    Used for PSIS-LOO and posterior predictive checks without rebuilding the PyMC model.
    """
    obs = fit.idata["observed_data"].to_dataset()
    if fit.law == "supervised":
        log_mu = supervised_log_mean(supervised_coefficients(fit), np.exp(obs["log_N"].values),
                                     np.exp(obs["log_D"].values))
        return [("obs", log_mu, obs["log_loss"].values, "sigma")]
    from bayeslaw import distill  # the joint model's terms live with it

    return distill.observed_terms(fit)
