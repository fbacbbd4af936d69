"""Run tables: schema, units, validation with errors that say what to fix, shipped data, hashes.

Canonical columns (raw counts, never billions; losses in nats/token):

Supervised table
    ``N`` parameters, ``D`` training tokens, ``loss`` validation cross-entropy;
    optional ``run_id``, ``C`` training FLOPs, ``group``.
Distillation table
    ``N_S`` student parameters, ``D_S`` distillation tokens, ``L_S`` student loss; the
    teacher as ``L_T`` (measured loss) and/or ``N_T``, ``D_T``; optional ``run_id``,
    ``teacher_id``.

Users with other column names pass a mapping ``{canonical: their_name}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayeslaw.core import bounds
from bayeslaw.core.errors import DataError
from bayeslaw.data.registry import DATA_DIR, SHIPPED


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    description: str
    kind: str  # "count", "loss", "flops", "label"
    required: bool = True


SUPERVISED_COLUMNS: tuple[Column, ...] = (
    Column("N", "parameters (count)", "model size", "count"),
    Column("D", "tokens (count)", "training tokens", "count"),
    Column("loss", "nats/token", "validation cross-entropy", "loss"),
    Column("run_id", "-", "run identifier", "label", required=False),
    Column("C", "FLOPs", "training compute", "flops", required=False),
    Column("group", "-", "grouping label (e.g. sweep)", "label", required=False),
)

DISTILLATION_COLUMNS: tuple[Column, ...] = (
    Column("N_S", "parameters (count)", "student size", "count"),
    Column("D_S", "tokens (count)", "distillation tokens", "count"),
    Column("L_S", "nats/token", "student validation cross-entropy", "loss"),
    Column("L_T", "nats/token", "teacher validation cross-entropy", "loss", required=False),
    Column("N_T", "parameters (count)", "teacher size", "count", required=False),
    Column("D_T", "tokens (count)", "teacher training tokens", "count", required=False),
    Column("teacher_id", "-", "teacher identifier", "label", required=False),
    Column("run_id", "-", "run identifier", "label", required=False),
)

# Smallest plausible raw counts; below these the column was almost surely given in
# millions or billions.
_MIN_COUNT = {"parameters (count)": bounds.MIN_PARAMS, "tokens (count)": bounds.MIN_TOKENS}


def schema_markdown(columns: tuple[Column, ...]) -> str:
    """The schema as a Markdown table (used by the docs and ``--help``)."""
    rows = ["| column | unit | meaning | required |", "|---|---|---|---|"]
    rows += [
        f"| `{c.name}` | {c.unit} | {c.description} | {'yes' if c.required else 'no'} |"
        for c in columns
    ]
    return "\n".join(rows)


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a CSV or parquet file (or pass a DataFrame through)."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if not isinstance(source, str | Path):
        raise DataError(f"a run table is a CSV/parquet path, a shipped table name or a DataFrame, "
                        f"not {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise DataError(f"run table {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix in {".csv", ".txt", ".tsv"}:
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", comment="#")
    except Exception as err:  # pandas raises many types; say which file failed
        raise DataError(f"could not read {path}: {err}") from err
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


def _rename(df: pd.DataFrame, columns: Mapping[str, str] | None, schema: tuple[Column, ...]):
    known = {c.name for c in schema}
    columns = dict(columns or {})
    unknown = set(columns) - known
    if unknown:
        raise DataError(
            f"column mapping names unknown canonical column(s) {sorted(unknown)}; "
            f"canonical names are {sorted(known)}"
        )
    twice = sorted({src for src in columns.values() if list(columns.values()).count(src) > 1})
    if twice:
        raise DataError(f"column mapping maps several canonical columns to {twice}; each of the table's "
                        "columns can stand for one canonical column only")
    missing_src = [src for src in columns.values() if src not in df.columns]
    if missing_src:
        raise DataError(
            f"column mapping refers to {missing_src}, not in the table (columns: {list(df.columns)})"
        )
    # A mapping N=N_no_emb must replace an existing 'N' column, not duplicate it.
    shadowed = [dst for dst, src in columns.items() if dst in df.columns and dst != src
                and dst not in columns.values()]
    return df.drop(columns=shadowed).rename(columns={src: dst for dst, src in columns.items()})


#: The smallest loss a run table may hold (nats/token): well below any language model's validation cross-entropy
#: (the best measured are above 1), far above a number that is not a loss (1e-300).
MIN_LOSS = 0.01


def _check_numeric(df: pd.DataFrame, col: Column) -> None:
    if pd.api.types.is_bool_dtype(df[col.name]):
        raise DataError(f"column {col.name!r} holds True/False values, not numbers: give the {col.description}")
    values = pd.to_numeric(df[col.name], errors="coerce")
    bad = values.isna() & df[col.name].notna()
    if bad.any():
        rows = list(df.index[bad][:5])
        raise DataError(f"column {col.name!r} has non-numeric values at rows {rows}")
    if values.isna().any():
        rows = list(df.index[values.isna()][:5])
        raise DataError(
            f"column {col.name!r} ({col.description}) has missing/NaN values at rows {rows}; "
            "drop those runs or fill them in"
        )
    if not np.isfinite(values).all():
        rows = list(df.index[~np.isfinite(values)][:5])
        raise DataError(f"column {col.name!r} has infinite values at rows {rows}")
    if (values <= 0).any():
        rows = list(df.index[values <= 0][:5])
        raise DataError(
            f"column {col.name!r} ({col.unit}) must be positive; non-positive values at rows {rows}"
        )
    if col.kind == "count":
        # row by row: one run given in billions among raw counts is as wrong as a whole column of them
        floor = _MIN_COUNT[col.unit]
        low = values < floor
        if low.any():
            rows = list(df.index[low][:5])
            shown = ", ".join(f"{v:.4g}" for v in values[low][:5])
            which = "every row" if low.all() else f"{int(low.sum())} of {len(values)} rows, e.g. rows {rows}"
            raise DataError(
                f"column {col.name!r} looks scaled in {which} ({shown}); give {col.unit} as raw counts, "
                f"e.g. 7e9 not 7 (billions) or 7000 (millions)"
            )
        high = values > bounds.BOX_MAX
        if high.any():
            rows = list(df.index[high][:5])
            raise DataError(f"column {col.name!r} has values up to {values.max():.4g} (rows {rows}), beyond the "
                            f"{bounds.BOX_MAX:.0e} bayeslaw plans with and far beyond any run trained: give "
                            f"{col.unit} as raw counts")
    if col.kind == "loss":
        if values.min() < MIN_LOSS:
            rows = list(df.index[values < MIN_LOSS][:5])
            raise DataError(f"column {col.name!r} has values down to {values.min():.3g} (rows {rows}): no language "
                            f"model's cross-entropy is below {MIN_LOSS} nats/token; give the validation loss in "
                            "nats/token")
        if values.max() > bounds.MAX_LOSS:
            rows = list(df.index[values > bounds.MAX_LOSS][:5])
            raise DataError(
                f"column {col.name!r} has values up to {values.max():.4g} (rows {rows}): losses must be "
                "cross-entropy in nats/token, not perplexity (take log(perplexity))"
            )
    df[col.name] = values.astype(float)


def validate(
    source: str | Path | pd.DataFrame,
    schema: tuple[Column, ...],
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Validate a run table against a schema; return it with canonical columns only."""
    raw = read_table(source)
    _check_labels(raw, schema)
    df = _rename(raw, columns, schema)
    if len(df) == 0:
        raise DataError("run table is empty")
    missing = [c.name for c in schema if c.required and c.name not in df.columns]
    if missing:
        raise DataError(
            f"run table lacks required column(s) {missing}; it has {list(df.columns)}. "
            "Rename them or pass a mapping, e.g. --columns N=params,D=tokens,loss=val_loss"
        )
    keep = [c for c in schema if c.name in df.columns]
    df = df[[c.name for c in keep]].reset_index(drop=True)
    for col in keep:
        if col.kind == "label":
            df[col.name] = df[col.name].astype(str)
        elif col.required or df[col.name].notna().any():
            _check_numeric(df, col)
    return df


