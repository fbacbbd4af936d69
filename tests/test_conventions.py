"""One convention in every output: probabilities from draws, the sign of a difference, the FLOPs, strict JSON.

Each convention is checked across predict, plan and report, against numbers computed here by hand."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.core import compute
from bayeslaw.core.fmt import share
from bayeslaw.core.intervals import pick
from bayeslaw.core.params import Laws
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.decision.analysis import _why_infeasible
from bayeslaw.decision.pipeline import subsample
from bayeslaw.decision.question import Question, Teacher
from bayeslaw.planning.grid import plan_grid
from bayeslaw.planning.summary import windows
from bayeslaw.planning.teacher import distill_with_teacher
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons

JOINT = str(ROOT / "models/distillation_SYNTHETIC_paper_design.nc")
DIG = str(ROOT / "models/distillation_busbridge2025_digitized.nc")
CHIN = str(ROOT / "models/supervised_chinchilla_epoch240.nc")
#: "0%" or "100%" standing alone: what a share of draws must never print
ROUNDED_AWAY = re.compile(r"(?<![\d.<>])(0|100)(\.0+)?%")


def _strict(token: str):
    raise ValueError(f"strict JSON has no {token}")


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out, parse_constant=_strict)


@pytest.mark.parametrize("n", [3, 7, 300, 500, 1000])
def test_a_share_of_draws_never_reads_as_0_or_100_percent(n):
    texts = [share(k / n, n) for k in range(n + 1)]
    assert texts[0] == f"<{100 / n:.2f}".rstrip("0").rstrip(".") + "%" and texts[-1].startswith(">")
    for k, t in enumerate(texts[1:-1], 1):
        assert not ROUNDED_AWAY.search(t), (k, n, t)
        assert abs(float(t.rstrip("%")) - 100 * k / n) < 0.5 + 1e-9
    assert share(1 / 500, 500) == "0.2%" and share(499 / 500, 500) == "99.8%"
    assert share(0.0, 500) == "<0.2%" and share(1.0, 500) == ">99.8%" and share(float("nan"), 5) == "n/a"


def test_probabilities_in_predict_plan_and_report_use_the_share(tmp_path, capsys):
    outputs = []
    assert main(["predict", JOINT, "--N-S", "5.46e8", "--D-S", "1.092e10", "--L-T", "2.251"]) == 0
    outputs.append(capsys.readouterr().out)
    assert main(["plan", JOINT, "--student", "1e9", "--budget", "1e19", "1e21", "1e23", "--draws", "50",
                 "--scenario", "teacher_inference", "teacher_pretraining"]) == 0
    outputs.append(capsys.readouterr().out)
    assert main(["report", JOINT, "--student", "1e9", "--budget", "1e20", "1e22", "--draws", "50",
                 "--out-dir", str(tmp_path), "--stem", "r"]) == 0
    outputs.append(capsys.readouterr().out + (tmp_path / "r.md").read_text())
    for text in outputs:
        assert not ROUNDED_AWAY.search(text), ROUNDED_AWAY.search(text)
        assert not re.search(r"= (0|1)\.00\b", text)  # the old P = 1.00 / 0.00
    # 50 draws, all of them agreeing somewhere: the bound, not a rounded share
    assert "<2%" in outputs[1] or ">98%" in outputs[1]


def test_one_sign_distilled_minus_supervised_everywhere(tmp_path, capsys):
    fit = api.load(JOINT)
    ds = api.predict_distillation(fit, N_S=5.46e8, D_S=1.092e10, L_T=2.251)
    hand = ds["loss_mean"].values - ds["loss_supervised"].values  # distilled - supervised, per draw
    np.testing.assert_allclose(ds["difference"].values, hand)
    assert float(pick(ds, "difference", "median")[0]) < 0 and str(ds["verdict"].values[0]) == "distil"  # paper: -0.09
    grid, summary = api.plan(fit, [1e9], [1e21], ("teacher_inference",), max_draws=40)
    hand = (grid["L_S"] - grid["L_sup"]).transpose(*grid["diff"].dims)
    np.testing.assert_allclose(grid["diff"].values, hand.values)
    assert float(summary["p_better"].squeeze()) == pytest.approx(float((grid["diff"] < 0).mean()))
    for argv in (["predict", JOINT, "--N-S", "5.46e8", "--D-S", "1.092e10", "--L-T", "2.251"],
                 ["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--draws", "40"],
                 ["report", JOINT, "--student", "1e9", "--budget", "1e21", "--draws", "40", "--out-dir",
                  str(tmp_path), "--stem", "s"]):
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert "distilled - supervised" in text and "< 0: distillation better" in text, argv[0]
        assert "gain" not in text and "> 0: distillation wins" not in text


def test_one_flop_convention_predict_and_plan_give_the_same_optimum(capsys):
    fit = api.load(JOINT)
    C = 1e21
    opt = api.optimum(fit, [C])
    grid, _ = api.plan(fit, [1e9], [C], ("teacher_inference",), max_draws=None)
    assert float(pick(opt, "N_opt", "median")[0]) == pytest.approx(float(grid["N_opt"].median()), rel=1e-9)
    # 3 F(N) D spends the budget exactly
    N, D = float(pick(opt, "N_opt", "median")[0]), float(opt["D_opt"].median())
    assert 3 * compute.forward_flops_per_token(N) * float(grid["D_opt"].median()) == pytest.approx(C, rel=1e-6)
    six = api.optimum(fit, [C], flops="6nd")
    assert float(pick(six, "N_opt", "median")[0]) != pytest.approx(N, rel=1e-3) and D > 0
    assert main(["predict", CHIN, "--budget", "1e21"]) == 0
    assert "FLOPs = 3 F(N) D" in capsys.readouterr().out
    assert main(["predict", CHIN, "--budget", "1e21", "--flops", "6nd"]) == 0
    assert "FLOPs = 6 N D" in capsys.readouterr().out


def test_every_json_output_is_strict_and_has_one_shape(tmp_path, capsys):
    runs = [["diagnose", CHIN], ["predict", CHIN, "--N", "1e9", "--D", "2e10", "--budget", "1e21"],
            ["predict", DIG, "--N-S", "5.46e8", "--D-S", "1.1e10", "--N-T", "1.8e9", "--D-T", "3.6e10"],
            ["prior-predictive"],
            # a budget outside the bounds for one cell: missing values must be null, not NaN
            ["plan", JOINT, "--student", "1e6", "1e9", "--budget", "1e19", "1e30", "--draws", "20"],
            ["report", DIG, "--student", "1e9", "--budget", "1e21", "--draws", "30", "--out-dir", str(tmp_path)],
            ["report", CHIN, "--budget", "1e21", "--target", "2.2", "--draws", "30", "--out-dir", str(tmp_path)],
            ["generate", "--out", str(tmp_path / "gen"), "--small"]]
    for argv in runs:
        rc = main([*argv, "--json"])
        payload = _json(capsys)
        assert rc in (0, 1), argv
        assert set(payload) == {"command", "bayeslaw_version", "posterior", "data", "diagnostics_passed",
                                "warnings", "conventions", "result"}, argv
        assert payload["command"] == argv[0] and isinstance(payload["warnings"], list)
    # the plan carries warnings, provenance and recipes; the cell outside the bounds has nulls
    main(["plan", DIG, "--student", "1e9", "--budget", "1e20", "--draws", "20", "--json"])
    plan = _json(capsys)
    assert plan["data"].startswith("the paper's runs, digitized") and plan["warnings"]
    cell = plan["result"]["cells"][0]
    assert cell["verdict"] and cell["N_T"]["median"] > 0 and cell["D_S"]["median"] > 0
    # an error is strict JSON too
    assert main(["predict", CHIN, "--N", "7", "--D", "1e10", "--json"]) == 2
    assert _json(capsys)["exit_code"] == 2


def test_windows_where_distillation_wins_on_a_one_draw_law():
    """One draw (Table 6's point law): P is 0 or 1 at each budget, so the windows are the runs of budgets with
    diff < 0, computed here from the grid directly; a window inside the range is found, not hidden."""
    sup, dis = paper_coefficients()
    law = Laws.from_points(sup, dis)
    C = np.geomspace(1e18, 1e25, 29)
    grid = plan_grid(law, [3e8, 3e9], C, ("teacher_pretraining",))
    p = (grid["diff"] < 0).where(grid["diff"].notnull()).mean("draw")
    got = {w["student_size"]: w["windows"] for w in windows(p)}
    for n in (3e8, 3e9):
        wins = (grid["diff"].sel(student_size=n, scenario="teacher_pretraining").values[0] < 0)
        runs = np.flatnonzero(np.diff(np.concatenate([[0], wins.astype(int), [0]])))
        starts, ends = runs[::2], runs[1::2] - 1
        assert len(got[n]) == len(starts), (n, wins)
        for w, a, b in zip(got[n], starts, ends, strict=True):
            assert (a == 0) == w["from_open"] and (b == C.size - 1) == w["to_open"]
            assert (C[a - 1] if a > 0 else C[0]) <= w["from"] <= C[a]
            assert C[b] <= w["to"] <= (C[b + 1] if b < C.size - 1 else C[-1])
    # the README's finding: a 3e9 student wins with teacher pretraining at 1e19 FLOPs, and supervised later
    assert got[3e9] and got[3e9][0]["from"] <= 1e19 <= got[3e9][0]["to"] < 1e25


def test_a_sunk_or_existing_teacher_in_every_scenario(tmp_path, capsys):
    """An existing teacher (by its loss, or sunk by size and tokens) is usable in every scenario; a charged one
    that the budget cannot pay for says so. The planning fact is checked on the planner for all four scenarios,
    the command line's reading of the three teacher forms on one report."""
    law, _ = subsample(api.load(JOINT), 20, 0)
    usable = (Teacher(7e9, L_T=2.05), Teacher(3e9, 6e10, sunk=True))
    too_big = Teacher(1e12, 1e13)
    N_S, C = np.array([1e9]), np.array([1e21])
    for sc in compute.SCENARIOS:
        for t in usable:
            r = distill_with_teacher(law, N_S, C, sc, N_T=t.N_T, D_T=t.D_T, L_T=t.L_T, teacher_sunk=t.is_sunk)
            assert np.all(np.isfinite(r["L_S"])) and np.all(r["L_S"] > 1.5), (sc, t)
        r = distill_with_teacher(law, N_S, C, sc, N_T=too_big.N_T, D_T=too_big.D_T)
        why = _why_infeasible(too_big, Question(1e9, (1e21,), scenario=sc), r)
        if compute.get_scenario(sc).delta_pretrain > 0:  # 1e12 params on 1e13 tokens cannot be paid from 1e21
            assert "unaffordable: its pretraining" in why[1e21], sc
        else:
            assert not why, sc
    sc = "pretraining_inference"
    rc = main(["report", JOINT, "--student", "1e9", "--budget", "1e21", "--scenario", sc, "--draws", "20",
               "--teacher", "7e9:L=2.05", "3e9:6e10:sunk", "1e12:1e13", "--out-dir", str(tmp_path),
               "--stem", sc, "--json"])
    assert rc == 0
    metrics = {m["option"]: m for m in _json(capsys)["result"]["metrics"]}
    for t in ("distil from existing teacher 7e9 params, L_T 2.050",
              "distil from existing teacher 3e9 params on 6e10 tokens"):
        assert metrics[t]["median"] is not None and metrics[t]["median"] > 1.5, t
    assert "unaffordable: its pretraining" in (tmp_path / f"{sc}.md").read_text()
    # checked before any planning: a malformed teacher fails at once
    assert main(["report", JOINT, "--student", "1e9", "--budget", "1e21", "--teacher", "7e9:1e11:lent",
                 "--out-dir", str(tmp_path / "x")]) == 2
    assert "N_T:D_T:sunk" in capsys.readouterr().err
