"""Derive the study tables used to calibrate extrapolation (bayeslaw calibrate) from the copied upstream files.

Pure selection and renaming, no fitting (see each folder's SOURCE.txt for provenance, licence and quirks):
- data/gadre2024_overtraining/gadre2024_{c4,rw}.csv: one row per model, N = params_total (incl. embeddings, as the
  paper's tokens D = 20 M N_total), D = tokens, loss = loss_c4_val (the paper's default loss eval);
- data/marin_isoflops/marin_{comma,dclm}.csv: the W&B exports, N = parameter_count, D = throughput/total_tokens,
  loss = eval/paloma/macro_loss; the sweeps' larger "validation-optimal" runs kept (group validation_optimal);
- data/muennighoff2023_dataconstrained/muennighoff_single_epoch.csv: the runs without repetition (D <= U),
  where the data-constrained law reduces to the Chinchilla form; N incl. embeddings.
Run: .venv/bin/python scripts/derive_studies.py
"""

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent.parent / "data"


def write(df: pd.DataFrame, path: Path, header: list[str]) -> None:
    with open(path, "w") as fh:
        for line in header:
            fh.write(f"# {line}\n")
        df.to_csv(fh, index=False)
    print(f"{len(df)} runs -> {path.relative_to(DATA.parent)}")


g = pd.read_csv(DATA / "gadre2024_overtraining" / "gadre2024_models_flat.csv")
for short, name in (("c4", "c4_original"), ("rw", "rw_original")):
    x = g[g["dataset_name"] == name]
    out = pd.DataFrame({"run_id": x["name"], "N": x["params_total"], "N_no_embed": x["params_no_embed"],
                        "D": x["tokens"], "loss": x["loss_c4_val"], "group": x["model_config"]}).sort_values(["N", "D"])
    write(out, DATA / "gadre2024_overtraining" / f"gadre2024_{short}.csv",
          [f"DERIVED by scripts/derive_studies.py from gadre2024_models_flat.csv ({name}); see SOURCE.txt",
           "N = params_total (incl. embeddings), D = tokens, loss = loss_c4_val (nats/token, C4 validation)"])

for sweep in ("comma", "dclm"):
    x = pd.read_csv(DATA / "marin_isoflops" / f"isoflop-{sweep}.csv")
    out = pd.DataFrame({"run_id": x["Name"], "N": x["parameter_count"], "D": x["throughput/total_tokens"],
                        "loss": x["eval/paloma/macro_loss"],
                        "group": x["Name"].str.contains("validation-optimal").map({True: "validation_optimal",
                                                                                  False: "isoflop"})})
    out = out.dropna().sort_values(["N", "D"])
    write(out, DATA / "marin_isoflops" / f"marin_{sweep}.csv",
          [f"DERIVED by scripts/derive_studies.py from isoflop-{sweep}.csv (Marin W&B export); see SOURCE.txt",
           "N = parameter_count, D = throughput/total_tokens, loss = eval/paloma/macro_loss (nats/token)"])

m = pd.read_csv(DATA / "muennighoff2023_dataconstrained" / "muennighoff_NDUL.csv")
x = m[m["epochs_D_over_U"] <= 1.0 + 1e-9]
out = pd.DataFrame({"run_id": x["run_id"], "N": x["N_params"], "D": x["D_total_tokens"], "loss": x["loss"]})
write(out.sort_values(["N", "D"]), DATA / "muennighoff2023_dataconstrained" / "muennighoff_single_epoch.csv",
      ["DERIVED by scripts/derive_studies.py from muennighoff_NDUL.csv: runs with D <= U (no repeated data)",
       "N = parameter count incl. embeddings, D = total tokens, loss = C4 validation cross-entropy (nats/token)"])
