#!/usr/bin/env bash
# Score a folder of generated test videos (any model) against the test split: per task and overall
# SR and precision / recall / F1 of the path cells, plus every reward component. Videos are matched
# to rows by file name (name them like the row's `video`, e.g. maze_medium_2000000000.mp4).
# Writes eval_results.json, eval_rows.csv and eval_summary.csv to OUT (default VIDEO_DIR/eval).
# Usage: bash recipes/eval_test.sh VIDEO_DIR [CSV_NAME] [extra `python -m videorlvr.envs score` options]
#   CSV_NAME: metadata_all.csv (default) or metadata_<task>_only.csv; env: OUT, WORKERS
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
if [ $# -lt 1 ]; then
  echo "usage: bash recipes/eval_test.sh VIDEO_DIR [CSV_NAME] [options]" >&2
  exit 2
fi
video_dir="$1"
csv_name="${2:-metadata_all.csv}"
shift $(( $# >= 2 ? 2 : 1 ))
require_path "$DATA_ROOT/test/$csv_name" "test metadata (run recipes/export_data.sh)" DATA_ROOT
python -m videorlvr.envs score "$video_dir" --metadata "$DATA_ROOT/test/$csv_name" \
  --out "${OUT:-$video_dir/eval}" --workers "${WORKERS:-4}" "$@"
