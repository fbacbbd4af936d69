"""The SYNTHETIC paper-design generator, teacher handling, and the joint model's structure."""

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.core import laws
from bayeslaw.core.errors import DataError, InputError, PriorError
from bayeslaw.core.intervals import pick
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.data.synthetic import SMALL_DESIGN, GeneratorSettings, simulate
from bayeslaw.data.tables import split_teachers, table_hash, validate_distillation, validate_supervised
from bayeslaw.model.build import build_joint
from bayeslaw.model.spec import JointSpec
from bayeslaw.posterior.students import capacity_gap, predict
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons


def test_paper_design_sizes():
    dis, sup = simulate(GeneratorSettings(seed=1))
    assert 650 <= len(dis) <= 750 and 60 <= len(sup) <= 80  # the paper: 697 and 73
    assert set(dis["protocol"].str[:2]) == {"P1", "P2", "P3"}
    # every teacher is a supervised run with the same measured loss
    t = sup.set_index("run_id")
    np.testing.assert_array_equal(t.loc[dis["teacher_id"], "loss"].to_numpy(), dis["L_T"].to_numpy())


def test_noise_free_generation_is_the_law():
    sup_c, dis_c = paper_coefficients()
    dis, sup = simulate(GeneratorSettings(seed=0, noise=0.0, eval_noise=0.0, design=SMALL_DESIGN))
    np.testing.assert_allclose(sup["loss"], laws.supervised_loss(sup["N"], sup["D"], **sup_c), rtol=1e-12)
    tilde = laws.supervised_loss(dis["N_S"], dis["D_S"], **sup_c)
    np.testing.assert_allclose(dis["L_S"], laws.distillation_loss(dis["N_S"], dis["D_S"], dis["L_T"], tilde, **dis_c),
                               rtol=1e-12)


