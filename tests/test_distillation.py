"""The SYNTHETIC paper-design generator, teacher handling, and the joint model's structure."""

import numpy as np
import pandas as pd
import pytest

from bayeslaw import laws
from bayeslaw.cli import main
from bayeslaw.data import DataError, split_teachers, validate_distillation, validate_supervised
from bayeslaw.generate import SMALL_DESIGN, GeneratorSettings, generate, paper_coefficients
from bayeslaw.model import JointSpec, build_joint
from bayeslaw.priors import PriorError


def test_paper_design_sizes():
    dis, sup = generate(GeneratorSettings(seed=1))
    assert 650 <= len(dis) <= 750 and 60 <= len(sup) <= 80  # the paper: 697 and 73
    assert set(dis["protocol"].str[:2]) == {"P1", "P2", "P3"}
    # every teacher is a supervised run with the same measured loss
    t = sup.set_index("run_id")
    np.testing.assert_array_equal(t.loc[dis["teacher_id"], "loss"].to_numpy(), dis["L_T"].to_numpy())


def test_noise_free_generation_is_the_law():
    sup_c, dis_c = paper_coefficients()
    dis, sup = generate(GeneratorSettings(seed=0, noise=0.0, eval_noise=0.0, design=SMALL_DESIGN))
    np.testing.assert_allclose(sup["loss"], laws.supervised_loss(sup["N"], sup["D"], **sup_c), rtol=1e-12)
    tilde = laws.supervised_loss(dis["N_S"], dis["D_S"], **sup_c)
    np.testing.assert_allclose(dis["L_S"], laws.distillation_loss(dis["N_S"], dis["D_S"], dis["L_T"], tilde, **dis_c),
                               rtol=1e-12)


def test_written_tables_say_synthetic(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--small", "--seed", "4"]) == 0
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["SYNTHETIC_paper_design_distillation.csv", "SYNTHETIC_paper_design_supervised.csv"]
    head = files[0].read_text().splitlines()[0]
    assert head.startswith("# SYNTHETIC") and "NOT measured" in head
    assert '"seed": 4' in files[0].read_text().splitlines()[2]
    dis = validate_distillation(files[0])
    assert len(dis) > 20


def test_teachers_enter_once():
    dis, sup = generate(GeneratorSettings(seed=2, design=SMALL_DESIGN))
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
    dis, sup = generate(GeneratorSettings(seed=2, design=SMALL_DESIGN))
    d, s = validate_distillation(dis), validate_supervised(sup)
    teachers, rest, index = split_teachers(d, s)
    model = build_joint(JointSpec(), d, rest, teachers, index)
    free = {rv.name for rv in model.free_RVs}
    assert {"log_k", "log_s", "log_d1", "P", "Q", "c0", "log_L_T", "sigma_dis", "gamma"} <= free
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


def test_distillation_table_errors():
    base = pd.DataFrame({"N_S": [1e8] * 3, "D_S": [2e9] * 3, "L_S": [3.0, 3.1, 3.2], "L_T": [2.5, 2.6, 2.5],
                         "teacher_id": ["a", "a", "b"]})
    with pytest.raises(DataError, match="different L_T"):
        split_teachers(validate_distillation(base), validate_supervised(pd.DataFrame(
            {"N": np.geomspace(1e8, 1e9, 9), "D": np.geomspace(1e9, 1e10, 9), "loss": np.linspace(3, 2.5, 9)})))