def _check_labels(df: pd.DataFrame, schema: tuple[Column, ...]) -> None:
    """A column label given twice: refused, not one of the two silently used (pandas reads a repeated CSV header as
    ``loss`` and ``loss.1``)."""
    labels = [str(c) for c in df.columns]
    twice = sorted({c for c in labels if labels.count(c) > 1})
    names = {c.name for c in schema}
    twice += sorted({c.rsplit(".", 1)[0] for c in labels if "." in c and c.rsplit(".", 1)[0] in names
                     and c.rsplit(".", 1)[1].isdigit()})
    if twice:
        raise DataError(f"column(s) {twice} appear more than once in the run table: keep one of each")


def _check_not_perplexity(df: pd.DataFrame, loss: str, size: str, tokens: str) -> None:
    """Losses below 20 can still be perplexities (e.g. 9.6-19.6): judge them against the runs' scale."""
    L, N, D = df[loss].to_numpy(), df[size].to_numpy(), df[tokens].to_numpy()
    large = (N >= bounds.LARGE_MODEL) & (D >= bounds.LARGE_TOKENS)
    fix = ("Take log(perplexity), or, if these really are nats/token, pass --losses-in-nats "
           "(Python: losses_in_nats=True)")
    if large.any() and L[large].min() > bounds.LARGE_MODEL_LOSS:
        raise DataError(f"column {loss!r} looks like perplexity, not cross-entropy in nats: its smallest value for "
                        f"models of 1e8+ parameters trained on 2e9+ tokens is {L[large].min():.4g}, where real runs "
                        f"reach below {bounds.LARGE_MODEL_LOSS:g}. {fix}")
    if L.min() > bounds.MIN_LOSS_CEILING:
        raise DataError(f"column {loss!r} looks like perplexity, not cross-entropy in nats: even its smallest value "
                        f"is {L.min():.4g}. {fix}")


