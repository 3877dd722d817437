#!/usr/bin/env bash
# The whole pipeline at CPU scale: SFT of the tiny policy on fixed 4x4-maze demonstrations, then GRPO
# with the maze verifier on fresh mazes. Writes OUTPUT_ROOT/tiny_maze_cpu_sft and .../tiny_maze_cpu_grpo
# (checkpoints, TensorBoard logs, sample mp4s). `diffrl demo` runs the same stages and compares them.
# Usage: bash recipes/train_tiny_maze_cpu.sh   (env: OUTPUT_ROOT, see recipes/_env.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
mkdir -p "$OUTPUT_ROOT"
python -m diffrl.cli sft "$REPO_ROOT"/recipes/tiny_maze_cpu_sft.yaml
python -m diffrl.cli train "$REPO_ROOT"/recipes/tiny_maze_cpu.yaml
