#!/usr/bin/env bash
# The README's main job: a risk report from the posteriors shipped in models/ (no fitting).
# Question: distil a 1e9-parameter student or train it supervised, at 1e20, 1e21 and 1e22 FLOPs,
# teacher-inference accounting (and, as an option, pretraining a new teacher), target loss 2.3 nats/token.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
.venv/bin/bayeslaw report models/distillation_busbridge2025_digitized.nc \
    --student 1e9 --budget 1e20 1e21 1e22 --scenario teacher_inference --target 2.3 \
    --compare-scenarios teacher_pretraining \
    --out-dir reports --stem main_job_report "$@"
echo "main job: $(( $(date +%s) - start )) s"
