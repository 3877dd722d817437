"""Loading a local diffusers-format Wan2.2-TI2V folder (never a hub) and mapping the run config onto it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from safetensors.torch import load_file
from transformers import AutoTokenizer, UMT5EncoderModel

from diffrl.policies.wan_convert import check_keys, load_transformer_weights

POLICY_FILE = "wan_policy.json"  # what WanPolicy.save_pretrained writes beside the weights
LORA_FILE = "pytorch_lora_weights.safetensors"
DEFAULT_SHIFT = 5.0  # Wan2.2-TI2V-5B's sample_shift / the diffusers folder's flow_shift
FOLDER_HINT = (
    "a diffusers-format Wan2.2-TI2V-5B folder (MODEL_ROOT, e.g. a local copy of Wan-AI/Wan2.2-TI2V-5B-Diffusers) "
    "with transformer/, vae/, text_encoder/, tokenizer/ and scheduler/ sub-folders"
)
DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float32": torch.float32, "fp32": torch.float32,
          "float16": torch.float16, "fp16": torch.float16}
OPTION_KEYS = {"dtype", "master_dtype", "text_encoder_dtype", "vae_dtype", "reference", "max_sequence_length", "text_encoder_offload",
               "prompt_cache_size", "load_text_encoder"}
SECTION_KEYS = {"type", "pretrained", "checkpoint", "finetune", "lora_rank", "lora_alpha", "gradient_checkpointing",
                "height", "width", "num_frames", "negative_prompt", "options"}


@dataclass
class WanComponents:
    transformer: WanTransformer3DModel
    vae: AutoencoderKLWan
    text_encoder: UMT5EncoderModel | None
    tokenizer: Any | None
    shift: float
    num_train_timesteps: int


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: expected {what} of {FOLDER_HINT}")
    return path


def load_components(
    model_root: str | Path,
    checkpoint: str | Path | None = None,
    dtype: torch.dtype = torch.bfloat16,
    text_encoder_dtype: torch.dtype = torch.bfloat16,
    vae_dtype: torch.dtype = torch.float32,
    load_text_encoder: bool = True,
) -> WanComponents:
    """Load transformer (optionally from a single-file ``checkpoint``), VAE, UMT5 and tokenizer from disk only."""
    root = Path(model_root)
    if not root.is_dir():
        raise FileNotFoundError(f"model folder {root} not found: expected {FOLDER_HINT}")
    transformer_dir = root / "transformer"
    _require(transformer_dir / "config.json", "the transformer config")
    if checkpoint is None:
        if not any(transformer_dir.glob("diffusion_pytorch_model*")):
            raise FileNotFoundError(
                f"no diffusion_pytorch_model*.safetensors in {transformer_dir}: expected the transformer weights of "
                f"{FOLDER_HINT} (or pass a single-file transformer checkpoint)"
            )
        transformer = WanTransformer3DModel.from_pretrained(
            str(transformer_dir), torch_dtype=dtype, local_files_only=True
        )
    else:
        config = WanTransformer3DModel.load_config(str(transformer_dir), local_files_only=True)
        with init_empty_weights():
            transformer = WanTransformer3DModel.from_config(config)
        transformer = load_transformer_weights(transformer, checkpoint, dtype).eval()
    _require(root / "vae" / "config.json", "the VAE config")
    vae = AutoencoderKLWan.from_pretrained(str(root / "vae"), torch_dtype=vae_dtype, local_files_only=True)
    if transformer.config.image_dim is not None or transformer.config.in_channels != vae.config.z_dim:
        raise ValueError(
            f"{root} is not a Wan2.2-TI2V model: transformer in_channels={transformer.config.in_channels}, "
            f"image_dim={transformer.config.image_dim}, VAE z_dim={vae.config.z_dim} (TI2V: in_channels == z_dim, "
            "no image_dim)"
        )
    text_encoder = tokenizer = None
    if load_text_encoder:
        _require(root / "text_encoder" / "config.json", "the UMT5 text encoder")
        _require(root / "tokenizer", "the UMT5 tokenizer")
        text_encoder = UMT5EncoderModel.from_pretrained(
            str(root / "text_encoder"), torch_dtype=text_encoder_dtype, local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(str(root / "tokenizer"), local_files_only=True)
    shift, num_train_timesteps = DEFAULT_SHIFT, 1000
    scheduler_config = root / "scheduler" / "scheduler_config.json"
    if scheduler_config.is_file():
        config = json.loads(scheduler_config.read_text())
        shift = float(config.get("flow_shift") or config.get("shift") or DEFAULT_SHIFT)
        num_train_timesteps = int(config.get("num_train_timesteps", 1000))
    return WanComponents(transformer, vae, text_encoder, tokenizer, shift, num_train_timesteps)


def _dtype(value: Any, key: str) -> torch.dtype:
    if isinstance(value, torch.dtype):
        return value
    if value not in DTYPES:
        raise ValueError(f"policy.options.{key} must be one of {sorted(DTYPES)}, got {value!r}")
    return DTYPES[value]


def policy_kwargs_from_config(policy: Mapping[str, Any] | Any, device: Any = None) -> dict[str, Any]:
    """``WanPolicy.from_pretrained`` kwargs from the run config's ``policy:`` section."""
    section = dict(policy) if isinstance(policy, Mapping) else dict(vars(policy))
    unknown = sorted(set(section) - SECTION_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in section 'policy' (allowed: {sorted(SECTION_KEYS)})")
    if section.get("type", "wan") != "wan":
        raise ValueError(f"policy.type must be 'wan' for the Wan adapter, got {section.get('type')!r}")
    if not section.get("pretrained"):
        raise ValueError(f"policy.pretrained must name {FOLDER_HINT}, got {section.get('pretrained')!r}")
    options = dict(section.get("options") or {})
    bad = sorted(set(options) - OPTION_KEYS)
    if bad:
        raise ValueError(f"unknown key(s) {bad} in section 'policy.options' (allowed for wan: {sorted(OPTION_KEYS)})")
    kwargs: dict[str, Any] = {
        key: section[key]
        for key in ("finetune", "lora_rank", "lora_alpha", "gradient_checkpointing", "height", "width",
                    "num_frames", "negative_prompt")
        if key in section
    }
    kwargs["model_root"] = section["pretrained"]
    kwargs["checkpoint"] = section.get("checkpoint")
    for key in ("dtype", "master_dtype", "text_encoder_dtype", "vae_dtype"):
        if key in options:
            kwargs[key] = _dtype(options.pop(key), key)
    kwargs.update(options)
    if device is not None:
        kwargs["device"] = device
    return kwargs


def merge_saved_policy(transformer: torch.nn.Module, directory: Path) -> None:
    """Put a ``save_pretrained`` folder's weights into a plain transformer (LoRA weights are fused)."""
    settings_path = directory / POLICY_FILE
    if not settings_path.is_file():
        raise FileNotFoundError(f"{settings_path} not found (expected a folder written by WanPolicy.save_pretrained)")
    if json.loads(settings_path.read_text()).get("finetune") == "lora":
        transformer.load_lora_adapter(str(directory), weight_name=LORA_FILE, prefix="transformer", adapter_name="saved")
        transformer.fuse_lora(adapter_names=["saved"])
        transformer.unload_lora()
        return
    state_dict = load_folder_state_dict(directory / "transformer")
    check_keys(transformer, state_dict, str(directory / "transformer"))
    transformer.load_state_dict(state_dict, strict=True)


def load_folder_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a diffusers model folder (single or sharded safetensors)."""
    index = folder / "diffusion_pytorch_model.safetensors.index.json"
    files = (
        sorted({folder / name for name in json.loads(index.read_text())["weight_map"].values()})
        if index.is_file()
        else [folder / "diffusion_pytorch_model.safetensors"]
    )
    state_dict: dict[str, torch.Tensor] = {}
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found (expected diffusers transformer weights in safetensors)")
        state_dict.update(load_file(str(file)))
    return state_dict
