"""A published point law standing in for a posterior (issue 27): one draw, the law's own numbers, checked against
the law written out by hand, and labelled as a point law everywhere."""

import json

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.core import compute
from bayeslaw.core.errors import InputError
from bayeslaw.core.intervals import pick
from bayeslaw.core.params import Laws
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.planning.grid import plan_grid
from bayeslaw.posterior.point import POINT_NOTE, parse_coefficients, point_law

SARDANA = "E=1.69,A=406.4,B=410.7,alpha=0.336,beta=0.283"


def test_sardanas_example_is_the_law_by_hand():
    fit = point_law(SARDANA)
    assert fit.is_point and fit.law == "supervised" and fit.n_draws == 1
    N, D = 2.418e10, 2.657e12
    ds = api.predict(fit, [N], [D])
    want = 1.69 + 406.4 / N**0.336 + 410.7 / D**0.283
    assert float(pick(ds, "loss_new").values[0]) == pytest.approx(want, rel=1e-12)
    assert round(want, 3) == 1.947  # their published loss
    lo, hi = float(pick(ds, "loss_new", "lower").values[0]), float(pick(ds, "loss_new", "upper").values[0])
    assert lo == hi  # one draw, no noise: the band is the point
    assert "point law" in ds.attrs["extrapolation"] and ds.attrs["point_law"].endswith(SARDANA)


def test_the_6nd_optimum_is_chinchillas_closed_form():
    a, b, A, B = 0.34, 0.28, 406.4, 410.7
    C = 1e23
    ds = api.optimum(point_law("hoffmann"), [C], flops="6nd")
    G = (a * A / (b * B)) ** (1 / (a + b))
    assert float(pick(ds, "N_opt").values[0]) == pytest.approx(G * (C / 6) ** (b / (a + b)), rel=1e-9)


def test_table6_plan_is_the_planner_on_table6():
    sup, dis = paper_coefficients()
    _grid, summary = api.plan(point_law("table6"), [1e9], [1e20, 1e22], ("teacher_inference", "teacher_pretraining"))
    ref = plan_grid(Laws.from_points(sup, dis), [1e9], [1e20, 1e22], ("teacher_inference", "teacher_pretraining"),
                    teacher_cap=100.0)  # the default cap on a teacher-inference teacher
    for v in ("L_S", "L_sup"):
        np.testing.assert_allclose(pick(summary, v).values, ref[v].isel(draw=0).values, rtol=1e-12)
    assert any(POINT_NOTE in str(c) for c in summary.attrs["warnings"])


def test_a_distilled_student_of_table6_by_hand():
    sup, dis = paper_coefficients()
    ds = api.predict_distillation(point_law("table6"), N_S=[1e9], D_S=[2e10], L_T=2.3)
    tilde = sup["E"] + (sup["A"] / 1e9 ** sup["alpha"] + sup["B"] / 2e10 ** sup["beta"]) ** sup["gamma"]
    brk = (1 + (2.3 / (tilde * dis["d1"])) ** (1 / dis["f1"])) ** (-dis["c1"] * dis["f1"])
    want = 2.3 + 2.3 ** -dis["c0"] * brk * (dis["A_p"] / 1e9 ** dis["alpha_p"]
                                            + dis["B_p"] / 2e10 ** dis["beta_p"]) ** dis["gamma_p"]
    assert float(pick(ds, "loss_mean").values[0]) == pytest.approx(want, rel=1e-9)
    assert str(ds["verdict"].values[0]) in ("distil", "supervised", "practically tied")  # one draw: no doubt


def test_parsing_presets_overrides_and_mistakes():
    assert parse_coefficients("hoffmann,E=1.7")["E"] == 1.7
    assert parse_coefficients(SARDANA)["gamma"] == 1.0
    for text, msg in [("E=1.69,A=406.4", "lacks B, alpha, beta"), ("hoffmann,zeta=3", "unknown coefficient"),
                      ("hoffmann,E=abc", "not a number"), ("hoffmann,A=-3", "finite and positive"),
                      ("hoffmann,c0=0.4", "part of the distillation law"), ("E=1.7,hoffmann", "neither a preset"),
                      ("chinchilla", "neither a preset"), ("hoffmann,alpha=3", "exponents below 2")]:
        with pytest.raises(InputError, match=msg):
            parse_coefficients(text)


def test_on_the_command_line(capsys):
    assert main(["predict", "--coefficients", "sardana", "--N", "2.418e10", "--D", "2.657e12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("point law" in w for w in out["warnings"])
    assert main(["plan", "--coefficients", "table6", "--student", "1e9", "--budget", "1e21"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("law: published coefficients: table6 (a point law")
    assert main(["predict", "models/supervised_chinchilla_epoch240.nc", "--coefficients", "hoffmann",
                 "--N", "1e9", "--D", "2e10"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["predict", "--N", "1e9", "--D", "2e10"]) == 2
    assert "--coefficients" in capsys.readouterr().err
    assert main(["plan", "--coefficients", "hoffmann", "--student", "1e9", "--budget", "1e21"]) == 2
    assert "distillation (joint) posterior" in capsys.readouterr().err
    # the supervised law's FLOPs by hand: the closed form is 6ND, the planner's 3 F(N) D
    assert compute.supervised_flops(1e9, 2e10, None) == pytest.approx(6 * 1e9 * 2e10)


def test_what_a_point_law_cannot_answer_says_so():
    from bayeslaw.decision.question import Question

    with pytest.raises(InputError, match="no uncertainty to reduce"):
        api.pilot(point_law("hoffmann"), Question(student_size=None, budgets=(1e21,)))
    d = api.diagnose(point_law("hoffmann"))
    assert d.passed and POINT_NOTE in d.warnings[0]


def test_a_report_from_a_point_law(tmp_path, capsys):
    """report --coefficients: both reports answer from the published law (its numbers, by hand), label it, and
    leave out what a point law cannot have (diagnostics, reach, pilots); the contents list what is there."""
    from bayeslaw.core import laws

    assert main(["report", "--coefficients", "table6", "--student", "1e9", "--budget", "1e20", "1e21",
                 "--out-dir", str(tmp_path), "--json", "--draws", "1"]) == 0
    out = json.loads(capsys.readouterr().out)["result"]
    md = (tmp_path / "report_teacher_inference_N1e9_C1e20-1e21.md").read_text()
    assert POINT_NOTE in md and "## A point law" in md
    for gone in ("## Fit diagnostics", "## What would settle it", "## How far the predictions extrapolate"):
        assert gone not in md and gone[3:] not in md.split("**Contents:**")[1].split("\n")[0]
    # the distilled option at 1e20 is the planner on Table 6 (one draw): its probabilities are 0 or 1
    assert {v["p_better"] for v in out["verdict"]} <= {0.0, 1.0}
    assert main(["report", "--coefficients", "sardana", "--budget", "1e21", "1e23", "--target", "2.0",
                 "--out-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["result"]
    sup = (tmp_path / "report_supervised_C1e21-1e23.md").read_text()
    assert "published coefficients: sardana" in sup and "## Fit diagnostics" not in sup
    c = point_law("sardana")
    o = api.optimum(c, [1e23])
    N, D = float(o["N_opt"].values.ravel()[0]), float(o["D_opt"].values.ravel()[0])
    want = laws.supervised_loss(N, D, E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283)
    assert f"{want:.4f}" in sup  # L* at 1e23 FLOPs, the law by hand at the optimum's N and D
    assert main(["report", "models/supervised_chinchilla_epoch240.nc", "--coefficients", "sardana", "--budget",
                 "1e21", "--out-dir", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
