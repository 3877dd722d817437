"""``diffrl demo``: the whole method at CPU scale, with its control, in about 20 minutes on 2 cores.

1. SFT of the tiny policy on a FIXED set of 4x4-maze demonstrations (oracle videos at 48x48, 7 frames).
2. From that checkpoint, two runs side by side for the same CPU time, one core each:
   GRPO with the maze verifier on fresh mazes, and (the control) continued SFT on the same demonstrations.
3. All three scored on held-out mazes (seeds from the test range, deduplicated by content against every
   puzzle any run trained on): success rate, path-cell F1, reward components; a before/after table.

The verdict compares EMA weights with EMA weights (GRPO's EMA decay 0.95 and SFT's 0.995 each span about a
fifth of their run); GRPO's raw weights are in the table too. Measured (demo_results.json, 300 deduplicated
held-out mazes, about +-3 points of evaluation noise), two runs:
- 2 quiet cores, 12.6 min in all: SFT 13.3%; after 6 CPU-min each, GRPO 23.0% raw / 15.7% EMA, continued SFT
  9.7% (EMA).
- 2 shared cores, 21 min: SFT 12.7%; GRPO 13.3% raw / 19.0% EMA, continued SFT 9.0% (EMA).
GRPO beat the continued-SFT control both times; which GRPO read-out is best varies between runs.

Everything lands in ``--out``: the runs (checkpoints, TensorBoard logs, sample mp4s), held-out sample
videos per stage and ``demo_results.json``. Re-running reuses a finished SFT stage.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

MAZE_KWARGS = {"size": [4, 4], "path_length": [2, 5]}  # 5 moves + 2 goal frames fill 7 frames
POLICY = {"type": "tiny", "height": 48, "width": 48, "num_frames": 7,
          "options": {"patch_size": 8, "dim": 64, "depth": 6, "heads": 4}}  # fmt: skip
EVAL_SEED_START = 2_000_000_000  # envs.export's test range: disjoint from every training seed
EVAL_STEPS = 10


@dataclass(frozen=True)
class DemoScale:
    sft_steps: int = 1000
    num_demos: int = 400
    rl_minutes: float = 6.0
    eval_mazes: int = 300
    grpo_prompts: int = 4
    group_size: int = 8
    grpo_lr: float = 3e-4  # measured: 1e-4 moved held-out success by +1 point in 6 CPU-min, 3e-4 by +6


QUICK = DemoScale(sft_steps=6, num_demos=8, rl_minutes=0.1, eval_mazes=8, grpo_prompts=1, group_size=4)


def stage_configs(out: Path, scale: DemoScale) -> dict[str, dict[str, Any]]:
    """Raw run configs of the three training runs (see recipes/tiny_maze_cpu*.yaml for the same shape)."""
    data = {"source": "seeds", "tasks": ["maze"], "difficulty": "easy", "seed_range": [0, 1_000_000],
            "task_kwargs": {"maze": MAZE_KWARGS}}
    common = {"policy": POLICY, "data": data, "reward": {"name": "maze_success"}}
    run = {"output_dir": str(out), "seed": 0, "log_every": 5, "save_every": 10_000, "sample_video_every": 10_000}
    sft = {"batch_size": 32, "max_steps": scale.sft_steps, "num_demos": scale.num_demos, "loss_weighting": "x0"}
    return {
        "sft": {**common, "run": {**run, "name": "sft"}, "sft": sft,
                "optim": {"learning_rate": 1e-3, "warmup_steps": min(200, scale.sft_steps // 5),
                          "ema_decay": 0.995, "micro_batch_size": 32}},
        "continued_sft": {**common, "run": {**run, "name": "continued_sft"}, "sft": {**sft, "max_steps": 10**6},
                          "optim": {"learning_rate": 1e-3, "ema_decay": 0.995, "micro_batch_size": 32}},
        "grpo": {**common, "run": {**run, "name": "grpo", "max_steps": 10**6},
                 "policy": {**POLICY, "pretrained": str(out / "sft")},
                 "grpo": {"group_size": scale.group_size, "prompts_per_step": scale.grpo_prompts,
                          "num_inference_steps": EVAL_STEPS, "sde_coefficient": 0.7, "sde_cutoff_ratio": 0.5,
                          "loss_steps": 5, "cfg_range": [1.0, 1.0], "kl_coefficient": 0.05},
                 "optim": {"learning_rate": scale.grpo_lr, "micro_batch_size": 16, "ema_decay": 0.95}},
    }  # fmt: skip


def _stage(name: str, raw: dict[str, Any], budget_s: float | None, threads: int, resume: str | None) -> None:
    """One training run (in its own process for the side-by-side stage)."""
    torch.set_num_threads(threads)
    from diffrl.config import config_from_dict
    from diffrl.policies import build_policy
    from diffrl.sft import SFTTrainer
    from diffrl.trainer import GRPOTrainer

    config = config_from_dict(raw)
    policy = build_policy(config.policy)
    trainer = GRPOTrainer(config, policy) if name == "grpo" else SFTTrainer(config, policy, resume=resume)
    trainer.train(time_budget_s=budget_s)


def held_out_items(count: int, exclude: set[str]) -> list[Any]:
    """``count`` easy 4x4 mazes from the test seed range whose content is in neither ``exclude`` nor each other."""
    from diffrl.data import PromptItem, task_spec
    from videorlvr.envs.export import puzzle_content_key

    spec, items, seen, seed = task_spec("maze"), [], set(exclude), EVAL_SEED_START
    while len(items) < count and seed < EVAL_SEED_START + 100 * count + 1000:
        puzzle = spec.generate(seed, "easy", **MAZE_KWARGS)
        key = puzzle_content_key(puzzle.to_dict())
        if key not in seen:
            seen.add(key)
            items.append(PromptItem("maze", puzzle, spec.prompt(puzzle), seed))
        seed += 1
    if len(items) < count:
        raise RuntimeError(f"found only {len(items)} distinct held-out mazes")
    return items


def training_keys(configs: dict[str, dict[str, Any]], grpo_items: int) -> set[str]:
    """Content keys of every maze the runs can train on: the SFT demos and GRPO's first draws."""
    from diffrl.config import config_from_dict
    from diffrl.data import build_prompt_source
    from videorlvr.envs.export import puzzle_content_key

    sft = config_from_dict(configs["sft"])
    source = build_prompt_source(sft.data, sft.run.seed)
    keys = {puzzle_content_key(source.item(i).puzzle_dict()) for i in range(sft.sft.num_demos)}
    grpo = config_from_dict(configs["grpo"])
    source = build_prompt_source(grpo.data, grpo.run.seed)
    return keys | {puzzle_content_key(source.item(i).puzzle_dict()) for i in range(grpo_items)}


