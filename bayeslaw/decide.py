"""Decision metrics over posterior draws: xarray in, xarray out.

Every function reduces the sample dimension ``dim`` (``"draw"`` by default) of a DataArray
of losses (lower is better). A NaN loss means the option cannot be carried out in that draw
(e.g. the budget does not fit the paper's bounds); it counts as an infinitely bad outcome,
never as a silently dropped draw.

Definitions (checked against hand-computed values in ``tests/test_decide.py``):

- value at risk ``VaR_a``: the smallest draw value ``v`` with ``P(loss <= v) >= a``
  (the inverted-CDF quantile), i.e. a loss exceeded with probability at most ``1 - a``;
- conditional value at risk ``CVaR_a = VaR_a + E[(loss - VaR_a)+] / (1 - a)``
  (Rockafellar and Uryasev), the mean of the worst ``1 - a`` of outcomes; for ``n``
  equally weighted draws with ``(1 - a) n`` whole it is the mean of the worst ``(1 - a) n``;
- regret of an option in a draw: its loss minus the best option's loss in that draw;
- probability best: the share of draws in which the option has the lowest loss (ties split).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from bayeslaw.core import bounds, intervals
from bayeslaw.core.errors import InputError
from bayeslaw.core.fmt import share

DIM = "draw"


def _as_outcome(loss: xr.DataArray) -> xr.DataArray:
    return loss.fillna(np.inf)


def expected_loss(loss: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Posterior mean loss (infinite where the option is infeasible in some draw).

    Parameters
    ----------
    loss
        Losses with a sample dimension ``dim``.
    dim
        The sample dimension.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims without ``dim``.
    """
    return _as_outcome(loss).mean(dim)


def quantiles(loss: xr.DataArray, q: Sequence[float] = intervals.levels(0.9), dim: str = DIM) -> xr.DataArray:
    """Quantiles of the loss over draws.

    Parameters
    ----------
    loss
        Losses with a sample dimension ``dim``.
    q
        The quantile levels.
    dim
        The sample dimension.

    Returns
    -------
    xarray.DataArray
        A ``quantile`` dimension in place of ``dim``.
    """
    return _as_outcome(loss).quantile(list(q), dim=dim)


def value_at_risk(loss: xr.DataArray, level: float = 0.95, dim: str = DIM) -> xr.DataArray:
    """The loss exceeded with probability at most ``1 - level`` (inverted-CDF quantile).

    Parameters
    ----------
    loss
        Losses with a sample dimension ``dim``.
    level
        The VaR level in (0, 1), e.g. 0.95.
    dim
        The sample dimension.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims without ``dim``.
    """
    _check_level(level)
    return _as_outcome(loss).quantile(level, dim=dim, method="inverted_cdf").drop_vars("quantile")


def conditional_value_at_risk(loss: xr.DataArray, level: float = 0.95, dim: str = DIM) -> xr.DataArray:
    """Expected loss in the worst ``1 - level`` of outcomes (Rockafellar-Uryasev form).

    Parameters
    ----------
    loss
        Losses with a sample dimension ``dim``.
    level
        The CVaR level in (0, 1), e.g. 0.95.
    dim
        The sample dimension.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims without ``dim``.
    """
    var = value_at_risk(loss, level, dim)
    excess = (_as_outcome(loss) - var).clip(min=0.0)
    # inf - inf is NaN; an infeasible tail is an infinite tail
    excess = excess.where(np.isfinite(var), np.inf)
    return var + excess.mean(dim) / (1.0 - level)


