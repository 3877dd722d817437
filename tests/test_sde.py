"""The Flow-GRPO SDE step, the Euler step and the sigma schedule against closed forms; the sampler's
fused SDE steps against them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diffrl.policies.tiny import TinyPolicy
from diffrl.sampling import SamplingPlan, rollout, sample_generators
from diffrl.sde import (
    gaussian_log_prob,
    masked_mean,
    ode_step,
    sde_factors,
    sde_noise_std,
    sde_step,
    shift_sigmas,
    sigma_schedule,
)

sigma_pairs = st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95)).filter(lambda p: p[0] > p[1] + 1e-3)


@settings(max_examples=20, deadline=None)
@given(pair=sigma_pairs, coefficient=st.floats(0.1, 1.0), seed=st.integers(0, 1000))
def test_log_prob_equals_torch_normal_density(pair, coefficient, seed):
    sigma, sigma_next = pair
    g = torch.Generator().manual_seed(seed)
    x, v = torch.randn(3, 2, 4, 5, generator=g), torch.randn(3, 2, 4, 5, generator=g)
    x_next, log_prob, mean, std = sde_step(x, v, sigma, sigma_next, coefficient, generator=g)
    expected_std = coefficient * math.sqrt(sigma / (1 - sigma))
    assert torch.allclose(std, torch.full_like(std, expected_std))
    normal = torch.distributions.Normal(mean, std * math.sqrt(sigma - sigma_next))
    assert torch.allclose(log_prob, normal.log_prob(x_next).mean(dim=(1, 2, 3)), atol=1e-5)


def test_mean_follows_the_design_formula():
    g = torch.Generator().manual_seed(0)
    x, v = torch.randn(2, 8, generator=g), torch.randn(2, 8, generator=g)
    sigma, sigma_next, a = 0.6, 0.45, 0.3
    _, _, mean, std = sde_step(x, v, sigma, sigma_next, a, generator=g)
    dt = sigma_next - sigma
    s = a * math.sqrt(sigma / (1 - sigma))
    assert torch.allclose(mean, x + dt * (v + s**2 / (2 * sigma) * (x + (1 - sigma) * v)), atol=1e-6)
    assert std.shape == (2, 1)


def test_explicit_noise_gives_mean_plus_scaled_noise():
    x, v, noise = torch.randn(2, 6), torch.randn(2, 6), torch.randn(2, 6)
    x_next, _, mean, std = sde_step(x, v, 0.5, 0.4, 0.7, noise=noise)
    assert torch.allclose(x_next, mean + std * math.sqrt(0.1) * noise, atol=1e-6)
    assert torch.allclose(sde_noise_std(std, 0.5, 0.4), std * math.sqrt(0.1))


def test_zero_coefficient_is_the_euler_step():
    x, v = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    x_next, log_prob, mean, _ = sde_step(x, v, 0.7, 0.55, coefficient=0.0, noise=torch.randn(4, 3, 5))
    assert torch.allclose(x_next, ode_step(x, v, 0.7, 0.55), atol=1e-6)
    assert torch.allclose(mean, x + (0.55 - 0.7) * v, atol=1e-6)
    assert torch.all(log_prob == 0)


def test_scoring_a_given_sample_reproduces_its_log_prob():
    x, v = torch.randn(3, 10), torch.randn(3, 10)
    x_next, log_prob, _, _ = sde_step(x, v, 0.8, 0.6, generator=torch.Generator().manual_seed(1))
    again, rescored, _, _ = sde_step(x, v, 0.8, 0.6, prev_sample=x_next)
    assert torch.equal(again, x_next)
    assert torch.allclose(rescored, log_prob, atol=1e-6)


def test_masked_elements_do_not_count_in_the_log_prob():
    x, v = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    mask = torch.ones(1, 4, 1, dtype=torch.bool)
    mask[:, 0] = False  # "frame 0" is given
    x_next, log_prob, mean, std = sde_step(x, v, 0.5, 0.3, mask=mask, generator=torch.Generator().manual_seed(2))
    changed = x_next.clone()
    changed[:, 0] += 100.0
    _, rescored, _, _ = sde_step(x, v, 0.5, 0.3, prev_sample=changed, mask=mask)
    assert torch.allclose(rescored, log_prob, atol=1e-6)
    normal = torch.distributions.Normal(mean, std * math.sqrt(0.2))
    assert torch.allclose(log_prob, normal.log_prob(x_next)[:, 1:].mean(dim=(1, 2)), atol=1e-5)


def test_per_sample_sigmas_match_scalar_steps():
    x, v, noise = torch.randn(2, 5), torch.randn(2, 5), torch.randn(2, 5)
    batched, log_prob, _, _ = sde_step(x, v, torch.tensor([0.9, 0.5]), torch.tensor([0.8, 0.2]), noise=noise)
    for i, (s, s_next) in enumerate(((0.9, 0.8), (0.5, 0.2))):
        single, single_log_prob, _, _ = sde_step(x[i:i + 1], v[i:i + 1], s, s_next, noise=noise[i:i + 1])
        assert torch.allclose(batched[i], single[0], atol=1e-6)
        assert torch.allclose(log_prob[i], single_log_prob[0], atol=1e-6)


def test_sigma_one_uses_the_next_sigma_in_the_std_as_flow_grpo():
    x, v = torch.randn(1, 4), torch.randn(1, 4)
    _, log_prob, _, std = sde_step(x, v, 1.0, 0.9, 0.7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(std, torch.tensor(0.7 * math.sqrt(1.0 / 0.1)))
    assert torch.isfinite(log_prob).all()


def test_sde_step_keeps_the_gaussian_marginal_with_the_exact_velocity():
    """For x_0 ~ N(0, c^2) the exact velocity is known; one SDE step must land on the next marginal."""
    c, sigma, sigma_next, n = 0.5, 0.6, 0.58, 400_000
    variance = (1 - sigma) ** 2 * c**2 + sigma**2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, generator=g) * math.sqrt(variance)
    v = (sigma - (1 - sigma) * c**2) / variance * x
    x_next, _, _, _ = sde_step(x, v, sigma, sigma_next, coefficient=0.9, generator=g)
    expected = (1 - sigma_next) ** 2 * c**2 + sigma_next**2
    assert abs(float(x_next.var()) - expected) < 0.01 * expected


def test_invalid_sigmas_are_rejected():
    x = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="sigma_next"):
        sde_step(x, x, 0.5, 0.5)
    with pytest.raises(ValueError, match="sigma must be"):
        sde_step(x, x, 0.0, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        sde_step(x, torch.zeros(1, 4), 0.5, 0.4)


def test_sigma_schedule_runs_from_one_to_zero_and_shifts():
    sigmas = sigma_schedule(10)
    assert sigmas.shape == (11,) and sigmas[0] == 1.0 and sigmas[-1] == 0.0
    assert torch.all(sigmas[1:] < sigmas[:-1])
    shifted = sigma_schedule(10, shift=3.0)
    assert torch.allclose(shifted, shift_sigmas(sigmas.double(), 3.0).float())
    assert torch.all(shifted[1:-1] > sigmas[1:-1])  # a shift > 1 spends more steps at high noise
    with pytest.raises(ValueError):
        sigma_schedule(0)


def test_masked_mean_rejects_an_all_false_mask():
    with pytest.raises(ValueError, match="no element"):
        masked_mean(torch.ones(2, 3), torch.zeros(1, 3, dtype=torch.bool))


def test_log_prob_of_the_drawn_noise_is_the_density_of_the_sample():
    """The sampler's closed form from eps equals rescoring x' and the float64 Normal density (1e-6 rel)."""
    g = torch.Generator().manual_seed(3)
    x, v, noise = (torch.randn(3, 3, 5, 8, 8, generator=g) for _ in range(3))
    mask = torch.ones(1, 1, 5, 1, 1, dtype=torch.bool)
    mask[:, :, 0] = False
    x_next, log_prob, mean, std = sde_step(x, v, 0.7, 0.6, 0.7, noise=noise, mask=mask)
    noise_std = sde_noise_std(std, 0.7, 0.6)
    closed_form = gaussian_log_prob(noise, noise_std, mask)
    _, rescored, _, _ = sde_step(x, v, 0.7, 0.6, 0.7, prev_sample=x_next, mask=mask)
    normal = torch.distributions.Normal(mean.double(), noise_std.double())
    exact = normal.log_prob(x_next.double())[:, :, 1:].mean(dim=(1, 2, 3, 4))
    assert torch.equal(closed_form, log_prob)
    assert torch.allclose(closed_form.double(), exact, rtol=1e-6, atol=0)
    assert torch.allclose(rescored, closed_form, rtol=1e-6, atol=0)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_masked_reductions_match_a_direct_float64_computation(shape, data):
    values = torch.randn(2, *shape, generator=torch.Generator().manual_seed(data.draw(st.integers(0, 99))))
    mask_shape = [data.draw(st.sampled_from([1, n])) for n in shape]
    mask = torch.rand(*mask_shape, generator=torch.Generator().manual_seed(0)) < 0.7
    mask.view(-1)[0] = True  # at least one counted element
    full = mask.expand(values.shape).double()
    dims = tuple(range(1, values.ndim))
    expected = (values.double() * full).sum(dim=dims) / full.sum(dim=dims)
    assert torch.allclose(masked_mean(values, mask).double(), expected, rtol=1e-5, atol=1e-6)
    squares = (values.double() ** 2 * full).sum(dim=dims) / full.sum(dim=dims)
    log_prob = gaussian_log_prob(values, torch.tensor(1.0), mask).double()
    assert torch.allclose(log_prob, -0.5 * squares - math.log(math.sqrt(2 * math.pi)), rtol=1e-6, atol=1e-6)


def test_sde_factors_fold_the_design_mean_and_reject_bad_sigmas():
    sigma, sigma_next = torch.tensor([1.0, 0.6]), torch.tensor([0.9, 0.45])
    std, x_factor, v_factor, noise_std = sde_factors(sigma, sigma_next, 0.3)
    x, v = torch.tensor(0.8), torch.tensor(-1.3)
    dt = sigma_next - sigma
    design = x + dt * (v + std**2 / (2 * sigma) * (x + (1 - sigma) * v))
    assert torch.allclose(x_factor * x + v_factor * v, design, atol=1e-6)
    assert torch.allclose(noise_std, std * torch.sqrt(-dt))
    with pytest.raises(ValueError, match="sigma_next"):
        sde_factors(torch.tensor([0.5]), torch.tensor([0.6]), 0.3)


def reference_rollout(policy, conditions, plan, guidance, seeds):
    """The rollout spelled out with ``sde_step`` and ``ode_step``: (trajectory, log_probs, final)."""
    generators = sample_generators(seeds)
    x = torch.cat([policy.initial_latents({k: c[i : i + 1] for k, c in conditions.items()}, g)
                   for i, g in enumerate(generators)])
    given, first, b = policy.given_mask(x), x.clone(), len(seeds)
    states, log_probs = [x], []
    for j in range(plan.num_steps):
        sigma, sigma_next = plan.sigmas[j], plan.sigmas[j + 1]
        v = policy.velocity(x, sigma.expand(b), conditions, torch.as_tensor(guidance).expand(b))
        if j < plan.num_sde_steps:
            noise = torch.stack([torch.randn(x.shape[1:], generator=g) for g in generators])
            x, log_prob, _, _ = sde_step(x, v, sigma, sigma_next, plan.coefficient, noise=noise, mask=~given)
        else:
            x = ode_step(x, v, sigma, sigma_next)
        x = torch.where(given, first, x)
        if j < plan.num_loss_steps:
            states.append(x)
            log_probs.append(log_prob)
    return torch.stack(states, dim=1), torch.stack(log_probs, dim=1), x


@pytest.mark.parametrize("cutoff, loss_steps, coefficient", [(1.0, 6, 0.3), (0.5, 2, 0.7), (0.5, 3, 0.0)])
@torch.no_grad()
def test_rollout_is_sde_step_and_ode_step_exactly(cutoff, loss_steps, coefficient):
    """Same seeds, same videos and trajectories bit for bit; log-probs to float32 rounding."""
    policy = TinyPolicy(height=32, width=32, num_frames=5, patch_size=8, dim=32, depth=2, heads=2)
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    conditions = policy.encode_conditions(frames, ["walk the maze", "push the box", "connect"])
    plan = SamplingPlan.create(6, 2.0, cutoff, loss_steps, coefficient)
    result = rollout(policy, conditions, plan, 1.3, sample_generators([4, 5, 6]))
    trajectory, log_probs, final = reference_rollout(policy, conditions, plan, 1.3, [4, 5, 6])
    assert torch.equal(result.final, final) and torch.equal(result.trajectory, trajectory)
    assert torch.allclose(result.log_probs, log_probs, rtol=1e-6, atol=1e-7)
