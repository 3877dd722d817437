#!/usr/bin/env bash
# SDE-GRPO on Wan2.2-TI2V-5B: Multitask, dense combined reward (combined_success). Recipe: recipes/multitask_combined_success.yaml
# Usage: bash recipes/train_multitask.sh [--resume RUN_DIR]   (env: see recipes/_env.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
require_train_inputs
accelerate launch --config_file "$ACCELERATE_CONFIG_FILE" -m diffrl.cli train "$REPO_ROOT"/recipes/multitask_combined_success.yaml "$@"
