"""Run-table validation: every kind of bad input gets an error that says what to fix."""

import numpy as np
import pandas as pd
import pytest

from bayeslaw.core.errors import DataError
from bayeslaw.data.tables import load_shipped, table_hash, validate_distillation, validate_supervised


def test_shipped_tables():
    chin = load_shipped("chinchilla")
    assert len(chin) == 240 and len(load_shipped("chinchilla", exclude_outliers=False)) == 245
    assert chin["loss"].max() < 4.0
    mis = load_shipped("misfitting")
    assert len(mis) == 78 and len(load_shipped("misfitting", exclude_outliers=False)) == 81


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.drop(columns="loss"), "lacks required column"),
        (lambda d: d.assign(loss=np.where(d.index == 3, np.nan, d["loss"])), r"NaN values at rows \[3\]"),
        (lambda d: d.assign(N=-d["N"]), "must be positive"),
        (lambda d: d.assign(D=d["D"] / 1e9), "looks scaled"),
        (lambda d: d.assign(N=d["N"] / 1e9), "looks scaled in every row"),
        # issue 26: one row in billions, or a quarter of the tokens in millions, among raw counts
        (lambda d: d.assign(N=np.where(d.index == 4, d["N"] / 1e9, d["N"])), r"1 of \d+ rows, e.g. rows \[4\]"),
        (lambda d: d.assign(D=np.where(d.index % 4 == 0, d["D"] / 1e6, d["D"])), "looks scaled in"),
        (lambda d: d.assign(loss=np.exp(d["loss"] * 3)), "not perplexity"),
        (lambda d: d.assign(loss=d["loss"].astype(str).where(d.index != 2, "n/a")), "non-numeric"),
        (lambda d: d.head(5), "at least 8 runs"),
        (lambda d: d.assign(C=6 * d["N"] * d["D"] / 1e9), "disagrees with 6"),
        (lambda d: d.iloc[0:0], "empty"),
    ],
)
def test_bad_supervised_tables(small_table, mutate, message):
    with pytest.raises(DataError, match=message):
        validate_supervised(mutate(small_table))


