"""The SFT stage: flow-matching regression on demonstration videos, in the GRPO checkpoint format.

Per sample: a clean video ``x_0`` (the oracle solution, or a dataset video), noise ``eps``, a noise level
``sigma`` drawn half uniformly, half logit-normally (docs/findings.md: this mix trained the tiny prototypes),
``x_sigma = (1 - sigma) x_0 + sigma eps`` with the given first frame left clean, and the loss
``|v_theta(x_sigma) - (eps - x_0)|^2`` over generated elements only. ``sft.loss_weighting: x0`` multiplies
it by ``sigma^2``, which is the clean-video error ``|x0_theta - x_0|^2`` (what the tiny prototypes
trained on). The prompt is replaced by "" with probability ``sft.condition_dropout`` (for CFG).

``sft.num_demos``: a fixed set of that many demonstrations (items 0..n-1 of the data source), sampled
with replacement each step; ``null`` draws fresh puzzles every step.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator

from diffrl.config import Config
from diffrl.data import PromptSource, build_prompt_source
from diffrl.distributed import clip_grad_norm, gradient_sync
from diffrl.evaluation import SampleVideos
from diffrl.policy import FlowPolicy
from diffrl.sde import masked_mean
from diffrl.tracking import summary_table
from diffrl.trainer import cpu_seconds_since, prepare_training, progress_bar, save_training_state

SFT_SUMMARY_KEYS = ("loss", "grad_norm", "lr", "time/step")


def sample_sigmas(batch: int, generator: torch.Generator) -> torch.Tensor:
    """(batch,) noise levels in (0, 1): the first half uniform, the second logit-normal(0, 1)."""
    uniform = torch.rand(batch, generator=generator)
    logit_normal = torch.sigmoid(torch.randn(batch, generator=generator))
    sigmas = torch.where(torch.arange(batch) < (batch + 1) // 2, uniform, logit_normal)
    return sigmas.clamp(1e-3, 1.0 - 1e-3)


def flow_matching_loss(
    policy: FlowPolicy,
    clean: torch.Tensor,
    conditions: dict[str, torch.Tensor],
    sigmas: torch.Tensor,
    noise: torch.Tensor,
    weighting: str = "velocity",
) -> torch.Tensor:
    """Per-sample flow-matching loss (B,) on the generated (not given) elements."""
    view = sigmas.reshape(-1, *([1] * (clean.ndim - 1))).to(clean.device)
    given = policy.given_mask(clean)
    noisy = torch.where(given, clean, (1 - view) * clean + view * noise)
    target = noise - clean
    predicted = policy.velocity(noisy, sigmas.to(clean.device), conditions, 1.0)
    error = (predicted.float() - target.float()) ** 2
    if weighting == "x0":
        error = error * view**2
    return masked_mean(error, ~given)


class SFTTrainer:
    """Supervised flow-matching fine-tuning; ``train()`` runs ``sft.max_steps`` steps.

    ``policy``: built (and sharded, if wanted) by the caller on ``accelerator.device``."""

    def __init__(
        self,
        config: Config,
        policy: FlowPolicy,
        prompt_source: PromptSource | None = None,
        resume: str | Path | None = None,
        accelerator: Accelerator | None = None,
    ) -> None:
        if not isinstance(policy, FlowPolicy):
            raise TypeError(f"policy must implement the FlowPolicy protocol, got {type(policy).__name__}")
        self.config, self.policy = config, policy
        self.accelerator = acc = accelerator or Accelerator(mixed_precision=config.run.mixed_precision)
        if config.sft.batch_size % acc.num_processes:
            raise ValueError(
                f"sft.batch_size {config.sft.batch_size} must be divisible by the {acc.num_processes} processes"
            )
        torch.manual_seed(config.run.seed)
        self.source = prompt_source or build_prompt_source(config.data, config.run.seed)
        self._demos: dict[int, tuple[Any, np.ndarray]] = {}
        prepare_training(self, resume)
        shift = config.grpo.shift if config.grpo.shift is not None else policy.shift
        self.samples = (SampleVideos(config, policy, acc, shift)
                        if config.run.sample_video_every <= config.sft.max_steps else None)

    def _batch_indices(self) -> list[int]:
        """This process's item indices for the current step."""
        sft, acc = self.config.sft, self.accelerator
        per_rank = sft.batch_size // acc.num_processes
        if sft.num_demos is not None:
            rng = np.random.default_rng([self.config.run.seed, self.step, 4])
            chosen = rng.integers(0, sft.num_demos, size=sft.batch_size)
        else:
            chosen = np.arange(self.cursor, self.cursor + sft.batch_size)
        return [int(i) for i in chosen[acc.process_index * per_rank:(acc.process_index + 1) * per_rank]]

    def _demonstrations(self, indices: list[int]) -> tuple[list[Any], np.ndarray]:
        policy = self.policy
        missing = [i for i in dict.fromkeys(indices) if i not in self._demos]
        if missing:
            items = [self.source.item(i) for i in missing]
            videos = self.source.solution_videos(items, policy.height, policy.width, policy.num_frames)
            fresh = dict(zip(missing, zip(items, videos)))
            if self.config.sft.num_demos is None:
                self._demos = {}
            self._demos.update(fresh)
        return [self._demos[i][0] for i in indices], np.stack([self._demos[i][1] for i in indices])

    def train_step(self) -> dict[str, float]:
        sft, acc, policy = self.config.sft, self.accelerator, self.policy
        start = time.perf_counter()
        items, videos = self._demonstrations(self._batch_indices())
        generator = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.config.run.seed, self.step, 5, acc.process_index]).generate_state(1)[0])
        )
        drop = torch.rand(len(items), generator=generator) < sft.condition_dropout
        prompts = ["" if dropped else item.prompt for item, dropped in zip(items, drop.tolist())]
        clean = policy.encode_videos(videos)
        conditions = policy.encode_conditions(videos[:, 0], prompts)
        sigmas = sample_sigmas(len(items), generator)
        noise = torch.randn(clean.shape, generator=generator).to(clean.device)
        policy.module.train()
        mb, losses = self.config.optim.micro_batch_size, []
        chunks = [slice(i, i + mb) for i in range(0, len(items), mb)]
        for n, chunk in enumerate(chunks):
            with gradient_sync(policy.module, n == len(chunks) - 1), acc.autocast():
                loss = flow_matching_loss(
                    policy, clean[chunk], {k: v[chunk] for k, v in conditions.items()},
                    sigmas[chunk], noise[chunk], sft.loss_weighting,
                )
                acc.backward(loss.sum() / len(items))
            losses.append(loss.detach())
        grad_norm = clip_grad_norm(acc, self.parameters, self.config.optim.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update()
        loss = acc.reduce(torch.cat(losses).mean().to(acc.device), reduction="mean")
        self.step += 1
        self.cursor += sft.batch_size
        return {
            "loss": float(loss),
            "grad_norm": grad_norm,
            "lr": float(self.scheduler.get_last_lr()[0]),
            "time/step": time.perf_counter() - start,
        }

    def save(self) -> Path:
        """Write checkpoint-<step> atomically (collective: call on every rank)."""
        return save_training_state(self, {"stage": "sft"})

    def train(
        self, until_step: int | None = None, time_budget_s: float | None = None, bar_position: int | None = None
    ) -> list[dict[str, Any]]:
        """Run to ``sft.max_steps``; or stop early after ``until_step``, or once this process has used
        ``time_budget_s`` CPU seconds (then a checkpoint is written). Returns the metrics history.
        ``bar_position``: the progress bar's terminal line (runs side by side in parallel processes)."""
        run, total, acc = self.config.run, self.config.sft.max_steps, self.accelerator
        stop = total if until_step is None else min(total, until_step)
        bar = progress_bar(total, self.step, time_budget_s, desc=f"{run.name} (sft)",
                           disable=not acc.is_main_process, position=bar_position)
        started, saved = time.process_time(), True
        while self.step < stop:
            metrics = self.train_step()
            if self.step % run.log_every == 0 or self.step == total:
                self.tracker.log(self.step, metrics)
            if self.samples is not None and self.step % run.sample_video_every == 0:
                self.samples.log(self.tracker, self.step, self.ema)
            saved = self.step % run.save_every == 0 or self.step == total
            if saved:
                self.save()
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", refresh=False)  # shown with the next redraw
            bar.update(1)
            if time_budget_s is not None and cpu_seconds_since(started, acc) >= time_budget_s:
                break
        bar.close()
        if not saved and time_budget_s is not None:  # stopped by the budget: keep what it reached
            self.save()
        if acc.is_main_process and (self.step == total or time_budget_s is not None):
            print(f"\nSFT run {run.name}: {self.step} steps\n" + summary_table(self.tracker.history, SFT_SUMMARY_KEYS))
        self.tracker.close()
        return self.tracker.history


def loss_trend(history: list[dict[str, Any]], window: int = 10) -> tuple[float, float]:
    """Mean loss over the first and the last ``window`` logged steps."""
    losses = [row["loss"] for row in history if math.isfinite(row.get("loss", math.nan))]
    return float(np.mean(losses[:window])), float(np.mean(losses[-window:]))


__all__ = ["SFTTrainer", "flow_matching_loss", "loss_trend", "sample_sigmas"]
