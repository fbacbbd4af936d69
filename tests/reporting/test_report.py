"""Risk reports: numbers against the pure law functions, pages as a person sees them in a browser."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from bayeslaw import api, decide
from bayeslaw.cli import main
from bayeslaw.core import compute, laws
from bayeslaw.decision.analysis import analyse, distil_label
from bayeslaw.decision.question import Question, Teacher
from bayeslaw.posterior import reach as extrapolation
from bayeslaw.posterior.diagnostics import Gates
from bayeslaw.posterior.draws import laws as laws_of
from bayeslaw.reporting import render
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons

JOINT = ROOT / "models/distillation_SYNTHETIC_paper_design.nc"
QUESTION = Question(student_size=1e9, budgets=(1e20, 1e22), scenario="teacher_inference", target=2.3,
                   teachers=(Teacher(N_T=7e9, D_T=1.4e11), Teacher(N_T=3e9, L_T=2.2)))


@pytest.fixture(scope="module")
def fit():
    return api.load(JOINT)


@pytest.fixture(scope="module")
def analysis(fit):
    return analyse(fit, QUESTION, max_draws=120, seed=1)


@pytest.fixture(scope="module")
def written(analysis, tmp_path_factory):
    return render.write(analysis, tmp_path_factory.mktemp("reports"))


def _paper_draws(fit, idx):
    law = laws_of(fit).take(idx)
    sup = {k: getattr(law, k) for k in ("E", "A", "B", "alpha", "beta", "gamma")}
    dis = {k: getattr(law, k) for k in ("A_p", "B_p", "alpha_p", "beta_p", "gamma_p", "c0", "c1", "f1", "d1")}
    return sup, dis


def test_options_match_the_law_functions_draw_by_draw(fit, analysis):
    sup, dis = _paper_draws(fit, analysis.draw_index)
    F = compute.forward_flops_per_token
    N_S = QUESTION.student_size
    for C in QUESTION.budgets:
        D_sup = C / (3 * F(N_S))
        expected_sup = laws.supervised_loss(N_S, D_sup, **sup)
        got = analysis.options.sel(budget=C, option="supervised").values
        np.testing.assert_allclose(got, expected_sup, rtol=1e-10)
        # the existing teacher with a measured loss: its pretraining is sunk, its logits are paid per token
        D_S = C / (3 * F(N_S) + F(3e9))
        expected = laws.distillation_loss(N_S, D_S, 2.2, laws.supervised_loss(N_S, D_S, **sup), **dis)
        got = analysis.options.sel(budget=C, option="distil from existing teacher 3e9 params, L_T 2.200").values
        np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_verdict_and_metrics_agree_with_the_draws(analysis):
    dis = distil_label(QUESTION.scenario)
    for v in analysis.verdict:
        o = analysis.options.sel(budget=v["budget"])
        p = float(np.mean(o.sel(option=dis).values < o.sel(option="supervised").values))
        assert v["p_distill_wins"] == pytest.approx(p)
        m = analysis.metrics.sel(budget=v["budget"])
        assert float(m["p_best"].sum()) == pytest.approx(1.0)
        assert float(m["expected"].sel(option="supervised")) == pytest.approx(float(o.sel(option="supervised").mean()))
        assert float(m["p_target"].sel(option=dis)) == pytest.approx(float((o.sel(option=dis) <= 2.3).mean()))
    # the optimal teacher is never worse than a chosen teacher under the same accounting (same draw)
    o = analysis.options
    for opt in o["option"].values:
        if str(opt).startswith("distil from teacher 7e9"):
            assert np.all(o.sel(option=dis).values <= o.sel(option=opt).values + 1e-9)


def test_compute_for_target_is_where_the_probability_passes(analysis):
    cft = analysis.compute_for_target
    p = decide.prob_below(analysis.sweep, 2.3)
    for opt in cft["option"].values:
        c = float(cft.sel(option=opt))
        if not np.isfinite(c):
            assert float(p.sel(option=opt).max()) < 0.9
            continue
        row = p.sel(option=opt)
        below = row.where(row["budget"] < c * (1 - 1e-9), drop=True)
        above = row.where(row["budget"] >= c * (1 - 1e-9), drop=True)
        assert float(below.max()) < 0.9 if below.size else True
        assert float(above[0]) >= 0.9 - 1e-12


def test_extrapolation_is_measured_from_the_fitted_runs(fit, analysis):
    sup = pd.read_csv(ROOT / "data/synthetic/SYNTHETIC_paper_design_supervised.csv", comment="#")
    dis = pd.read_csv(ROOT / "data/synthetic/SYNTHETIC_paper_design_distillation.csv", comment="#")
    scale = extrapolation.fitted_scale(fit)
    assert scale.size == pytest.approx(max(sup["N"].max(), dis["N_S"].max(), dis["N_T"].max()))
    assert scale.compute >= (6 * sup["N"] * sup["D"]).max() * (1 - 1e-9)
    # in the teacher-inference scenario the recommended teacher trains as long as the cap allows (100x the
    # budget), the uncapped one on the 1e17-token bound (shown as a bound only)
    rows = {r["prediction"]: r for r in analysis.reach}
    teacher = rows["optimal teacher at 1e20 FLOPs (median)"]
    F = compute.forward_flops_per_token
    assert 3 * F(teacher["size"]) * teacher["tokens"] == pytest.approx(100 * 1e20, rel=1e-6)
    assert float(analysis.bound["D_T"].sel(budget=1e20).median()) == pytest.approx(1e17)
    assert any(w.kind == "reach" and "beyond the fitted runs" in str(w) for w in analysis.warnings)
    assert not rows["teacher 7e9 params on 1.4e11 tokens"]["beyond"]


def test_other_scenarios_are_options_paired_with_the_rest(fit):
    q = Question(student_size=1e9, budgets=(1e21,), target=2.3, other_scenarios=("teacher_pretraining",))
    a = analyse(fit, q, max_draws=30, seed=4)
    pre, inf = distil_label("teacher_pretraining"), distil_label("teacher_inference")
    o = a.options.sel(budget=1e21)
    # a teacher whose pretraining is paid for can never beat a free one on the same budget, draw by draw
    assert np.all(o.sel(option=pre).values >= o.sel(option=inf).values - 1e-9)
    assert float(a.metrics["p_best"].sel(budget=1e21).sum()) == pytest.approx(1.0)


def test_synthetic_posterior_is_flagged(analysis, written):
    assert any(w.kind == "data" and "SYNTHETIC" in str(w) for w in analysis.warnings)
    assert "SYNTHETIC" in written.markdown.read_text()


def test_markdown_twin_links_every_image(written):
    md = written.markdown.read_text()
    pngs = sorted(written.images.glob("*.png"))
    # the paired difference, the options at each of the 2 budgets, 4 more, and 2 x 2 predictive checks
    assert len(pngs) == 11
    for p in pngs:
        assert f"({written.images.name}/{p.name})" in md
    for section in ("The question", "The verdict", "Decision metrics", "Fit diagnostics",
                    "How far the predictions extrapolate", "Provenance"):
        assert f"## {section}" in md
    assert "fb47d4d719648a3c" in md  # the distillation table's sha256 from the model card


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium missing: `make test` installs it (scripts/ensure-chromium.sh); needs root and apt")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the test extra installs playwright")
    return chromium, sync_api


def _render_in_browser(html_path, shot):
    """What a person's browser shows: errors, images (decoded, not blank), headings and the page's text."""
    chromium, sync_api = _browser()
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(html_path.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("""() => Array.from(document.images).map(img => {
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const ctx = c.getContext('2d');
            ctx.drawImage(img, 0, 0);
            const d = ctx.getImageData(0, 0, c.width, c.height).data;
            let colours = new Set();
            for (let i = 0; i < d.length; i += 4 * 97) colours.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
            return {alt: img.alt, complete: img.complete, width: img.naturalWidth, colours: colours.size};
        })""")
        headings = page.locator("h2").all_inner_texts()
        first_table = page.locator("table").first.inner_text()
        body = page.locator("body").inner_text()
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == []
    for img in images:
        assert img["complete"] and img["width"] > 200, img
        assert img["colours"] > 5, f"{img['alt']} looks blank"
    # no value a reader cannot use: no nan, no inf, no empty band
    for bad in (r"\bnan\b", r"\binf\b", r"n/a to n/a", r"\bNaN\b", r"Infinity"):
        assert re.search(bad, body) is None, (bad, re.search(bad, body))
    return images, headings, first_table, body


def test_html_renders_in_a_real_browser(written, tmp_path):
    images, headings, first_table, body = _render_in_browser(written.html, tmp_path / "report.png")
    assert len(images) == 11
    # the one-row-per-budget summary comes first, then the contents, then the detail
    assert headings[:3] == ["Summary", "The question", "The verdict, budget by budget"]
    assert "verdict" in first_table and "1e20 FLOPs" in first_table and "1e22 FLOPs" in first_table
    assert body.index("Summary") < body.index("Contents") < body.index("The question")
    assert "distilled - supervised" in body  # the sign is said
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_supervised_report_in_a_real_browser(tmp_path):
    """The commonest case: supervised runs only (the shipped Chinchilla posterior)."""
    sup = api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")
    q = Question(student_size=None, budgets=(1e21, 5.76e23), target=2.0)
    a, w = api.report(sup, q, out_dir=tmp_path, max_draws=200, seed=1)
    images, headings, first_table, body = _render_in_browser(w.html, tmp_path / "sup.png")
    assert len(images) == 3 and headings[0] == "Summary"
    assert "N* (params)" in first_table and "P(target)" in first_table
    assert "Compute to be 90% sure of reaching loss 2" in body
    # the compute-optimal loss by hand: the planner's optimum of the same draws is inside its band
    L = a.optimum["L"].sel(budget=5.76e23).values
    assert float(np.quantile(L, 0.05)) < 1.98 < float(np.quantile(L, 0.95))
    # the compute to be 90% sure is where the run's P(loss <= 2) passes 0.9 on the sweep (the run: the law, its
    # noise and, beyond the fitted runs, the law's extrapolation error)
    p = (a.sweep <= 2.0).mean("draw")
    c = a.compute_for_target
    assert c is not None
    if np.isfinite(c):
        assert float(p.sel(budget=c, method="bfill")) >= 0.9 > float(p.sel(budget=c, method="ffill"))
    else:  # the law's error grows about as fast as the loss falls: the chance levels off below 90% on the sweep
        assert float(p.max()) < 0.9 and "not within 100x" in body
        # and the report says why, with the chance at the top of the sweep and how far the studies measured
        assert a.target_note is not None and f"{float(p.values[-1]) * 100:.0f}%" in a.target_note
        assert "decades beyond their fits" in a.target_note and "levels off" in body
    assert "extrapolation error" in a.extrapolation
    # Chinchilla's own budget is 43x beyond the fitted runs
    assert any(x.kind == "reach" and "beyond the fitted runs" in str(x) for x in a.warnings)


def test_failed_gates_put_a_stop_banner_on_top(fit, tmp_path):
    strict = Gates(min_ess_bulk=1e9)
    a = analyse(fit, Question(student_size=1e9, budgets=(1e21,)), max_draws=40, seed=2, gates=strict)
    assert not a.diagnosis.passed
    w = render.write(a, tmp_path)
    md = w.markdown.read_text().splitlines()
    assert md[2].startswith("> **STOP:**") and "ESS_bulk" in md[2]
    html = w.html.read_text()
    assert html.index('class="danger"') < html.index('<h2 id="summary">Summary</h2>')


@pytest.mark.parametrize("question, message", [
    (dict(student_size=1.0, budgets=(1e21,)), "raw parameter count"),
    (dict(student_size=1e9, budgets=(1e12,)), "cannot train"),
    (dict(student_size=1e9, budgets=()), "at least one"),
    (dict(student_size=1e9, budgets=(1e21,), target=-1.0), "target loss"),
    (dict(student_size=1e9, budgets=(1e21,), scenario="free_lunch"), "scenario"),
    (dict(student_size=1e9, budgets=(1e21,), teachers=(Teacher(N_T=7e9, D_T=140.0),)), "not 200"),
])
def test_bad_questions_say_what_to_fix(question, message):
    with pytest.raises(ValueError, match=message):
        Question(**question).check()


def test_cli_report_json_and_errors(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["report", str(JOINT), "--student", "1e9", "--budget", "1e21", "--draws", "40", "--target", "2.25",
                 "--out-dir", str(out), "--stem", "q", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out, parse_constant=_no_nan)
    assert payload["command"] == "report" and payload["result"]["diagnostics_passed"] is True
    assert (out / "q.html").exists() and (out / "q.md").exists()
    result = payload["result"]
    assert {"supervised", distil_label("teacher_inference")} <= set(result["compute_for_target"])
    v = result["verdict"][0]
    assert v["verdict"] in ("distil", "supervised", "practically tied", "too close to call")
    assert v["recipe"]["N_T"]["median"] > 0 and any("SYNTHETIC" in w for w in payload["warnings"])
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary left behind
    # bad input: exit 2, a message that says what to fix, nothing written
    bad = tmp_path / "bad"
    assert main(["report", str(JOINT), "--student", "1", "--budget", "1e21", "--out-dir", str(bad)]) == 2
    assert "raw parameter count" in capsys.readouterr().err and not bad.exists()
    assert main(["report", str(JOINT), "--student", "1e9", "--budget", "1e21", "--teacher", "7e9:lots",
                 "--out-dir", str(bad)]) == 2
    assert "N_T:D_T" in capsys.readouterr().err
    assert main(["report", str(JOINT), "--budget", "1e21", "--out-dir", str(bad)]) == 2
    assert "give its size (--student)" in capsys.readouterr().err and not bad.exists()
    assert main(["report", str(JOINT), "--student", "1e9", "--budget", "1e21", "--margin", "-1",
                 "--out-dir", str(bad)]) == 2
    assert "--margin" in capsys.readouterr().err and not bad.exists()


def _no_nan(token: str):
    raise ValueError(f"strict JSON has no {token}")


def test_public_api_names_the_functions_not_the_modules():
    import bayeslaw as bl

    assert callable(bl.report) and callable(bl.predict) and callable(bl.plan)
    assert bl.Question is Question and bl.Teacher is Teacher


def test_each_given_teacher_has_its_own_verdict(analysis, written):
    """A teacher you have (or could train) is judged against supervised training on its own, paired draw by draw."""
    for v in analysis.verdict:
        assert set(v["teachers"]) == {f"distil from {t.label}" for t in QUESTION.teachers}
        for label, t in v["teachers"].items():
            d = analysis.options.sel(budget=v["budget"], option=label) - analysis.options.sel(
                budget=v["budget"], option="supervised")
            d = np.where(np.isfinite(d.values), d.values, np.inf)  # infeasible: distilling loses
            assert t["p_better"] == pytest.approx(float(np.mean(d < 0)))
            assert t["p_worse_margin"] == pytest.approx(float(np.mean(d > QUESTION.margin)))
            expected = ("distil" if np.mean(d < -QUESTION.margin) >= 0.9 else
                        "supervised" if np.mean(d > QUESTION.margin) >= 0.9 else
                        "practically tied" if np.mean(np.abs(d) <= QUESTION.margin) >= 0.9 else "too close to call")
            assert t["verdict"] == expected
    md = written.markdown.read_text()
    assert "Distil from existing teacher 3e9 params, L_T 2.200:" in md


def test_recipes_say_what_the_teacher_costs_and_whether_the_cap_binds(analysis):
    from bayeslaw.core.compute import supervised_flops
    from bayeslaw.core.fmt import share
    from bayeslaw.reporting.render import _teacher_note

    c = QUESTION.budgets[1]
    note = _teacher_note(analysis, c)
    r = analysis.recipe.sel(budget=c)
    pre = supervised_flops(r["N_T"].values, r["D_T"].values)
    assert "tokens/param" in note and "not charged in this scenario" in note and "cap binds in" in note
    ok = np.isfinite(pre)
    binds = np.mean(pre[ok] >= 0.99 * QUESTION.teacher_cap * c)
    assert f"cap binds in {share(binds, int(ok.sum()))} of draws" in note
    assert f"{np.median(r['D_T'].values[ok] / r['N_T'].values[ok]):,.0f} tokens/param" in note


def test_with_a_target_the_serving_section_asks_the_other_way_round(analysis, written):
    """A target question's report has, per serving demand, each route's cheapest lifetime recipe that reaches it
    with 90% probability: that recipe's own draws reach it that often, more demand never makes a route cheaper,
    and the page and the JSON show it."""
    from bayeslaw.reporting.text import report_records

    ds = analysis.serving_target
    assert ds is not None and list(ds["tokens"].values) == [0.0, 1e11, 1e12, 1e13]
    ok = np.isfinite(ds["budget"])
    assert bool(ok.any()) and bool((ds["p_reach"].where(ok) >= 0.9).where(ok, True).all())
    for r in ds["route"].values:
        b = ds["budget"].sel(route=r).values
        b = b[np.isfinite(b)]
        assert np.all(np.diff(b) >= 0)
    assert "### The cheapest recipe that reaches 2.3 nats" in written.markdown.read_text()
    rec = report_records(analysis)["serving_target"]
    assert {r["route"] for r in rec} == set(ds["route"].values)
