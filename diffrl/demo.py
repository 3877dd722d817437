"""``diffrl demo``: the whole method at CPU scale, with its control, in about 20 minutes on 2 cores.

1. SFT of the tiny policy on a FIXED set of 4x4-maze demonstrations (oracle videos at 48x48, 7 frames).
   The demonstrations move the agent one cell per frame from frame 1 (``pace="eager"``), on paths of 1-3
   moves.
2. From that checkpoint, two runs side by side, one core each, fixed in steps so that their compute is
   equal on quiet cores (:data:`CONTROL_STEPS_PER_GRPO_STEP`): GRPO with the maze verifier's success reward on
   fresh mazes, and (the control) continued SFT on the same demonstrations. Load on the machine does not
   change the table (measured: seed 0 beside the full test suite); only the wall time varies.
3. All three scored on held-out mazes (seeds from the test range, deduplicated by content against every
   puzzle any run trained on), and on a harder split (paths of 4-5 moves, longer than any trained on);
   every stage-2 checkpoint is scored on the first held-out mazes for the curves in ``report.png``.

The readout, fixed in advance, is each run's final weights, and GRPO starts from exactly the SFT weights
scored as the start (no EMA: an average over the SFT stage's fast-moving weights lags far behind them).
Each success rate comes with its 95% Wilson interval, and GRPO is compared with the SFT start and with
the control on the same puzzles (paired bootstrap interval of the difference, exact McNemar
test); the verdict calls a difference a win only when both exclude "no difference". Before the table,
every held-out success of GRPO is audited: re-scored from its written video, and the share of successes
whose agent was read in every frame is printed. The verifier already requires every frame to be
explained, so a hide-and-reappear "success" cannot be counted.

The README gives the table of three seeds and the picture of one.

Everything lands in ``--out``: the runs (checkpoints, TensorBoard logs, sample mp4s), GRPO's audited
held-out successes, ``report.png`` (curves, and held-out puzzles with the SFT start's and GRPO's videos
and the verifier's reading drawn on them) and ``demo_results.json``. A folder that already holds a demo is refused unless
``--resume`` is given (then a finished SFT stage is reused).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffrl.report import CurvePoint, StripRow, write_report
from diffrl.stats import wilson_interval
from videorlvr.envs.files import atomic_write_bytes

MAZE_KWARGS = {"size": [4, 4], "path_length": [1, 3]}  # trained on: paths of 1-3 moves
HARDER_MAZE_KWARGS = {"size": [4, 4], "path_length": [4, 5]}  # held out: longer paths than any trained on
PACE = "eager"  # demonstrations move one cell per frame from frame 1 (see videorlvr.envs.types.PACES)
POLICY = {"type": "tiny", "height": 48, "width": 48, "num_frames": 7,
          "options": {"patch_size": 8, "dim": 64, "depth": 6, "heads": 4}}  # fmt: skip
EVAL_SEED_START = 2_000_000_000  # envs.export's test range: disjoint from every training seed
EVAL_STEPS = 10
AUDIT_VIDEOS = 8  # GRPO successes re-scored from their written files before the table
STRIP_PUZZLES = 4  # held-out puzzles drawn in report.png
# Continued-SFT steps per GRPO step for equal compute: the two runs' mean step times, one core each, side by
# side on 2 otherwise idle cores (demo seed 0, steps after the first three): GRPO 3.53 s, SFT 0.692 s.
CONTROL_STEPS_PER_GRPO_STEP = 5.1


@dataclass(frozen=True)
class DemoScale:
    """Sizes of one demo run. Stage 2 is fixed in steps, so load on the machine does not change the table."""

    sft_steps: int = 400
    num_demos: int = 400
    grpo_steps: int = 60
    control_steps: int = round(60 * CONTROL_STEPS_PER_GRPO_STEP)
    eval_mazes: int = 300
    curve_mazes: int = 100  # the first held-out mazes, scored at each curve point
    curve_points: int = 4  # checkpoints per stage-2 run drawn in report.png
    grpo_prompts: int = 4
    group_size: int = 8
    grpo_lr: float = 3e-4
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if name not in ("grpo_lr", "seed") and value < 1:
                raise ValueError(f"demo {name.replace('_', '-')} must be >= 1, got {value}")
        if not self.grpo_lr > 0:
            raise ValueError(f"demo grpo-lr must be > 0, got {self.grpo_lr}")


QUICK = DemoScale(sft_steps=6, num_demos=8, grpo_steps=2, control_steps=6, eval_mazes=8, curve_mazes=8,
                  curve_points=2, grpo_prompts=1, group_size=4)  # fmt: skip


def stage_configs(out: Path, scale: DemoScale) -> dict[str, dict[str, Any]]:
    """Raw run configs of the three training runs (see recipes/tiny_maze_cpu*.yaml for the same shape)."""
    data = {"source": "seeds", "tasks": ["maze"], "difficulty": "easy", "seed_range": [0, 1_000_000],
            "task_kwargs": {"maze": MAZE_KWARGS}, "pace": PACE}
    common = {"policy": POLICY, "data": data, "reward": {"name": "maze_success"}}
    run = {"output_dir": str(out), "seed": scale.seed, "log_every": 1, "save_every": 10_000,
           "sample_video_every": 10_000}
    sft = {"batch_size": 32, "max_steps": scale.sft_steps, "num_demos": scale.num_demos, "loss_weighting": "x0"}
    grpo_every = max(1, scale.grpo_steps // scale.curve_points)
    control_every = max(1, scale.control_steps // scale.curve_points)
    return {
        "sft": {**common, "run": {**run, "name": "sft"}, "sft": sft,
                "optim": {"learning_rate": 1e-3, "warmup_steps": min(200, scale.sft_steps // 5),
                          "micro_batch_size": 32}},
        "continued_sft": {**common, "run": {**run, "name": "continued_sft", "save_every": control_every},
                          "sft": {**sft, "max_steps": scale.sft_steps + scale.control_steps},
                          "optim": {"learning_rate": 1e-3, "micro_batch_size": 32}},
        "grpo": {**common, "run": {**run, "name": "grpo", "max_steps": scale.grpo_steps, "save_every": grpo_every},
                 "policy": {**POLICY, "pretrained": str(out / "sft")},
                 "grpo": {"group_size": scale.group_size, "prompts_per_step": scale.grpo_prompts,
                          "num_inference_steps": EVAL_STEPS, "sde_coefficient": 0.7, "sde_cutoff_ratio": 0.5,
                          "loss_steps": 5, "cfg_range": [1.0, 1.0], "kl_coefficient": 0.05},
                 "optim": {"learning_rate": scale.grpo_lr, "micro_batch_size": 16}},
    }  # fmt: skip


def _stage(name: str, raw: dict[str, Any], threads: int, resume: str | None, position: int | None = None) -> None:
    """One training run (in its own process for the side-by-side stage)."""
    torch.set_num_threads(threads)
    from diffrl.config import config_from_dict
    from diffrl.policies import build_policy
    from diffrl.sft import SFTTrainer
    from diffrl.trainer import GRPOTrainer

    config = config_from_dict(raw)
    policy = build_policy(config.policy)
    trainer = GRPOTrainer(config, policy) if name == "grpo" else SFTTrainer(config, policy, resume=resume)
    trainer.train(bar_position=position)


def held_out_items(count: int, exclude: set[str], maze_kwargs: dict[str, Any] = MAZE_KWARGS) -> list[Any]:
    """``count`` easy mazes (``maze_kwargs``) from the test seed range whose content is in neither
    ``exclude`` nor each other."""
    from diffrl.data import PromptItem, task_spec
    from videorlvr.envs.export import puzzle_content_key

    spec, items, seen, seed = task_spec("maze"), [], set(exclude), EVAL_SEED_START
    while len(items) < count and seed < EVAL_SEED_START + 100 * count + 1000:
        puzzle = spec.generate(seed, "easy", **maze_kwargs)
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


def run_checkpoints(run_dir: Path) -> list[Path]:
    """A run's finished checkpoints, oldest first."""
    from diffrl.checkpoint import CHECKPOINT_PATTERN, STATE_NAME

    found = [(int(m.group(1)), p) for p in run_dir.glob("checkpoint-*") if (m := CHECKPOINT_PATTERN.match(p.name))]
    return [path for _, path in sorted(found) if (path / STATE_NAME).is_file()]


