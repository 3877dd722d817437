"""Rollouts: SDE/ODE sampling of a FlowPolicy that stores what the GRPO loss needs, and nothing more.

Early-Step Focus: of ``T`` steps, the first ``round(sde_cutoff_ratio * T)`` are SDE steps (exploration),
the rest plain Euler (ODE) steps; the loss uses only the first ``loss_steps`` SDE steps, so only those
store their ``(x_j, x_{j+1}, log_prob_j)``. ODE steps need no noise, no log-prob and no stored state.

Noise is drawn from one generator per sample, so a sample's video depends on its own seed only, never on
how samples are batched or spread over processes (this is what makes distributed runs and resumes exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffrl.policy import Conditions, FlowPolicy
from diffrl.sde import gaussian_log_prob, ode_step, sde_factors, sde_step, sigma_schedule


@dataclass(frozen=True)
class SamplingPlan:
    """Which of the ``num_steps`` steps are stochastic and which carry the loss."""

    sigmas: torch.Tensor  # (num_steps + 1,) float32, 1 -> 0
    num_sde_steps: int
    num_loss_steps: int
    coefficient: float

    @property
    def num_steps(self) -> int:
        return int(self.sigmas.shape[0]) - 1

    @classmethod
    def create(
        cls,
        num_steps: int,
        shift: float = 1.0,
        sde_cutoff_ratio: float = 1.0,
        loss_steps: int | None = None,
        coefficient: float = 0.3,
    ) -> SamplingPlan:
        if not 0.0 <= sde_cutoff_ratio <= 1.0:
            raise ValueError(f"sde_cutoff_ratio must be in [0, 1], got {sde_cutoff_ratio}")
        num_sde = round(sde_cutoff_ratio * num_steps)
        num_loss = num_sde if loss_steps is None else int(loss_steps)
        if not 0 <= num_loss <= num_sde:
            raise ValueError(f"loss_steps must be in [0, {num_sde}] (the SDE steps), got {loss_steps}")
        if coefficient < 0:
            raise ValueError(f"coefficient must be >= 0, got {coefficient}")
        return cls(sigma_schedule(num_steps, shift), num_sde, num_loss, float(coefficient))

    @classmethod
    def ode(cls, num_steps: int, shift: float = 1.0) -> SamplingPlan:
        """Deterministic Euler sampling (evaluation)."""
        return cls.create(num_steps, shift, sde_cutoff_ratio=0.0, loss_steps=0)


@dataclass
class Rollout:
    """A batch of B sampled trajectories; ``L`` = the plan's loss steps.

    ``rollout`` stores the states step-major: ``trajectory`` is a transposed view in which every x_j is
    contiguous, and ``final`` may share memory with its last state.
    """

    trajectory: torch.Tensor  # (B, L + 1, *latent_shape): x_0 .. x_L, the states around the loss steps
    log_probs: torch.Tensor  # (B, L) float32: log-prob of x_{j+1} when sampled
    final: torch.Tensor  # (B, *latent_shape): the sampled clean latents
    guidance: torch.Tensor  # (B,) float32

    @property
    def latents(self) -> torch.Tensor:
        """(B, L, *latent_shape): x_j before each loss step (a view)."""
        return self.trajectory[:, :-1]

    @property
    def next_latents(self) -> torch.Tensor:
        """(B, L, *latent_shape): x_{j+1} after it (a view)."""
        return self.trajectory[:, 1:]

    @staticmethod
    def concatenate(rollouts: list[Rollout]) -> Rollout:
        """One rollout of all samples, in order (a single rollout is returned as it is, not copied)."""
        if len(rollouts) == 1:
            return rollouts[0]
        return Rollout(*(torch.cat([getattr(r, name) for r in rollouts]) for name in Rollout.__dataclass_fields__))


def sample_generators(seeds: list[int], device: torch.device | str = "cpu") -> list[torch.Generator]:
    """One generator per sample (CPU generators; noise is moved to ``device`` afterwards)."""
    return [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]


def _draw(generators: list[torch.Generator], out: torch.Tensor) -> torch.Tensor:
    """Fill the CPU tensor ``out`` (B, ...) with standard normal noise, row i from generator i."""
    for row, generator in zip(out, generators):
        torch.randn(row.shape, generator=generator, out=row)
    return out


@torch.no_grad()
def rollout(
    policy: FlowPolicy,
    conditions: Conditions,
    plan: SamplingPlan,
    guidance: torch.Tensor | float,
    generators: list[torch.Generator],
) -> Rollout:
    """Sample B videos' latents following ``plan``; B = ``len(generators)`` = the conditions' batch.

    An SDE step is ``sde_step``'s arithmetic, op for op, written straight into the trajectory; its log-prob
    is the closed form of the drawn noise, and only loss steps compute one.
    """
    b = len(generators)
    latents = torch.cat([policy.initial_latents({k: v[i : i + 1] for k, v in conditions.items()}, g)
                         for i, g in enumerate(generators)])
    device = latents.device
    guidance = torch.as_tensor(guidance, dtype=torch.float32, device=device).expand(b).clone()
    given = policy.given_mask(latents)  # broadcastable, e.g. (1, 1, T, 1, 1): cheap to invert and count
    counted = ~given
    states = latents.new_empty((plan.num_loss_steps + 1, *latents.shape))  # step-major: each x_j contiguous
    states[0] = latents
    given_values = states[0]
    log_probs = latents.new_zeros((b, plan.num_loss_steps))
    sigmas = plan.sigmas.to(device, torch.float32)
    n = plan.num_sde_steps
    _, x_factors, v_factors, noise_stds = sde_factors(sigmas[:n], sigmas[1 : n + 1], plan.coefficient)
    noise = torch.empty(latents.shape, dtype=torch.float32)  # CPU buffer, refilled every SDE step
    factors = list(zip(x_factors.tolist(), v_factors.tolist(), noise_stds.tolist()))  # float32 values, exact
    for j in range(plan.num_steps):
        sigma, sigma_next = sigmas[j], sigmas[j + 1]  # 0-dim: one sigma for the whole batch
        v = policy.velocity(latents, sigma.expand(b), conditions, guidance)
        if j < n:
            x_factor, v_factor, noise_std = factors[j]
            out = states[j + 1] if j < plan.num_loss_steps else None
            next_latents = torch.mul(latents, x_factor, out=out).add_(v.float(), alpha=v_factor)
            if plan.coefficient > 0:  # else the Euler step: no noise, log-prob 0 (a point mass has no density)
                drawn = _draw(generators, noise).to(device)
                next_latents.add_(drawn, alpha=noise_std)
                if out is not None:
                    log_probs[:, j] = gaussian_log_prob(drawn, noise_stds[j], counted)
        else:
            next_latents = ode_step(latents, v, sigma, sigma_next)
        latents = torch.where(given, given_values, next_latents, out=next_latents)
    return Rollout(trajectory=states.transpose(0, 1), log_probs=log_probs, final=latents, guidance=guidance)


def step_log_prob(
    policy: FlowPolicy,
    latents: torch.Tensor,
    next_latents: torch.Tensor,
    sigma: float | torch.Tensor,
    sigma_next: float | torch.Tensor,
    conditions: Conditions,
    guidance: torch.Tensor,
    coefficient: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Re-score a stored step under the current policy: ``(log_prob (B,), mean, std)``, with grad."""
    b = latents.shape[0]
    sigma_t = torch.as_tensor(sigma, dtype=torch.float32, device=latents.device).expand(b)
    v = policy.velocity(latents, sigma_t, conditions, guidance)
    counted = ~policy.given_mask(latents)
    _, log_prob, mean, std = sde_step(latents, v, sigma, sigma_next, coefficient, prev_sample=next_latents, mask=counted)
    return log_prob, mean, std


__all__ = ["Rollout", "SamplingPlan", "rollout", "sample_generators", "step_log_prob"]
