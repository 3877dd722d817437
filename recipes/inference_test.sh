#!/usr/bin/env bash
# Generate an answer video for every test row with a trained run (or, without CHECKPOINT, with the
# recipe's own starting weights: the SFT baseline), then score them like eval_test.sh.
# Usage: bash recipes/inference_test.sh RECIPE.yaml [CHECKPOINT] [extra inference_test.py options]
#   e.g. bash recipes/inference_test.sh multitask_combined_success.yaml \
#          "$OUTPUT_ROOT/combined_success_G16_T20_L10_KL0.04_FULL"
#   env: CSV_NAME (default metadata_all.csv), VIDEO_DIR (default OUTPUT_ROOT/videos/<run name or sft>)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
if [ $# -lt 1 ]; then
  echo "usage: bash recipes/inference_test.sh RECIPE.yaml [CHECKPOINT] [options]" >&2
  exit 2
fi
recipe="$REPO_ROOT/recipes/$(basename "$1")"
shift
checkpoint_args=()
name=sft_baseline
if [ $# -ge 1 ] && [[ "$1" != --* ]]; then
  require_path "$1" "checkpoint" CHECKPOINT
  checkpoint_args=(--checkpoint "$1")
  name="$(basename "$1")"
  shift
fi
csv="$DATA_ROOT/test/${CSV_NAME:-metadata_all.csv}"
require_path "$recipe" "recipe" RECIPE
require_path "$csv" "test metadata (run recipes/export_data.sh)" DATA_ROOT
video_dir="${VIDEO_DIR:-$OUTPUT_ROOT/videos/$name}"
python "$REPO_ROOT/recipes/inference_test.py" --config "$recipe" "${checkpoint_args[@]}" \
  --metadata "$csv" --out "$video_dir" "$@"
python -m videorlvr.envs score "$video_dir" --metadata "$csv" --out "$video_dir/eval" --workers "${WORKERS:-4}"