def _check_duplicates(df: pd.DataFrame, keys: list[str], loss: str, allow: bool) -> None:
    exact = df.duplicated(subset=[*keys, loss], keep="first")
    if exact.any() and not allow:
        rows = list(df.index[exact][:5])
        raise DataError(f"rows {rows} repeat an earlier run exactly (same {', '.join(keys)} and {loss}): counted as "
                        "independent runs they would narrow every interval. Drop the copies, or pass "
                        "--allow-duplicates (Python: allow_duplicates=True) if they are distinct runs")


def repeated_points(df: pd.DataFrame, keys: list[str]) -> int:
    """How many runs share their point (e.g. N and D) with another run: repeated seeds, kept as such."""
    return int(df.duplicated(subset=keys, keep=False).sum())


def validate_supervised(
    source: str | Path | pd.DataFrame, columns: Mapping[str, str] | None = None, *,
    allow_duplicates: bool = False, losses_in_nats: bool = False,
) -> pd.DataFrame:
    """Validate a supervised run table (see module docstring for the schema).

    Exact duplicate runs are refused unless ``allow_duplicates``; runs that share ``(N, D)`` with
    different losses are repeated seeds and kept (:func:`repeated_points` counts them). Losses that
    look like perplexities for the model sizes given are refused unless ``losses_in_nats``.
    """
    df = validate(source, SUPERVISED_COLUMNS, columns)
    if not losses_in_nats:
        _check_not_perplexity(df, "loss", "N", "D")
    _check_duplicates(df, ["N", "D"], "loss", allow_duplicates)
    if len(df) < 8:
        raise DataError(f"a supervised fit needs at least 8 runs, got {len(df)}")
    if "C" in df:
        ratio = df["C"] / (6 * df["N"] * df["D"])
        if not ratio.between(0.2, 5).all():
            raise DataError(
                "column 'C' disagrees with 6*N*D by more than 5x for some runs; check that C is "
                "in FLOPs and N, D are raw counts"
            )
    return df


