"""The GRPO loop on accelerate: sample groups, score them, normalise within groups, PPO-update.

One step, every process in lock-step::

    prompts   prompts_per_step * num_processes puzzles from the data cursor (same list on every rank)
    layout    each puzzle repeated group_size times, shuffled by a step-seeded permutation; rank r takes
              the r-th contiguous slice, so a group may span ranks (as Flow-GRPO's K-repeat sampler)
    sampling  SDE/ODE rollouts (sampling.py), one noise generator per sample keyed on (seed, step, sample)
    scoring   the reward function on this rank's decoded videos, then gathered from every rank; samples
              whose scoring failed are logged (reward_failures.jsonl) and left out of their groups
    advantage group_advantages over the scored samples of the gathered groups; each rank keeps its slice
    training  per inner epoch and mini-batch: micro-batches x loss steps, gradients accumulated (synced
              once per mini-batch), clipped, one optimizer step
    evaluate  every eval.every steps: ODE samples of a fixed held-out set (EMA weights if EMA is on)

Precision: the trainer updates the parameters in the dtype the policy keeps them in (float32 master
weights for the published adapters) and runs forward/backward under ``accelerator.autocast()`` (bf16
when ``run.mixed_precision`` is bf16); SDE, log-prob and KL maths are float32.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from tqdm.auto import tqdm

from diffrl.checkpoint import (
    EMA,
    checkpoint_name,
    latest_checkpoint,
    load_checkpoint,
    remove_stale_temporaries,
    rotate_checkpoints,
    save_checkpoint,
)
from diffrl.config import Config, save_config
from diffrl.data import PromptItem, PromptSource, build_prompt_source
from diffrl.distributed import clip_grad_norm, gradient_sync, prepare_module
from diffrl.evaluation import HeldOutEvaluator
from diffrl.grpo import group_advantages, kl_on_means, ppo_clip_loss, ppo_statistics, zero_variance
from diffrl.policy import Conditions, FlowPolicy
from diffrl.rewards import RewardFunction, RewardResult, make_reward
from diffrl.sampling import Rollout, SamplingPlan, rollout, sample_generators, step_log_prob
from diffrl.sde import sde_noise_std
from diffrl.tracking import Tracker, summary_table


def derived_seed(*keys: int) -> int:
    """A 63-bit seed from integer keys (the same on every machine)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def make_optimizer(policy: FlowPolicy, config: Config) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW on the trainable parameters and a linear-warmup-then-constant LR schedule."""
    optim = config.optim
    optimizer = torch.optim.AdamW(
        policy.trainable_parameters(),
        lr=optim.learning_rate,
        betas=tuple(optim.adam_betas),
        eps=optim.adam_eps,
        weight_decay=optim.weight_decay,
    )
    warmup = optim.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda n: min(1.0, (n + 1) / warmup) if warmup else 1.0)
    return optimizer, scheduler


class RewardFailuresExceeded(RuntimeError):
    """More reward failures in one step than ``reward.max_failed_fraction`` allows."""


def prepare_training(trainer: Any, resume: str | Path | None) -> None:
    """The set-up SFT and GRPO share, on ``trainer`` (with ``config``, ``accelerator``, ``policy``).

    Prepares the module (a module the caller sharded already is kept as it is), then the optimizer on
    its (possibly re-wrapped) parameters; sets ``optimizer``, ``scheduler``, ``parameters``, ``ema``,
    ``step``, ``cursor``, ``tracker``; restores everything from the latest checkpoint under ``resume``
    (collective); removes checkpoint temporaries a killed run left; writes the run's config.
    """
    config, acc = trainer.config, trainer.accelerator
    if acc.is_main_process and config.run_dir.is_dir():
        remove_stale_temporaries(config.run_dir)
    trainer.policy.module = prepare_module(acc, trainer.policy.module)
    trainer.optimizer, trainer.scheduler = make_optimizer(trainer.policy, config)
    trainer.optimizer = acc.prepare(trainer.optimizer)
    trainer.parameters = trainer.policy.trainable_parameters()
    trainer.ema = EMA(trainer.parameters, config.optim.ema_decay) if config.optim.ema_decay else None
    trainer.step, trainer.cursor = 0, 0
    checkpoint = latest_checkpoint(resume) if resume is not None else None
    if resume is not None and checkpoint is None:
        raise ValueError(f"no checkpoint to resume from in {resume}")
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, trainer.policy, trainer.optimizer, trainer.scheduler, trainer.ema)
        trainer.step, trainer.cursor = int(state["step"]), int(state["cursor"])
    trainer.tracker = Tracker(config.run_dir, acc.is_main_process, trainer.step if checkpoint is not None else None)
    if acc.is_main_process:
        save_config(config, config.run_dir / "config.yaml")


def save_training_state(trainer: Any, extra: dict[str, Any]) -> Path:
    """Write ``checkpoint-<step>`` of a trainer (collective: call on every rank), then rotate old ones."""
    config, acc = trainer.config, trainer.accelerator
    target = config.run_dir / checkpoint_name(trainer.step)
    state = {"step": trainer.step, "cursor": trainer.cursor, **extra, "config": config.to_dict()}
    save_checkpoint(target, trainer.policy, trainer.optimizer, trainer.scheduler, state, trainer.ema)
    if acc.is_main_process:
        rotate_checkpoints(config.run_dir, config.run.keep_checkpoints)
    acc.wait_for_everyone()
    return target


class GRPOTrainer:
    """Flow-GRPO fine-tuning of a FlowPolicy against a verifiable reward (see the module docstring).

    ``policy``: built by the caller (e.g. :func:`diffrl.policies.build_policy`) on ``accelerator.device``,
    sharded already if it is to be (FSDP); the trainer sees it only through the FlowPolicy protocol.
    ``prompt_source``, ``reward_fn`` and ``eval_source`` default to what the config describes; pass your
    own to train on anything else. ``resume``: a run or checkpoint folder to continue exactly from.
    """

    def __init__(
        self,
        config: Config,
        policy: FlowPolicy,
        prompt_source: PromptSource | None = None,
        reward_fn: RewardFunction | None = None,
        resume: str | Path | None = None,
        accelerator: Accelerator | None = None,
        eval_source: PromptSource | None = None,
    ) -> None:
        if not isinstance(policy, FlowPolicy):
            raise TypeError(f"policy must implement the FlowPolicy protocol, got {type(policy).__name__}")
        self.config, self.policy = config, policy
        self.accelerator = accelerator or Accelerator(mixed_precision=config.run.mixed_precision)
        acc, grpo, reward = self.accelerator, config.grpo, config.reward
        torch.manual_seed(config.run.seed)
        self.source = prompt_source or build_prompt_source(config.data, config.run.seed)
        self.reward_fn = reward_fn or make_reward(reward.name, reward.num_workers, reward.timeout_s)
        shift = grpo.shift if grpo.shift is not None else self.policy.shift
        self.plan = SamplingPlan.create(
            grpo.num_inference_steps, shift, grpo.sde_cutoff_ratio, grpo.loss_steps, grpo.sde_coefficient
        )
        prepare_training(self, resume)
        self.evaluator = (
            HeldOutEvaluator(config, self.policy, self.reward_fn, acc, shift, eval_source)
            if config.eval.every is not None else None
        )
        per_step = grpo.prompts_per_step * acc.num_processes
        self.max_steps = (
            config.run.max_steps if config.run.max_steps is not None
            else max(1, config.run.num_epochs * len(self.source) // per_step)
        )
        self.last_result: dict[str, Any] = {}

    # --- one step -----------------------------------------------------------------------------------------
    def _layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global sample layout of this step: (group of each slot, sample id of each slot, guidance/group)."""
        grpo, acc = self.config.grpo, self.accelerator
        num_prompts = grpo.prompts_per_step * acc.num_processes
        rng = np.random.default_rng([self.config.run.seed, self.step, 1])
        sample_ids = rng.permutation(num_prompts * grpo.group_size)
        low, high = (float(v) for v in grpo.cfg_range)
        guidance = low + (high - low) * rng.random(num_prompts)
        return sample_ids // grpo.group_size, sample_ids, guidance

    def _conditions(self, items: dict[int, PromptItem], groups: np.ndarray) -> Conditions:
        """Conditions for this rank's samples, encoded once per distinct puzzle."""
        order = sorted({int(g) for g in groups})
        chosen = [items[g] for g in order]
        frames = self.source.first_frames(chosen, self.policy.height, self.policy.width)
        encoded = self.policy.encode_conditions(frames, [it.prompt for it in chosen])
        index = torch.tensor([order.index(int(g)) for g in groups], device=next(iter(encoded.values())).device)
        return {key: value[index] for key, value in encoded.items()}

    def _sample(self, conditions: Conditions, sample_ids: np.ndarray, guidance: np.ndarray) -> Rollout:
        mb, parts = self.config.optim.micro_batch_size, []
        self.policy.module.eval()
        for start in range(0, len(sample_ids), mb):
            chunk = slice(start, start + mb)
            seeds = [derived_seed(self.config.run.seed, self.step, 2, sid) for sid in sample_ids[chunk]]
            with self.accelerator.autocast():
                parts.append(rollout(
                    self.policy,
                    {key: value[chunk] for key, value in conditions.items()},
                    self.plan,
                    torch.as_tensor(guidance[chunk], dtype=torch.float32),
                    sample_generators(seeds),
                ))
        return Rollout.concatenate(parts)

    def _score(self, videos: np.ndarray, items: list[PromptItem]) -> RewardResult:
        """This rank's rewards; a reward function that raises fails the whole batch (never the run)."""
        try:
            result = self.reward_fn(videos, items)
        except Exception as error:  # noqa: BLE001 - counted against the failure cap like any other failure
            message = f"{type(error).__name__}: {error}"
            return RewardResult(np.full(len(items), np.nan), np.zeros(len(items), bool), [it.task for it in items],
                                failed=np.ones(len(items), bool), errors=dict.fromkeys(range(len(items)), message))
        if result.failed is None:
            result.failed = np.zeros(len(items), dtype=bool)
        return result

    def _gather_rewards(self, result: RewardResult, items: list[PromptItem]) -> dict[str, Any]:
        failures = [{"sample": i, "task": items[i].task, "index": items[i].index,
                     "puzzle": items[i].puzzle_dict(), "error": error} for i, error in sorted(result.errors.items())]
        parts = gather_object([(result.rewards, result.success, result.tasks, result.components, result.failed,
                                failures)])
        rewards = np.concatenate([p[0] for p in parts])
        success = np.concatenate([p[1] for p in parts])
        tasks = [task for p in parts for task in p[2]]
        names = sorted({name for p in parts for name in p[3]})
        components = {
            name: np.concatenate([p[3].get(name, np.full(len(p[0]), np.nan)) for p in parts]) for name in names
        }
        failed = np.concatenate([p[4] for p in parts]).astype(bool)
        offsets = np.cumsum([0] + [len(p[0]) for p in parts])
        failures = [dict(f, sample=int(offsets[r] + f["sample"])) for r, p in enumerate(parts) for f in p[5]]
        return {"rewards": rewards, "success": success, "tasks": tasks, "components": components,
                "failed": failed, "failures": failures}

    def _record_failures(self, failures: list[dict[str, Any]], total: int) -> None:
        """Log failed samples with their puzzles; stop the run past ``reward.max_failed_fraction``."""
        if not failures:
            return
        if self.accelerator.is_main_process:
            path = self.config.run_dir / "reward_failures.jsonl"
            with path.open("a") as handle:
                for failure in failures:
                    handle.write(json.dumps({"step": self.step + 1, **failure}, default=str) + "\n")
            first = failures[0]
            tqdm.write(f"step {self.step + 1}: {len(failures)} of {total} rewards failed (left out of their groups; "
                       f"first: {first['task']} #{first['index']}: {first['error']}); see {path}", file=sys.stderr)
        allowed = self.config.reward.max_failed_fraction
        if len(failures) > allowed * total:
            raise RewardFailuresExceeded(
                f"step {self.step + 1}: {len(failures)} of {total} samples could not be scored, more than "
                f"reward.max_failed_fraction = {allowed} allows; first error: {failures[0]['error']} "
                f"(all in {self.config.run_dir / 'reward_failures.jsonl'})"
            )

    def _advantages(self, rewards: np.ndarray, failed: np.ndarray, groups: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Advantages (N,) over the scored samples of each group (0 elsewhere) and the mask of samples that
        train: scored, in a group with >= 2 scored samples, and (if skipping) not zero-variance."""
        grpo = self.config.grpo
        scored_per_group = np.bincount(groups[~failed], minlength=int(groups.max()) + 1)
        usable = ~failed & (scored_per_group[groups] >= 2)
        advantages = torch.zeros(len(rewards), dtype=torch.float32)
        keep = usable.copy()
        if usable.any():
            use_rewards, use_groups = torch.from_numpy(rewards[usable]), torch.from_numpy(groups[usable])
            advantages[torch.from_numpy(usable)] = group_advantages(use_rewards, use_groups, grpo.advantage_std,
                                                                    grpo.advantage_clip)
            if grpo.skip_zero_variance_groups:
                keep[usable] = ~zero_variance(use_rewards, use_groups).numpy()
        return advantages, keep

    def _micro_batches(self, kept: list[np.ndarray], epoch: int) -> list[list[tuple[np.ndarray, float]]]:
        """Per mini-batch, this rank's micro-batches as (local indices, weight); padded with weight-0
        copies so that every rank runs the same number of backward passes (DDP needs that)."""
        grpo, acc, mb = self.config.grpo, self.accelerator, self.config.optim.micro_batch_size
        rank = acc.process_index
        shuffled = [np.random.default_rng([self.config.run.seed, self.step, 3, epoch, r]).permutation(k)
                    for r, k in enumerate(kept)]
        split = [np.array_split(s, grpo.num_minibatches) for s in shuffled]
        batches = []
        for k in range(grpo.num_minibatches):
            counts = [len(s[k]) for s in split]
            if sum(counts) == 0:
                continue
            need = max(math.ceil(c / mb) for c in counts)
            own = [(chunk, 1.0) for chunk in np.array_split(split[rank][k], max(1, math.ceil(counts[rank] / mb)))
                   if len(chunk)]
            own += [(np.array([0]), 0.0)] * (need - len(own))
            batches.append((own, sum(counts)))
        return batches

    def _train(self, traj: Rollout, conditions: Conditions, advantages: torch.Tensor,
               kept: list[np.ndarray]) -> dict[str, float]:
        grpo, acc, plan = self.config.grpo, self.accelerator, self.plan
        module, sigmas, num_loss = self.policy.module, plan.sigmas, plan.num_loss_steps
        stats = torch.zeros(6, dtype=torch.float64)  # policy_loss, kl, ratio, clipfrac, approx_kl, count
        ratio_low, ratio_high, grad_norms = math.inf, -math.inf, []
        module.train()
        for epoch in range(grpo.num_inner_epochs):
            for micro, global_count in self._micro_batches(kept, epoch):
                units = [(idx, weight, j) for idx, weight in micro for j in range(num_loss)]
                for u, (idx, weight, j) in enumerate(units):
                    index = torch.as_tensor(idx, device=traj.latents.device)
                    cond = {key: value[index] for key, value in conditions.items()}
                    with gradient_sync(module, u == len(units) - 1), acc.autocast():
                        args = (traj.latents[index, j], traj.next_latents[index, j], sigmas[j], sigmas[j + 1],
                                cond, traj.guidance[index], plan.coefficient)
                        log_prob, mean, std = step_log_prob(self.policy, *args)
                        old_log_prob = traj.log_probs[index, j]
                        loss, ratio = ppo_clip_loss(log_prob, old_log_prob, advantages[index], grpo.ppo_clip)
                        kl = torch.zeros_like(loss)
                        if grpo.kl_coefficient > 0:
                            with torch.no_grad(), self.policy.reference():
                                _, ref_mean, _ = step_log_prob(self.policy, *args)
                            given = self.policy.given_mask(mean)
                            kl = kl_on_means(mean, ref_mean, sde_noise_std(std, sigmas[j], sigmas[j + 1]), ~given)
                        per_sample = loss + grpo.kl_coefficient * kl
                        scale = weight * acc.num_processes / (global_count * num_loss)
                        acc.backward(per_sample.sum() * scale)
                    if weight > 0:
                        diag = ppo_statistics(log_prob.detach(), old_log_prob, grpo.ppo_clip)
                        stats += torch.tensor([loss.detach().sum(), kl.detach().sum(), diag["ratio"].sum(),
                                               diag["clipfrac"].sum(), diag["approx_kl"].sum(), len(idx)],
                                              dtype=torch.float64)
                        ratio_low = min(ratio_low, float(ratio.detach().min()))
                        ratio_high = max(ratio_high, float(ratio.detach().max()))
                grad_norms.append(clip_grad_norm(acc, self.parameters, self.config.optim.max_grad_norm))
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.ema is not None:
                    self.ema.update()
        totals = acc.reduce(stats.to(acc.device), reduction="sum").cpu()
        extremes = gather_object([(ratio_low, ratio_high)])
        count = max(float(totals[5]), 1.0)
        return {
            "policy_loss": float(totals[0]) / count,
            "kl": float(totals[1]) / count,
            "ratio/mean": float(totals[2]) / count if totals[5] else math.nan,
            "ratio/min": min(low for low, _ in extremes) if totals[5] else math.nan,
            "ratio/max": max(high for _, high in extremes) if totals[5] else math.nan,
            "clipfrac": float(totals[3]) / count,
            "approx_kl": float(totals[4]) / count,
            "grad_norm": float(np.mean(grad_norms)) if grad_norms else 0.0,
            "optimizer_steps": float(len(grad_norms)),
            "trained_samples": float(totals[5]) / max(num_loss * grpo.num_inner_epochs, 1),
        }

    def train_step(self) -> dict[str, float]:
        """One GRPO step; returns its metrics (identical on every rank)."""
        grpo, acc = self.config.grpo, self.accelerator
        rank, per_rank = acc.process_index, grpo.prompts_per_step * grpo.group_size
        start = time.perf_counter()
        groups, sample_ids, guidance = self._layout()
        mine = slice(rank * per_rank, (rank + 1) * per_rank)
        items = {int(g): self.source.item(self.cursor + int(g)) for g in set(groups[mine].tolist())}
        conditions = self._conditions(items, groups[mine])
        traj = self._sample(conditions, sample_ids[mine], guidance[groups[mine]])
        videos = self.policy.decode(traj.final)
        sampled = time.perf_counter()
        local_items = [items[int(g)] for g in groups[mine]]
        result = self._score(videos, local_items)
        gathered = self._gather_rewards(result, local_items)
        self._record_failures(gathered["failures"], len(groups))
        scored = time.perf_counter()
        failed = gathered["failed"]
        advantages, keep = self._advantages(gathered["rewards"], failed, groups)
        kept = [np.flatnonzero(keep[r * per_rank:(r + 1) * per_rank]) for r in range(acc.num_processes)]
        local_advantages = advantages[mine].to(traj.latents.device)
        training = self._train(traj, conditions, local_advantages, kept) if self.plan.num_loss_steps else {}
        done = time.perf_counter()
        self.last_result = {"videos": videos, "rewards": result.rewards, "gathered": gathered,
                            "advantages": advantages, "groups": groups}
        self.cursor += grpo.prompts_per_step * acc.num_processes
        self.step += 1
        ok = ~failed
        metrics = {
            "reward": float(gathered["rewards"][ok].mean()) if ok.any() else math.nan,
            "reward_std": float(gathered["rewards"][ok].std()) if ok.any() else math.nan,
            "success": float(gathered["success"][ok].mean()) if ok.any() else math.nan,
            "reward_failures": float(failed.sum()),
            "zero_std_ratio": float(1.0 - keep.mean()),
            "advantage_abs": float(advantages[torch.from_numpy(ok)].abs().mean()) if ok.any() else 0.0,
            "guidance_scale": float(guidance.mean()),
            "lr": float(self.scheduler.get_last_lr()[0]),
            **training,
            "time/sampling": sampled - start,
            "time/scoring": scored - sampled,
            "time/training": done - scored,
            "time/step": done - start,
        }
        tasks = np.array(gathered["tasks"])
        for task in sorted(set(gathered["tasks"])):
            chosen = (tasks == task) & ok
            if chosen.any():
                metrics[f"success/{task}"] = float(gathered["success"][chosen].mean())
        for name, values in gathered["components"].items():
            if np.isfinite(values).any():
                metrics[f"reward/{name}"] = float(np.nanmean(values))
        return metrics

    # --- the run ------------------------------------------------------------------------------------------
    def save(self) -> Path:
        """Write checkpoint-<step> atomically (collective: call on every rank)."""
        return save_training_state(self, {})

    def train(
        self, until_step: int | None = None, time_budget_s: float | None = None, bar_position: int | None = None
    ) -> list[dict[str, Any]]:
        """Run to ``run.max_steps``; or stop early after ``until_step``, or once this process has used
        ``time_budget_s`` CPU seconds (then a checkpoint is written). Returns the metrics history.
        ``bar_position``: the progress bar's terminal line (runs side by side in parallel processes)."""
        run, acc = self.config.run, self.accelerator
        stop = self.max_steps if until_step is None else min(self.max_steps, until_step)
        bar = progress_bar(self.max_steps, self.step, time_budget_s, desc=f"{run.name} (grpo)",
                           disable=not acc.is_main_process, position=bar_position)
        started, saved = time.process_time(), True
        try:
            while self.step < stop:
                metrics = self.train_step()
                evaluated = self.evaluator is not None and self.step % self.config.eval.every == 0
                if evaluated:
                    metrics.update(self.evaluator.evaluate(self.ema))
                if self.step % run.log_every == 0 or self.step == self.max_steps or evaluated:
                    self.tracker.log(self.step, metrics)
                if self.step % run.sample_video_every == 0:
                    shown = min(4, len(self.last_result["videos"]))
                    captions = [f"r{reward:.2f}" for reward in self.last_result["rewards"][:shown]]
                    self.tracker.log_videos(self.step, "samples", self.last_result["videos"][:shown], captions)
                saved = self.step % run.save_every == 0 or self.step == self.max_steps
                if saved:
                    self.save()
                # The postfix rides on the next update's redraw: in a log, one line per interval, not per step.
                bar.set_postfix(reward=f"{metrics['reward']:.3f}", success=f"{metrics['success']:.2f}",
                                refresh=False)
                bar.update(1)
                if time_budget_s is not None and cpu_seconds_since(started, acc) >= time_budget_s:
                    break
            if not saved and time_budget_s is not None:  # stopped by the budget: keep what it reached
                self.save()
        finally:
            bar.close()
            if callable(getattr(self.reward_fn, "close", None)):
                self.reward_fn.close()  # worker processes, if any
            self.tracker.close()
        if acc.is_main_process and (self.step == self.max_steps or time_budget_s is not None):
            print(f"\nGRPO run {run.name}: {self.step} steps\n" + summary_table(self.tracker.history))
        return self.tracker.history


def progress_bar(total: int, initial: int, time_budget_s: float | None, **kwargs: Any) -> tqdm:
    """A bar over steps (live on a terminal, one line per update in logs); under a CPU-time budget the
    step total is not known, so none is shown."""
    from videorlvr.envs.progress import progress_bar as bar

    return bar(total=None if time_budget_s is not None else total, initial=initial, **kwargs)


def cpu_seconds_since(started: float, accelerator: Accelerator) -> float:
    """CPU seconds this process used since ``started``, the maximum over ranks (so all ranks stop together)."""
    spent = torch.tensor([time.process_time() - started], dtype=torch.float64, device=accelerator.device)
    return float(accelerator.reduce(spent, reduction="max")) if accelerator.num_processes > 1 else float(spent)


__all__ = [
    "GRPOTrainer", "RewardFailuresExceeded", "cpu_seconds_since", "derived_seed", "make_optimizer",
    "prepare_training", "progress_bar", "save_training_state",
]
