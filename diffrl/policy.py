"""The FlowPolicy protocol: what a flow-matching video model must offer the trainer.

Conventions (those of diffusers' flow-matching models):
- ``x_t = (1 - sigma) * x_0 + sigma * noise``, sigma in [0, 1], 1 = pure noise;
- the model predicts the velocity ``v = noise - x_0``; an Euler step is ``x + (sigma_next - sigma) * v``;
- latents are float32 tensors ``(B, *latent_shape)``; some elements (the given first frame) are not
  generated: ``given_mask`` marks them, the sampler keeps them fixed and they count in no log-prob.

Conditions are a ``dict[str, torch.Tensor]`` whose every tensor has the batch as its first dimension,
so the trainer can repeat, index and concatenate them without knowing the model.

The trainer may replace ``policy.module`` with a wrapped version of it (``accelerator.prepare``), and the
caller may shard it before handing the policy over (FSDP); ``velocity`` must call ``self.module`` so that
gradients flow through the wrapper, and ``trainable_parameters`` must return the module's live
parameters (sharded ones under FSDP2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

Conditions = dict[str, torch.Tensor]


@runtime_checkable
class FlowPolicy(Protocol):
    module: torch.nn.Module  # the trainable network; may be replaced by an accelerate-wrapped version
    height: int
    width: int
    num_frames: int
    shift: float  # sigma-schedule shift the model expects

    def encode_conditions(self, first_frames: np.ndarray, prompts: Sequence[str]) -> Conditions:
        """first_frames: uint8 (B, H, W, 3); prompts: B strings. Cacheable per prompt."""

    def initial_latents(self, conditions: Conditions, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pure noise (B, *latent_shape) float32, with the given elements already set from the conditions."""

    def given_mask(self, latents: torch.Tensor) -> torch.Tensor:
        """bool, broadcastable to ``latents``: True on elements given by the conditioning (first frame)."""

    def velocity(
        self,
        latents: torch.Tensor,
        sigma: torch.Tensor,
        conditions: Conditions,
        guidance_scale: torch.Tensor | float = 1.0,
    ) -> torch.Tensor:
        """Predicted velocity, same shape as ``latents``; sigma: (B,). Guidance is applied inside."""

    def reference(self) -> AbstractContextManager[None]:
        """Inside this context ``velocity`` uses the frozen reference model (LoRA off, or a frozen copy)."""

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Latents to uint8 videos (B, T, H, W, 3)."""

    def encode_videos(self, videos: np.ndarray) -> torch.Tensor:
        """uint8 videos (B, T, H, W, 3) to clean latents x_0 (for SFT)."""

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the optimizer updates (all, or LoRA only)."""

    def save_pretrained(self, directory: str | Path, state_dict: Mapping[str, torch.Tensor] | None = None) -> None:
        """Write the trainable weights (safetensors) and config so ``load_pretrained`` restores them.

        ``state_dict``: the trainable weights of ``module`` by name as whole tensors (the trainer gathers
        them from a sharded module); None: the module's own weights."""

    def load_pretrained(self, directory: str | Path) -> None:
        """Load weights written by ``save_pretrained`` into this policy."""
