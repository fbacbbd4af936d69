"""Shared fixtures: the paper's coefficients, small synthetic tables made from known laws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
TABLE6 = json.loads((ROOT / "data/distillation_busbridge2025/busbridge2025_table6_reference_fit.json").read_text())


@pytest.fixture(scope="session")
def paper_supervised() -> dict[str, float]:
    s = TABLE6["supervised_law"]
    return {k: s[k][0] for k in ("E", "A", "B", "alpha", "beta", "gamma")}


@pytest.fixture(scope="session")
def paper_distillation() -> dict[str, float]:
    d = TABLE6["distillation_law"]
    names = {"A_prime": "A_p", "B_prime": "B_p", "alpha_prime": "alpha_p", "beta_prime": "beta_p",
             "gamma_prime": "gamma_p", "c0": "c0", "c1": "c1", "f1": "f1", "d1": "d1"}
    return {v: d[k][0] for k, v in names.items()}


def synthetic_supervised(n: int = 60, seed: int = 0, noise: float = 0.005, **coefs) -> pd.DataFrame:
    """Runs drawn from a known Chinchilla-form law (for recovery tests)."""
    rng = np.random.default_rng(seed)
    c = dict(E=1.8, A=480.0, B=2100.0, alpha=0.35, beta=0.37, gamma=1.0) | coefs
    N = np.exp(rng.uniform(np.log(5e7), np.log(1e10), n))
    D = N * np.exp(rng.uniform(np.log(2), np.log(200), n))
    L = c["E"] + (c["A"] / N ** c["alpha"] + c["B"] / D ** c["beta"]) ** c["gamma"]
    return pd.DataFrame({"N": N, "D": D, "loss": L * np.exp(noise * rng.standard_normal(n))})


@pytest.fixture()
def small_table() -> pd.DataFrame:
    return synthetic_supervised()
