#!/usr/bin/env bash
# The published backtests (README "Backtests"): real supervised runs and the SYNTHETIC distillation table.
# Writes reports/backtests/*.csv and *.png and prints each summary. About 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.venv/bin/bayeslaw
out=reports/backtests
$B backtest chinchilla --split rolling largest:3 loss:2.2 --extrapolation-error --seed 1 --out-dir $out \
    --stem chinchilla "$@" || true
$B backtest misfitting --split rolling largest:1 --adaptation diag --target-accept 0.95 --draws 2000 --seed 1 \
    --out-dir $out --stem misfitting "$@" || true
$B backtest data/synthetic/SYNTHETIC_paper_design_distillation.csv --law distillation \
    --supervised data/synthetic/SYNTHETIC_paper_design_supervised.csv --seed 1 \
    --out-dir $out --stem SYNTHETIC_paper_design "$@" || true
