"""``bayeslaw pilot`` on the shipped posteriors: the value of runs for real decisions, and its bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.decision import value as voi
from bayeslaw.decision.pilot import Candidate, pilot
from bayeslaw.decision.question import Question, Teacher

pytestmark = pytest.mark.heavy  # loads shipped posteriors and plans over their draws

JOINT = "models/distillation_busbridge2025_digitized.nc"
CHINCHILLA = "models/supervised_chinchilla_epoch240.nc"


@pytest.fixture(scope="module")
def joint():
    return api.load(JOINT)


@pytest.fixture(scope="module")
def chinchilla():
    return api.load(CHINCHILLA)


@pytest.fixture(scope="module")
def main_job(joint):
    q = Question(student_size=1e9, budgets=(1e20, 1e21, 1e22), teachers=(Teacher(N_T=7e9, L_T=2.05),))
    return pilot(joint, q, max_draws=400, seed=3)


def test_evsi_lies_between_zero_and_evpi_for_every_candidate(main_job):
    ranked = [r for r in main_job.candidates if r["ranked"]]
    assert ranked
    for r in ranked:
        assert r["evsi"] >= 0.0
        assert r["evsi"] <= r["regret_before"] + 1e-12
        assert r["evsi"] <= 1.25 * r["evpi"] + 1e-4  # EVPI up to Monte Carlo error
        assert r["flops"] <= r["budget"]
    for b in main_job.budgets:
        assert b["status"] == "ranked" or b["status"].startswith("settled")


def test_candidates_are_ranked_by_value_per_flop_and_unaffordable_ones_listed(main_job):
    for c in (1e20, 1e21, 1e22):
        rows = [r for r in main_job.candidates if r["budget"] == c]
        ranked = [r for r in rows if r["ranked"]]
        assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
        v = [r["value_per_flop"] for r in ranked]
        assert v == sorted(v, reverse=True)
        over = [r for r in rows if r["flops"] > c]
        assert all(not r["ranked"] and r["over_budget"] and r["evsi"] is None for r in over)
        assert over or c == 1e22  # the student's own size on 100 tokens/param costs 7.4e20 FLOPs


def test_the_existing_teacher_is_an_option_and_a_teacher_for_pilots(main_job):
    b = main_job.budgets[1]
    assert any("existing teacher 7e9" in o for o in b["options"])
    assert any("measured teacher 7e9" in r["label"] for r in main_job.candidates)


def test_the_sequence_grows_only_while_the_draws_can_value_it(main_job):
    seq = main_job.budgets[1]["sequence"]
    assert 1 <= len(seq) <= 3
    assert all(len(s["runs"]) == k for k, s in enumerate(seq, start=1))
    assert all(a["flops"] < b["flops"] and a["evsi"] < b["evsi"] for a, b in zip(seq, seq[1:], strict=False))
    assert all(s["flops"] <= 1e21 for s in seq)
    assert all(s["ess_low"] <= voi.ESS_LOW_SHARE for s in seq[1:])
    # 400 draws: any pair's update already rests on too few draws (its EVSI would be the weights' collapse), so the
    # sequence stops at one run and says why
    assert len(seq) == 1 and "no larger set can be valued" in seq[0]["stopped"]


def test_the_same_seed_gives_the_same_ranking(joint, main_job):
    q = main_job.question
    again = pilot(joint, q, max_draws=400, seed=3)
    assert again.records() == main_job.records()


def test_a_run_beyond_the_fitted_runs_is_worth_more_where_the_decision_is_beyond_them(chinchilla):
    # will the compute-optimal run at 1e24 FLOPs reach 2.0? Chinchilla's runs end at 1.6e10 params and ~3e21 FLOPs
    q = Question(student_size=None, budgets=(1e24,), target=2.0)
    inside = Candidate("supervised", 4e8, 8e9)  # inside the fitted runs
    beyond = Candidate("supervised", 3e10, 5.4e11)  # a decade beyond them in compute
    p = pilot(chinchilla, q, candidates=[inside, beyond], max_draws=1000, seed=0)
    rows = {r["N"]: r for r in p.candidates}
    assert rows[3e10]["evsi"] > 10 * max(rows[4e8]["evsi"], 1e-4)
    assert rows[3e10]["p_wrong_after"] < rows[3e10]["p_wrong_before"]
    # without the law's extrapolation error the law alone answers: nothing left to learn
    plain = pilot(chinchilla, q, candidates=[inside, beyond], max_draws=1000, seed=0, extrapolation=False)
    assert plain.budgets[0]["evpi"] < 0.2 * p.budgets[0]["evpi"]


def test_a_supervised_questions_runs_share_a_misfit_per_decade_and_the_answer_says_so(chinchilla, main_job):
    """A supervised question's runs share a misfit per decade of compute, its sd each draw's error at the edge of the
    fitted runs (docs/pilot.md; the sets' likelihood is tested in test_value.py); a distillation question's and an
    error-free one's stay independent, and every answer says which."""
    from bayeslaw.decision import pilot as pilot_module
    from bayeslaw.decision.pipeline import decision_draws

    q = Question(student_size=None, budgets=(1e24,), target=2.0)
    cands = [Candidate("supervised", 1e10, 4e11), Candidate("supervised", 1.2e10, 3.5e11),  # 2.6e22, 2.7e22 FLOPs
             Candidate("supervised", 6e10, 2.2e12)]  # 8.3e23
    p = pilot(chinchilla, q, candidates=cands, max_draws=1000, seed=0)
    assert p.runs_valued_as == pilot_module.SHARED and p.records()["runs_valued_as"] == pilot_module.SHARED
    draws = decision_draws(chinchilla, max_draws=200, seed=0,
                           calibration=pilot_module.calibration_for(chinchilla, True))
    runs = [pilot_module.predicted_runs(chinchilla, draws, c) for c in cands]
    sets = pilot_module.shared_misfit(chinchilla, draws, cands, runs, seed=0)
    assert [int(np.floor(np.log10(c.flops))) for c in cands] == [22, 22, 23] == list(sets.band)
    assert np.allclose(sets.tau2[0], draws.error.edge ** 2)
    plain = pilot(chinchilla, q, candidates=cands, max_draws=1000, seed=0, extrapolation=False)
    assert plain.runs_valued_as == pilot_module.INDEPENDENT
    assert main_job.runs_valued_as == pilot_module.INDEPENDENT  # a distillation question


def test_a_settled_question_says_so_instead_of_ranking_noise(chinchilla):
    # which model size at 1e21 FLOPs, inside Chinchilla's runs: the loss is flat around N* and the runs pin where
    # it lies, so knowing more is worth < 1e-4 nats
    q = Question(student_size=None, budgets=(1e21,))
    p = pilot(chinchilla, q, candidates=[Candidate("supervised", 1.6e9, 3.2e10)], max_draws=500, seed=0)
    assert p.budgets[0]["status"].startswith("settled")
    assert not any(r["ranked"] for r in p.candidates)


def test_cli_json_envelope_and_bad_candidate_files(tmp_path, capsys):
    good = tmp_path / "c.csv"
    good.write_text("kind,N,D,N_T,L_T\nsupervised,1e8,2e9,,\ndistillation,1e8,2e9,7e9,2.05\n")
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", str(good),
                 "--draws", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["result"]["candidates"]
    assert len(rows) == 2
    for k in ("flops", "evsi", "evpi", "p_wrong_before", "p_wrong_after"):
        assert all(k in r for r in rows)
    sup = next(r for r in rows if r["kind"] == "supervised")
    assert 6 * 1e8 * 2e9 <= sup["flops"] <= 12 * 1e8 * 2e9  # 3 F(N) D with F(N) = 2N plus attention
    dis = next(r for r in rows if r["kind"] == "distillation")
    assert dis["flops"] > sup["flops"] and dis["teacher_sunk"]  # the teacher's logits; its pretraining is sunk
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,N,D,tokens\nsupervised,1e8,2e9,3\n")
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", str(bad)]) == 2
    assert "unknown column(s) tokens" in capsys.readouterr().err
    bad.write_text("kind,N,D\nsupervised,1e8,two\n")
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err
    bad.write_bytes(b"\x00\xff\xfe" * 50)
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", str(bad)]) == 2
    bad.write_text("kind,N,D\nsupervised,1,2e9\n")
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--candidates", str(bad)]) == 2
    assert "raw count" in capsys.readouterr().err
    bad.write_text("kind,N,D,N_T,L_T\ndistillation,1e8,2e9,7e9,2.05\n")
    assert main(["pilot", CHINCHILLA, "--budget", "1e21", "--candidates", str(bad)]) == 2
    assert "distillation (joint) posterior" in capsys.readouterr().err
    assert main(["pilot", JOINT, "--budget", "1e21"]) == 2  # a joint question needs its student
    assert main(["pilot", CHINCHILLA, "--budget", "1e21", "--teacher", "7e9:L=2.0"]) == 2
    assert "teachers (--teacher) are options of a distillation" in capsys.readouterr().err
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--most", "0"]) == 2
    capsys.readouterr()
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--refit", "-1"]) == 2
    assert "--refit takes a number of simulated outcomes >= 0, got -1" in capsys.readouterr().err
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "--draws", "10"]) == 2
    assert main(["pilot", JOINT, "--student", "1e9", "--budget", "1e21", "1e21"]) == 2
    assert "each budget once" in capsys.readouterr().err


