"""Model adapters behind the FlowPolicy protocol, built from a run config by :func:`build_policy`.

``tiny``: :class:`diffrl.policies.tiny.TinyPolicy` (CPU-trainable, ``policy.options`` are its
architecture kwargs: patch_size, dim, depth, heads, vocab_size, pos_init_std, shift, prompt_length, seed).
``wan``: the Wan2.2-TI2V-5B adapter in :mod:`diffrl.policies.wan`, imported only when asked for.
The trainers never call this: their caller builds the policy (and shards it, if wanted) and hands it in.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from diffrl.config import PolicyConfig
from diffrl.policy import FlowPolicy


def build_policy(config: PolicyConfig, device: str | torch.device = "cpu") -> FlowPolicy:
    """The policy a config's ``policy`` section describes, with pretrained weights loaded if named."""
    if config.type == "tiny":
        from diffrl.checkpoint import resolve_policy_folder
        from diffrl.policies.tiny import TinyPolicy

        if config.finetune != "full":
            raise ValueError("the tiny policy supports only policy.finetune = 'full'")
        policy = TinyPolicy(
            height=config.height, width=config.width, num_frames=config.num_frames, device=device, **config.options
        )
        if config.pretrained:  # the starting point of this run is also its KL reference
            policy.load_pretrained(resolve_policy_folder(Path(config.pretrained)))
            policy.reset_reference()
        return policy
    if config.type == "wan":
        try:
            module = importlib.import_module("diffrl.policies.wan")
        except ImportError as error:
            raise RuntimeError(f"the Wan adapter (diffrl.policies.wan) is not available: {error}") from error
        return module.build_wan_policy(config, device)
    raise ValueError(f"unknown policy.type {config.type!r}; known: 'tiny', 'wan'")


__all__ = ["build_policy"]
