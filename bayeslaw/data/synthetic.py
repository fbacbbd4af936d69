"""A generator of SYNTHETIC distillation studies on the design of Busbridge et al. (2025).

No distillation run data is public. This module reproduces the paper's experimental
design (Sec. 4.2: three protocols on the Table 13 model sizes, IsoFLOP budgets, the
teacher ladder, and the supervised runs behind the teachers) and draws losses from given
coefficients plus noise. Output files say SYNTHETIC in their name and header, with the
generator's settings and seed; they are never to be read as measurements.

Noise model (relative, i.e. sd on log loss):
- each teacher's *true* loss scatters around the supervised law with ``noise`` (it is a
  real run); its *measured* loss adds ``eval_noise`` (a finite validation set);
- every other supervised run: the law times ``exp(noise * z)``;
- every student: the distillation law at its teacher's *true* loss times ``exp(noise * z)``
  (Student-t with ``outlier_df`` degrees of freedom when given).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayeslaw.core import compute, laws
from bayeslaw.core.errors import InputError
from bayeslaw.data.reference import model_sizes, paper_coefficients


@dataclass(frozen=True)
class Design:
    """The paper's design (Sec. 4.2); every list can be changed to make a smaller study."""

    fixed_m_teachers: tuple[str, ...] = ("546M", "975M", "1.82B", "2.72B", "4.82B", "7.75B")
    student_isoflops: tuple[float, ...] = (3e19, 1e20, 3e20, 1e21)
    isoflop_students: tuple[str, ...] = ("198M", "546M", "975M", "1.82B")
    teacher_isoflops: tuple[float, ...] = (3e19, 1e20, 3e20, 1e21)
    ladder_teachers: tuple[str, ...] = ("198M", "266M", "546M", "975M", "1.82B", "2.72B", "3.48B",
                                        "4.82B", "6.48B", "7.75B")
    ladder_students: tuple[str, ...] = ("143M", "198M", "546M", "975M", "1.82B")
    ladder_multipliers: tuple[float, ...] = (20, 40, 80, 160, 320)
    supervised_fixed_m: tuple[str, ...] = ("103M", "143M", "198M", "266M", "546M", "975M", "1.82B",
                                           "2.72B", "4.82B", "7.75B", "12.6B")
    supervised_512b: tuple[str, ...] = ("143M", "546M", "975M", "1.82B", "2.72B", "4.82B")
    supervised_isoflops: tuple[float, ...] = (3e19, 1e20, 3e20, 1e21)
    isoflop_min_tokens_per_param: float = 5.0
    isoflop_max_tokens_per_param: float = 250.0


SMALL_DESIGN = Design(
    fixed_m_teachers=("546M", "1.82B", "4.82B"),
    student_isoflops=(1e20, 1e21),
    isoflop_students=("198M", "975M"),
    teacher_isoflops=(1e20, 1e21),
    ladder_teachers=("546M", "1.82B", "7.75B"),
    ladder_students=("198M", "975M"),
    ladder_multipliers=(20, 80, 320),
    supervised_fixed_m=("143M", "546M", "1.82B", "4.82B", "12.6B"),
    supervised_512b=("546M", "2.72B"),
    supervised_isoflops=(1e20, 1e21),
)


@dataclass(frozen=True)
class GeneratorSettings:
    seed: int = 0
    noise: float = 0.005
    eval_noise: float = 0.001
    outlier_df: float | None = None
    design: Design = field(default_factory=Design)
    supervised: dict[str, float] | None = None
    distillation: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("noise", "eval_noise"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= MAX_NOISE):
                raise InputError(f"--{name.replace('_', '-')} is the sd of log loss and must lie in [0, {MAX_NOISE}] "
                                 f"(0.005 is 0.5%), got {v!r}")
        if self.outlier_df is not None and not (math.isfinite(self.outlier_df) and self.outlier_df > 0):
            raise InputError(f"--outlier-df is the Student-t noise's degrees of freedom and must be positive (leave "
                             f"it out for normal noise), got {self.outlier_df!r}")


#: The largest run noise the generator takes (sd of log loss): 50% scatter is no scaling study.
MAX_NOISE = 0.5


def _sizes(names: tuple[str, ...]) -> np.ndarray:
    table = model_sizes()
    missing = [n for n in names if n not in table.index]
    if missing:
        raise InputError(f"unknown model size(s) {missing}; Table 13 has {list(table.index)}")
    return table[list(names)].to_numpy()