def test_written_tables_say_synthetic(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--small", "--seed", "4"]) == 0
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["SYNTHETIC_paper_design_distillation.csv",
                                       "SYNTHETIC_paper_design_supervised.csv"]
    head = files[0].read_text().splitlines()[0]
    assert head.startswith("# SYNTHETIC") and "NOT measured" in head
    assert '"seed": 4' in files[0].read_text().splitlines()[2]
    dis = validate_distillation(files[0])
    assert len(dis) > 20


def test_teachers_enter_once():
    dis, sup = simulate(GeneratorSettings(seed=2, design=SMALL_DESIGN))
    d, s = validate_distillation(dis), validate_supervised(sup)
    teachers, rest, index = split_teachers(d, s)
    assert len(teachers) == d["teacher_id"].nunique()
    assert len(rest) == len(s) - int(sup["is_teacher"].sum())
    np.testing.assert_array_equal(teachers["teacher_id"].to_numpy()[index], d["teacher_id"].to_numpy())
    # a teacher known only by size takes its loss from the supervised table
    no_lt = d.drop(columns="L_T")
    t2, _, _ = split_teachers(no_lt, s)
    np.testing.assert_allclose(t2["L_T"], teachers["L_T"])
    with pytest.raises(DataError, match="neither L_T nor N_T"):
        split_teachers(no_lt.drop(columns=["N_T", "D_T"]), s)


def test_joint_model_structure_and_presets():
    dis, sup = simulate(GeneratorSettings(seed=2, design=SMALL_DESIGN))
    d, s = validate_distillation(dis), validate_supervised(sup)
    teachers, rest, index = split_teachers(d, s)
    model = build_joint(JointSpec(), d, rest, teachers, index)
    free = {rv.name for rv in model.free_RVs}
    assert {"log_break_ref", "log_slope_ref", "log_d1", "P", "Q", "c0", "log_L_T", "sigma_dis",
            "gamma"} <= free
    assert {"log_k", "log_s"} <= {d.name for d in model.deterministics}
    assert model["log_L_T"].eval().shape == (len(teachers),)
    # logp is finite at the paper's values
    ip = model.initial_point()
    assert np.isfinite(model.compile_logp()(ip))
    bus = JointSpec(preset="busbridge2025", preset_scale=2.0)
    weak = JointSpec()
    assert bus.priors["c0"].kwargs["mu"] == pytest.approx(2.549)
    assert bus.priors["c0"].kwargs["sigma"] == pytest.approx(0.6)
    assert weak.priors["c0"].kwargs["sigma"] == 1.5
    assert JointSpec.from_dict(bus.to_dict()) == bus
    with pytest.raises(PriorError, match="no parameter named"):
        JointSpec(priors={"c2": {"dist": "Normal", "kwargs": {"mu": 0, "sigma": 1}}})


def test_break_coordinates_keep_the_specified_priors():
    """log_k and log_s are derived from the sampled break coordinates; their priors must be
    exactly the specified ones (independent Normals), not the ridge the shift follows."""
    from scipy import stats

    dis, sup = simulate(GeneratorSettings(seed=2, design=SMALL_DESIGN))
    d, s = validate_distillation(dis), validate_supervised(sup)
    teachers, rest, index = split_teachers(d, s)
    spec = JointSpec(priors={"log_k": {"dist": "Normal", "kwargs": {"mu": 3.0, "sigma": 1.5}}})
    model = build_joint(spec, d, rest, teachers, index)
    draws = pm.draw([model[n] for n in ("log_k", "log_s", "log_d1")], draws=4000, random_seed=7)
    for name, x in zip(("log_k", "log_s", "log_d1"), draws, strict=True):
        kw = spec.priors[name].kwargs
        assert stats.kstest(x, stats.norm(kw["mu"], kw["sigma"]).cdf).pvalue > 0.01, name
    corr = np.corrcoef(draws)
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.05
    with pytest.raises(PriorError, match="log_k is sampled as a shifted copy"):
        JointSpec(priors={"log_k": {"dist": "LogNormal", "kwargs": {"mu": 3.0, "sigma": 1.0}}})


def test_distillation_table_errors():
    base = pd.DataFrame({"N_S": [1e8] * 3, "D_S": [2e9] * 3, "L_S": [3.0, 3.1, 3.2], "L_T": [2.5, 2.6, 2.5],
                         "teacher_id": ["a", "a", "b"]})
    with pytest.raises(DataError, match=r"teacher 'a' is given with different losses L_T at rows \[0, 1\]"):
        validate_distillation(base)


# ---------------------------------------------------------------- the shipped joint posterior

JOINT = "models/distillation_SYNTHETIC_paper_design.nc"


@pytest.fixture(scope="module")
def joint():
    dis = validate_distillation(ROOT / "data/synthetic/SYNTHETIC_paper_design_distillation.csv")
    return api.load(ROOT / JOINT, expect_law="distillation", data_hash=table_hash(dis))


def test_shipped_joint_fit_passes_its_gates(joint):
    m = joint.card["diagnostics"]["metrics"]
    assert joint.diagnostics_passed, joint.card["diagnostics"]["failures"]
    assert m["divergences"] == 0 and m["max_rhat"] <= 1.01 and m["min_ess_bulk"] >= 400


def test_recovery_of_identified_quantities(joint):
    """90% intervals cover the generating values of the quantities the design measures."""
    sup_c, dis_c = paper_coefficients()
    post = joint.idata["posterior"].to_dataset()
    truth = {"E": sup_c["E"], "alpha": sup_c["alpha"], "beta": sup_c["beta"], "gamma": sup_c["gamma"],
             "c0": dis_c["c0"], "f1": dis_c["f1"], "d1": dis_c["d1"],
             "P": dis_c["gamma_p"] * dis_c["alpha_p"],
             # pre-break amplitude of the broken power law, K = c1 f1 d1^(-1/f1)
             "K": dis_c["c1"] * dis_c["f1"] * dis_c["d1"] ** (-1 / dis_c["f1"])}
    post["K"] = post["c1"] * post["f1"] * post["d1"] ** (-1 / post["f1"])
    for k, v in truth.items():
        lo, hi = np.quantile(post[k].values, [0.05, 0.95])
        assert lo <= v <= hi, (k, lo, v, hi)
    # the identified ones, tightly: c0 within 10%, f1 within 10%, P within 10%
    for k, tol in (("c0", 0.1), ("f1", 0.1), ("P", 0.1), ("K", 0.25)):
        assert float(post[k].median()) == pytest.approx(truth[k], rel=tol)


def test_contraction_separates_measured_from_prior(joint):
    c = joint.card["diagnostics"]["metrics"]["contraction"]
    for k in ("c0", "log_s", "P", "alpha", "log_size_amp_c"):
        assert c[k] < 0.3, (k, c[k])  # measured by the data
    for k in ("gamma_p", "log_data_ratio"):
        assert c[k] > 0.3, (k, c[k])  # mostly the prior on this design


def test_table7_pair(joint):
    sup_c, dis_c = paper_coefficients()
    ds = predict(joint, N_S=546e6, D_S=20 * 546e6, N_T=1.821e9, D_T=20 * 1.821e9, prob=0.9)
    assert float(pick(ds, "loss_new", "lower")[0]) <= 2.42 <= float(pick(ds, "loss_new", "upper")[0])
    L_T = laws.supervised_loss(1.821e9, 20 * 1.821e9, **sup_c)
    tilde = laws.supervised_loss(546e6, 20 * 546e6, **sup_c)
    law = laws.distillation_loss(546e6, 20 * 546e6, L_T, tilde, **dis_c)
    # a 90% interval misses the truth one time in ten by design: the generating law must lie inside the
    # 99% one (a posterior that is wrong misses that too), and the 90% one must be narrow
    wide = predict(joint, N_S=546e6, D_S=20 * 546e6, N_T=1.821e9, D_T=20 * 1.821e9, prob=0.99)
    assert float(pick(wide, "loss_mean", "lower")[0]) <= law <= float(pick(wide, "loss_mean", "upper")[0])
    assert float(pick(ds, "loss_mean", "upper")[0]) - float(pick(ds, "loss_mean", "lower")[0]) < 0.01
    # distillation beats supervised at 20 tokens/param by ~0.09 nats (paper: 0.091)
    assert float(pick(ds, "difference", "median")[0]) == pytest.approx(-0.091, abs=0.01)
    by_loss = predict(joint, N_S=546e6, D_S=20 * 546e6, L_T=2.251)
    assert float(pick(by_loss, "loss_mean")[0]) == pytest.approx(float(pick(ds, "loss_mean")[0]), abs=2e-3)
    with pytest.raises(ValueError, match="L_T .* or as N_T and D_T"):
        predict(joint, N_S=546e6, D_S=1e10)


def test_capacity_gap_is_a_u(joint):
    """Student loss against teacher loss is a U. With the paper's coefficients its minimum is NOT at
    L_T / L~_S = d1 (1.315) but at ~0.71 for this student (L_T = 1.776): the L_T^-c0 factor makes a
    too-strong teacher hurt; past d1 the distillation term vanishes and L_S -> L_T."""
    sup_c, dis_c = paper_coefficients()
    N_S, D_S = 546e6, 20 * 546e6
    grid = np.linspace(1.3, 4.0, 271)
    ds = capacity_gap(joint, N_S=N_S, D_S=D_S, L_T=grid)
    med = pick(ds, "loss_mean", "median").values
    i = int(np.argmin(med))
    assert 0 < i < med.size - 1  # an interior minimum: too strong a teacher hurts
    tilde = laws.supervised_loss(N_S, D_S, **sup_c)
    law = laws.distillation_loss(N_S, D_S, grid, tilde, **dis_c)
    assert grid[i] == pytest.approx(grid[np.argmin(law)], abs=0.15)
    assert float(ds["ratio"][np.argmin(law)]) == pytest.approx(0.706, abs=0.02)
    # inside the teachers the design measured (2.0 <= L_T <= 3.0) the band holds the generating law
    inside = (grid >= 2.0) & (grid <= 3.0)
    assert np.all(pick(ds, "loss_mean", "lower").values[inside] <= law[inside] + 1e-3)
    assert np.all(law[inside] <= pick(ds, "loss_mean", "upper").values[inside] + 1e-3)
    # far past the break the student reaches its teacher
    assert med[-1] == pytest.approx(grid[-1], abs=1e-3)


def test_cli_predicts_students(capsys):
    rc = main(["predict", str(ROOT / JOINT), "--N-S", "546e6", "--D-S", "1.092e10", "--N-T", "1.821e9",
               "--D-T", "3.642e10"])
    out = capsys.readouterr().out
    assert rc == 0 and "N_S=5.460e+08" in out and "new run" in out


def test_cli_fits_a_small_distillation_study(tmp_path, capsys):
    """The whole path from the command line; a deliberately short run must say it cannot be trusted."""
    assert main(["generate", "--out", str(tmp_path), "--small", "--seed", "1", "--quiet"]) == 0
    dis, sup = (tmp_path / f"SYNTHETIC_paper_design_{k}.csv" for k in ("distillation", "supervised"))
    out = tmp_path / "joint.nc"
    rc = main(["fit", str(dis), "--law", "distillation", "--supervised", str(sup), "--draws", "60",
               "--tune", "60", "--chains", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 1 and "FAILED its diagnostic gates" in text and "c0" in text
    assert main(["diagnose", str(out)]) == 1
    assert "Identification" in capsys.readouterr().out
    assert main(["fit", str(dis), "--law", "distillation", "--preset", "weak"]) == 2
    assert "without supervised runs the supervised law must come from the busbridge2025" in capsys.readouterr().err


def _parents(model, name):
    from pytensor.graph.traversal import ancestors

    rv = {v.name for v in model.value_vars}
    return {v.name.removesuffix("_log__") for v in ancestors([model.logp(vars=[model[name]], sum=True)])
            if v.name in rv}


def test_the_supervised_cut_keeps_the_students_out_of_the_supervised_law():
    d = load_shipped_digitized()
    teachers, rest, index = split_teachers(d, None)
    cut = build_joint(JointSpec(preset="busbridge2025", supervised_cut=True), d, rest, teachers, index)
    joint = build_joint(JointSpec(preset="busbridge2025"), d, rest, teachers, index)
    sup = {"log_E", "log_size_term", "log_data_term", "alpha", "beta", "gamma"}
    # the students' likelihood: with the cut it reads no supervised coefficient, without it all six
    assert not sup & _parents(cut, "obs_student")
    assert sup <= _parents(joint, "obs_student")
    assert {"c0", "log_d1", "log_L_T"} <= _parents(cut, "obs_student")
    # the cut needs a centre to cut at: refused with a weak preset
    with pytest.raises(InputError, match="busbridge2025"):
        JointSpec(preset="weak", supervised_cut=True)
    assert JointSpec.from_dict(JointSpec(preset="busbridge2025", supervised_cut=True).to_dict()).supervised_cut


def load_shipped_digitized():
    from bayeslaw.data.tables import load_shipped

    return validate_distillation(load_shipped("busbridge2025_digitized"))


def test_a_learned_teacher_noise_is_a_parameter_of_the_measurement_only():
    d = load_shipped_digitized()
    teachers, rest, index = split_teachers(d, None)
    spec = JointSpec(preset="busbridge2025", supervised_cut=True, teacher_noise=0.003, learn_teacher_noise=True)
    model = build_joint(spec, d, rest, teachers, index)
    assert "teacher_noise" in {rv.name for rv in model.free_RVs}
    # centred on the stated value, a factor e^(1.96 x 0.75) either way at 95%
    assert spec.priors["teacher_noise"].dist == "LogNormal"
    assert np.exp(spec.priors["teacher_noise"].kwargs["mu"]) == pytest.approx(0.003)
    assert "teacher_noise" in _parents(model, "obs_teacher")
    assert "teacher_noise" not in _parents(model, "obs_student")  # the students see it through log_L_T only
    assert JointSpec.from_dict(spec.to_dict()) == spec
    fixed = build_joint(JointSpec(preset="busbridge2025", supervised_cut=True), d, rest, teachers, index)
    assert "teacher_noise" not in {rv.name for rv in fixed.free_RVs}
    assert "learn_teacher_noise" not in JointSpec().to_dict()  # a fixed-noise card reads as before


def _with_offsets(key: str, value_var: str):
    """The digitized students' joint model with the experimental offsets ``key``: they enter the students' likelihood
    (through ``value_var``) and not the teachers', and the spec round-trips (a card without them reads as before)."""
    d = load_shipped_digitized()
    teachers, rest, index = split_teachers(d, None)
    spec = JointSpec(preset="busbridge2025", supervised_cut=True, teacher_noise=0.003, **{key: True})
    model = build_joint(spec, d, rest, teachers, index)
    assert {f"{key}_sd", f"{key}_z"} <= {rv.name for rv in model.free_RVs}
    assert value_var in _parents(model, "obs_student") and value_var not in _parents(model, "obs_teacher")
    assert JointSpec.from_dict(spec.to_dict()) == spec and key not in JointSpec().to_dict()
    return d, teachers, rest, index, model


def test_a_teacher_effect_shifts_only_that_teachers_students_by_its_offset():
    d, teachers, rest, index, model = _with_offsets("teacher_effect", "teacher_effect_z")
    # at the initial point, an offset of 0.5% on teacher j is the fixed model with j's students' losses / e^0.005
    j = int(np.bincount(index).argmax())
    point = model.initial_point()
    z = np.zeros(len(teachers))
    z[j] = 1.0
    point["teacher_effect_z"] = z
    point["teacher_effect_sd_log__"] = np.log(0.005)
    logp = model.compile_logp(vars=[model["obs_student"]])(point)
    fixed_spec = JointSpec(preset="busbridge2025", supervised_cut=True, teacher_noise=0.003)
    shifted = d.assign(L_S=np.where(index == j, d["L_S"] / np.exp(0.005), d["L_S"]))
    fixed = build_joint(fixed_spec, shifted, rest, teachers, index)
    fixed_point = {k: v for k, v in point.items() if k in {v.name for v in fixed.value_vars}}
    # the likelihood is on log L_S: a mean moved up by 0.005 is the observation moved down by 0.005
    assert logp == pytest.approx(fixed.compile_logp(vars=[fixed["obs_student"]])(fixed_point), rel=1e-10)
    point["teacher_effect_z"] = np.zeros(len(teachers))
    unshifted = build_joint(fixed_spec, d, rest, teachers, index)
    assert model.compile_logp(vars=[model["obs_student"]])(point) == pytest.approx(
        unshifted.compile_logp(vars=[unshifted["obs_student"]])(fixed_point), rel=1e-10)


def test_a_size_effect_shifts_each_sizes_students_by_its_offset_and_the_offsets_sum_to_zero():
    d, teachers, rest, index, model = _with_offsets("size_effect", "size_effect_z_zerosum__")
    sizes = np.unique(d["N_S"])
    assert list(model.coords["student_size"]) == list(sizes)
    point = model.initial_point()
    point["size_effect_z_zerosum__"] = np.linspace(-1.0, 1.5, len(sizes) - 1)
    point["size_effect_sd_log__"] = np.log(0.004)
    (graph,) = model.replace_rvs_by_values([model["size_effect"]])  # the offsets as a function of value variables
    inputs = [model.rvs_to_values[model[name]] for name in ("size_effect_z", "size_effect_sd")]
    offset = pytensor.function(inputs, graph)(*(point[v.name] for v in inputs))
    assert abs(offset.sum()) < 1e-12 and np.ptp(offset) > 0.004  # zero-sum, and not all zero
    # the students' likelihood at that point is the model without offsets on losses moved by their size's offset
    fixed_spec = JointSpec(preset="busbridge2025", supervised_cut=True, teacher_noise=0.003)
    of_student = offset[np.searchsorted(sizes, d["N_S"].to_numpy())]
    fixed = build_joint(fixed_spec, d.assign(L_S=d["L_S"] / np.exp(of_student)), rest, teachers, index)
    fixed_point = {k: v for k, v in point.items() if k in {v.name for v in fixed.value_vars}}
    assert model.compile_logp(vars=[model["obs_student"]])(point) == pytest.approx(
        fixed.compile_logp(vars=[fixed["obs_student"]])(fixed_point), rel=1e-10)