def test_where_n_star_lies_beyond_the_runs_is_what_a_size_decision_can_learn(chinchilla, monkeypatch):
    """Which size at 1e24 FLOPs: with the compute-optimal size's own error (one study's offset and slope per draw,
    shared by the decision and the pilots) the choice is uncertain enough to rank runs, a run beyond the fitted
    runs is worth more than one inside them (which cannot see where N* moved: worth 0); without it the law alone
    answers and the question is settled (the replays' failure on Chinchilla, docs/pilot.md)."""
    import bayeslaw.decision.pilot as pilot_module

    q = Question(student_size=None, budgets=(1e24,))
    cands = [Candidate("supervised", 4e8, 8e9), Candidate("supervised", 1e10, 1.6e12)]
    p = pilot(chinchilla, q, candidates=cands, max_draws=1000, seed=0)
    rows = {r["N"]: r for r in p.candidates}
    assert p.budgets[0]["status"] == "ranked"
    # inside the runs: worth nothing as an independent measurement; sharing its decade's misfit its outcome moves
    # the weights a little, and the choice in a few outcomes (seeds 0-2: 1e-5 to 4e-8 nats against 1.3-2.1e-4)
    assert rows[4e8]["evsi"] < 0.1 * rows[1e10]["evsi"] and rows[1e10]["evsi"] > 1e-4
    assert rows[1e10]["evsi"] <= p.budgets[0]["evpi"]
    monkeypatch.setattr(pilot_module, "study_allocation", lambda *a, **k: None)
    plain = pilot(chinchilla, q, candidates=cands, max_draws=1000, seed=0)
    assert plain.budgets[0]["status"].startswith("settled")
    assert plain.budgets[0]["evpi"] < 0.1 * p.budgets[0]["evpi"]