def validate_distillation(
    source: str | Path | pd.DataFrame, columns: Mapping[str, str] | None = None, *,
    allow_duplicates: bool = False, losses_in_nats: bool = False,
) -> pd.DataFrame:
    """Validate a distillation run table; every run needs ``L_T`` or both ``N_T`` and ``D_T``.

    Duplicates and perplexity-like losses as in :func:`validate_supervised` (a student is the same
    run as another when its size, tokens, teacher and loss agree).
    """
    df = validate(source, DISTILLATION_COLUMNS, columns)
    if not losses_in_nats:
        _check_not_perplexity(df, "L_S", "N_S", "D_S")
    has_LT = "L_T" in df
    has_NT = "N_T" in df and "D_T" in df
    if not (has_LT or has_NT):
        raise DataError(
            "distillation table must describe each teacher by its measured loss 'L_T', "
            "or by its size and tokens 'N_T' and 'D_T' (or both)"
        )
    if has_LT and (df["L_S"] <= df["L_T"] * 0.5).any():
        rows = list(df.index[df["L_S"] <= df["L_T"] * 0.5][:5])
        raise DataError(f"students at rows {rows} have L_S below half their teacher's L_T; check the columns")
    if "teacher_id" not in df:
        key = df[["N_T", "D_T"]] if has_NT else df[["L_T"]]
        df["teacher_id"] = key.round(6).astype(str).agg("|".join, axis=1)
    if has_LT:
        _check_one_loss_per_teacher(df)
    _check_duplicates(df, ["N_S", "D_S", "teacher_id"], "L_S", allow_duplicates)
    return df


def _check_one_loss_per_teacher(df: pd.DataFrame) -> None:
    spread = df.groupby("teacher_id")["L_T"].transform(lambda x: x.max() - x.min())
    bad = spread.to_numpy() > 1e-9
    if bad.any():
        first = df.loc[bad, "teacher_id"].iloc[0]
        rows = list(df.index[df["teacher_id"] == first][:8])
        raise DataError(f"teacher {first!r} is given with different losses L_T at rows {rows} "
                        f"({sorted(set(df.loc[rows, 'L_T'].round(6)))}); one teacher has one loss: fix L_T, or "
                        "give the rows different teacher_id values if they are different teachers")


def students_below_teacher(df: pd.DataFrame) -> list[int]:
    """Rows whose student loss lies below its teacher's: allowed (a student can beat its teacher),
    but the distillation law (Eq. 8) cannot produce them, so fits say which they are."""
    if "L_T" not in df:
        return []
    return [int(i) for i in df.index[(df["L_S"] < df["L_T"]).to_numpy()]]


def busbridge_protocol(df: pd.DataFrame) -> np.ndarray:
    """Which of the paper's protocols each student of ``busbridge2025_digitized`` belongs to.

    The teachers with students at the smallest student size distil IsoFLOP students (several
    token counts per size): ``"fixed teacher, IsoFLOP students"``; the rest are the ladder of
    IsoFLOP teachers distilled into students at ~20 tokens/parameter: ``"teacher ladder"``.
    """
    smallest = df["N_S"].min()
    fixed = set(df.loc[df["N_S"] == smallest, "teacher_id"])
    return np.where(df["teacher_id"].isin(fixed), "fixed teacher, IsoFLOP students", "teacher ladder")


def table_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a validated table's canonical content (column order and values)."""
    canon = df.to_csv(index=False, float_format="%.12g").encode()
    return hashlib.sha256(canon).hexdigest()


# ------------------------------------------------------------------------ shipped tables


def load_shipped(name: str, *, exclude_outliers: bool = True) -> pd.DataFrame:
    """Load a table shipped in ``data/`` by name (see :data:`bayeslaw.data.registry.SHIPPED`).

    ``exclude_outliers`` drops, for ``chinchilla``, Epoch's 5 highest-loss runs (as Epoch
    did) and, for ``misfitting``, the 3 runs of 0.105B tokens, whose losses (~6.2 nats) are
    still near the initial plateau that no scaling law describes.
    """
    table, outliers = shipped_with_outliers(name)
    return table[~outliers].reset_index(drop=True) if exclude_outliers else table


