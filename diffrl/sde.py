"""Flow-matching sampling steps: the Flow-GRPO SDE step with its log-prob, the Euler (ODE) step, sigmas.

Conventions (diffusers' flow matching): ``x_sigma = (1 - sigma) * x_0 + sigma * noise``, sigma runs from
1 (pure noise) to 0 (data), the model predicts the velocity ``v = noise - x_0``.

The SDE of Flow-GRPO (Liu et al. 2025, eq. 9) with the step ``dt = sigma_next - sigma < 0``::

    std  = a * sqrt(sigma / (1 - sigma))                                   # "sigma_t" in the paper
    mean = x + dt * [v + std**2 / (2 * sigma) * (x + (1 - sigma) * v)]
    x'   = mean + std * sqrt(-dt) * eps,  eps ~ N(0, I)

It has the same marginals as the probability-flow ODE ``dx = v dt`` for any ``a``; ``a = 0`` is Euler.
All math here is float32, whatever the model's dtype (bf16 overflows in ``mean``).
"""

from __future__ import annotations

import math

import torch

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """The time shift of SD3/Wan: ``shift * s / (1 + (shift - 1) * s)`` (1 and 0 stay fixed)."""
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    return shift * sigmas / (1.0 + (shift - 1.0) * sigmas)


def sigma_schedule(num_steps: int, shift: float = 1.0) -> torch.Tensor:
    """``num_steps + 1`` float32 sigmas from 1 down to 0: evenly spaced, then shifted.

    Step ``j`` goes from ``sigmas[j]`` to ``sigmas[j + 1]``.
    """
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    return shift_sigmas(torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64), shift).float()


def _per_sample(value: torch.Tensor | float, like: torch.Tensor, name: str) -> torch.Tensor:
    """A float or (B,) tensor as float32 (B, 1, ..., 1), broadcastable against ``like``."""
    tensor = torch.as_tensor(value, dtype=torch.float32, device=like.device)
    if tensor.ndim == 0:
        tensor = tensor.expand(like.shape[0])
    if tensor.ndim != 1 or tensor.shape[0] != like.shape[0]:
        raise ValueError(f"{name} must be a float or a ({like.shape[0]},) tensor, got shape {tuple(tensor.shape)}")
    return tensor.reshape(-1, *([1] * (like.ndim - 1)))


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over all but the batch dimension: (B, ...) -> (B,), counting only ``mask`` (if given)."""
    dims = tuple(range(1, values.ndim))
    if mask is None:
        return values.mean(dim=dims)
    mask = mask.expand_as(values)
    count = mask.sum(dim=dims)
    if bool((count == 0).any()):
        raise ValueError("mask counts no element for some sample")
    return torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device)).sum(dim=dims) / count


def sde_noise_std(std: torch.Tensor, sigma: torch.Tensor | float, sigma_next: torch.Tensor | float) -> torch.Tensor:
    """Standard deviation of ``x'`` around ``mean``: ``std * sqrt(-dt)`` (same shape as ``std``)."""
    dt = _per_sample(sigma_next, std, "sigma_next") - _per_sample(sigma, std, "sigma")
    return std * torch.sqrt(-dt)


def _check_sigmas(sigma: torch.Tensor, sigma_next: torch.Tensor) -> None:
    if bool(((sigma <= 0) | (sigma > 1)).any()):
        raise ValueError("sigma must be in (0, 1]")
    if bool(((sigma_next < 0) | (sigma_next >= sigma)).any()):
        raise ValueError("sigma_next must be in [0, sigma)")


def sde_step(
    x: torch.Tensor,
    v: torch.Tensor,
    sigma: torch.Tensor | float,
    sigma_next: torch.Tensor | float,
    coefficient: float = 0.3,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    prev_sample: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Flow-GRPO SDE step from ``sigma`` to ``sigma_next`` with the log-prob of its result.

    x, v: (B, ...) latents and predicted velocity; sigma, sigma_next: floats or (B,) tensors.
    noise: an explicit eps (else drawn from ``generator``); prev_sample: score this ``x'`` instead of
    sampling one; mask: bool broadcastable to ``x``, the elements that count in ``log_prob`` (False on
    the given first frame). Returns ``(x_next, log_prob (B,), mean, std)``, float32; ``std`` is
    ``coefficient * sqrt(sigma / (1 - sigma))`` shaped (B, 1, ..., 1). At ``sigma == 1``, where that is
    infinite, Flow-GRPO's convention ``1 - sigma_next`` is used in the denominator. With
    ``coefficient == 0`` the step is the Euler step and ``log_prob`` is 0 (a point mass has no density).
    """
    x, v = x.float(), v.float()
    if x.shape != v.shape:
        raise ValueError(f"x and v must have the same shape, got {tuple(x.shape)} and {tuple(v.shape)}")
    sigma = _per_sample(sigma, x, "sigma")
    sigma_next = _per_sample(sigma_next, x, "sigma_next")
    _check_sigmas(sigma, sigma_next)
    dt = sigma_next - sigma
    std = coefficient * torch.sqrt(sigma / torch.where(sigma >= 1, 1 - sigma_next, 1 - sigma))
    mean = x + dt * (v + std**2 / (2 * sigma) * (x + (1 - sigma) * v))
    noise_std = std * torch.sqrt(-dt)
    if prev_sample is not None:
        x_next = prev_sample.float()
    else:
        if noise is None:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        x_next = mean + noise_std * noise.float()
    if coefficient == 0:
        return x_next, torch.zeros(x.shape[0], device=x.device), mean, std
    log_prob = -((x_next.detach() - mean) ** 2) / (2 * noise_std**2) - torch.log(noise_std) - LOG_SQRT_2PI
    return x_next, masked_mean(log_prob, mask), mean, std


def ode_step(
    x: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor | float, sigma_next: torch.Tensor | float
) -> torch.Tensor:
    """The Euler step of the probability-flow ODE: ``x + (sigma_next - sigma) * v`` (float32)."""
    x = x.float()
    dt = _per_sample(sigma_next, x, "sigma_next") - _per_sample(sigma, x, "sigma")
    return x + dt * v.float()


__all__ = ["masked_mean", "ode_step", "sde_noise_std", "sde_step", "shift_sigmas", "sigma_schedule"]
