"""The public Python API: the verbs of the command line, by name, and the module each lives in.

Nothing is defined here. Each verb lives in its home module, checks its own inputs (with the light layers
before the heavy ones load) and carries its own docstring; this table says where each one is and loads it on
first use (PEP 562), so that ``import bayeslaw`` loads neither PyMC nor ArviZ.

=====================  =========================================  ==============================================
name                   home                                       what it does
=====================  =========================================  ==============================================
``fit``                :mod:`bayeslaw.inference.fit`              a law fitted to runs with NUTS, with its card
``load``               :mod:`bayeslaw.posterior.card`             a saved posterior, its card verified
``point_law``          :mod:`bayeslaw.posterior.point`            a published law as a one-draw stand-in
``diagnose``           :mod:`bayeslaw.posterior.diagnostics`      every diagnostic gate
``summary``            :mod:`bayeslaw.posterior.draws`            ArviZ's summary of the coefficients
``prior_predictive``   :mod:`bayeslaw.inference.prior`            what the priors imply
``predict``            :mod:`bayeslaw.decision.predict`           supervised loss bands at new runs
``predict_distillation`` :mod:`bayeslaw.decision.predict`         a distilled student against its supervised twin
``optimum``            :mod:`bayeslaw.decision.predict`           the compute-optimal supervised model per budget
``prediction_caveats`` :mod:`bayeslaw.decision.predict`           what a prediction must say beside its numbers
``cheapest``           :mod:`bayeslaw.decision.lifetime`          the cheapest N, D to reach a loss, serving paid
``plan``               :mod:`bayeslaw.decision.plan`              distil or train supervised, over draws
``report``             :mod:`bayeslaw.reporting.report`           the HTML and Markdown risk report
``pilot``              :mod:`bayeslaw.decision.pilot`             the pilot runs worth buying (value of information)
``read_candidates``    :mod:`bayeslaw.decision.pilot`             candidate pilot runs from a CSV file
``backtest``           :mod:`bayeslaw.validate.backtest`          leave-future-out backtests
``compare``            :mod:`bayeslaw.validate.compare`           PSIS-LOO comparison of law variants
``calibrate``          :mod:`bayeslaw.validate.calibration`       the law's extrapolation error across studies
``calibrate_distillation`` :mod:`bayeslaw.inference.student_error` the distillation law's error beyond its students
``calibrate_ratio``    :mod:`bayeslaw.validate.ratio_drift`       the drift past the fitted tokens per parameter
``generate``           :mod:`bayeslaw.data.synthetic`             a SYNTHETIC paper-design study
=====================  =========================================  ==============================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Every public name and the module it lives in.
VERBS: dict[str, str] = {
    "fit": "bayeslaw.inference.fit",
    "load": "bayeslaw.posterior.card",
    "point_law": "bayeslaw.posterior.point",
    "diagnose": "bayeslaw.posterior.diagnostics",
    "summary": "bayeslaw.posterior.draws",
    "prior_predictive": "bayeslaw.inference.prior",
    "predict": "bayeslaw.decision.predict",
    "predict_distillation": "bayeslaw.decision.predict",
    "optimum": "bayeslaw.decision.predict",
    "prediction_caveats": "bayeslaw.decision.predict",
    "cheapest": "bayeslaw.decision.lifetime",
    "plan": "bayeslaw.decision.plan",
    "report": "bayeslaw.reporting.report",
    "pilot": "bayeslaw.decision.pilot",
    "read_candidates": "bayeslaw.decision.pilot",
    "backtest": "bayeslaw.validate.backtest",
    "compare": "bayeslaw.validate.compare",
    "calibrate": "bayeslaw.validate.calibration",
    "calibrate_distillation": "bayeslaw.inference.student_error",
    "calibrate_ratio": "bayeslaw.validate.ratio_drift",
    "generate": "bayeslaw.data.synthetic",
}
#: The types a user needs beside the verbs, and where they live.
TYPES: dict[str, str] = {
    "Fit": "bayeslaw.posterior.card",
    "Gates": "bayeslaw.posterior.diagnostics",
    "SamplerConfig": "bayeslaw.inference.config",
    "Question": "bayeslaw.decision.question",
    "Teacher": "bayeslaw.decision.question",
    "Caveat": "bayeslaw.decision.caveats",
    "Demand": "bayeslaw.core.serving",
    "Prices": "bayeslaw.core.serving",
    "Lifetime": "bayeslaw.core.serving",
}
NAMES: dict[str, str] = {**VERBS, **TYPES}

__all__ = ["fit", "load", "point_law", "diagnose", "summary", "prior_predictive", "predict", "predict_distillation",
           "optimum",
           "prediction_caveats", "cheapest", "plan", "report", "pilot", "read_candidates", "backtest", "compare",
           "calibrate", "calibrate_distillation", "calibrate_ratio", "generate",
           "Fit", "Gates", "SamplerConfig", "Question", "Teacher", "Caveat",
           "Demand", "Prices", "Lifetime"]  # = NAMES (tested)

if TYPE_CHECKING:
    from bayeslaw.core.serving import Demand, Lifetime, Prices
    from bayeslaw.data.synthetic import generate
    from bayeslaw.decision.caveats import Caveat
    from bayeslaw.decision.lifetime import cheapest
    from bayeslaw.decision.pilot import pilot, read_candidates
    from bayeslaw.decision.plan import plan
    from bayeslaw.decision.predict import optimum, predict, predict_distillation, prediction_caveats
    from bayeslaw.decision.question import Question, Teacher
    from bayeslaw.inference.config import SamplerConfig
    from bayeslaw.inference.fit import fit
    from bayeslaw.inference.prior import prior_predictive
    from bayeslaw.inference.student_error import calibrate_distillation
    from bayeslaw.posterior.card import Fit, load
    from bayeslaw.posterior.diagnostics import Gates, diagnose
    from bayeslaw.posterior.draws import summary
    from bayeslaw.posterior.point import point_law
    from bayeslaw.reporting.report import report
    from bayeslaw.validate.backtest import backtest
    from bayeslaw.validate.calibration import calibrate
    from bayeslaw.validate.compare import compare
    from bayeslaw.validate.ratio_drift import calibrate_ratio


def __getattr__(name: str) -> Any:
    if name in NAMES:
        value = getattr(importlib.import_module(NAMES[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'bayeslaw.api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(NAMES))