def _isoflop(budget: float, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Table 13 sizes on one IsoFLOP profile (3 F(N) D = budget) within the token range."""
    N = model_sizes().to_numpy()
    D = compute.supervised_tokens(N, budget)
    keep = (D / N >= design.isoflop_min_tokens_per_param) & (D / N <= design.isoflop_max_tokens_per_param)
    return N[keep], D[keep]


def simulate(settings: GeneratorSettings = GeneratorSettings()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw a synthetic study; returns (distillation table, supervised table)."""
    sup_c, dis_c = paper_coefficients()
    sup_c = settings.supervised or sup_c
    dis_c = settings.distillation or dis_c
    d = settings.design
    rng = np.random.default_rng(settings.seed)

    def eps(n: int) -> np.ndarray:
        if settings.outlier_df:
            return settings.noise * rng.standard_t(settings.outlier_df, n)
        return settings.noise * rng.standard_normal(n)

    def L(N, D):
        return laws.supervised_loss(N, D, **sup_c)

    # Supervised runs (the teachers are among them).
    runs = [(N, 20 * N, "fixed_M20") for N in _sizes(d.supervised_fixed_m)]
    runs += [(N, 512e9, "D512B") for N in _sizes(d.supervised_512b)]
    for C in d.supervised_isoflops:
        runs += [(N, D, f"isoflop_{C:.0e}") for N, D in zip(*_isoflop(C, d), strict=True)]
    # Teachers of the three protocols, each a supervised run keyed by (N, D).
    teachers = {(N, 20 * N) for N in _sizes(d.fixed_m_teachers)}
    teachers |= {(N, 20 * N) for N in _sizes(d.ladder_teachers)}
    for C in d.teacher_isoflops:
        teachers |= set(zip(*_isoflop(C, d), strict=True))
    known = {(N, D) for N, D, _ in runs}
    runs += [(N, D, "teacher") for N, D in sorted(teachers - known)]

    sup = pd.DataFrame(runs, columns=["N", "D", "protocol"]).sort_values(["N", "D"]).reset_index(drop=True)
    sup["run_id"] = [f"sup{i:03d}" for i in range(len(sup))]
    law = L(sup["N"].to_numpy(), sup["D"].to_numpy())
    true = law * np.exp(eps(len(sup)))
    is_teacher = np.array([(N, D) in teachers for N, D in zip(sup["N"], sup["D"], strict=True)])
    measured = np.where(is_teacher, true * np.exp(settings.eval_noise * rng.standard_normal(len(sup))), true)
    sup["loss"] = measured
    sup["is_teacher"] = is_teacher
    teacher_true = dict(zip(sup["run_id"][is_teacher], true[is_teacher], strict=True))
    key = {(N, D): r for N, D, r in zip(sup["N"], sup["D"], sup["run_id"], strict=True)}

    rows = []  # (N_S, D_S, teacher run_id, protocol)
    for NT in _sizes(d.fixed_m_teachers):
        for C in d.student_isoflops:
            for NS, DS in zip(*_isoflop(C, d), strict=True):
                rows.append((NS, DS, key[(NT, 20 * NT)], f"P1_student_isoflop_{C:.0e}"))
    for NS in _sizes(d.isoflop_students):
        for C in d.teacher_isoflops:
            for NT, DT in zip(*_isoflop(C, d), strict=True):
                rows.append((NS, 20 * NS, key[(NT, DT)], f"P2_teacher_isoflop_{C:.0e}"))
    for NT in _sizes(d.ladder_teachers):
        for NS in _sizes(d.ladder_students):
            for M in d.ladder_multipliers:
                rows.append((NS, M * NS, key[(NT, 20 * NT)], f"P3_ladder_M{M:g}"))
    dis = pd.DataFrame(rows, columns=["N_S", "D_S", "teacher_id", "protocol"])
    t = sup.set_index("run_id")
    dis["N_T"] = t.loc[dis["teacher_id"], "N"].to_numpy()
    dis["D_T"] = t.loc[dis["teacher_id"], "D"].to_numpy()
    dis["L_T"] = t.loc[dis["teacher_id"], "loss"].to_numpy()
    L_T_true = dis["teacher_id"].map(teacher_true).to_numpy()
    L_tilde = L(dis["N_S"].to_numpy(), dis["D_S"].to_numpy())
    L_S = laws.distillation_loss(dis["N_S"].to_numpy(), dis["D_S"].to_numpy(), L_T_true, L_tilde, **dis_c)
    dis["L_S"] = L_S * np.exp(eps(len(dis)))
    dis["run_id"] = [f"dis{i:04d}" for i in range(len(dis))]
    dis = dis[["run_id", "N_S", "D_S", "L_S", "teacher_id", "N_T", "D_T", "L_T", "protocol"]]
    sup = sup[["run_id", "N", "D", "loss", "protocol", "is_teacher"]]
    return dis, sup


def header(settings: GeneratorSettings, kind: str) -> str:
    sup_c, dis_c = paper_coefficients()
    meta = asdict(settings)
    meta["supervised"] = settings.supervised or sup_c
    meta["distillation"] = settings.distillation or dis_c
    return (
        f"# SYNTHETIC {kind} runs generated by bayeslaw.data.synthetic from a scaling law; NOT measured data.\n"
        "# Design: Busbridge et al. (2025) Sec. 4.2 on the Table 13 model sizes; losses = law x exp(noise).\n"
        f"# settings: {json.dumps(meta, sort_keys=True)}\n"
    )


def write(settings: GeneratorSettings, out_dir: str | Path, stem: str = "paper_design") -> tuple[Path, Path]:
    """Write ``SYNTHETIC_<stem>_distillation.csv`` and ``..._supervised.csv`` atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dis, sup = simulate(settings)
    paths = []
    for kind, df in (("distillation", dis), ("supervised", sup)):
        path = out_dir / f"SYNTHETIC_{stem}_{kind}.csv"
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w") as fh:
            fh.write(header(settings, kind))
            df.to_csv(fh, index=False, float_format="%.10g")
        tmp.replace(path)
        paths.append(path)
    return paths[0], paths[1]


def generate(out_dir: str | Path = "data/synthetic", *, stem: str = "paper_design", seed: int = 0,
             noise: float = 0.005, eval_noise: float = 0.001, outlier_df: float | None = None,
             small: bool = False) -> tuple[Path, Path]:
    """Write a SYNTHETIC paper-design study (:func:`write` with the common settings).

    Parameters
    ----------
    out_dir, stem
        Where the two CSV files go and their name's stem.
    seed, noise, eval_noise, outlier_df
        The generator's seed, run noise (sd of log loss), teachers' measurement noise and
        Student-t degrees of freedom (None: normal noise).
    small
        A small design (for tests and calibration).

    Returns
    -------
    tuple of pathlib.Path
        The distillation and supervised tables.
    """
    settings = GeneratorSettings(seed=seed, noise=noise, eval_noise=eval_noise, outlier_df=outlier_df,
                                           design=SMALL_DESIGN if small else Design())
    return write(settings, out_dir, stem=stem)
