"""The tiny policy fits the FlowPolicy protocol, conditions on its first frame, and rolls out exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffrl.grpo import kl_on_means
from diffrl.policies.tiny import TinyPolicy
from diffrl.policy import FlowPolicy
from diffrl.sampling import Rollout, SamplingPlan, rollout, sample_generators, step_log_prob
from diffrl.sde import sde_noise_std

ARCH = {"patch_size": 8, "dim": 32, "depth": 2, "heads": 2}


def make_policy(seed: int = 0) -> TinyPolicy:
    return TinyPolicy(height=32, width=32, num_frames=5, seed=seed, **ARCH)


def conditions_for(policy: TinyPolicy, batch: int, seed: int = 0):
    frames = np.random.default_rng(seed).integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
    return frames, policy.encode_conditions(frames, ["walk the maze"] * (batch - 1) + ["push the box"])


def test_tiny_policy_is_a_flow_policy():
    assert isinstance(make_policy(), FlowPolicy)


def test_rollout_keeps_the_given_first_frame_exactly():
    policy = make_policy()
    frames, conditions = conditions_for(policy, 3)
    plan = SamplingPlan.create(6, sde_cutoff_ratio=0.5, loss_steps=2, coefficient=0.7)
    result = rollout(policy, conditions, plan, 1.3, sample_generators([1, 2, 3]))
    videos = policy.decode(result.final)
    assert videos.shape == (3, 5, 32, 32, 3) and videos.dtype == np.uint8
    assert np.array_equal(videos[:, 0], frames)
    assert result.latents.shape == (3, 2, 3, 5, 32, 32) and result.log_probs.shape == (3, 2)


def test_encode_decode_round_trip_is_exact():
    policy = make_policy()
    videos = np.random.default_rng(0).integers(0, 256, (2, 5, 32, 32, 3), dtype=np.uint8)
    assert np.array_equal(policy.decode(policy.encode_videos(videos)), videos)
    with pytest.raises(ValueError, match="uint8"):
        policy.encode_videos(videos.astype(np.float32))
    with pytest.raises(ValueError, match="first_frames"):
        policy.encode_conditions(videos[:, 0, :16], ["a", "b"])


def test_velocity_is_zero_on_the_given_frame_and_guidance_mixes_conditional_and_unconditional():
    policy = make_policy()
    _, conditions = conditions_for(policy, 2)
    latents = policy.initial_latents(conditions, torch.Generator().manual_seed(0))
    sigma = torch.full((2,), 0.7)
    with torch.no_grad():
        v_cond = policy.velocity(latents, sigma, conditions, 1.0)
        v_uncond = policy.velocity(latents, sigma, {**conditions, "prompt_tokens": torch.zeros_like(conditions["prompt_tokens"])})
        v_guided = policy.velocity(latents, sigma, conditions, torch.tensor([2.0, 0.5]))
    assert torch.all(v_cond[:, :, 0] == 0)
    scale = torch.tensor([2.0, 0.5]).reshape(-1, 1, 1, 1, 1)
    assert torch.allclose(v_guided, v_uncond + scale * (v_cond - v_uncond), atol=1e-4)


def test_samples_do_not_depend_on_how_they_are_batched():
    policy = make_policy()
    _, conditions = conditions_for(policy, 4)
    plan = SamplingPlan.create(6, sde_cutoff_ratio=0.5, loss_steps=3, coefficient=0.7)
    together = rollout(policy, conditions, plan, 1.0, sample_generators([5, 6, 7, 8]))
    alone = rollout(policy, {k: v[2:3] for k, v in conditions.items()}, plan, 1.0, sample_generators([7]))
    assert torch.allclose(together.final[2], alone.final[0], atol=1e-5)
    assert torch.allclose(together.log_probs[2], alone.log_probs[0], atol=1e-4)


def test_recomputed_log_prob_equals_the_stored_one_on_the_first_update():
    policy = make_policy()
    _, conditions = conditions_for(policy, 4)
    plan = SamplingPlan.create(8, shift=2.0, sde_cutoff_ratio=0.5, loss_steps=4, coefficient=0.7)
    guidance = torch.tensor([0.6, 1.0, 1.4, 1.2])
    result = rollout(policy, conditions, plan, guidance, sample_generators([0, 1, 2, 3]))
    for j in range(plan.num_loss_steps):
        log_prob, _, _ = step_log_prob(policy, result.latents[:, j], result.next_latents[:, j], plan.sigmas[j],
                                       plan.sigmas[j + 1], conditions, result.guidance, plan.coefficient)
        ratio = torch.exp(log_prob - result.log_probs[:, j])
        assert torch.allclose(ratio, torch.ones_like(ratio), atol=1e-5)


def test_kl_to_the_reference_is_zero_until_the_policy_moves():
    policy = make_policy()
    _, conditions = conditions_for(policy, 2)
    plan = SamplingPlan.create(4, coefficient=0.7)
    result = rollout(policy, conditions, plan, 1.0, sample_generators([0, 1]))
    args = (result.latents[:, 0], result.next_latents[:, 0], plan.sigmas[0], plan.sigmas[1], conditions,
            result.guidance, plan.coefficient)

    def kl() -> torch.Tensor:
        _, mean, std = step_log_prob(policy, *args)
        with torch.no_grad(), policy.reference():
            _, ref_mean, _ = step_log_prob(policy, *args)
        return kl_on_means(mean, ref_mean, sde_noise_std(std, plan.sigmas[0], plan.sigmas[1]))

    assert torch.all(kl() == 0)
    optimizer = torch.optim.SGD(policy.trainable_parameters(), lr=0.1)
    step_log_prob(policy, *args)[0].sum().backward()
    optimizer.step()
    assert torch.all(kl() > 1e-8)


def test_early_step_focus_plan_counts_steps():
    plan = SamplingPlan.create(20, sde_cutoff_ratio=0.5, loss_steps=10)
    assert (plan.num_steps, plan.num_sde_steps, plan.num_loss_steps) == (20, 10, 10)
    with pytest.raises(ValueError, match="loss_steps"):
        SamplingPlan.create(20, sde_cutoff_ratio=0.5, loss_steps=11)
    policy = make_policy()
    _, conditions = conditions_for(policy, 2)
    ode = rollout(policy, conditions, SamplingPlan.ode(6), 1.0, sample_generators([0, 1]))
    again = rollout(policy, conditions, SamplingPlan.ode(6), 1.0, sample_generators([0, 1]))
    assert ode.latents.shape[1] == 0 and torch.equal(ode.final, again.final)
    assert Rollout.concatenate([ode, again]).final.shape[0] == 4


def test_save_and_load_round_trip(tmp_path):
    policy = make_policy(seed=1)
    _, conditions = conditions_for(policy, 2)
    latents = policy.initial_latents(conditions, torch.Generator().manual_seed(0))
    sigma = torch.full((2,), 0.5)
    policy.save_pretrained(tmp_path / "p")
    loaded = TinyPolicy.from_pretrained(tmp_path / "p")
    other = make_policy(seed=2)
    other.load_pretrained(tmp_path / "p")
    with torch.no_grad():
        expected = policy.velocity(latents, sigma, conditions)
        assert torch.equal(loaded.velocity(latents, sigma, conditions), expected)
        assert torch.equal(other.velocity(latents, sigma, conditions), expected)
        with other.reference():  # loading weights keeps the reference (a resumed run keeps its KL anchor)
            assert not torch.allclose(other.velocity(latents, sigma, conditions), expected)
        with loaded.reference():  # from_pretrained makes the loaded weights the reference
            assert torch.equal(loaded.velocity(latents, sigma, conditions), expected)
    with pytest.raises(ValueError, match="does not match"):
        TinyPolicy(height=32, width=32, num_frames=5, patch_size=8, dim=64, depth=2, heads=2).load_pretrained(tmp_path / "p")
