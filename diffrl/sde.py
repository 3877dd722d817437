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


def _sum_over(values: torch.Tensor, dims: tuple[int, ...], square: bool) -> torch.Tensor:
    """Sum of ``values`` (or of ``values**2``) over ``dims``, kept as size-1 dims.

    The trailing run of ``dims`` is reduced as one flattened last dim first: a contiguous reduction is
    several times faster than one over scattered dims (the sampler reduces every SDE step's noise).
    """
    first = values.ndim
    while first - 1 in dims:
        first -= 1
    flat = values.reshape(values.shape[:first] + (-1,))
    summed = torch.linalg.vector_norm(flat, dim=-1).square() if square else flat.sum(dim=-1)
    summed = summed.reshape(values.shape[:first] + (1,) * (values.ndim - first))
    rest = tuple(d for d in dims if d < first)
    return summed.sum(dim=rest, keepdim=True) if rest else summed


def _masked_reduce(values: torch.Tensor, mask: torch.Tensor | None, square: bool) -> torch.Tensor:
    """Mean of ``values`` (or of ``values**2``) over all but the batch dim, counting only ``mask``.

    The dims the mask broadcasts over are reduced first (one pass, no full-size temporary), then the
    small result is masked: a first-frame mask (1, 1, T, 1, 1) costs almost nothing.
    """
    dims = tuple(range(1, values.ndim))
    if mask is None:
        mask = torch.ones((1,) * values.ndim, dtype=torch.bool, device=values.device)
    mask = mask.reshape((1,) * (values.ndim - mask.ndim) + tuple(mask.shape))
    if mask.ndim != values.ndim or any(m not in (1, n) for m, n in zip(mask.shape, values.shape)):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to {tuple(values.shape)}")
    spread = tuple(d for d in dims if mask.shape[d] == 1 and values.shape[d] != 1)
    reduced = _sum_over(values, spread, square)
    repeat = math.prod(values.shape[d] for d in spread)
    count = mask.sum(dim=dims).expand(values.shape[0]) * repeat
    if bool((count == 0).any()):
        raise ValueError("mask counts no element for some sample")
    return (reduced * mask.to(reduced.dtype)).sum(dim=dims) / count


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over all but the batch dimension: (B, ...) -> (B,), counting only ``mask`` (if given)."""
    return _masked_reduce(values, mask, square=False)


def sde_noise_std(std: torch.Tensor, sigma: torch.Tensor | float, sigma_next: torch.Tensor | float) -> torch.Tensor:
    """Standard deviation of ``x'`` around ``mean``: ``std * sqrt(-dt)`` (same shape as ``std``)."""
    dt = _per_sample(sigma_next, std, "sigma_next") - _per_sample(sigma, std, "sigma")
    return std * torch.sqrt(-dt)


def _check_sigmas(sigma: torch.Tensor, sigma_next: torch.Tensor) -> None:
    if bool(((sigma <= 0) | (sigma > 1)).any()):
        raise ValueError("sigma must be in (0, 1]")
    if bool(((sigma_next < 0) | (sigma_next >= sigma)).any()):
        raise ValueError("sigma_next must be in [0, sigma)")


def sde_factors(
    sigma: torch.Tensor, sigma_next: torch.Tensor, coefficient: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(std, x_factor, v_factor, noise_std)`` of SDE steps, elementwise over float32 sigma tensors.

    The step is ``mean = x_factor * x + v_factor * v`` and ``x' = mean + noise_std * eps`` (the module
    docstring's formula with the factors folded). Raises ValueError on sigmas out of range.
    """
    _check_sigmas(sigma, sigma_next)
    dt = sigma_next - sigma
    std = coefficient * torch.sqrt(sigma / torch.where(sigma >= 1, 1 - sigma_next, 1 - sigma))
    correction = std**2 / (2 * sigma)
    return std, 1 + correction * dt, dt * (1 + correction * (1 - sigma)), std * torch.sqrt(-dt)


def gaussian_log_prob(z: torch.Tensor, noise_std: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log N(x'; mean, noise_std^2) per element, averaged over the counted elements: (B,) float32.

    ``z = (x' - mean) / noise_std`` (for a freshly sampled ``x'``, its eps); noise_std: (B, 1, ..., 1) or
    0-dim. Closed form: ``-mean(z^2) / 2 - log(noise_std) - log(sqrt(2 pi))``; mask as in ``sde_step``.
    """
    return -0.5 * _masked_reduce(z, mask, square=True) - (torch.log(noise_std) + LOG_SQRT_2PI).reshape(-1)


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
    shared = all(not torch.is_tensor(s) or s.ndim == 0 for s in (sigma, sigma_next))  # one sigma for the batch
    std, x_factor, v_factor, noise_std = sde_factors(
        _per_sample(sigma, x, "sigma"), _per_sample(sigma_next, x, "sigma_next"), coefficient
    )
    if shared:  # scalar factors: fewer full-size passes and temporaries
        mean = torch.mul(x, float(x_factor.flatten()[0])).add_(v, alpha=float(v_factor.flatten()[0]))
    else:
        mean = x * x_factor + v * v_factor
    if prev_sample is not None:
        x_next = prev_sample.float()
    else:
        if noise is None:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        noise = noise.float()
        x_next = torch.add(mean, noise, alpha=float(noise_std.flatten()[0])) if shared else mean + noise * noise_std
    if coefficient == 0:
        return x_next, torch.zeros(x.shape[0], device=x.device), mean, std
    z = noise if prev_sample is None else (x_next.detach() - mean) / noise_std  # a fresh sample's z is its eps
    return x_next, gaussian_log_prob(z, noise_std, mask), mean, std


def ode_step(
    x: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor | float, sigma_next: torch.Tensor | float
) -> torch.Tensor:
    """The Euler step of the probability-flow ODE: ``x + (sigma_next - sigma) * v`` (float32)."""
    x = x.float()
    dt = _per_sample(sigma_next, x, "sigma_next") - _per_sample(sigma, x, "sigma")
    return x + dt * v.float()


__all__ = [
    "gaussian_log_prob", "masked_mean", "ode_step", "sde_factors", "sde_noise_std", "sde_step", "shift_sigmas",
    "sigma_schedule",
]
