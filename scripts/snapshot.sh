#!/usr/bin/env bash
# What a refactor must not change: the main job's reports, the README's examples, plan grids and every
# shipped posterior's predictions, written to one folder so two runs can be compared with `diff -r`.
#   scripts/snapshot.sh OUT      (then: diff -r OUT_before OUT_after)
# Grids are compared array by array (scripts/snapshot_arrays.py writes each variable's SHA-256).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/snapshot.sh OUT}"
mkdir -p "$out"
bl=.venv/bin/bayeslaw
dig=models/distillation_busbridge2025_digitized.nc
syn=models/distillation_SYNTHETIC_paper_design.nc
chin=models/supervised_chinchilla_epoch240.nc
mis=models/supervised_misfitting78.nc

run() {  # run NAME ARGS...: stdout and exit code kept; stderr (progress) dropped
  local name="$1"; shift
  set +e
  "$bl" "$@" > "$out/$name.txt" 2>/dev/null
  echo "exit $?" >> "$out/$name.txt"
  set -e
}

run plan_dig plan "$dig" --student 1e9 --budget 1e20 1e21 1e22 1e23 \
    --scenario teacher_inference pretraining_inference --out "$out/grid_dig.nc"
run plan_dig_json plan "$dig" --student 1e9 --budget 1e20 1e21 1e22 1e23 \
    --scenario teacher_inference pretraining_inference --json
run plan_syn plan "$syn" --student 3e8 1e9 --budget 1e19 1e21 1e23 --scenario best_case teacher_inference \
    teacher_pretraining pretraining_inference --students 3 --draws 300 --detail --out "$out/grid_syn.nc"
run plan_syn_nocap plan "$syn" --student 1e9 --budget 1e21 --teacher-cap none --draws 200 --json
for p in "$chin" "$mis"; do
  s=$(basename "$p" .nc)
  run "predict_$s" predict "$p" --N 1e9 7e10 --D 2e10 1.4e12 --budget 1e21 5.76e23
  run "predict_${s}_json" predict "$p" --N 1e9 7e10 --D 2e10 1.4e12 --budget 1e21 5.76e23 --json
  run "predict_${s}_hdi" predict "$p" --N 3e8 --D 6e9 --interval hdi --prob 0.5 --json
  run "predict_${s}_6nd" predict "$p" --budget 1e20 1e24 --flops 6nd --json
done
for p in "$dig" "$syn"; do
  s=$(basename "$p" .nc)
  run "predict_$s" predict "$p" --N-S 5e8 1e9 --D-S 1e10 2e10 --L-T 2.3
  run "predict_${s}_json" predict "$p" --N-S 5e8 --D-S 1e10 --N-T 2e9 --D-T 4e10 --json
done
run prior_predictive prior-predictive --N 1e8 1e9 --D 2e9 2e10 --json
run report_main report "$dig" --student 1e9 --budget 1e20 1e21 1e22 --scenario teacher_inference --target 2.3 \
    --compare-scenarios teacher_pretraining --out-dir "$out/reports" --stem main_job_report --json
run report_sup report "$chin" --budget 1e21 1e22 1e23 5.76e23 --target 2.0 --out-dir "$out/reports" \
    --stem main_job_supervised_report --json
run report_teachers report "$syn" --student 5e8 --budget 1e20 1e21 --teacher 2e9:4e10 5e9:L=2.2 \
    --scenario pretraining_inference --draws 100 --out-dir "$out/reports" --stem teachers --json
.venv/bin/python scripts/snapshot_arrays.py "$out"
# the reports' HTML embeds figures whose bytes depend on matplotlib, not on bayeslaw: kept out of the diff
rm -rf "$out"/reports/*_files "$out"/reports/*.html "$out"/*.nc
# the output folder's own name appears in "written to" and "reproduce with" lines
sed -i "s#$out#OUT#g" "$out"/*.txt "$out"/reports/*.md
echo "snapshot: $out"
