"""bayeslaw: Bayesian supervised and distillation scaling laws for planning LM training.

The public names are :data:`bayeslaw.api.NAMES` (each verb in its home module), loaded on first use
(PEP 562), so ``import bayeslaw`` loads neither PyMC nor ArviZ; ``bl.fit`` loads PyMC when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bayeslaw import api
from bayeslaw.core.version import VERSION

__version__ = VERSION

__all__ = ["fit", "load", "point_law", "diagnose", "summary", "prior_predictive", "predict", "predict_distillation",
           "optimum",
           "prediction_caveats", "cheapest",
           "plan", "report", "backtest", "compare", "calibrate", "generate", "Fit", "Gates",
           "SamplerConfig", "Question", "Teacher", "Caveat", "__version__"]

if TYPE_CHECKING:
    from bayeslaw.api import (
        Caveat,
        Fit,
        Gates,
        Question,
        SamplerConfig,
        Teacher,
        backtest,
        calibrate,
        cheapest,
        compare,
        diagnose,
        fit,
        generate,
        load,
        optimum,
        plan,
        point_law,
        predict,
        predict_distillation,
        prediction_caveats,
        prior_predictive,
        report,
        summary,
    )


def __getattr__(name: str) -> Any:
    if name in api.NAMES:
        value = getattr(api, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'bayeslaw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(api.NAMES))