def test_column_mapping_and_files(small_table, tmp_path):
    renamed = small_table.rename(columns={"N": "params", "loss": "val"})
    df = validate_supervised(renamed, {"N": "params", "loss": "val"})
    assert list(df.columns) == ["N", "D", "loss"]
    with pytest.raises(DataError, match="unknown canonical"):
        validate_supervised(renamed, {"params": "N"})
    with pytest.raises(DataError, match="not in the table"):
        validate_supervised(renamed, {"N": "size"})
    # a mapping onto an existing canonical name replaces it
    both = small_table.assign(N_total=small_table["N"] * 2)
    assert validate_supervised(both, {"N": "N_total"})["N"].iloc[0] == 2 * small_table["N"].iloc[0]
    csv = tmp_path / "runs.csv"
    small_table.to_csv(csv, index=False)
    pq = tmp_path / "runs.parquet"
    small_table.to_parquet(pq)
    assert table_hash(validate_supervised(csv)) == table_hash(validate_supervised(pq))
    with pytest.raises(DataError, match="does not exist"):
        validate_supervised(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        validate_supervised(tmp_path / "runs.xlsx") if (tmp_path / "runs.xlsx").touch() is None else None


def test_hash_changes_with_data(small_table):
    a = table_hash(validate_supervised(small_table))
    b = table_hash(validate_supervised(small_table.assign(loss=small_table["loss"] * 1.001)))
    assert a != b


def test_distillation_table_needs_a_teacher():
    base = pd.DataFrame({"N_S": [1e8] * 3, "D_S": [2e9] * 3, "L_S": [3.0, 3.1, 3.2]})
    with pytest.raises(DataError, match="teacher"):
        validate_distillation(base)
    ok = validate_distillation(base.assign(L_T=[2.5] * 3))
    assert ok["teacher_id"].nunique() == 1


def test_perplexities_below_20_are_recognised_from_the_runs_scale():
    ppl = pd.DataFrame({"N": np.geomspace(1e8, 1e9, 12), "D": np.geomspace(2e9, 2e10, 12),
                        "loss": np.linspace(19.6, 9.6, 12)})
    with pytest.raises(DataError, match="looks like perplexity"):
        validate_supervised(ppl)
    assert len(validate_supervised(ppl, losses_in_nats=True)) == 12
    small = ppl.assign(N=ppl["N"] / 100)  # small models: only the table-wide floor can tell
    with pytest.raises(DataError, match="even its smallest value"):
        validate_supervised(small)
    # real undertrained runs stay accepted: (Mis)Fitting's 114M model on 0.79B tokens is at 4.03 nats
    mis = load_shipped("misfitting")
    C = mis["N"] * mis["D"]
    assert len(validate_supervised(mis[C < np.quantile(C, 0.4)])) > 8


def test_exact_duplicates_refused_and_repeated_seeds_kept():
    from bayeslaw.data.tables import repeated_points

    runs = pd.DataFrame({"N": np.geomspace(1e8, 1e9, 10), "D": np.geomspace(2e9, 2e10, 10),
                         "loss": np.linspace(3.2, 2.6, 10)})
    with pytest.raises(DataError, match=r"rows \[10\] repeat an earlier run exactly"):
        validate_supervised(pd.concat([runs, runs.iloc[[3]]], ignore_index=True))
    assert len(validate_supervised(pd.concat([runs, runs.iloc[[3]]]), allow_duplicates=True)) == 11
    seeds = pd.concat([runs, runs.iloc[[3, 5]].assign(loss=lambda d: d["loss"] + 0.01)], ignore_index=True)
    assert repeated_points(validate_supervised(seeds), ["N", "D"]) == 4


def test_digitized_distillation_table_loads_with_its_protocols():
    from bayeslaw.data.tables import busbridge_protocol, resolve, students_below_teacher

    d = load_shipped("busbridge2025_digitized")
    assert len(d) == 328 and d["L_T"].nunique() == 65 and d["teacher_id"].nunique() == 65
    assert sorted(d["N_S"].unique()) == [1.43e8, 1.98e8, 5.46e8, 9.75e8, 1.82e9]
    assert d["L_S"].min() >= 2.30  # the SOURCE's held-out students (L_S < 2.29) are not here
    protocol = busbridge_protocol(d)
    fixed = d.loc[protocol == "fixed teacher, IsoFLOP students", "teacher_id"].nunique()
    # 11 teachers with students at 143M: 1 with 9 students, 5 with 11, 5 with 12 (the CSV by hand)
    assert fixed == 11 and (protocol != "teacher ladder").sum() == 9 + 5 * 11 + 5 * 12
    # 41 students below their (weak) teacher, counted by hand from the CSV
    below = students_below_teacher(d)
    assert len(below) == 41 and (d.loc[below, "L_S"] < d.loc[below, "L_T"]).all()
    with pytest.raises(DataError, match="shipped distillation table, not a supervised one"):
        resolve("busbridge2025_digitized")
    with pytest.raises(DataError, match="shipped supervised table"):
        resolve("chinchilla", law="distillation")


def _students():
    return load_shipped("busbridge2025_digitized").drop(columns="teacher_id").head(40).copy()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.assign(L_T=np.where(d.index == 4, -2.0, d["L_T"])), r"must be positive.*rows \[4\]"),
        (lambda d: d.assign(L_T=np.where(d.index == 7, np.nan, d["L_T"])), r"NaN values at rows \[7\]"),
        (lambda d: d.assign(L_T=np.where(d.index == 9, 25.0, d["L_T"])), r"rows \[9\].*not perplexity"),
        # one teacher (by id) given twice with different losses
        (lambda d: d.assign(teacher_id="t0", L_T=np.where(d.index == 3, 2.5, 2.4)), r"different losses L_T at rows"),
    ],
)
def test_bad_teacher_losses_name_the_rows(mutate, message):
    with pytest.raises(DataError, match=message):
        validate_distillation(mutate(_students()))