def evaluate(run_dir: Path, items: list[Any], ema: bool, batch: int = 50) -> dict[str, Any]:
    """Held-out success rate, path-cell F1, mean reward and components of a run's latest checkpoint."""
    from diffrl.checkpoint import latest_checkpoint
    from diffrl.data import SeedPromptSource, task_spec
    from diffrl.policies.tiny import TinyPolicy
    from diffrl.sampling import SamplingPlan, rollout, sample_generators
    from videorlvr.envs.evaluate import cell_prf

    checkpoint = latest_checkpoint(run_dir)
    folder = checkpoint / ("policy_ema" if ema and (checkpoint / "policy_ema").is_dir() else "policy")
    policy, spec = TinyPolicy.from_pretrained(folder), task_spec("maze")
    source = SeedPromptSource(["maze"], "easy", (0, 1), 0, {"maze": MAZE_KWARGS})
    verdicts, videos = [], []
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        frames = source.first_frames(chunk, policy.height, policy.width)
        conditions = policy.encode_conditions(frames, [it.prompt for it in chunk])
        final = rollout(policy, conditions, SamplingPlan.ode(EVAL_STEPS, policy.shift), 1.0,
                        sample_generators([it.index for it in chunk])).final
        decoded = policy.decode(final)
        videos.extend(decoded[: max(0, 4 - len(videos))])
        verdicts += [spec.verify(it.puzzle, video) for it, video in zip(chunk, decoded)]
    names = sorted({name for v in verdicts for name in v.components})
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return {
        "checkpoint": str(folder), "step": state["step"],
        "success_rate": float(np.mean([v.success for v in verdicts])),
        "f1": float(np.mean([cell_prf(v.predicted_cells, v.oracle_cells)[2] for v in verdicts])),
        "reward": float(np.mean([v.reward for v in verdicts])),
        "components": {n: float(np.mean([v.components.get(n, 0.0) for v in verdicts])) for n in names},
        "videos": videos,
    }  # fmt: skip


def _row(label: str, minutes: float, result: dict[str, Any]) -> str:
    terms = " ".join(f"{value:6.3f}" for value in result["components"].values())
    return f"{label:<34}{minutes:>7.1f}{result['step']:>7}{result['success_rate']:>8.3f}{result['f1']:>7.3f}" \
           f"{result['reward']:>8.3f}  {terms}"


