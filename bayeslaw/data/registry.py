"""The tables shipped in the repository's ``data/`` folder, as plain data (no pandas here).

Each entry names a file, maps its columns to the canonical schema, and says which runs are
excluded by default and why; :func:`bayeslaw.data.tables.load_shipped` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class Shipped:
    """A shipped run table: a supervised one, or a distillation one (students)."""

    name: str
    path: str
    columns: dict[str, str]
    description: str
    #: what the default filter does, in the words the model card records
    default_filter: str
    law: str = "supervised"
    #: how outputs name the data (reports, plan and predict print it)
    provenance: str = ""
    #: distillation tables: sd of a teacher's measured log loss around its true value, if stated
    teacher_noise: float | None = None
    #: distillation tables without supervised runs: factor on the busbridge2025 supervised widths
    supervised_scale: float | None = None
    #: distillation tables: the form of the law and the likelihood their evidence chose, used where a fit names
    #: neither (False / None: Eq. 8 as printed, Student-t)
    weak_teacher: bool = False
    likelihood: str | None = None


SHIPPED: dict[str, Shipped] = {
    "chinchilla": Shipped(
        "chinchilla",
        "chinchilla_epoch/chinchilla_epoch_NDCL.csv",
        {"N": "N_params", "D": "D_tokens", "loss": "loss", "C": "C_flops"},
        "Hoffmann et al. (2022) runs as extracted by Epoch AI (245 runs; 5 outliers excluded by default)",
        "excluded Epoch's 5 highest-loss runs",
    ),
    "misfitting": Shipped(
        "misfitting",
        "misfitting_li2025/misfitting_best_lr_final.csv",
        {"N": "N", "D": "D", "loss": "loss", "run_id": "run_id", "group": "model"},
        "(Mis)Fitting (Li et al. 2025) final checkpoints, best peak LR per (model, tokens): 81 runs; "
        "the 3 runs of 0.105B tokens (loss ~6.2, still on the initial plateau) excluded by default",
        "excluded 3 runs of 0.105B tokens",
    ),
    "gadre2024_c4": Shipped(
        "gadre2024_c4", "gadre2024_overtraining/gadre2024_c4.csv",
        {"N": "N", "D": "D", "loss": "loss", "run_id": "run_id", "group": "group"},
        "Gadre et al. (2024) open_lm models trained on C4, 11M-6.9B total params, 0.25-32x Chinchilla tokens, "
        "C4 validation loss (34 runs)", ""),
    "gadre2024_rw": Shipped(
        "gadre2024_rw", "gadre2024_overtraining/gadre2024_rw.csv",
        {"N": "N", "D": "D", "loss": "loss", "run_id": "run_id", "group": "group"},
        "Gadre et al. (2024) open_lm models trained on RefinedWeb, C4 validation loss (35 runs)", ""),
    "marin_comma": Shipped(
        "marin_comma", "marin_isoflops/marin_comma.csv",
        {"N": "N", "D": "D", "loss": "loss", "run_id": "run_id", "group": "group"},
        "Marin's comma IsoFLOP ladder (W&B export via Open Athena), Paloma macro loss, with each budget's larger "
        "validation-optimal run (92 runs)", ""),
    "marin_dclm": Shipped(
        "marin_dclm", "marin_isoflops/marin_dclm.csv",
        {"N": "N", "D": "D", "loss": "loss", "run_id": "run_id", "group": "group"},
        "Marin's dclm IsoFLOP ladder (W&B export via Open Athena), Paloma macro loss (85 runs)", ""),
    "muennighoff_single_epoch": Shipped(
        "muennighoff_single_epoch", "muennighoff2023_dataconstrained/muennighoff_single_epoch.csv",
        {"N": "N", "D": "D", "loss": "loss", "run_id": "run_id"},
        "Muennighoff et al. (2023) runs without repeated data (D <= U), C4 validation loss (29 runs)", ""),
    "sardana2024": Shipped(
        "sardana2024", "sardana2024_beyond_chinchilla/sardana2024_NDL.csv",
        {"N": "N", "D": "D", "loss": "loss", "run_id": "run_id", "group": "model"},
        "Sardana et al. (2024) MPT-style models, 150M-6B, 10-250 tokens per parameter, smoothed final training "
        "loss (39 runs; their runs above 250 tokens per parameter are withheld for independent checks)", ""),
    "busbridge2025_digitized": Shipped(
        "busbridge2025_digitized",
        "distillation_busbridge2025_digitized/busbridge2025_digitized_students_fit.csv",
        {"N_S": "N_S", "D_S": "D_S", "L_T": "L_T", "L_S": "L_S"},
        "Busbridge et al. (2025) distilled students digitized from the paper's figures: 328 students "
        "(143M-1.82B, 3.7e9-9.85e10 tokens) of 65 teachers known by their loss only; no supervised runs",
        "",
        law="distillation",
        provenance="the paper's runs, digitized from its figures; supervised law from the Table 6 prior",
        # read off plots: the validation-set error (~0.1%) plus a digitization error of a few
        # tenths of a percent; docs/distillation.md compares 0.1% (a worse LOO fit, nu -> small).
        teacher_noise=0.003,
        # the paper's own setup: Table 6's supervised law predicts its held-out runs to ~1%
        supervised_scale=1 / 3,
        # 41 students beat their teacher, which Eq. 8 forbids: the weak-teacher gain improves PSIS-LOO by 39 (se 8.5)
        # and every in-table backtest; with it a Student-t's nu is unidentified on a split (docs/validation.md)
        weak_teacher=True,
        likelihood="normal",
    ),
}


def data_provenance(card: dict[str, Any]) -> str:
    """What a posterior's fitted runs are (from its model card), in the words every output uses."""
    data = card["data"]
    if data.get("provenance"):
        return data["provenance"]
    source = str(data.get("source", ""))
    if "SYNTHETIC" in source:
        return ("SYNTHETIC runs generated from the paper's published (Table 6) law, not measured runs: what the "
                "paper's law implies, with the uncertainty such a study would leave")
    return f"{data.get('n_runs', '?')} runs from {source}"


def shipped_form(shipped: Shipped | None, weak_teacher: bool | None, likelihood: str | None) -> tuple[bool, str]:
    """The form of the law (``weak_teacher``) and the likelihood of a distillation fit: where the caller leaves the
    form unset, a shipped table's stated form with its likelihood (what the table's evidence chose; a likelihood
    the caller names wins); otherwise the caller's form (unset: Eq. 8 as printed) and likelihood (Student-t)."""
    if weak_teacher is None and shipped is not None and shipped.weak_teacher:
        return True, likelihood or shipped.likelihood or "student_t"
    return bool(weak_teacher), likelihood or "student_t"
