"""``diffrl``: the command line of the trainer.

    diffrl sft CONFIG [--resume DIR]          flow-matching SFT on demonstrations
    diffrl train CONFIG [--resume DIR]        Flow-GRPO against a verifiable reward
    diffrl sample CHECKPOINT --task maze --seeds 0 1 2 --out DIR     mp4s (and verdicts) for given puzzles
    diffrl data ...                           export a dataset (envs.export; same arguments as `python -m envs export`)
    diffrl eval ...                           score a folder of videos (envs.evaluate; as `python -m envs score`)
    diffrl demo [--out DIR]                   the CPU demo: SFT, then GRPO vs continued SFT on held-out mazes

Each subcommand is an (add_arguments, run) pair in ``COMMANDS``; new ones plug in there.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="YAML run config")
    parser.add_argument("--resume", type=Path, help="run or checkpoint folder to continue from")
    parser.add_argument("--max-steps", type=int, help="override the config's step count")


def run_sft(args: argparse.Namespace) -> int:
    from diffrl.config import load_config
    from diffrl.sft import SFTTrainer

    config = load_config(args.config)
    if args.max_steps is not None:
        config.sft.max_steps = args.max_steps
    SFTTrainer(config, resume=args.resume).train()
    return 0


def run_train(args: argparse.Namespace) -> int:
    from diffrl.config import load_config
    from diffrl.trainer import GRPOTrainer

    config = load_config(args.config)
    if args.max_steps is not None:
        config.run.max_steps = args.max_steps
    GRPOTrainer(config, resume=args.resume).train()
    return 0


def _add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a policy folder, checkpoint folder or run folder")
    parser.add_argument("--task", required=True, choices=("maze", "flowfree", "sokoban"))
    parser.add_argument("--seeds", required=True, type=int, nargs="+", help="puzzle seeds")
    parser.add_argument("--out", required=True, type=Path, help="folder for the mp4s and verdicts.json")
    parser.add_argument("--difficulty", default="medium", choices=("easy", "medium", "hard"))
    parser.add_argument("--task-kwargs", type=json.loads, default={}, help='generate() kwargs, e.g. \'{"size": [4, 4]}\'')
    parser.add_argument("--config", type=Path, help="run config to build the policy from (needed for wan)")
    parser.add_argument("--steps", type=int, default=20, help="Euler steps (default 20)")
    parser.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if EMA weights exist")


def load_policy(path: Path, config_path: Path | None = None, ema: bool = True):
    """The policy saved at ``path`` (a policy, checkpoint or run folder); ``config_path`` for non-tiny ones."""
    from diffrl.checkpoint import latest_checkpoint, resolve_policy_folder

    if not ema and (checkpoint := latest_checkpoint(path)) is not None:
        folder = checkpoint / "policy"
    else:
        folder = resolve_policy_folder(path)
    if config_path is not None:
        from diffrl.config import load_config
        from diffrl.policies import build_policy

        policy = build_policy(load_config(config_path).policy)
        policy.load_pretrained(folder)
        return policy
    saved = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    if saved.get("type") != "tiny":
        raise ValueError(f"{folder} is not a tiny policy folder; pass --config to build the policy it belongs to")
    from diffrl.policies.tiny import TinyPolicy

    return TinyPolicy.from_pretrained(folder)


def run_sample(args: argparse.Namespace) -> int:
    from diffrl.data import PromptItem, SeedPromptSource, task_spec
    from diffrl.sampling import SamplingPlan, rollout, sample_generators
    from envs.video import write_video

    policy = load_policy(args.checkpoint, args.config, ema=not args.no_ema)
    source = SeedPromptSource([args.task], args.difficulty, (0, 2**31 - 1), 0, {args.task: args.task_kwargs})
    spec, plan, records = task_spec(args.task), SamplingPlan.ode(args.steps, policy.shift), []
    for start in range(0, len(args.seeds), args.batch_size):
        seeds = args.seeds[start:start + args.batch_size]
        puzzles = [spec.generate(seed, args.difficulty, **args.task_kwargs) for seed in seeds]
        items = [PromptItem(args.task, p, spec.prompt(p), seed) for p, seed in zip(puzzles, seeds)]
        frames = source.first_frames(items, policy.height, policy.width)
        conditions = policy.encode_conditions(frames, [item.prompt for item in items])
        latents = rollout(policy, conditions, plan, args.guidance, sample_generators(seeds)).final
        for seed, puzzle, video in zip(seeds, puzzles, policy.decode(latents)):
            path = write_video(args.out / f"{args.task}_{args.difficulty}_{seed}.mp4", video)
            verdict = spec.verify(puzzle, video)
            records.append({"seed": seed, "video": str(path), "success": verdict.success,
                            "reward": verdict.reward, "reason": verdict.reason})
            print(f"{path}  success={verdict.success} reward={verdict.reward:.3f} {verdict.reason}")
    (args.out / "verdicts.json").write_text(json.dumps(records, indent=2))
    print(f"success rate {np.mean([r['success'] for r in records]):.3f} over {len(records)} puzzles")
    return 0


def _lazy_command(module: str, name: str) -> tuple[Callable, Callable]:
    """``add_<name>_arguments`` and ``run_<name>`` of ``module``, imported only when the command is used."""

    def add(parser: argparse.ArgumentParser) -> None:
        getattr(importlib.import_module(module), f"add_{name}_arguments")(parser)

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), f"run_{name}")(args)

    return add, run


COMMANDS: dict[str, tuple[Callable, Callable, str]] = {
    "sft": (_add_run_arguments, run_sft, "flow-matching SFT of a policy on demonstration videos"),
    "train": (_add_run_arguments, run_train, "Flow-GRPO training against a verifiable reward"),
    "sample": (_add_sample_arguments, run_sample, "sample videos for given puzzle seeds and verify them"),
    "data": (*_lazy_command("envs.cli", "export"), "export a dataset: oracle mp4s, first frames, metadata CSVs"),
    "eval": (*_lazy_command("envs.cli", "score"), "score a folder of model videos against a metadata CSV"),
    "demo": (*_lazy_command("diffrl.demo", "demo"), "CPU demo: SFT, then GRPO vs continued SFT, held-out table"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s arguments are added (so other commands' modules stay unimported)."""
    parser = argparse.ArgumentParser(prog="diffrl", description="Flow-matching SDE-GRPO for video reasoning")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, _, help_text) in COMMANDS.items():
        subparser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except ValueError as error:
        print(f"diffrl {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
