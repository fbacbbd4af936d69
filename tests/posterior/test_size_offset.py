"""A new student size's offset (``JointSpec.size_effect``): one architecture keeps one offset wherever it is asked
about, two draw theirs apart, and a plan or a prediction on a posterior with per-size offsets carries it on the
distilled option only (issue 25: a user's student is never one of the paper's five architectures)."""

import copy
import dataclasses

import numpy as np
import pytest
import xarray as xr

from bayeslaw import api
from bayeslaw.core.errors import PosteriorError
from bayeslaw.posterior import extrapolation as ex
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.size_offset import SizeOffset, has_size_offset
from tests.conftest import ROOT

N_DRAWS = 4000


def test_one_size_keeps_its_offset_wherever_it_is_asked_and_two_sizes_draw_theirs_apart():
    off = SizeOffset(np.full(N_DRAWS, 0.004), key=7)
    grid = off.at(np.broadcast_to(np.array([3e8, 1e9])[None, :, None], (N_DRAWS, 2, 3)), 3)
    assert grid.shape == (N_DRAWS, 2, 3)
    np.testing.assert_array_equal(grid[:, 0, 0], grid[:, 0, 2])  # every budget of one size: one architecture
    np.testing.assert_array_equal(grid[:, 1, 0], off.at(np.full(N_DRAWS, 1e9), 1))  # a pilot of that size
    np.testing.assert_array_equal(grid[:, 1, 0], off.at(np.array([1e9 * (1 + 1e-9)]), 2)[:, 0])  # written apart
    assert abs(np.corrcoef(grid[:, 0, 0], grid[:, 1, 0])[0, 1]) < 0.05
    assert np.std(grid[:, 0, 0]) == pytest.approx(0.004, rel=0.05) and abs(np.mean(grid[:, 0, 0])) < 3e-4
    assert not np.allclose(SizeOffset(off.sd, key=8).at(np.array([3e8]), 2), off.at(np.array([3e8]), 2))
    assert np.all(off.at(np.array([np.nan, 3e8]), 2)[:, 0] == 0)  # a cell without a recipe carries none


