"""Group advantages, the PPO-clip loss and the KL on step means against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diffrl.grpo import STD_EPS, group_advantages, kl_on_means, ppo_clip_loss, ppo_statistics, zero_variance


def test_advantages_are_normalised_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.2, 0.4, 0.6, 0.8])
    groups = torch.tensor([0, 0, 0, 0, 5, 5, 5, 5])
    advantages = group_advantages(rewards, groups, clip=None)
    assert torch.allclose(advantages[:4], torch.tensor([1.0, -1.0, -1.0, 1.0]) * 0.5 / (0.5 + STD_EPS))
    std = float(np.std([0.2, 0.4, 0.6, 0.8]))
    expected = (torch.tensor([0.2, 0.4, 0.6, 0.8]) - 0.5) / (std + STD_EPS)
    assert torch.allclose(advantages[4:], expected, atol=1e-6)


def test_batch_std_scope_divides_by_the_std_of_all_rewards():
    rewards = torch.tensor([1.0, 0.0, 0.3, 0.5])
    groups = torch.tensor([0, 0, 1, 1])
    advantages = group_advantages(rewards, groups, std_scope="batch", clip=None)
    batch_std = float(np.std([1.0, 0.0, 0.3, 0.5]))
    assert torch.allclose(advantages, torch.tensor([0.5, -0.5, -0.1, 0.1]) / (batch_std + STD_EPS), atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(value=st.floats(0, 1), sizes=st.lists(st.integers(1, 6), min_size=1, max_size=4), std_scope=st.sampled_from(["group", "batch"]))
def test_zero_variance_groups_get_exactly_zero_advantage(value, sizes, std_scope):
    rewards = torch.full((sum(sizes),), value, dtype=torch.float64)
    groups = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    advantages = group_advantages(rewards, groups, std_scope=std_scope)
    assert torch.all(advantages == 0)
    assert bool(zero_variance(rewards, groups).all())


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_advantages_follow_their_samples_under_permutation(data):
    n = data.draw(st.integers(2, 12))
    rewards = torch.tensor(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), dtype=torch.float64)
    groups = torch.tensor(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    permutation = torch.randperm(n, generator=torch.Generator().manual_seed(data.draw(st.integers(0, 99))))
    advantages = group_advantages(rewards, groups)
    assert torch.allclose(group_advantages(rewards[permutation], groups[permutation]), advantages[permutation])
    assert torch.isfinite(advantages).all() and advantages.abs().max() <= 5.0


def test_advantages_are_clipped():
    rewards = torch.tensor([1.0] + [0.0] * 99)
    advantages = group_advantages(rewards, torch.zeros(100, dtype=torch.long), clip=2.0)
    assert float(advantages[0]) == 2.0
    assert float(group_advantages(rewards, torch.zeros(100, dtype=torch.long), clip=None)[0]) > 9.0


def test_bad_advantage_inputs_are_rejected():
    with pytest.raises(ValueError, match="std_scope"):
        group_advantages(torch.zeros(2), torch.zeros(2), std_scope="global")
    with pytest.raises(ValueError, match="NaN"):
        group_advantages(torch.tensor([0.0, float("nan")]), torch.zeros(2))
    with pytest.raises(ValueError, match="equal length"):
        group_advantages(torch.zeros(3), torch.zeros(2))


def test_ppo_clip_loss_matches_hand_computed_values():
    log_ratio = torch.log(torch.tensor([1.5, 1.5, 0.5, 0.5, 1.1]))
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0, 2.0])
    loss, ratio = ppo_clip_loss(log_ratio, torch.zeros(5), advantages, clip=0.2)
    assert torch.allclose(ratio, torch.tensor([1.5, 1.5, 0.5, 0.5, 1.1]))
    assert torch.allclose(loss, torch.tensor([-1.2, 1.5, -0.5, 0.8, -2.2]), atol=1e-6)


def test_ppo_clip_gradient_vanishes_where_clipped():
    log_prob = torch.log(torch.tensor([1.5, 1.1])).requires_grad_()
    loss, _ = ppo_clip_loss(log_prob, torch.zeros(2), torch.tensor([1.0, 1.0]), clip=0.2)
    loss.sum().backward()
    assert log_prob.grad[0] == 0 and torch.isclose(log_prob.grad[1], torch.tensor(-1.1))


def test_ppo_statistics():
    stats = ppo_statistics(torch.log(torch.tensor([1.0, 1.3, 0.7])), torch.zeros(3), clip=0.2)
    assert torch.allclose(stats["clipfrac"], torch.tensor([0.0, 1.0, 1.0]))
    assert torch.allclose(stats["approx_kl"], 0.5 * torch.log(torch.tensor([1.0, 1.3, 0.7])) ** 2)


def test_kl_on_means_matches_the_gaussian_kl():
    mean, ref_mean = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 2.0], [0.5, -0.5]])
    noise_std = torch.tensor([[0.5], [1.0]])
    kl = kl_on_means(mean, ref_mean, noise_std)
    assert torch.allclose(kl, torch.tensor([(1.0 / (2 * 0.25) + 0.0) / 2, (0.25 / 2 + 0.25 / 2) / 2]))
    p = torch.distributions.Normal(mean, noise_std.expand_as(mean))
    q = torch.distributions.Normal(ref_mean, noise_std.expand_as(mean))
    assert torch.allclose(kl, torch.distributions.kl_divergence(p, q).mean(dim=1))
    mask = torch.tensor([[False, True]])
    assert torch.allclose(kl_on_means(mean, ref_mean, noise_std, mask), torch.tensor([0.0, 0.125]))
    assert torch.all(kl_on_means(mean, mean, noise_std) == 0)
