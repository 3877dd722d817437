# Shared setup for every launcher in recipes/ (source it, do not run it).
# REPO_ROOT comes from this file's own location, so launchers work from any working directory.
# Every other root can be overridden from the environment; the defaults are folders under REPO_ROOT:
#   DATA_ROOT        exported dataset (train/ and test/ with metadata CSVs)   default: $REPO_ROOT/data
#   MODEL_ROOT       Wan2.2-TI2V-5B in diffusers format                       default: $REPO_ROOT/models/Wan2.2-TI2V-5B-Diffusers
#   SFT_CHECKPOINT   the SFT transformer, one .safetensors file (GRPO starts from it)
#                                                                             default: $REPO_ROOT/models/sft/model.safetensors
#   OUTPUT_ROOT      runs, checkpoints, generated videos, evaluations          default: $REPO_ROOT/outputs
#   ACCELERATE_CONFIG  name of a file in recipes/accelerate/ (1gpu | 8gpu_ddp | 8gpu_fsdp) default: 8gpu_fsdp

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export DATA_ROOT="${DATA_ROOT:-$REPO_ROOT/data}"
export MODEL_ROOT="${MODEL_ROOT:-$REPO_ROOT/models/Wan2.2-TI2V-5B-Diffusers}"
export SFT_CHECKPOINT="${SFT_CHECKPOINT:-$REPO_ROOT/models/sft/model.safetensors}"
export OUTPUT_ROOT="${OUTPUT_ROOT:-$REPO_ROOT/outputs}"
export ACCELERATE_CONFIG="${ACCELERATE_CONFIG:-8gpu_fsdp}"
export TOKENIZERS_PARALLELISM="${TOKENIZERS_PARALLELISM:-false}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"  # every model file is local; never reach for a hub at run time
# Import envs/ and diffrl/ from this checkout even when it is not pip-installed; no `cd`, so relative
# paths given to a launcher keep meaning what they meant where it was called.
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# require_path PATH WHAT VARIABLE: stop with a clear message when an input is missing.
require_path() {
  if [ ! -e "$1" ]; then
    echo "error: $2 not found at $1 (set $3)" >&2
    exit 1
  fi
}

# The accelerate config the launchers pass to `accelerate launch --config_file`.
export ACCELERATE_CONFIG_FILE="$REPO_ROOT/recipes/accelerate/${ACCELERATE_CONFIG}.yaml"

# require_train_inputs: the model, the SFT checkpoint, the training data and the accelerate config exist.
require_train_inputs() {
  require_path "$MODEL_ROOT" "Wan2.2-TI2V-5B (diffusers format)" MODEL_ROOT
  require_path "$SFT_CHECKPOINT" "SFT checkpoint" SFT_CHECKPOINT
  require_path "$DATA_ROOT/train" "training data (run recipes/export_data.sh)" DATA_ROOT
  require_path "$ACCELERATE_CONFIG_FILE" "accelerate config" ACCELERATE_CONFIG
  mkdir -p "$OUTPUT_ROOT"
}