def evaluate(checkpoint: Path, items: list[Any], bar: Any = None, batch: int = 50) -> dict[str, Any]:
    """Held-out success rate (with its 95% interval and the per-puzzle outcomes), path-cell F1, mean
    reward and components of a checkpoint's weights (the readout fixed in advance: no EMA), with every video
    and verdict; ``bar`` advances by one per puzzle."""
    from diffrl.data import SeedPromptSource, task_spec
    from diffrl.policies.tiny import TinyPolicy
    from diffrl.sampling import SamplingPlan, rollout, sample_generators
    from videorlvr.envs.evaluate import cell_prf

    folder = checkpoint / "policy"
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
        verdicts += [spec.verify(it.puzzle, video) for it, video in zip(chunk, decoded)]
        videos += list(decoded)
        if bar is not None:
            bar.update(len(chunk))
    names = sorted({name for v in verdicts for name in v.components})
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    successes = [bool(v.success) for v in verdicts]
    return {
        "checkpoint": str(folder), "step": state["step"],
        "success_rate": float(np.mean(successes)), "interval": wilson_interval(sum(successes), len(successes)),
        "successes": successes,
        "every_frame_read": [all(mark is not None for mark in v.trace) for v in verdicts if v.success],
        "f1": float(np.mean([cell_prf(v.predicted_cells, v.oracle_cells)[2] for v in verdicts])),
        "reward": float(np.mean([v.reward for v in verdicts])),
        "components": {n: float(np.mean([v.components.get(n, 0.0) for v in verdicts])) for n in names},
        "videos": videos, "verdicts": verdicts,
    }  # fmt: skip


