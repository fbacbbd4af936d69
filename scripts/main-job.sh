#!/usr/bin/env bash
# The README's main job: risk reports from the posteriors shipped in models/ (no fitting).
# Question: distil a 1e9-parameter student or train it supervised, at 1e20, 1e21 and 1e22 FLOPs,
# teacher-inference accounting (and, as an option, pretraining a new teacher), target loss 2.3 nats/token.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
.venv/bin/bayeslaw report models/distillation_busbridge2025_digitized.nc \
    --student 1e9 --budget 1e20 1e21 1e22 --scenario teacher_inference --target 2.3 \
    --compare-scenarios teacher_pretraining \
    --out-dir reports --stem main_job_report "$@"
# The same question on the posterior with a per-student-size offset (not the default; docs/validation.md, "A per-size
# offset"): the 1e9 student is a new architecture whose offset each draw carries.
.venv/bin/bayeslaw report models/distillation_busbridge2025_digitized_size_effect.nc \
    --student 1e9 --budget 1e20 1e21 1e22 --scenario teacher_inference --target 2.3 \
    --compare-scenarios teacher_pretraining \
    --out-dir reports --stem main_job_size_effect_report "$@"
# The commonest case, supervised runs only: what each budget buys on the shipped Chinchilla posterior.
.venv/bin/bayeslaw report models/supervised_chinchilla_epoch240.nc --budget 1e21 1e22 1e23 5.76e23 \
    --target 2.0 --out-dir reports --stem main_job_supervised_report "$@"
echo "main job: $(( $(date +%s) - start )) s"
