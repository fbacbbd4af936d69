"""A too-close-to-call verdict whose sign is sure still says which way it leans (issue 26: "a cell with P 4% and a
band entirely above zero is 'too close to call'")."""

import numpy as np
import xarray as xr

from bayeslaw import decide


def _diff(values):
    return xr.DataArray(np.asarray(values, float), dims="draw")


def test_a_sure_sign_smaller_than_the_margin_leans_that_way():
    rng = np.random.default_rng(0)
    # supervised better in about 95% of draws, by about the margin: no verdict (tie and "by more" each ~50%), a lean
    d = _diff(0.01 + 0.006 * rng.standard_normal(4000))
    v = decide.verdict(d, margin=0.01, prob=0.9)
    assert str(v["verdict"].values) == "too close to call"
    p = float(v["p_better"])
    assert p < 0.1
    assert decide.lean("too close to call", p, 0.9) == "leans supervised"
    note = decide.lean_note("too close to call", p, 0.9, 4000)
    assert note.startswith("leans supervised: supervised training is better with probability 9")


def test_no_lean_where_the_sign_is_unsure_or_a_verdict_is_given():
    assert decide.lean("too close to call", 0.5, 0.9) is None
    assert decide.lean("too close to call", 0.89, 0.9) is None
    assert decide.lean("too close to call", 0.9, 0.9) == "leans distil"
    assert decide.lean("distil", 0.99, 0.9) is None
    assert decide.lean("too close to call", float("nan"), 0.9) is None
    assert decide.lean_note("supervised", 0.01, 0.9, 1000) == ""
