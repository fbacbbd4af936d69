"""The paper's reference tables: Table 6 (the fitted coefficients) and Table 13 (the model sizes)."""

from __future__ import annotations

import json

import pandas as pd

from bayeslaw.core.params import SUPERVISED_PAPER
from bayeslaw.data.registry import DATA_DIR

TABLE6_PATH = DATA_DIR / "distillation_busbridge2025/busbridge2025_table6_reference_fit.json"
TABLE13_PATH = DATA_DIR / "distillation_busbridge2025/busbridge2025_table13_model_sizes.csv"


def paper_coefficients() -> tuple[dict[str, float], dict[str, float]]:
    """Table 6 point estimates: (supervised, distillation) coefficient dicts."""
    t = json.loads(TABLE6_PATH.read_text())
    s, d = t["supervised_law"], t["distillation_law"]
    sup = {k: float(s[k][0]) for k in SUPERVISED_PAPER}
    names = {"A_prime": "A_p", "B_prime": "B_p", "alpha_prime": "alpha_p", "beta_prime": "beta_p",
             "gamma_prime": "gamma_p", "c0": "c0", "c1": "c1", "f1": "f1", "d1": "d1"}
    dis = {v: float(d[k][0]) for k, v in names.items()}
    return sup, dis


def model_sizes() -> pd.Series:
    """Non-embedding parameter counts of the paper's Table 13 models, by name."""
    t = pd.read_csv(TABLE13_PATH)
    return pd.Series(t["N_nonembedding_B"].to_numpy() * 1e9, index=t["name"])
