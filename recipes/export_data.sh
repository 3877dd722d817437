#!/usr/bin/env bash
# Export the dataset the recipes train and test on into DATA_ROOT:
#   train/metadata_all.csv, metadata_{maze,flowfree,sokoban}_only.csv  (TRAIN_COUNT oracle videos per task)
#   test/metadata_all.csv (+ per-task CSVs)                            (TEST_COUNT per task, disjoint seeds,
#                                                                       deduplicated against train by content)
# 480x832, 81 frames, H.264, with first-frame PNGs. Re-running resumes; finished files are never rewritten.
# Usage: bash recipes/export_data.sh [extra `python -m videorlvr.envs export` options]
#   env: TRAIN_COUNT (default 10000, the published size per task), TEST_COUNT (default 100), WORKERS
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
python -m videorlvr.envs export --out "$DATA_ROOT" \
  --train-count "${TRAIN_COUNT:-10000}" --test-count "${TEST_COUNT:-100}" \
  --height 480 --width 832 --num-frames 81 \
  --workers "${WORKERS:-$(nproc)}" "$@"
