#!/usr/bin/env bash
# The README's main job: fit the shipped Chinchilla runs, diagnose the fit, and predict.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.venv/bin/bayeslaw
out=reports/chinchilla_fit.nc
$B fit chinchilla --seed 20240410 --out "$out"
echo
$B diagnose "$out"
echo
$B predict "$out" --N 1e9 7e10 --D 2e10 1.4e12 --budget 1e21 5.76e23
