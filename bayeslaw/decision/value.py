"""The value of information of a decision over posterior draws: what knowing more is worth, and what a run buys.

A decision here is a loss matrix ``(draw, option)``: each row a state of the world (a posterior draw with the
law's error it meets), each column what an option loses there (nats of student loss, or 1 for a wrong call).
The decision taken now is the option of least expected loss. Its expected regret (the loss beyond the best
option of each state) is the expected value of perfect information, EVPI: what a budget owner would give to
know the state.

A pilot run tells part of it. Preposterior analysis (Raiffa and Schlaifer): simulate the run's outcome from
each draw's prediction plus run noise, update the draws by their likelihood of that outcome (importance
weights: the draws are the prior of the update, so this is Bayes' rule on the posterior's own sample), take
the best option under the updated draws, and average over outcomes. The expected value of sample
information, EVSI, is how much the expected regret falls; it lies in ``[0, EVPI]``.

The weights are exact for the draws in hand but degenerate when an outcome is far more precise than the
draws' spread at the run: :attr:`Value.ess` says how many draws carry each update, and
:data:`ESS_FLOOR` is where a caller should stop trusting them and refit.

Pure functions over numpy arrays; :mod:`bayeslaw.decision.pilot` builds the matrices from a posterior.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from bayeslaw.posterior.likelihood import log_density

#: Fewer draws than this carrying an update (Kish's effective sample size) and its EVSI rests on too few draws.
ESS_FLOOR = 50.0
#: An update rests on too few draws when more than this share of its outcomes fall under :data:`ESS_FLOOR`.
ESS_LOW_SHARE = 0.1
#: A greedy search adds a run only when its gain exceeds this many Monte Carlo standard errors.
GAIN_Z = 2.0


def regret(loss: np.ndarray) -> np.ndarray:
    """Per draw and option: the loss beyond the best option in that draw (``>= 0``)."""
    return loss - loss.min(axis=1, keepdims=True)


def best_option(loss: np.ndarray) -> np.ndarray:
    """Per draw and option: 1 where the option is the best in that draw (ties share it), else 0."""
    best = regret(loss) == 0
    return best / best.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Now:
    """The decision as it stands.

    Attributes
    ----------
    choice
        The option of least expected loss (column index).
    evpi
        Its expected regret: the expected value of perfect information.
    p_wrong
        The probability another option is strictly better.
    p_best
        Per option, the probability it is the best (ties shared).
    """

    choice: int
    evpi: float
    p_wrong: float
    p_best: np.ndarray


def now(loss: np.ndarray) -> Now:
    """The decision a loss matrix ``(draw, option)`` supports today (see :class:`Now`)."""
    _check_loss(loss)
    choice = int(np.argmin(loss.mean(axis=0)))
    r = regret(loss)
    return Now(choice=choice, evpi=float(r[:, choice].mean()), p_wrong=float((r[:, choice] > 0).mean()),
               p_best=best_option(loss).mean(axis=0))


def _check_loss(loss: np.ndarray) -> None:
    if loss.ndim != 2 or loss.shape[1] < 2:
        raise ValueError(f"a decision needs a (draw, option) loss matrix with >= 2 options, got shape {loss.shape}")
    if not np.isfinite(loss).all():
        raise ValueError("a decision's loss matrix must be finite: drop the infeasible options first")


def simulate(predicted: np.ndarray, sigma: np.ndarray, nu: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """One outcome per draw: each draw's predicted log loss of the runs ``(draw, run)`` plus its run noise.

    ``sigma`` is ``(draw, run)`` (a supervised and a distilled run have their own noise), ``nu`` ``(draw,)`` or
    None (Normal)."""
    z = rng.standard_normal(predicted.shape) if nu is None else rng.standard_t(
        np.broadcast_to(nu[:, None], predicted.shape))
    return predicted + sigma * z


def log_weights(outcomes: np.ndarray, predicted: np.ndarray, sigma: np.ndarray,
                nu: np.ndarray | None) -> np.ndarray:
    """``(outcome, draw)`` normalised log weights: each draw's log likelihood of each simulated outcome.

    Parameters
    ----------
    outcomes
        ``(outcome, run)`` simulated log losses.
    predicted, sigma
        ``(draw, run)`` each draw's predicted log loss and run noise sd.
    nu
        ``(draw,)`` Student-t degrees of freedom, or None.
    """
    ll = log_weights_unnormalised(outcomes, predicted, sigma, nu)
    return ll - special.logsumexp(ll, axis=1, keepdims=True)


@dataclass(frozen=True)
class Value:
    """What buying a set of runs is expected to do to a decision.

    Attributes
    ----------
    evsi
        Expected value of sample information: the expected regret of today's choice minus that of the choice
        made after the runs, both under the updated draws (``>= 0`` by construction).
    regret_before, regret_after
        Those two expected regrets (the first is EVPI up to Monte Carlo error).
    p_wrong_before, p_wrong_after
        The probability the option chosen is not the best, before and after the runs.
    p_change
        The probability the runs change the choice.
    p_sure_after
        The probability that, after the runs, one verdict holds with probability ``>= prob`` (by default: one
        option is best with that probability).
    ess
        Per simulated outcome, the effective number of draws carrying the update (Kish; a refit's draws).
    """

    evsi: float
    regret_before: float
    regret_after: float
    p_wrong_before: float
    p_wrong_after: float
    p_change: float
    p_sure_after: float
    ess: np.ndarray
    #: how the draws were updated: ``"importance weights"`` or ``"refits"``
    method: str = "importance weights"

    @property
    def ess_low(self) -> float:
        """The share of outcomes whose update rests on fewer than :data:`ESS_FLOOR` draws."""
        return float((self.ess < ESS_FLOOR).mean())


def preposterior(loss: np.ndarray, predicted: np.ndarray, sigma: np.ndarray, nu: np.ndarray | None,
                 rng: np.random.Generator, *, prob: float = 0.9, classes: np.ndarray | None = None) -> Value:
    """The value of runs whose outcomes the draws predict (see the module docstring).

    Parameters
    ----------
    loss
        ``(draw, option)`` the decision's loss per draw.
    predicted
        ``(draw, run)`` each draw's predicted log loss of each run bought (the law's error included).
    sigma, nu
        Run noise: ``(draw, run)`` sd on log loss and ``(draw,)`` Student-t degrees of freedom (or None).
    rng
        Draws the outcomes (one per draw: the outcome's distribution is the posterior predictive).
    prob
        The certainty :attr:`Value.p_sure_after` asks of a verdict.
    classes
        ``(draw, class)`` indicators of the verdict each draw supports (e.g. distillation better by more than
        the margin, worse by more, tied within it), for :attr:`Value.p_sure_after`; default: which option is best.

    Returns
    -------
    Value
    """
    _check_loss(loss)
    if predicted.ndim != 2 or predicted.shape[0] != loss.shape[0] or sigma.shape != predicted.shape:
        raise ValueError("predicted and sigma must be (draw, run) with the loss matrix's draws")
    if not np.isfinite(predicted).all():
        raise ValueError("a run's predicted log loss must be finite in every draw")
    return update(loss, log_likelihoods(predicted, sigma, nu, rng).sum(axis=0), prob=prob, classes=classes)


def log_likelihoods(predicted: np.ndarray, sigma: np.ndarray, nu: np.ndarray | None,
                    rng: np.random.Generator) -> np.ndarray:
    """``(run, outcome, draw)``: each draw's log likelihood of each run's simulated outcome, one outcome per draw.

    The outcomes of all runs are simulated jointly (outcome ``j`` comes from draw ``j`` for every run), so the
    log likelihood of a set of runs is the sum of its runs' slices: sets can be valued without simulating again
    (:func:`update`), as a greedy search over sets does.
    """
    outcomes = simulate(predicted, sigma, nu, rng)
    return np.stack([log_weights_unnormalised(outcomes[:, [k]], predicted[:, [k]], sigma[:, [k]], nu)
                     for k in range(predicted.shape[1])])


def log_weights_unnormalised(outcomes: np.ndarray, predicted: np.ndarray, sigma: np.ndarray,
                             nu: np.ndarray | None) -> np.ndarray:
    """:func:`log_weights` before normalisation."""
    ll = np.zeros((outcomes.shape[0], predicted.shape[0]))
    for k in range(outcomes.shape[1]):
        ll += log_density(outcomes[:, k], predicted[:, k, None], sigma[:, k, None],
                          None if nu is None else nu[:, None]).T
    return ll


def _weights(log_lik: np.ndarray) -> np.ndarray:
    """Normalised importance weights over the draws (the last axis) of log likelihoods."""
    return np.exp(log_lik - special.logsumexp(log_lik, axis=-1, keepdims=True))


def update(loss: np.ndarray, log_lik: np.ndarray, *, prob: float = 0.9, classes: np.ndarray | None = None) -> Value:
    """:class:`Value` from the joint log likelihood ``(outcome, draw)`` of simulated outcomes (see
    :func:`preposterior`)."""
    w = _weights(log_lik)  # (outcome, draw)
    r = regret(loss)
    choice = int(np.argmin(loss.mean(axis=0)))
    post = w @ loss  # (outcome, option): expected loss under each updated posterior
    after = np.argmin(post, axis=1)
    post_regret = w @ r
    rows = np.arange(w.shape[0])
    before_w = post_regret[:, choice]
    after_w = post_regret[rows, after]
    wrong = (r > 0).astype(float)
    p_class = w @ (best_option(loss) if classes is None else classes.astype(float))
    return Value(evsi=float((before_w - after_w).mean()), regret_before=float(before_w.mean()),
                 regret_after=float(after_w.mean()), p_wrong_before=float((r[:, choice] > 0).mean()),
                 p_wrong_after=float((w @ wrong)[rows, after].mean()), p_change=float((after != choice).mean()),
                 p_sure_after=float((p_class.max(axis=1) >= prob).mean()), ess=1.0 / (w ** 2).sum(axis=1))


def from_posteriors(loss: Sequence[np.ndarray], choice: int, *, prob: float = 0.9,
                    classes: Sequence[np.ndarray] | None = None) -> Value:
    """:class:`Value` from the posteriors after each simulated outcome, each given as its own draws' loss matrix
    ``(draw, option)`` (e.g. refits), with today's ``choice``; ``classes`` as in :func:`preposterior`."""
    rows = []
    for k, m in enumerate(loss):
        _check_loss(m)
        r = regret(m)
        after = int(np.argmin(m.mean(axis=0)))
        cl = best_option(m) if classes is None else classes[k]
        rows.append((r[:, choice].mean(), r[:, after].mean(), (r[:, choice] > 0).mean(), (r[:, after] > 0).mean(),
                     after != choice, cl.mean(axis=0).max() >= prob, m.shape[0]))
    a = np.asarray(rows, float)
    return Value(evsi=float((a[:, 0] - a[:, 1]).mean()), regret_before=float(a[:, 0].mean()),
                 regret_after=float(a[:, 1].mean()), p_wrong_before=float(a[:, 2].mean()),
                 p_wrong_after=float(a[:, 3].mean()), p_change=float(a[:, 4].mean()),
                 p_sure_after=float(a[:, 5].mean()), ess=a[:, 6], method="refits")


def evsi_outcomes(loss: np.ndarray, log_lik: np.ndarray, chunk: int = 32) -> np.ndarray:
    """Per candidate set and simulated outcome, the regret the update removes: ``log_lik`` is
    ``(set, outcome, draw)``, the result ``(set, outcome)``; its mean over outcomes is :attr:`Value.evsi`.

    What a greedy search over sets needs from :func:`update`, vectorised over the sets (in chunks, to bound
    the memory at ``chunk`` x outcome x draw); the outcomes' spread is the estimate's Monte Carlo error."""
    r = regret(loss)
    choice = int(np.argmin(loss.mean(axis=0)))
    out = np.empty(log_lik.shape[:2])
    for a in range(0, log_lik.shape[0], chunk):
        ll = log_lik[a:a + chunk]
        w = _weights(ll)  # (set, outcome, draw)
        post_regret = w @ r  # (set, outcome, option)
        out[a:a + chunk] = post_regret[..., choice] - post_regret.min(axis=2)
    return out


def evsi_many(loss: np.ndarray, log_lik: np.ndarray, chunk: int = 32) -> np.ndarray:
    """:attr:`Value.evsi` for many candidate sets at once: ``log_lik`` is ``(set, outcome, draw)`` (see
    :func:`evsi_outcomes`)."""
    return evsi_outcomes(loss, log_lik, chunk).mean(axis=1)


def ess_low(log_lik: np.ndarray, chunk: int = 32) -> np.ndarray:
    """Per candidate set, the share of its simulated outcomes whose update rests on fewer than :data:`ESS_FLOOR`
    draws (Kish): ``log_lik`` ``(set, outcome, draw)``, the result ``(set,)`` (in chunks of sets, as
    :func:`evsi_outcomes`)."""
    out = np.empty(log_lik.shape[0])
    for a in range(0, log_lik.shape[0], chunk):
        ll = log_lik[a:a + chunk]
        w = _weights(ll)
        out[a:a + chunk] = (1.0 / (w ** 2).sum(axis=-1) < ESS_FLOOR).mean(axis=-1)
    return out


@dataclass(frozen=True)
class Bought:
    """Runs a greedy search buys together (:func:`buy_greedily`).

    Attributes
    ----------
    chosen
        Candidate positions in the order bought.
    evsi
        The set's EVSI after each run was added.
    stopped
        Why the search stopped.
    collapsed
        It stopped because no larger set's update rests on enough draws (refit, or more draws, to go on).
    """

    chosen: list[int]
    evsi: list[float]
    stopped: str
    collapsed: bool = False


class AdditiveSets:
    """Sets of runs whose outcomes are independent given a draw: a set's log likelihood is the sum of its runs'.

    Parameters
    ----------
    log_lik
        ``(candidate, outcome, draw)`` each candidate's log likelihood of its simulated outcomes
        (:func:`log_likelihoods`, one run's slice).
    """

    def __init__(self, log_lik: np.ndarray):
        self.log_lik = log_lik
        self.total = np.zeros_like(log_lik[0])

    @property
    def n_outcomes(self) -> int:
        """Simulated outcomes per candidate."""
        return self.log_lik.shape[1]

    def sets(self, free: np.ndarray) -> np.ndarray:
        """``(len(free), outcome, draw)``: the log likelihood of the set bought so far plus each run of ``free``."""
        return self.total[None] + self.log_lik[free]

    def add(self, i: int, set_log_lik: np.ndarray) -> None:
        """Buy candidate ``i``, whose set's log likelihood :meth:`sets` gave."""
        self.total = set_log_lik


class SharedMisfitSets:
    """Sets of runs where the runs of one scale band share a misfit of the law that the decision does not meet.

    A run's outcome is its draw's prediction (the law with the error the decision meets too), plus its band's
    misfit ``tau * u_band`` (``u ~ Normal(0, 1)``, one per band and outcome), plus run noise ``sigma * e``. Many
    runs of one band then tell the law no more than the band's misfit lets them (a band's runs are one
    measurement of the law up to ``tau``), where :class:`AdditiveSets` counts each as independent evidence.
    Normal noise; the log likelihood of a band's runs is the equicorrelated Gaussian's, in closed form from their
    residuals' sum and sum of squares, so a greedy search adds a run at the cost of one ``(outcome, draw)`` array.

    Parameters
    ----------
    predicted
        ``(draw, candidate)`` each draw's predicted log loss of each candidate.
    sigma
        ``(draw,)`` run noise sd (one per draw: runs of one kind).
    tau
        ``(draw,)`` the misfit's sd per draw.
    band
        ``(candidate,)`` the scale band of each candidate (e.g. its decade of compute).
    rng
        Simulates the outcomes: outcome ``j`` from draw ``j``, for the first ``n_outcomes`` draws.
    n_outcomes
        How many outcomes (default: one per draw).
    """

    def __init__(self, predicted: np.ndarray, sigma: np.ndarray, tau: np.ndarray, band: np.ndarray,
                 rng: np.random.Generator, n_outcomes: int | None = None):
        n = predicted.shape[0] if n_outcomes is None else n_outcomes
        band = np.asarray(band)
        bands, index = np.unique(band, return_inverse=True)
        u = rng.standard_normal((n, bands.size))[:, index]
        outcomes = predicted[:n] + tau[:n, None] * u + sigma[:n, None] * rng.standard_normal((n, band.size))
        self._set(predicted, band, outcomes, (sigma ** 2)[None, :], (tau ** 2)[None, :])

    def _set(self, predicted: np.ndarray, band: np.ndarray, outcomes: np.ndarray, var: np.ndarray,
             tau2: np.ndarray) -> None:
        """The simulated outcomes and what their likelihood needs; nothing bought."""
        self.predicted, self.band, self.outcomes, self.var, self.tau2 = predicted, band, outcomes, var, tau2
        self.state: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        self.total = np.zeros((outcomes.shape[0], predicted.shape[0]))

    @property
    def n_outcomes(self) -> int:
        """Simulated outcomes per candidate."""
        return self.outcomes.shape[0]

    def _band_log_lik(self, m: int, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
        """The log density of ``m`` runs' residuals (sum ``s1``, sum of squares ``s2``) under one band's misfit."""
        if m == 0:
            return np.zeros_like(self.total)
        big = self.var + m * self.tau2
        quad = (s2 - self.tau2 / big * s1 ** 2) / self.var
        return -0.5 * ((m - 1) * np.log(self.var) + np.log(big) + quad + m * np.log(2 * np.pi))

    def log_lik(self, idx: Sequence[int]) -> np.ndarray:
        """``(outcome, draw)``: the log likelihood of the runs ``idx`` bought together (whatever :meth:`add` did)."""
        out = np.zeros_like(self.total)
        idx = np.asarray(idx, int)
        for b in np.unique(self.band[idx]):
            runs = idx[self.band[idx] == b]
            r = self.outcomes[:, runs][:, None, :] - self.predicted[:, runs][None, :, :]  # (outcome, draw, run)
            out += self._band_log_lik(runs.size, r.sum(axis=2), (r ** 2).sum(axis=2))
        return out

    def subset(self, cols: Sequence[int]) -> SharedMisfitSets:
        """The same simulated outcomes for the candidates ``cols`` only, nothing bought (e.g. a search's pool)."""
        out = object.__new__(SharedMisfitSets)  # the same outcomes: not simulated again
        cols = np.asarray(cols, int)
        out._set(self.predicted[:, cols], self.band[cols], self.outcomes[:, cols], self.var, self.tau2)
        return out

    def _with(self, i: int) -> tuple[tuple[int, np.ndarray, np.ndarray], np.ndarray]:
        b = int(self.band[i])
        m, s1, s2 = self.state.get(b, (0, np.zeros_like(self.total), np.zeros_like(self.total)))
        r = self.outcomes[:, [i]] - self.predicted[:, i][None, :]  # (outcome, draw)
        new = (m + 1, s1 + r, s2 + r ** 2)
        return new, self.total - self._band_log_lik(m, s1, s2) + self._band_log_lik(*new)

    def sets(self, free: np.ndarray) -> np.ndarray:
        """``(len(free), outcome, draw)``: the log likelihood of the set bought so far plus each run of ``free``."""
        return np.stack([self._with(int(i))[1] for i in free])

    def add(self, i: int, set_log_lik: np.ndarray) -> None:
        """Buy candidate ``i``, whose set's log likelihood :meth:`sets` gave."""
        self.state[int(self.band[i])] = self._with(int(i))[0]
        self.total = set_log_lik


def buy_greedily(loss: np.ndarray, log_lik: np.ndarray | AdditiveSets | SharedMisfitSets, cost: np.ndarray,
                 budget: float, *, first_any_ess: bool = False, most: int | None = None) -> Bought:
    """Runs bought together for a decision: one at a time, the run adding the most EVSI per unit of cost within
    ``budget``, while its gain exceeds :data:`GAIN_Z` Monte Carlo standard errors (paired over the same simulated
    outcomes) and the set's update still rests on enough draws (:func:`ess_low` at most :data:`ESS_LOW_SHARE`).

    Importance weights collapse as runs accumulate (each precise outcome keeps fewer draws) and a collapsed
    update looks like perfect information: without the draws' check a search keeps buying cheap runs whose
    estimated value is the collapse's, not the runs'.

    Parameters
    ----------
    loss
        ``(draw, option)`` the decision's loss per draw.
    log_lik
        ``(candidate, outcome, draw)`` each candidate's log likelihood of its simulated outcomes
        (:func:`log_likelihoods`, one run's slice; runs independent given a draw), or the sets' likelihood as an
        object (:class:`AdditiveSets`, :class:`SharedMisfitSets`).
    cost
        ``(candidate,)`` each run's cost.
    budget
        What the runs may cost together.
    first_any_ess
        Buy the first run even when its own update rests on too few draws (a caller that refits after it).
    most
        At most this many runs.

    Returns
    -------
    Bought
    """
    joint = AdditiveSets(log_lik) if isinstance(log_lik, np.ndarray) else log_lik
    chosen: list[int] = []
    values: list[float] = []
    current = np.zeros(joint.n_outcomes)
    spent = 0.0
    while most is None or len(chosen) < most:
        free = np.array([i for i in range(len(cost)) if i not in chosen and spent + cost[i] <= budget], int)
        if free.size == 0:
            return Bought(chosen, values, "the budget is spent" if chosen else "no run fits the budget")
        sets = joint.sets(free)
        per = evsi_outcomes(loss, sets)
        gain = per - current[None]
        mean = gain.mean(axis=1)
        se = gain.std(axis=1, ddof=1) / np.sqrt(gain.shape[1])
        valued = mean > GAIN_Z * se
        ok = valued if first_any_ess and not chosen else valued & (ess_low(sets) <= ESS_LOW_SHARE)
        if not ok.any():
            if not valued.any():
                return Bought(chosen, values, "no run adds value beyond its Monte Carlo error")
            return Bought(chosen, values, "the draws cannot value a larger set (too few draws carry its update: "
                                          "refit on the outcomes)", collapsed=True)
        score = np.where(ok, mean / cost[free], -np.inf)
        k = int(np.argmax(score))
        chosen.append(int(free[k]))
        values.append(float(per[k].mean()))
        joint.add(int(free[k]), sets[k])
        current = per[k]
        spent += cost[free[k]]
    return Bought(chosen, values, f"{most} runs bought")
