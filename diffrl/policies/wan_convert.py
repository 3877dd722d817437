"""Single-file Wan transformer checkpoints (original Wan / DiffSynth key layout) into diffusers' model.

The key renaming is diffusers' own (``convert_wan_transformer_to_diffusers``, what ``from_single_file``
uses); this module only adds what that path lacks for training checkpoints: a strict key check (a
missing key must be an error, not a silently uninitialised weight), wrapper prefixes left by training
frameworks, and the dtype layout that ``from_pretrained`` gives (a few modules kept in float32).
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers
from safetensors.torch import load_file

# prefixes that training frameworks put in front of the transformer's own keys (DiffSynth's trainer,
# ComfyUI / original Wan exports, DDP, torch.compile)
WRAPPER_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "pipe.dit.", "dit.", "module.", "_orig_mod.", "model.")
# keys only the diffusers layout has; any of them means "already converted"
DIFFUSERS_MARKERS = ("condition_embedder.", ".attn1.", "proj_out.")


def strip_wrapper_prefixes(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove prefixes shared by every key (``pipe.dit.``, ``model.diffusion_model.``, ``module.`` ...)."""
    changed = True
    while changed and state_dict:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(key.startswith(prefix) for key in state_dict):
                state_dict = {key[len(prefix) :]: value for key, value in state_dict.items()}
                changed = True
                break
    return state_dict


def load_wan_transformer_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` Wan transformer checkpoint and return it in diffusers' key layout."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"transformer checkpoint not found: {path} (expected a single .safetensors file holding a Wan2.2 "
            "transformer state dict in the original Wan / DiffSynth key layout or diffusers' layout)"
        )
    if path.suffix != ".safetensors":
        raise ValueError(f"transformer checkpoint must be a .safetensors file, got {path}")
    state_dict = strip_wrapper_prefixes(load_file(str(path)))
    if not state_dict:
        raise ValueError(f"transformer checkpoint {path} holds no tensors")
    if any(marker in key or key.startswith(marker) for key in state_dict for marker in DIFFUSERS_MARKERS):
        return state_dict
    return convert_wan_transformer_to_diffusers(state_dict)


def check_keys(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Raise ValueError unless ``state_dict`` has exactly the model's keys, with the model's shapes."""
    expected = model.state_dict()
    ignored = tuple(getattr(model, "_keys_to_ignore_on_load_unexpected", None) or ())
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(k for k in set(state_dict) - set(expected) if not any(p in k for p in ignored))
    wrong = sorted(k for k in set(expected) & set(state_dict) if expected[k].shape != state_dict[k].shape)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {missing[:5]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:5]})")
    if wrong:
        k = wrong[0]
        problems.append(
            f"{len(wrong)} shape mismatches (e.g. {k}: checkpoint {tuple(state_dict[k].shape)} "
            f"vs model {tuple(expected[k].shape)})"
        )
    if problems:
        raise ValueError(f"{source} does not match the transformer config: " + "; ".join(problems))


def cast_like_from_pretrained(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast parameters to ``dtype`` except the modules diffusers keeps in float32 (``_keep_in_fp32_modules``)."""
    keep = tuple(getattr(model, "_keep_in_fp32_modules", None) or ())
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if not tensor.is_floating_point():
            continue
        target = torch.float32 if any(m in name.split(".") for m in keep) else dtype
        tensor.data = tensor.data.to(target)
    return model


def load_transformer_weights(model: torch.nn.Module, path: str | Path, dtype: torch.dtype) -> torch.nn.Module:
    """Load the single-file checkpoint at ``path`` into ``model`` (possibly on the meta device), strictly."""
    state_dict = load_wan_transformer_state_dict(path)
    check_keys(model, state_dict, str(path))
    expected = model.state_dict().keys()
    model.load_state_dict({k: v for k, v in state_dict.items() if k in expected}, strict=True, assign=True)
    return cast_like_from_pretrained(model, dtype)