def prob_below(loss: xr.DataArray, target: float | xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """P(loss <= target); an infeasible draw does not reach the target.

    Parameters
    ----------
    loss
        Losses with a sample dimension ``dim``.
    target
        The target loss (nats/token), or one per cell.
    dim
        The sample dimension.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims without ``dim``, values in [0, 1].
    """
    return (_as_outcome(loss) <= target).mean(dim)


def compute_for_target(loss: xr.DataArray, target: float, prob: float = 0.9, dim: str = DIM,
                       budget_dim: str = "budget") -> xr.DataArray:
    """The smallest budget at which P(loss <= target) >= ``prob``.

    Between grid budgets the probability is interpolated linearly in log-compute. NaN where the
    probability never reaches ``prob`` on the grid; the smallest grid budget where it is already
    reached there (read it as "at most this"; ``attrs['at_most']`` marks those cells).

    Parameters
    ----------
    loss
        Losses with a sample dimension ``dim`` and a ``budget_dim`` coordinate of FLOPs (increasing).
    target
        The target loss (nats/token).
    prob
        The required probability of reaching it.
    dim, budget_dim
        The sample and budget dimensions.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims without ``dim`` and ``budget_dim`` (FLOPs); ``attrs`` hold ``target``,
        ``prob``, ``at_most`` and ``units``.
    """
    _check_level(prob)
    p = prob_below(loss, target, dim)
    C = p[budget_dim].values
    if np.any(np.diff(C) <= 0):
        raise InputError(f"the {budget_dim} coordinate must increase")
    p = p.transpose(..., budget_dim)
    arr = p.values
    logC = np.log(C)
    out = np.full(arr.shape[:-1], np.nan)
    at_most = np.zeros(arr.shape[:-1], bool)
    for idx in np.ndindex(arr.shape[:-1]):
        row = arr[idx]
        hit = np.flatnonzero(row >= prob)
        if hit.size == 0:
            continue
        j = hit[0]
        if j == 0:
            out[idx], at_most[idx] = C[0], True
            continue
        f = (prob - row[j - 1]) / (row[j] - row[j - 1])
        out[idx] = np.exp(logC[j - 1] + f * (logC[j] - logC[j - 1]))
    res = xr.DataArray(out, dims=p.dims[:-1], coords={k: v for k, v in p.coords.items() if budget_dim not in v.dims
                                                      and k != budget_dim})
    res.attrs.update(target=float(target), prob=float(prob), at_most=at_most.tolist(), units="FLOPs")
    return res


def regret(loss: xr.DataArray, option_dim: str = "option") -> xr.DataArray:
    """Per draw: each option's loss minus the best option's loss in that draw.

    Parameters
    ----------
    loss
        Losses with an option dimension ``option_dim``.
    option_dim
        The dimension of the options compared.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims; infinite where the option is infeasible.
    """
    out = _as_outcome(loss)
    best = out.min(option_dim)
    return (out - best).where(np.isfinite(out), np.inf)


def expected_regret(loss: xr.DataArray, option_dim: str = "option", dim: str = DIM) -> xr.DataArray:
    """Mean regret of each option over draws (0 for an option that is always best).

    Parameters
    ----------
    loss
        Losses with dims ``option_dim`` and ``dim``.
    option_dim, dim
        The option and sample dimensions.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims without ``dim``.
    """
    return regret(loss, option_dim).mean(dim)


def prob_best(loss: xr.DataArray, option_dim: str = "option", dim: str = DIM) -> xr.DataArray:
    """Share of draws in which each option has the lowest loss; ties share the draw equally.

    Parameters
    ----------
    loss
        Losses with dims ``option_dim`` and ``dim``.
    option_dim, dim
        The option and sample dimensions.

    Returns
    -------
    xarray.DataArray
        ``loss``'s dims without ``dim``; sums to 1 over ``option_dim`` where any option is feasible.
    """
    out = _as_outcome(loss)
    is_best = (out == out.min(option_dim)) & np.isfinite(out)
    n_best = is_best.sum(option_dim)
    share = (is_best / n_best.where(n_best > 0)).fillna(0.0)
    return share.mean(dim)


def summary_table(loss: xr.DataArray, *, target: float | None = None, levels: Sequence[float] = (0.9, 0.95),
                  prob: float = 0.9, option_dim: str = "option", dim: str = DIM) -> xr.Dataset:
    """The metrics of a decision, one variable each, over the options of ``loss``.

    Parameters
    ----------
    loss
        Losses with a sample dimension ``dim`` (and usually ``option_dim``).
    target
        A target loss: adds ``p_target``.
    levels
        VaR and CVaR levels.
    prob
        The probability of the equal-tailed band (``lower``, ``upper``).
    option_dim, dim
        The option and sample dimensions.

    Returns
    -------
    xarray.Dataset
        ``expected``, ``band`` (dims ``ci_bound`` (``lower``, ``median``, ``upper``) and ``loss``'s others),
        ``VaR<level>``, ``CVaR<level>``, ``p_target`` (with a target), ``expected_regret`` and ``p_best`` (with
        options), each with ``loss``'s dims without ``dim``; ``attrs`` pin the band.
    """
    qs = quantiles(loss, intervals.levels(prob), dim)
    out = xr.Dataset({
        "expected": expected_loss(loss, dim),
        "band": qs.rename(quantile="ci_bound").assign_coords(ci_bound=list(intervals.CI_BOUND)),
    })
    for a in levels:
        out[f"VaR{round(a * 100)}"] = value_at_risk(loss, a, dim)
        out[f"CVaR{round(a * 100)}"] = conditional_value_at_risk(loss, a, dim)
    if target is not None:
        out["p_target"] = prob_below(loss, target, dim)
    if option_dim in loss.dims:
        out["expected_regret"] = expected_regret(loss, option_dim, dim)
        out["p_best"] = prob_best(loss, option_dim, dim)
    out.attrs.update(interval_prob=prob, interval_kind="eti", target=target if target is not None else "none")
    return out


#: The practical-equivalence margin (nats/token) below which two options are a tie; why 0.01:
#: :data:`bayeslaw.core.bounds.PRACTICAL_MARGIN`.
MARGIN = bounds.PRACTICAL_MARGIN
#: The verdicts, in the order the text explains them.
VERDICTS = ("distil", "supervised", "practically tied", "too close to call")


def lean(verdict: str, p_better: float, prob: float) -> str | None:
    """What a too-close-to-call verdict still says when one option is better with probability >= ``prob``.

    The verdict asks whether one option is better *by more than the margin*; a difference that is surely of one sign
    but may be smaller than the margin is not a verdict, yet it is not a coin toss either.

    Parameters
    ----------
    verdict
        :func:`verdict`'s verdict.
    p_better
        P(distillation better), i.e. P(diff < 0).
    prob
        How sure a verdict must be.

    Returns
    -------
    str or None
        ``"leans distil"`` or ``"leans supervised"`` for a too-close-to-call verdict whose sign is that sure,
        else None.
    """
    if verdict != "too close to call" or not np.isfinite(p_better):
        return None
    if p_better >= prob:
        return "leans distil"
    if 1 - p_better >= prob:
        return "leans supervised"
    return None


def lean_note(verdict: str, p_better: float, prob: float, n_draws: int) -> str:
    """:func:`lean` as a phrase beside a verdict ("" when it says nothing).

    Parameters
    ----------
    verdict, p_better, prob
        As in :func:`lean`.
    n_draws
        The draws the probability is a share of (for its rounding, :func:`bayeslaw.core.fmt.share`).

    Returns
    -------
    str
        E.g. "leans supervised: supervised training is better with probability 96%, but not surely by more than
        the margin".
    """
    side = lean(verdict, p_better, prob)
    if side is None:
        return ""
    winner, p = ("distillation", p_better) if side == "leans distil" else ("supervised training", 1 - p_better)
    return f"{side}: {winner} is better with probability {share(p, n_draws)}, but not surely by more than the margin"


def verdict(diff: xr.DataArray, margin: float = MARGIN, prob: float = 0.9, dim: str = DIM) -> xr.Dataset:
    """Distil, train supervised, a practical tie, or too close to call, from paired loss differences.

    ``diff`` is distilled minus supervised loss per draw: **negative means distillation is better**.
    A draw where distillation cannot be carried out (NaN) counts as distillation losing. The verdict
    is ``"distil"`` when P(diff < -margin) >= ``prob``, ``"supervised"`` when P(diff > margin) >=
    ``prob``, ``"practically tied"`` when P(|diff| <= margin) >= ``prob``, else ``"too close to call"``.

    Parameters
    ----------
    diff
        Distilled minus supervised loss (nats/token) with a sample dimension ``dim``.
    margin
        The practical-equivalence margin in nats (default :data:`MARGIN`).
    prob
        How sure a verdict must be.
    dim
        The sample dimension.

    Returns
    -------
    xarray.Dataset
        ``verdict`` (str), ``p_better`` = P(diff < 0), ``p_better_margin`` = P(diff < -margin),
        ``p_worse_margin`` = P(diff > margin), ``p_tied`` = P(|diff| <= margin), each with
        ``diff``'s dims without ``dim``; ``attrs`` hold ``margin``, ``prob`` and ``n_draws``.
    """
    _check_level(prob)
    bounds.check_margin(margin, "margin")
    d = diff.fillna(np.inf)
    out = xr.Dataset({"p_better": (d < 0).mean(dim), "p_better_margin": (d < -margin).mean(dim),
                      "p_worse_margin": (d > margin).mean(dim), "p_tied": (abs(d) <= margin).mean(dim)})
    v = xr.full_like(out["p_better"], "too close to call", dtype=object)
    v = xr.where(out["p_tied"] >= prob, "practically tied", v)
    v = xr.where(out["p_worse_margin"] >= prob, "supervised", v)
    v = xr.where(out["p_better_margin"] >= prob, "distil", v)
    out["verdict"] = v.astype(str)
    out.attrs.update(margin=float(margin), prob=float(prob), n_draws=int(diff.sizes[dim]),
                     sign="difference = distilled - supervised; negative: distillation better")
    return out


def _check_level(a: float) -> None:
    if not 0.0 < a < 1.0:
        raise InputError(f"a probability level must lie strictly between 0 and 1, got {a}")