def _row(label: str, result: dict[str, Any]) -> str:
    low, high = result["interval"]
    terms = " ".join(f"{value:13.3f}" for value in result["components"].values())
    return (f"{label:<30}{result['step']:>6}{result['success_rate']:>8.3f}  [{low:.3f}, {high:.3f}]"
            f"{result['f1']:>7.3f}{result['reward']:>8.3f}  {terms}")


def _table(title: str, results: dict[str, dict[str, Any]], labels: dict[str, str]) -> list[str]:
    names = list(next(iter(results.values()))["components"])
    header = f"{'model (final weights)':<30}{'step':>6}{'SR':>8}  {'95% interval':<16}{'F1':>5}{'reward':>8}  " + \
        " ".join(f"{name:>13}" for name in names)
    return [title, header, "-" * len(header), *(_row(labels[key], results[key]) for key in labels)]


def _refuse_stale(out: Path, resume: bool) -> None:
    """A folder holding an earlier demo is only reused when asked, so old checkpoints never report as new."""
    earlier = [name for name in ("sft", "grpo", "continued_sft", "demo_results.json") if (out / name).exists()]
    if earlier and not resume:
        raise SystemExit(f"diffrl demo: {out} already holds a demo ({', '.join(earlier)}); pass --resume to continue "
                         "it, or choose another --out")


def audit(out: Path, items: list[Any], result: dict[str, Any]) -> str:
    """Re-score GRPO's first held-out successes from their written files; report what every success shows."""
    from diffrl.data import task_spec
    from videorlvr.envs.video import write_video

    spec, agreed = task_spec("maze"), 0
    chosen = [i for i, success in enumerate(result["successes"]) if success][:AUDIT_VIDEOS]
    for index in chosen:
        path = write_video(out / "held_out_samples" / "grpo_successes" / f"{items[index].index}.mp4",
                           result["videos"][index], fps=4)  # fmt: skip
        agreed += spec.verify(items[index].puzzle, path).success
    read = result["every_frame_read"]
    share = f"{100 * np.mean(read):.0f}%" if read else "n/a"
    return (f"audit: {agreed} of {len(chosen)} GRPO successes re-score as successes from their written "
            f"videos; the agent was read in every frame in {share} of GRPO's {len(read)} held-out successes")