def _posterior(size_effect: bool) -> Fit:
    post = xr.Dataset({"size_effect_sd": (("chain", "draw"), np.full((2, N_DRAWS // 2), 0.003))})
    return Fit(idata=xr.DataTree.from_dict({"posterior": post}),
               card={"law": "distillation", "spec": {"size_effect": size_effect}})


def test_an_offset_is_drawn_only_for_a_posterior_with_per_size_offsets_and_takes_one_number_from_the_stream():
    rng, again = np.random.default_rng(3), np.random.default_rng(3)
    assert SizeOffset.draw(_posterior(False), np.arange(N_DRAWS), rng) is None
    assert rng.random() == again.random()  # nothing taken: a posterior without offsets draws as before
    off = SizeOffset.draw(_posterior(True), np.arange(10), rng)
    assert off.sd.shape == (10,) and has_size_offset(_posterior(True)) and not has_size_offset(_posterior(False))


DIGITIZED = ROOT / "models/distillation_busbridge2025_digitized_paper_form.nc"  # Eq. 8 as printed


@pytest.fixture(scope="module")
def pair():
    """The shipped posterior, and the same draws read as a fit with per-size offsets of sd 0.3%."""
    paper = api.load(DIGITIZED)
    post = paper.idata["posterior"].to_dataset()
    post["size_effect_sd"] = (("chain", "draw"), np.full((post.sizes["chain"], post.sizes["draw"]), 0.003))
    idata = paper.idata.copy()
    idata["posterior"] = xr.DataTree(post)
    card = copy.deepcopy(paper.card)
    card["spec"]["size_effect"] = True
    return paper, dataclasses.replace(paper, idata=idata, card=card)


@pytest.mark.heavy
def test_a_plan_adds_each_sizes_offset_to_the_distilled_option_only(pair, monkeypatch):
    paper, sized = pair
    err = ex.load_student_error(ex.STUDENT_ERROR_PAPER)
    err_sized = dataclasses.replace(err, card=copy.deepcopy(err.card))
    err_sized.card["data"]["size_effect"] = True
    monkeypatch.setattr(ex, "resolve_student_error",
                        lambda on, form=ex.DEFAULT_FORM: err_sized if "size_effect" in form else err)
    args = ([3e8, 1e9], [1e20, 1e22]), {"max_draws": 1000, "seed": 4}
    grid, summary = api.plan(sized, *args[0], **args[1])
    base, _ = api.plan(paper, *args[0], **args[1])
    # the supervised option rests on the supervised law alone: untouched, draw for draw
    np.testing.assert_array_equal(grid["L_sup"].values, base["L_sup"].values)
    shift = np.log(grid["L_S"] / base["L_S"]).transpose("draw", "student_size", "budget", "scenario").values
    for s in range(2):  # one size, one architecture: the same shift on every budget and scenario (to first
        # order: within_bounds bends a shift where the distillation error already moved a draw far)
        cells = shift[:, s].reshape(shift.shape[0], -1)
        cells = cells[:, np.isfinite(cells).all(axis=0)]
        assert cells.shape[1] >= 4 and np.median(np.abs(cells - cells[:, :1])) < 1e-4
        assert min(np.corrcoef(cells.T)[0]) > 0.95
        assert np.std(cells[:, 0]) == pytest.approx(0.003, rel=0.12)
    assert abs(np.corrcoef(shift[:, 0, 0, 0], shift[:, 1, 0, 0])[0, 1]) < 0.15
    assert "new architecture" in grid.attrs["extrapolation"] and "distillation_error_share" in summary


@pytest.mark.heavy
def test_a_prediction_widens_by_the_offset_and_an_error_learned_the_other_way_is_refused(pair, monkeypatch):
    paper, sized = pair
    err = ex.load_student_error(ex.STUDENT_ERROR_PAPER)
    with pytest.raises(PosteriorError, match="Eq. 8 as printed and the posterior is of Eq. 8 with per-student-size"):
        ex.plan_law_error(sized, ex.load_calibration(), np.arange(10), np.random.default_rng(0), student_error=err)
    # without the calibration: the new-run band alone, run noise and the law's uncertainty, and now the offset
    point = {"N_S": 1e9, "D_S": 2e10, "L_T": 2.2, "seed": 5}
    plain = api.predict_distillation(paper, **point, extrapolation=False)
    wide = api.predict_distillation(sized, **point, extrapolation=False)
    np.testing.assert_array_equal(plain["loss_mean"].values, wide["loss_mean"].values)
    extra = np.var(np.log(wide["loss_new"].values)) - np.var(np.log(plain["loss_new"].values))
    assert extra == pytest.approx(0.003 ** 2, rel=0.15)
    assert "new student size's offset" in wide.attrs["extrapolation"]


SIZED = ROOT / "models/distillation_busbridge2025_digitized_size_effect.nc"


@pytest.mark.heavy
def test_the_shipped_posterior_with_per_size_offsets_passes_its_gates_and_finds_the_ladders_largest_students_low():
    fit = api.load(SIZED)
    assert fit.diagnostics_passed and has_size_offset(fit)
    offsets = fit.idata["posterior"]["size_effect"]
    big = offsets.sel(student_size=offsets["student_size"].max()).values.ravel()
    # the 1.82B ladder students sit below Eq. 8 (in-sample 50% coverage 0.10 without the offsets; docs/distillation.md)
    assert np.mean(big < 0) > 0.95 and -0.008 < np.median(big) < -0.001
    sd = float(fit.idata["posterior"]["size_effect_sd"].median())
    assert 0.0015 < sd < 0.005


@pytest.mark.heavy
def test_plan_pilot_and_report_on_it_from_the_command_line(tmp_path, capsys):
    from bayeslaw.cli import main

    assert main(["pilot", str(SIZED), "--student", "1e9", "--budget", "1e21", "--draws", "300"]) == 0
    said = capsys.readouterr().out
    assert "new architecture" in said and "distillation_error_size_effect.nc" in said

    assert main(["plan", str(SIZED), "--student", "1e9", "--budget", "1e21", "--draws", "300", "--json",
                 "--quiet"]) == 0
    assert main(["report", str(SIZED), "--student", "1e9", "--budget", "1e21", "--draws", "200",
                 "--out-dir", str(tmp_path), "--quiet"]) == 0
    md = next(tmp_path.glob("*.md")).read_text()
    assert "new architecture" in md and "per-student-size offsets" in md


def test_a_heavy_tailed_run_noise_stays_inside_the_laws_domain_and_sane_draws_are_untouched():
    # nu ~1-2, as a fit with per-size offsets learns: a few of a million draws land tens of thousands of sds out
    # (a backtest's CRPS was 3e21 before new runs were held inside [E, ceiling])
    rng = np.random.default_rng(0)
    log_mu = np.full((1000, 1000), np.log(2.3))
    noise = 0.001 * rng.standard_t(1.2, log_mu.shape)
    log_E = np.full((1000, 1), np.log(1.7))
    got = ex.new_run(log_mu, noise, log_E)
    assert np.abs(noise).max() > 1.0  # the draws this is about
    assert got.min() >= np.log(1.7) and got.max() <= ex.LOG_CEILING
    sane = (log_mu + noise > np.log(1.7)) & (log_mu + noise < ex.LOG_CEILING)
    np.testing.assert_array_equal(got[sane], (log_mu + noise)[sane])
