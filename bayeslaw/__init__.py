"""bayeslaw: Bayesian supervised and distillation scaling laws for planning LM training."""

# the submodule first: binding the function `report` below must win over the module of that name
from bayeslaw.report import Question, Teacher  # noqa: I001
from bayeslaw.api import (
    Fit,
    Gates,
    SamplerConfig,
    diagnose,
    fit,
    load,
    optimum,
    plan,
    predict,
    predict_distillation,
    prior_predictive,
    report,
)

__version__ = "0.1.0"

__all__ = ["Fit", "Gates", "Question", "SamplerConfig", "Teacher", "diagnose", "fit", "load", "optimum", "plan",
           "predict", "predict_distillation", "prior_predictive", "report", "__version__"]