def curve(run_dir: Path, items: list[Any], start: dict[str, Any], first_step: int, steps: int,
          bar: Any) -> list[CurvePoint]:  # fmt: skip
    """Held-out success of every checkpoint of a stage-2 run on ``items`` (the SFT start at 0)."""
    points = [CurvePoint(0.0, first_step, start["success_rate"], tuple(start["interval"]))]
    for checkpoint in run_checkpoints(run_dir):
        result = evaluate(checkpoint, items, bar)
        points.append(CurvePoint((result["step"] - first_step) / steps, result["step"], result["success_rate"],
                                 tuple(result["interval"])))  # fmt: skip
    return points


def strip_rows(items: list[Any], start: dict[str, Any], grpo: dict[str, Any]) -> list[StripRow]:
    """The first held-out puzzles where the SFT start and GRPO disagree, then the first both fail (in order)."""
    differ = [i for i, (a, b) in enumerate(zip(start["successes"], grpo["successes"])) if a != b]
    both_fail = [i for i, (a, b) in enumerate(zip(start["successes"], grpo["successes"])) if not (a or b)]
    chosen = differ[: STRIP_PUZZLES - 1] + both_fail[:1]
    chosen = (chosen + [i for i in range(len(items)) if i not in chosen])[:STRIP_PUZZLES]
    rows = []
    for i in sorted(chosen):
        for label, result in (("SFT start", start), ("GRPO", grpo)):
            rows.append(StripRow(f"maze {items[i].index - EVAL_SEED_START}\n{label}", items[i].puzzle,
                                 result["videos"][i], result["verdicts"][i]))  # fmt: skip
    return rows


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch threads (evaluation: small batches, where a second thread gains
    little on quiet cores and costs many times over on cores busy with other work)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _history(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def run_demo(args: argparse.Namespace) -> int:
    from diffrl.checkpoint import latest_checkpoint
    from diffrl.config import config_from_dict
    from diffrl.stats import compare
    from videorlvr.envs.progress import progress_bar

    out: Path = args.out
    _refuse_stale(out, args.resume)
    control = round(args.grpo_steps * CONTROL_STEPS_PER_GRPO_STEP) if args.control_steps is None else args.control_steps
    scale = QUICK if args.quick else DemoScale(args.sft_steps, args.num_demos, args.grpo_steps, control,
                                               args.eval_mazes, grpo_lr=args.grpo_lr, seed=args.seed)
    configs = stage_configs(out, scale)
    for raw in configs.values():  # every stage's config errors surface now, not after the SFT stage
        config_from_dict(raw)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sft_done = latest_checkpoint(out / "sft")
    if sft_done is None or json.loads((sft_done / "trainer_state.json").read_text())["step"] < scale.sft_steps:
        print(f"[1/3] SFT: {scale.sft_steps} steps on {scale.num_demos} fixed maze demonstrations")
        _stage("sft", configs["sft"], args.threads, str(out / "sft") if sft_done else None)
    sft_minutes = (time.perf_counter() - started) / 60
    print(f"[2/3] side by side, one core each: GRPO for {scale.grpo_steps} steps and continued SFT (the control) "
          f"for {scale.control_steps} steps, equal compute on quiet cores")
    context = multiprocessing.get_context("spawn")
    runs = [context.Process(target=_stage, args=("grpo", configs["grpo"], 1, None, 0)),
            context.Process(target=_stage, args=("continued_sft", configs["continued_sft"], 1, str(out / "sft"), 1))]
    for process in runs:
        process.start()
    for process in runs:
        process.join()
    if any(process.exitcode != 0 for process in runs):
        raise RuntimeError(f"a stage-2 run failed (exit codes {[p.exitcode for p in runs]})")
    seen = training_keys(configs, scale.grpo_steps * scale.grpo_prompts)
    splits = {"held_out": held_out_items(scale.eval_mazes, seen),
              "harder": held_out_items(scale.eval_mazes, seen, HARDER_MAZE_KWARGS)}
    print(f"[3/3] evaluating on {scale.eval_mazes} held-out mazes like the training ones (paths of "
          f"{MAZE_KWARGS['path_length']} moves, deduplicated against all training mazes), {scale.eval_mazes} "
          f"harder ones (paths of {HARDER_MAZE_KWARGS['path_length']} moves) and the training curves")
    labels = {"sft": "SFT (start)", "grpo": "GRPO", "continued_sft": "continued SFT (control)"}
    finals = {key: latest_checkpoint(out / key) for key in labels}
    curve_items = splits["held_out"][: scale.curve_mazes]
    total = len(labels) * 2 * scale.eval_mazes + scale.curve_mazes * (1 + sum(
        len(run_checkpoints(out / key)) for key in ("grpo", "continued_sft")))
    with progress_bar(total=total, desc="evaluation", unit="maze") as bar, torch_threads(1):
        results = {split: {key: evaluate(finals[key], items, bar) for key in labels}
                   for split, items in splits.items()}  # fmt: skip
        start_curve = evaluate(finals["sft"], curve_items, bar)
        curves = {labels[key]: curve(out / key, curve_items, start_curve, scale.sft_steps if key != "grpo" else 0,
                                     steps, bar)
                  for key, steps in (("grpo", scale.grpo_steps), ("continued_sft", scale.control_steps))}  # fmt: skip
    lines = [audit(out, splits["held_out"], results["held_out"]["grpo"]), ""]
    for split, title in (("held_out", "held-out mazes"), ("harder", "harder split: longer paths")):
        lines += _table(f"{title} ({len(splits[split])})", results[split], labels) + [""]
    verdicts = {}
    for split, by_run in results.items():
        grpo = np.array(by_run["grpo"]["successes"])
        for other in ("sft", "continued_sft"):
            comparison = compare(grpo, np.array(by_run[other]["successes"]))
            verdicts[f"{split}/grpo_vs_{other}"] = comparison.__dict__
            lines.append(f"{split}: " + comparison.describe("GRPO", labels[other]))
    print("\n".join(["", *lines]))
    held = results["held_out"]
    report = write_report(out / "report.png", curves, _history(out / "grpo"),
                          strip_rows(splits["held_out"], held["sft"], held["grpo"]),
                          f"diffrl demo (seed {scale.seed}): GRPO {100 * held['grpo']['success_rate']:.1f}% vs SFT start "
                          f"{100 * held['sft']['success_rate']:.1f}% vs control "
                          f"{100 * held['continued_sft']['success_rate']:.1f}% on {scale.eval_mazes} held-out mazes")  # fmt: skip
    for by_run in results.values():
        for result in by_run.values():
            result.pop("videos"), result.pop("verdicts")
    record = {"scale": scale.__dict__, "readout": "final weights", "sft_wall_minutes": sft_minutes,
              "total_wall_minutes": (time.perf_counter() - started) / 60, "results": results,
              "curves": {label: [point.__dict__ for point in points] for label, points in curves.items()},
              "comparisons": verdicts, "summary": lines}  # fmt: skip
    atomic_write_bytes(out / "demo_results.json", json.dumps(record, indent=2).encode())
    print(f"wrote {out / 'demo_results.json'}, {report}, TensorBoard logs under {out}/*/tensorboard")
    return 0


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = DemoScale()
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="the runs' seed")
    parser.add_argument("--sft-steps", type=int, default=defaults.sft_steps)
    parser.add_argument("--num-demos", type=int, default=defaults.num_demos, help="fixed SFT demonstrations")
    parser.add_argument("--grpo-steps", type=int, default=defaults.grpo_steps, help="GRPO steps")
    parser.add_argument("--control-steps", type=int, default=None,
                        help=f"continued-SFT steps (default: {CONTROL_STEPS_PER_GRPO_STEP:g} per GRPO step, equal compute)")
    parser.add_argument("--eval-mazes", type=int, default=defaults.eval_mazes, help="held-out mazes per split")
    parser.add_argument("--grpo-lr", type=float, default=defaults.grpo_lr, help="GRPO learning rate")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the SFT stage")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run of every stage")
    parser.add_argument("--resume", action="store_true", help="continue the demo already in --out")


__all__ = ["DemoScale", "add_demo_arguments", "run_demo", "stage_configs"]
