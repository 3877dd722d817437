"""GRPO pieces: group-relative advantages, the PPO-clip policy loss and the KL on step means.

Read against Flow-GRPO (Liu et al. 2025): advantages are rewards normalised within each prompt's group
of G samples; each denoising step is an action with a Gaussian policy, so the PPO ratio is
``exp(log_prob - old_log_prob)`` per step, and the KL to the reference policy of two Gaussians with the
same std is ``|mean - ref_mean|^2 / (2 * noise_std^2)``.
"""

from __future__ import annotations

import torch

from diffrl.sde import masked_mean

STD_SCOPES = ("group", "batch")
STD_EPS = 1e-4  # as Flow-GRPO's per-prompt stat tracker: keeps near-constant groups from exploding


def _group_index(group_ids: torch.Tensor) -> tuple[torch.Tensor, int]:
    _, inverse = torch.unique(group_ids, return_inverse=True)
    return inverse, int(inverse.max()) + 1 if inverse.numel() else 0


def group_statistics(rewards: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample mean and (population) std of its group's rewards: two (N,) float tensors."""
    rewards = torch.as_tensor(rewards, dtype=torch.float64)
    group_ids = torch.as_tensor(group_ids, device=rewards.device)
    if rewards.ndim != 1 or group_ids.shape != rewards.shape:
        raise ValueError(
            f"rewards and group_ids must be (N,) of equal length, got {tuple(rewards.shape)} and "
            f"{tuple(group_ids.shape)}"
        )
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards contain NaN or inf")
    inverse, num_groups = _group_index(group_ids)
    count = torch.zeros(num_groups, dtype=torch.float64, device=rewards.device).index_add_(
        0, inverse, torch.ones_like(rewards)
    )
    total = torch.zeros_like(count).index_add_(0, inverse, rewards)
    mean = (total / count)[inverse]
    squares = torch.zeros_like(count).index_add_(0, inverse, (rewards - mean) ** 2)
    std = torch.sqrt(squares / count)[inverse]
    return mean, std


def zero_variance(rewards: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
    """bool (N,): True for samples whose group's rewards are all equal (they carry no signal)."""
    rewards = torch.as_tensor(rewards, dtype=torch.float64)
    group_ids = torch.as_tensor(group_ids, device=rewards.device)
    inverse, num_groups = _group_index(group_ids)
    high = torch.full((num_groups,), -torch.inf, dtype=torch.float64).scatter_reduce(0, inverse, rewards, "amax")
    low = torch.full((num_groups,), torch.inf, dtype=torch.float64).scatter_reduce(0, inverse, rewards, "amin")
    return (high == low)[inverse]


def group_advantages(
    rewards: torch.Tensor,
    group_ids: torch.Tensor,
    std_scope: str = "group",
    clip: float | None = 5.0,
) -> torch.Tensor:
    """Group-relative advantages (N,) float32: ``(reward - group mean) / (std + 1e-4)``, clipped to ±clip.

    std_scope "group": the std of the sample's own group; "batch": the std of all N rewards.
    A group whose rewards are all equal gets exactly zero advantage, never NaN.
    """
    if std_scope not in STD_SCOPES:
        raise ValueError(f"std_scope must be one of {STD_SCOPES}, got {std_scope!r}")
    if clip is not None and clip <= 0:
        raise ValueError(f"clip must be positive or None, got {clip}")
    rewards = torch.as_tensor(rewards, dtype=torch.float64)
    mean, std = group_statistics(rewards, group_ids)
    if std_scope == "batch":
        std = rewards.std(unbiased=False).expand_as(rewards)
    advantages = (rewards - mean) / (std + STD_EPS)
    advantages = torch.where(zero_variance(rewards, group_ids), torch.zeros_like(advantages), advantages)
    if clip is not None:
        advantages = advantages.clamp(-clip, clip)
    return advantages.float()


def ppo_clip_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO-clip policy loss per sample, ``max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps))``.

    All arguments (B,); returns ``(loss (B,), ratio (B,))``. Minimise the mean of ``loss``.
    """
    if clip <= 0:
        raise ValueError(f"clip must be positive, got {clip}")
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped_loss = -advantages * ratio
    clipped_loss = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return torch.maximum(unclipped_loss, clipped_loss), ratio


def kl_on_means(
    mean: torch.Tensor, ref_mean: torch.Tensor, noise_std: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """KL(policy step || reference step) per sample (B,), averaged over counted latent elements.

    Both steps are Gaussians with the same std ``noise_std = std * sqrt(-dt)`` (broadcastable), so the
    KL is ``(mean - ref_mean)^2 / (2 * noise_std^2)`` elementwise; mask as in ``sde_step``.
    """
    return masked_mean((mean.float() - ref_mean.float()) ** 2 / (2 * noise_std.float() ** 2), mask)


def ppo_statistics(log_prob: torch.Tensor, old_log_prob: torch.Tensor, clip: float) -> dict[str, torch.Tensor]:
    """The per-sample diagnostics people search for: ``ratio``, ``clipfrac``, ``approx_kl`` (each (B,))."""
    ratio = torch.exp(log_prob - old_log_prob)
    return {
        "ratio": ratio,
        "clipfrac": ((ratio - 1.0).abs() > clip).float(),
        "approx_kl": 0.5 * (log_prob - old_log_prob) ** 2,
    }


__all__ = [
    "group_advantages",
    "group_statistics",
    "kl_on_means",
    "ppo_clip_loss",
    "ppo_statistics",
    "zero_variance",
]