def run_demo(args: argparse.Namespace) -> int:
    from diffrl.checkpoint import latest_checkpoint
    from videorlvr.envs.video import write_video

    out: Path = args.out
    scale = QUICK if args.quick else DemoScale(args.sft_steps, args.num_demos, args.rl_minutes, args.eval_mazes,
                                               grpo_lr=args.grpo_lr)
    configs = stage_configs(out, scale)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sft_done = latest_checkpoint(out / "sft")
    if sft_done is None or json.loads((sft_done / "trainer_state.json").read_text())["step"] < scale.sft_steps:
        print(f"[1/3] SFT: {scale.sft_steps} steps on {scale.num_demos} fixed maze demonstrations")
        _stage("sft", configs["sft"], None, args.threads, str(out / "sft") if sft_done else None)
    sft_minutes = (time.perf_counter() - started) / 60
    budget = scale.rl_minutes * 60
    print(f"[2/3] GRPO and continued SFT side by side, {scale.rl_minutes:g} CPU-minutes each (one core each)")
    context = multiprocessing.get_context("spawn")
    runs = [context.Process(target=_stage, args=("grpo", configs["grpo"], budget, 1, None)),
            context.Process(target=_stage, args=("continued_sft", configs["continued_sft"], budget, 1,
                                                   str(out / "sft")))]
    for process in runs:
        process.start()
    for process in runs:
        process.join()
    if any(process.exitcode != 0 for process in runs):
        raise RuntimeError(f"a stage-2 run failed (exit codes {[p.exitcode for p in runs]})")
    print(f"[3/3] evaluating on {scale.eval_mazes} held-out mazes (deduplicated against all training mazes)")
    grpo_steps = json.loads((latest_checkpoint(out / "grpo") / "trainer_state.json").read_text())["step"]
    items = held_out_items(scale.eval_mazes, training_keys(configs, grpo_steps * scale.grpo_prompts))
    stages = {"sft": ("SFT (start)", out / "sft", True), "grpo": ("GRPO", out / "grpo", False),
              "grpo_ema": ("GRPO (EMA 0.95)", out / "grpo", True),
              "continued_sft": ("continued SFT (control, EMA)", out / "continued_sft", True)}
    results = {key: evaluate(folder, items, ema) for key, (_, folder, ema) in stages.items()}
    names = list(results["sft"]["components"])
    header = f"{'model':<34}{'+min':>7}{'step':>7}{'SR':>8}{'F1':>7}{'reward':>8}  " + " ".join(n[:6] for n in names)
    lines = [header, "-" * len(header)]
    for key, (label, _, _) in stages.items():
        lines.append(_row(label, 0.0 if key == "sft" else scale.rl_minutes, results[key]))
        for i, video in enumerate(results[key].pop("videos")):
            write_video(out / "held_out_samples" / key / f"{i}_{items[i].index}.mp4", video, fps=4)
    best_grpo = results["grpo_ema"]["success_rate"]  # EMA against EMA: like with like
    control = results["continued_sft"]["success_rate"]
    verdict = ("GRPO beat continued SFT" if best_grpo > control else
               "continued SFT beat GRPO" if control > best_grpo else "GRPO and continued SFT tied")
    summary = (f"{verdict}: held-out success {best_grpo:.3f} vs {control:.3f} after {scale.rl_minutes:g} CPU-min "
               f"each, from {results['sft']['success_rate']:.3f} after SFT ({len(items)} mazes; "
               f"about +-{100 * np.sqrt(0.25 / len(items)):.0f} points of noise)")
    print("\n".join(["", *lines, "", summary]))
    record = {"scale": scale.__dict__, "held_out": len(items), "sft_wall_minutes": sft_minutes,
              "total_wall_minutes": (time.perf_counter() - started) / 60, "results": results, "summary": summary}
    (out / "demo_results.json").write_text(json.dumps(record, indent=2))
    print(f"wrote {out / 'demo_results.json'}, TensorBoard logs under {out}/*/tensorboard")
    return 0


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = DemoScale()
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    parser.add_argument("--sft-steps", type=int, default=defaults.sft_steps)
    parser.add_argument("--num-demos", type=int, default=defaults.num_demos, help="fixed SFT demonstrations")
    parser.add_argument("--rl-minutes", type=float, default=defaults.rl_minutes,
                        help="CPU minutes for GRPO and for continued SFT, each")
    parser.add_argument("--eval-mazes", type=int, default=defaults.eval_mazes, help="held-out mazes")
    parser.add_argument("--grpo-lr", type=float, default=defaults.grpo_lr, help="GRPO learning rate")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the SFT stage")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run of every stage")


__all__ = ["DemoScale", "add_demo_arguments", "run_demo", "stage_configs"]
