"""Derive data/misfitting_li2025/misfitting_best_lr_final.csv from the upstream last-checkpoint file.

Pure selection, no fitting: for each (model, train_tokens) pair keep the final checkpoint
(portion_steps_elapsed == 1) of the peak learning rate with the lowest C4 eval loss, as the
(Mis)Fitting authors do for their L(N, D) fits. Run: python scripts/derive_misfitting.py
"""

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent.parent / "data" / "misfitting_li2025"

raw = pd.read_csv(HERE / "scaling_results_last_ckpt_only.csv")
raw = raw[raw["portion_steps_elapsed"] == 1.0]
best = raw.loc[raw.groupby(["model", "train_tokens"])["loss"].idxmin()].copy()
best["run_id"] = best["model"] + "_" + (best["D"] / 1e9).round(3).astype(str) + "B_lr" + best["peak_lr"].astype(str)
out = best[["run_id", "model", "N", "N_no_emb", "D", "loss", "peak_lr", "C_6ND"]].sort_values(["N", "D"])
with open(HERE / "misfitting_best_lr_final.csv", "w") as fh:
    fh.write("# DERIVED by scripts/derive_misfitting.py from scaling_results_last_ckpt_only.csv (see SOURCE.txt)\n")
    fh.write("# one row per (model, train_tokens): final checkpoint of the best peak_lr; "
             "N = total params incl. embeddings\n")
    out.to_csv(fh, index=False)
print(len(out), "runs written")
