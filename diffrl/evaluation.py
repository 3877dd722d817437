"""Evaluation during training: success and reward components on a fixed held-out set, as Flow-GRPO does.

Every ``eval.every`` steps the trainer samples one video per held-out puzzle with deterministic Euler
(ODE) steps, a fixed noise seed per puzzle and the EMA weights if EMA is on, scores them with the run's
reward function and logs ``eval/success``, ``eval/reward``, ``eval/success/<task>`` and
``eval/reward/<task>/<component>``. Puzzles are split over the ranks (each rank runs the same number of
forward passes, which sharded models need) and the scores gathered.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object

from diffrl.checkpoint import EMA
from diffrl.config import Config
from diffrl.data import CsvPromptSource, PromptSource, SeedPromptSource
from diffrl.policy import FlowPolicy
from diffrl.rewards import RewardFunction
from diffrl.sampling import SamplingPlan, rollout, sample_generators


@torch.no_grad()
def sample_videos(policy: FlowPolicy, source: PromptSource, items: list[Any], seeds: list[int], plan: SamplingPlan,
                  guidance_scale: float, micro_batch: int, accelerator: Accelerator) -> np.ndarray:
    """One video per item, uint8 (N, T, H, W, 3), from the given noise seeds (deterministic for an ODE plan)."""
    videos = []
    for start in range(0, len(items), micro_batch):
        chunk = items[start:start + micro_batch]
        frames = source.first_frames(chunk, policy.height, policy.width)
        conditions = policy.encode_conditions(frames, [item.prompt for item in chunk])
        with accelerator.autocast():
            final = rollout(policy, conditions, plan, guidance_scale,
                            sample_generators(seeds[start:start + micro_batch])).final
        videos.append(policy.decode(final))
    return np.concatenate(videos)


class SampleVideos:
    """A few fixed held-out puzzles sampled (ODE, EMA weights if on) and logged with their verdicts drawn
    on every frame, every ``run.sample_video_every`` steps: what SFT logs, so a run can be watched."""

    def __init__(self, config: Config, policy: FlowPolicy, accelerator: Accelerator, shift: float,
                 count: int = 2) -> None:
        self.config, self.policy, self.accelerator = config, policy, accelerator
        self.source = held_out_source(config)
        self.items = [self.source.item(i) for i in range(min(count, len(self.source)))]
        self.seeds = [int(np.random.SeedSequence([config.run.seed, 11, i]).generate_state(1)[0])
                      for i in range(len(self.items))]
        self.plan = SamplingPlan.ode(config.eval.num_inference_steps or config.grpo.num_inference_steps, shift)

    def log(self, tracker: Any, step: int, ema: EMA | None = None) -> None:
        """Sample on every rank (sharded models need every rank's forward); log on the main one."""
        from videorlvr.envs.overlay import scored_overlay

        self.policy.module.eval()
        with ema.applied() if ema is not None else nullcontext():
            videos = sample_videos(self.policy, self.source, self.items, self.seeds, self.plan,
                                   self.config.eval.guidance_scale, self.config.optim.micro_batch_size,
                                   self.accelerator)
        self.policy.module.train()
        if not self.accelerator.is_main_process:
            return
        drawn = [scored_overlay(item.task, item.puzzle, video) for item, video in zip(self.items, videos)]
        captions = [f"{item.task}_{'success' if verdict.success else 'fail'}_r{verdict.reward:.2f}"
                    for item, (_, verdict) in zip(self.items, drawn)]
        tracker.log_videos(step, "samples", np.stack([overlay for overlay, _ in drawn]), captions)


def held_out_source(config: Config) -> PromptSource:
    """The eval set a config describes: rows of ``eval.metadata_csv``, else seeds from ``eval.seed_range``."""
    if config.eval.metadata_csv:
        return CsvPromptSource(config.eval.metadata_csv, config.run.seed, config.data.tasks)
    data = config.data
    return SeedPromptSource(data.tasks, data.difficulty, tuple(config.eval.seed_range), config.run.seed,
                            data.task_kwargs)


class HeldOutEvaluator:
    """Scores the policy on items ``0 .. eval.num_prompts - 1`` of a held-out prompt source."""

    def __init__(
        self,
        config: Config,
        policy: FlowPolicy,
        reward_fn: RewardFunction,
        accelerator: Accelerator,
        shift: float,
        source: PromptSource | None = None,
    ) -> None:
        self.config, self.policy, self.reward_fn, self.accelerator = config, policy, reward_fn, accelerator
        self.source = source or held_out_source(config)
        if len(self.source) < config.eval.num_prompts:
            raise ValueError(f"eval.num_prompts = {config.eval.num_prompts} exceeds the {len(self.source)} "
                             "held-out items")
        steps = config.eval.num_inference_steps or config.grpo.num_inference_steps
        self.plan = SamplingPlan.ode(steps, shift)
        self.items = [self.source.item(i) for i in range(config.eval.num_prompts)]
        self.seeds = [int(np.random.SeedSequence([config.run.seed, 7, i]).generate_state(1)[0])
                      for i in range(len(self.items))]

    def _videos(self, indices: list[int]) -> np.ndarray:
        items, seeds = [self.items[i] for i in indices], [self.seeds[i] for i in indices]
        return sample_videos(self.policy, self.source, items, seeds, self.plan, self.config.eval.guidance_scale,
                             self.config.optim.micro_batch_size, self.accelerator)

    def evaluate(self, ema: EMA | None = None) -> dict[str, float]:
        """The eval metrics (identical on every rank; collective)."""
        acc, count = self.accelerator, len(self.items)
        per_rank = math.ceil(count / acc.num_processes)
        mine = [min(i, count - 1) for i in range(acc.process_index * per_rank, (acc.process_index + 1) * per_rank)]
        real = [i for i in range(acc.process_index * per_rank, (acc.process_index + 1) * per_rank) if i < count]
        self.policy.module.eval()
        with ema.applied() if ema is not None else nullcontext():
            videos = self._videos(mine)[: len(real)]
        result = self.reward_fn(videos, [self.items[i] for i in real]) if real else None
        parts = gather_object([self._rows(result)])
        rows = [row for part in parts for row in part]
        return summarise(rows)

    @staticmethod
    def _rows(result: Any) -> list[dict[str, Any]]:
        if result is None:
            return []
        failed = result.failed if result.failed is not None else np.zeros(len(result.rewards), bool)
        return [{"task": task, "reward": float(result.rewards[i]), "success": bool(result.success[i]),
                 "components": {name: float(values[i]) for name, values in result.components.items()}}
                for i, task in enumerate(result.tasks) if not failed[i]]


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """``eval/*`` metrics from scored rows (task, reward, success, components)."""
    metrics = {"eval/success": float(np.mean([r["success"] for r in rows])) if rows else math.nan,
               "eval/reward": float(np.mean([r["reward"] for r in rows])) if rows else math.nan,
               "eval/count": float(len(rows))}
    for task in sorted({r["task"] for r in rows}):
        metrics[f"eval/success/{task}"] = float(np.mean([r["success"] for r in rows if r["task"] == task]))
    names = sorted({name for r in rows for name in r["components"]})
    for name in names:
        values = [r["components"][name] for r in rows if name in r["components"]]
        values = [v for v in values if math.isfinite(v)]
        if values:
            metrics[f"eval/reward/{name}"] = float(np.mean(values))
    return metrics


__all__ = ["HeldOutEvaluator", "SampleVideos", "held_out_source", "sample_videos", "summarise"]
