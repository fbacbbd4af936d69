"""The token tilt (``JointSpec.token_tilt``, experimental): Eq. 8's data amplitude depends on the teacher.

The law itself is checked by hand in tests/core/test_laws.py; here the spec, the model and the planner's refusal.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from bayeslaw.core.errors import PosteriorError
from bayeslaw.data.tables import load_shipped, split_teachers, validate_distillation
from bayeslaw.model.build import build_joint
from bayeslaw.model.spec import TOKEN_TILT_SD, JointSpec
from bayeslaw.posterior.draws import refuse_experimental

SPEC = {"preset": "busbridge2025", "supervised_cut": True, "weak_teacher": True, "likelihood": "normal"}


def test_the_spec_carries_the_tilt_and_old_cards_have_none():
    spec = JointSpec(**SPEC, token_tilt=True)
    assert spec.priors["token_tilt"].kwargs == {"mu": 0.0, "sigma": TOKEN_TILT_SD}
    assert JointSpec.from_dict(spec.to_dict()) == spec
    assert not JointSpec.from_dict(JointSpec(**SPEC).to_dict()).token_tilt


def test_the_model_samples_the_tilt_and_moves_only_students_by_their_teacher():
    d = validate_distillation(load_shipped("busbridge2025_digitized").drop(columns="teacher_id"))
    teachers, rest, index = split_teachers(d, None)
    model = build_joint(JointSpec(**SPEC, token_tilt=True), d, rest, teachers, index)
    assert "token_tilt" in {rv.name for rv in model.free_RVs}
    point = model.initial_point()
    logp = model.compile_logp(vars=[model["obs_student"]])
    plain = build_joint(JointSpec(**SPEC), d, rest, teachers, index)
    same = {k: v for k, v in point.items() if k in {v.name for v in plain.value_vars}}
    base = plain.compile_logp(vars=[plain["obs_student"]])(same)
    assert logp(point | {"token_tilt": np.array(0.0)}) == pytest.approx(base, rel=1e-10)  # 0 is Eq. 8
    assert logp(point | {"token_tilt": np.array(3.0)}) != pytest.approx(base, rel=1e-6)


def test_the_planner_refuses_a_tilted_posterior():
    with pytest.raises(PosteriorError, match="token tilt"):
        refuse_experimental(SimpleNamespace(card={"spec": {"token_tilt": True}}))


@pytest.mark.parametrize("flag", ["token_tilt", "noise_by_size"])
def test_a_supervised_fit_refuses_each_experimental_option_by_its_own_name(flag):
    from bayeslaw import api
    from bayeslaw.core.errors import InputError

    with pytest.raises(InputError, match=f"^{flag} .*--law distillation only$"):
        api.fit("chinchilla", law="supervised", **{flag: True})