def shipped_with_outliers(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A shipped table with every run, and the mask of the runs excluded by default."""
    if name not in SHIPPED:
        raise DataError(f"unknown shipped table {name!r}; choose one of {sorted(SHIPPED)}")
    spec = SHIPPED[name]
    raw = read_table(DATA_DIR / spec.path).reset_index(drop=True)
    outliers = np.zeros(len(raw), bool)
    if name == "chinchilla":
        outliers = raw["epoch_excluded_outlier"].to_numpy() != 0
    if name == "misfitting":
        outliers = raw["D"].to_numpy() < 2e8
    validator = validate_distillation if spec.law == "distillation" else validate_supervised
    table = validator(raw, spec.columns)
    if len(table) != len(raw):
        raise DataError(f"shipped table {name!r} lost rows in validation; the file is damaged")
    return table, outliers


def resolve(data: str | Path | pd.DataFrame, include_outliers: bool = False, *, law: str = "supervised"):
    """A shipped table by name, else a path or DataFrame; returns ``(table, source, filters)``.

    ``source`` and ``filters`` are what the model card records (None for a user's table).
    A shipped table of the other law is refused with the names of this law's tables.
    """
    if isinstance(data, str) and data in SHIPPED:
        if SHIPPED[data].law != law:
            mine = sorted(k for k, v in SHIPPED.items() if v.law == law)
            raise DataError(f"{data!r} is a shipped {SHIPPED[data].law} table, not a {law} one; "
                            f"shipped {law} tables: {mine}")
        filt = "" if include_outliers else SHIPPED[data].default_filter
        return (load_shipped(data, exclude_outliers=not include_outliers),
                f"data/{SHIPPED[data].path}", filt or None)
    return data, None, None


def split_teachers(dis: pd.DataFrame, sup: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """One row per teacher, the supervised runs that are not teachers, and each student's teacher index.

    A teacher is usually also a supervised run. Its measured loss must enter the model once:
    as the teacher's observation. So a supervised run whose (N, D) equals a teacher's
    (N_T, D_T) is moved out of the supervised table; its loss becomes the teacher's measured
    loss when the distillation table gives none. Without supervised runs (``sup=None``) the
    supervised law comes from the prior alone and the returned supervised table is empty.
    """
    without = sup is None
    if without:
        sup = pd.DataFrame({"N": pd.Series(dtype=float), "D": pd.Series(dtype=float),
                            "loss": pd.Series(dtype=float)})
    cols = [c for c in ("N_T", "D_T", "L_T") if c in dis]
    teachers = dis[["teacher_id", *cols]].groupby("teacher_id", sort=True).first()
    if "L_T" in dis:
        spread = dis.groupby("teacher_id")["L_T"].agg(lambda x: x.max() - x.min())
        if (spread > 1e-9).any():
            _check_one_loss_per_teacher(dis)
    teachers = teachers.reset_index()
    if "L_T" not in teachers:
        teachers["L_T"] = np.nan
    for c in ("N_T", "D_T"):
        if c not in teachers:
            teachers[c] = np.nan
    sup_key = {(round(float(n), 3), round(float(d), 3)): i for i, (n, d) in enumerate(zip(sup["N"], sup["D"],
                                                                                         strict=True))}
    drop = []
    for i, row in teachers.iterrows():
        if np.isfinite(row["N_T"]) and np.isfinite(row["D_T"]):
            j = sup_key.get((round(float(row["N_T"]), 3), round(float(row["D_T"]), 3)))
            if j is not None:
                drop.append(j)
                if not np.isfinite(row["L_T"]):
                    teachers.loc[i, "L_T"] = sup["loss"].iloc[j]
    no_info = ~np.isfinite(teachers["L_T"]) & ~(np.isfinite(teachers["N_T"]) & np.isfinite(teachers["D_T"]))
    if no_info.any():
        raise DataError(f"teacher(s) {list(teachers['teacher_id'][no_info][:3])} have neither L_T nor N_T and D_T")
    index = teachers.reset_index().set_index("teacher_id").loc[dis["teacher_id"], "index"].to_numpy()
    rest = sup.drop(index=sup.index[sorted(set(drop))]).reset_index(drop=True)
    # teachers of known size and tokens inform the supervised law too
    n_sup = len(rest) + int((np.isfinite(teachers["N_T"]) & np.isfinite(teachers["D_T"])).sum())
    if not without and n_sup < 8:
        raise DataError(f"only {n_sup} supervised runs (teachers included); the joint fit needs >= 8")
    return teachers, rest, index
