"""``diffrl``: the command line of the trainer.

    diffrl sft CONFIG [--resume DIR]          flow-matching SFT on demonstrations
    diffrl train CONFIG [--resume DIR]        Flow-GRPO against a verifiable reward
    diffrl sample CHECKPOINT --seeds 0 1 2 --out DIR     mp4s and verdicts (puzzles as in the run's config)
    diffrl data ...                           export a dataset (videorlvr.envs.export; same arguments as `python -m videorlvr.envs export`)
    diffrl eval ...                           score a folder of videos (videorlvr.envs.evaluate; as `python -m videorlvr.envs score`)
    diffrl eval --checkpoint RUN --metadata CSV --out DIR      generate one video per row first, then score
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
from typing import Any


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="YAML run config")
    parser.add_argument("--resume", type=Path, help="run or checkpoint folder to continue from")
    parser.add_argument("--max-steps", type=int, help="override the config's step count")


def _run_stage(args: argparse.Namespace, stage: str) -> int:
    """Build the accelerator and the policy (the caller's job), then run the ``stage`` trainer."""
    from accelerate import Accelerator

    from diffrl.config import load_config, validate
    from diffrl.policies import build_policy

    config = load_config(args.config)
    if args.max_steps is not None:
        if stage == "sft":
            config.sft.max_steps = args.max_steps
        else:
            config.run.max_steps = args.max_steps
        validate(config)  # --max-steps 0 is an error, not "the config's default"
    accelerator = Accelerator(mixed_precision=config.run.mixed_precision)
    policy = build_policy(config.policy, accelerator.device)
    if stage == "sft":
        from diffrl.sft import SFTTrainer

        SFTTrainer(config, policy, resume=args.resume, accelerator=accelerator).train()
        return 0
    from diffrl.trainer import GRPOTrainer, RewardFailuresExceeded

    try:
        GRPOTrainer(config, policy, resume=args.resume, accelerator=accelerator).train()
    except RewardFailuresExceeded as error:
        print(f"diffrl train: stopped: {error}", file=sys.stderr)
        return 1
    return 0


def run_sft(args: argparse.Namespace) -> int:
    return _run_stage(args, "sft")


def run_train(args: argparse.Namespace) -> int:
    return _run_stage(args, "train")


def _add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    from videorlvr.envs import cli as envs_cli

    parser.add_argument("checkpoint", type=Path, help="a policy folder, checkpoint folder or run folder")
    parser.add_argument("--seeds", required=True, type=int, nargs="+", help="puzzle seeds")
    parser.add_argument("--out", required=True, type=Path, help="folder for the mp4s and the results")
    group = parser.add_argument_group("the puzzles (default: the distribution the checkpoint's run trained on)")
    group.add_argument("--task", choices=("maze", "flowfree", "sokoban"), help="task (default: the run's)")
    group.add_argument("--difficulty", choices=("easy", "medium", "hard"), help="difficulty (default: the run's)")
    group.add_argument("--task-kwargs", type=envs_cli.parse_task_kwargs,
                       help='generate() kwargs per task, e.g. \'{"maze": {"size": [4, 4]}}\' (default: the run\'s)')
    parser.add_argument("--config", type=Path, help="run config to build the policy from (needed for wan)")
    parser.add_argument("--steps", type=int, default=20, help="Euler steps")
    parser.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale")
    parser.add_argument("--batch-size", type=int, default=4, help="videos per sampling batch")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if EMA weights exist")
    envs_cli.add_allow_errors_argument(parser)
    envs_cli.add_quiet_argument(parser)


def run_config_for(path: Path) -> dict[str, Any] | None:
    """The run config (as a dict) of a run, checkpoint or policy folder, or None if none is found."""
    from diffrl.checkpoint import STATE_NAME, latest_checkpoint

    path = Path(path)
    checkpoint = latest_checkpoint(path) if path.is_dir() else None
    for folder in [p for p in (checkpoint, path, path.parent, path.parent.parent) if p is not None]:
        if (folder / STATE_NAME).is_file():
            config = json.loads((folder / STATE_NAME).read_text()).get("config")
            if config:
                return config
        if (folder / "config.yaml").is_file():
            import yaml

            return yaml.safe_load((folder / "config.yaml").read_text())
    return None


def sample_distribution(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    """(task, difficulty, generate kwargs) for ``diffrl sample``: the flags, else the run config's data section."""
    data = (run_config_for(args.checkpoint) or {}).get("data") or {}
    tasks = list(data.get("tasks") or [])
    task = args.task
    if task is None:
        if len(tasks) != 1:
            found = f"the run trained on {tasks}" if tasks else "no run config was found beside the checkpoint"
            raise ValueError(f"--task is needed: {found}")
        task = tasks[0]
    difficulty = args.difficulty or data.get("difficulty") or "medium"
    all_kwargs = args.task_kwargs if args.task_kwargs is not None else (data.get("task_kwargs") or {})
    return task, difficulty, dict(all_kwargs.get(task, {}))


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
    """Sample one video per seed (seed s is the puzzle ``generate(s, ...)``, as in ``env.reset(seed=s)``),
    verify it, and write the mp4s and the shared results layout (eval_results.json, ...) to ``--out``."""
    from diffrl.data import EnvPromptSource, PromptItem, task_spec
    from diffrl.sampling import SamplingPlan, rollout, sample_generators
    from videorlvr.envs import cli as envs_cli
    from videorlvr.envs.evaluate import build_report, row_from_verdict
    from videorlvr.envs.progress import progress_bar
    from videorlvr.envs.video import write_video

    task, difficulty, kwargs = sample_distribution(args)
    policy = load_policy(args.checkpoint, args.config, ema=not args.no_ema)
    print(f"sampling {task} ({difficulty}, kwargs {kwargs}) at {policy.height}x{policy.width}")
    spec, plan, source, rows = task_spec(task), SamplingPlan.ode(args.steps, policy.shift), EnvPromptSource(), []
    with progress_bar(total=len(args.seeds), desc="sample", unit="video", disable=args.quiet) as bar:
        for start in range(0, len(args.seeds), args.batch_size):
            seeds = args.seeds[start:start + args.batch_size]
            puzzles = [spec.generate(seed, difficulty, **kwargs) for seed in seeds]
            items = [PromptItem(task, p, spec.prompt(p), seed) for p, seed in zip(puzzles, seeds)]
            frames = source.first_frames(items, policy.height, policy.width)
            conditions = policy.encode_conditions(frames, [item.prompt for item in items])
            latents = rollout(policy, conditions, plan, args.guidance, sample_generators(seeds)).final
            for seed, puzzle, video in zip(seeds, puzzles, policy.decode(latents)):
                path = write_video(args.out / f"{task}_{difficulty}_{seed}.mp4", video)
                rows.append(row_from_verdict(len(rows), task, spec.verify(puzzle, video), str(path), seed))
                bar.update()
    return envs_cli.finish_report(build_report(rows, video_dir=str(args.out)), args.out, args.allow_errors)


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    from videorlvr.envs import cli as envs_cli

    envs_cli.add_score_arguments(parser)
    group = parser.add_argument_group("generate the videos first, from a checkpoint")
    group.add_argument("--checkpoint", type=Path, help="policy/checkpoint/run folder: sample one video per CSV row")
    group.add_argument("--config", type=Path, help="run config to build the policy from (needed for wan)")
    group.add_argument("--steps", type=int, default=20, help="Euler steps")
    group.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale")
    group.add_argument("--batch-size", type=int, default=4, help="videos per sampling batch")
    group.add_argument("--no-ema", action="store_true", help="use the raw weights even if EMA weights exist")
    group.add_argument("--videos-out", type=Path, help="folder for the generated videos (default OUT/videos)")


def generate_for_rows(policy, rows: list[dict[str, str]], folder: Path, steps: int, guidance: float,
                      batch_size: int, progress: bool = True) -> int:
    """Sample one video per well-formed metadata row into ``folder`` (named so the scorer matches them);
    malformed rows are left for the scorer to report. Returns the number of videos written."""
    from diffrl.data import EnvPromptSource, PromptItem, task_spec
    from diffrl.sampling import SamplingPlan, rollout, sample_generators
    from videorlvr.envs.evaluate import output_name_for_row
    from videorlvr.envs.progress import progress_bar
    from videorlvr.envs.video import write_video

    jobs = []
    for index, row in enumerate(rows):
        try:
            task = (row.get("task_type") or row.get("task") or "").strip()
            spec = task_spec(task)
            puzzle = spec.puzzle_from_dict(json.loads(row.get("puzzle") or row.get("sokoban_metadata") or ""))
            name = Path(output_name_for_row(row)).with_suffix(".mp4").name
        except (ValueError, KeyError, TypeError, RuntimeError):
            continue
        jobs.append((PromptItem(task, puzzle, row.get("prompt") or spec.prompt(puzzle), index), name))
    plan, source = SamplingPlan.ode(steps, policy.shift), EnvPromptSource()
    for start in progress_bar(range(0, len(jobs), batch_size), desc="sample", unit="batch", disable=not progress):
        chunk = jobs[start:start + batch_size]
        items = [item for item, _ in chunk]
        conditions = policy.encode_conditions(source.first_frames(items, policy.height, policy.width),
                                              [item.prompt for item in items])
        final = rollout(policy, conditions, plan, guidance, sample_generators([it.index for it in items])).final
        for (_, name), video in zip(chunk, policy.decode(final)):
            write_video(folder / name, video)
    return len(jobs)


def run_eval(args: argparse.Namespace) -> int:
    from videorlvr.envs import cli as envs_cli
    from videorlvr.envs.export import read_metadata

    if args.checkpoint is None:
        return envs_cli.run_score(args)
    if args.video_dir is not None:
        raise ValueError("give either VIDEO_DIR (score existing videos) or --checkpoint (generate them), not both")
    policy = load_policy(args.checkpoint, args.config, ema=not args.no_ema)
    folder = args.videos_out or (args.out / "videos" if args.out is not None else None)
    if folder is None:
        raise ValueError("--checkpoint needs --out or --videos-out (where the generated videos go)")
    count = generate_for_rows(policy, read_metadata(args.metadata), folder, args.steps, args.guidance,
                              args.batch_size, progress=not args.quiet)
    print(f"generated {count} videos in {folder}")
    args.video_dir, args.height, args.width = folder, policy.height, policy.width
    return envs_cli.run_score(args)


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
    "data": (*_lazy_command("videorlvr.envs.cli", "export"), "export a dataset: oracle mp4s, first frames, metadata CSVs"),
    "eval": (add_eval_arguments, run_eval, "score model videos against a metadata CSV (or generate them first)"),
    "demo": (*_lazy_command("diffrl.demo", "demo"), "CPU demo: SFT, then GRPO vs continued SFT, held-out table"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s arguments are added (so other commands' modules stay unimported)."""
    from videorlvr import __version__
    from videorlvr.envs.cli import HelpFormatter

    parser = argparse.ArgumentParser(prog="diffrl", description="Flow-matching SDE-GRPO for video reasoning")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, _, help_text) in COMMANDS.items():
        subparser = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
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
