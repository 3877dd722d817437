"""GRPO step and sampling speed on the tiny policy (docs/design.md targets: ESF <= 0.6x, SDE <= 1.05x ODE).

1. One GRPO step (sampling + scoring + PPO update, KL on) with Early-Step Focus (T=20, SDE on the first
   half, loss on 10 steps) vs full-trajectory GRPO (SDE and loss on all 20 steps). Both sample all 20 steps
   (S, 20 CFG forwards) and train per loss step (L: forward, backward, reference forward), so the figure
   is (S + 10 L) / (S + 20 L): with L about S / 5 on this model, about 0.6.
2. Sampling 20 steps with the SDE, storing trajectories and log-probs, vs plain Euler (ODE) sampling.
   Its floor is the Gaussian draw (torch's mt19937 CPU generator, one per sample): 2-3.5 ms a step for 8
   videos here, 5-7% of a no-CFG step of this tiny model; the rest of the SDE step adds about 1 ms.

Runs alternate between the variants and report the best (minimum) of the repeats, in process CPU time
(with one thread, the figure that other processes' load on a shared machine distorts least; wall time is
printed beside it). Noise from a busy machine only ever adds time, so the minimum is the robust figure;
on a loaded shared VM it still moves by several percent from run to run, so compare several runs.
Usage: ``python benchmarks/train_step.py [--repeats 5] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence

import numpy as np
import torch

from diffrl.config import config_from_dict
from diffrl.data import PromptItem
from diffrl.policies import build_policy
from diffrl.rewards import RewardResult
from diffrl.sampling import SamplingPlan, rollout, sample_generators
from diffrl.trainer import GRPOTrainer

POLICY = {"type": "tiny", "height": 48, "width": 48, "num_frames": 7,
          "options": {"patch_size": 8, "dim": 64, "depth": 4, "heads": 4}}  # fmt: skip


class GreySource:
    """Grey first frames; the benchmark's reward needs no environment."""

    def __len__(self) -> int:
        return 1_000_000

    def item(self, index: int) -> PromptItem:
        return PromptItem("grey", {"level": 40 + index % 150}, "brighten the frame", index)

    def first_frames(self, items: Sequence[PromptItem], height: int, width: int) -> np.ndarray:
        return np.stack([np.full((height, width, 3), it.puzzle["level"], np.uint8) for it in items])


def brightness(videos: np.ndarray, items: Sequence[PromptItem]) -> RewardResult:
    rewards = videos[:, 1:].mean(axis=(1, 2, 3, 4)) / 255.0
    return RewardResult(rewards, rewards > 0.9, [it.task for it in items])


def make_trainer(output: str, cutoff: float, loss_steps: int, group_size: int) -> GRPOTrainer:
    config = config_from_dict({
        "run": {"name": f"bench_{cutoff}", "output_dir": output, "max_steps": 1000, "save_every": 1000,
                "sample_video_every": 1000},
        "policy": POLICY,
        "grpo": {"group_size": group_size, "prompts_per_step": 1, "num_inference_steps": 20,
                 "sde_cutoff_ratio": cutoff, "loss_steps": loss_steps, "kl_coefficient": 0.04,
                 "skip_zero_variance_groups": False},
        "optim": {"learning_rate": 1e-5, "micro_batch_size": group_size},
    })  # fmt: skip
    return GRPOTrainer(config, build_policy(config.policy), prompt_source=GreySource(), reward_fn=brightness)


def timed(function) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    function()
    return time.process_time() - cpu, time.perf_counter() - wall


def best(times: dict[str, list[tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    return {name: tuple(min(column) for column in zip(*runs)) for name, runs in times.items()}


def time_steps(repeats: int, group_size: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as output:
        trainers = {"focus": make_trainer(output, 0.5, 10, group_size), "full": make_trainer(output, 1.0, 20, group_size)}
        for trainer in trainers.values():
            trainer.train_step()  # warm-up
        times: dict[str, list[tuple[float, float]]] = {"focus": [], "full": []}
        for _ in range(repeats):
            for name, trainer in trainers.items():
                times[name].append(timed(trainer.train_step))
    return best(times)


def time_sampling(repeats: int, batch: int, guidance: float) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as output:
        policy = make_trainer(output, 1.0, 20, 2).policy
    source = GreySource()
    items = [source.item(i) for i in range(batch)]
    conditions = policy.encode_conditions(source.first_frames(items, policy.height, policy.width),
                                          [it.prompt for it in items])
    sde, ode = SamplingPlan.create(20, sde_cutoff_ratio=1.0, loss_steps=20), SamplingPlan.ode(20)
    times: dict[str, list[tuple[float, float]]] = {"sde": [], "ode": []}
    for _ in range(repeats):
        for name, plan in (("sde", sde), ("ode", ode)):
            times[name].append(timed(lambda plan=plan: rollout(
                policy, conditions, plan, guidance, sample_generators(list(range(batch))))))
    return best(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = time_steps(args.repeats, args.group_size)
    print(f"GRPO step, tiny policy 48x48x7, G={args.group_size}, T=20, CFG and KL on, best of {args.repeats} "
          f"({args.threads} thread(s)):")
    for name, label in (("focus", "Early-Step Focus (cutoff 0.5, loss 10)"), ("full", "full trajectory (cutoff 1.0, loss 20)")):
        print(f"  {label:<40} CPU {steps[name][0]:7.3f} s   wall {steps[name][1]:7.3f} s")
    print(f"  ratio ESF / full: {steps['focus'][0] / steps['full'][0]:.3f} CPU, "
          f"{steps['focus'][1] / steps['full'][1]:.3f} wall  (target <= 0.6)")
    for guidance, what in ((1.0, "no CFG"), (1.2, "CFG 1.2, as GRPO samples with cfg_range")):
        sampling = time_sampling(args.repeats, args.group_size, guidance)
        print(f"Sampling {args.group_size} videos, 20 steps, {what}, best of {args.repeats}:")
        for name, label in (("sde", "SDE, storing trajectory + log-probs"), ("ode", "plain Euler (ODE)")):
            print(f"  {label:<40} CPU {sampling[name][0]:7.3f} s   wall {sampling[name][1]:7.3f} s")
        print(f"  ratio SDE / ODE: {sampling['sde'][0] / sampling['ode'][0]:.3f} CPU, "
              f"{sampling['sde'][1] / sampling['ode'][1]:.3f} wall  (target <= 1.05)")


if __name__ == "__main__":
    main()
