"""``python -m videorlvr.envs demo | export | score``: the environments' command line.

Each subcommand has an ``add_<name>_arguments(parser)`` and a ``run_<name>(args) -> int`` so that other
command lines (``diffrl data``, ``diffrl eval``) can reuse the same options.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from videorlvr.envs import TASK_NAMES, get_task
from videorlvr.envs.base import DIFFICULTIES
from videorlvr.envs.evaluate import cell_prf, evaluate_videos, write_report
from videorlvr.envs.export import (
    TEST_SEED_START,
    TRAIN_SEED_START,
    atomic_write_bytes,
    export_dataset,
    write_png_atomic,
)
from videorlvr.envs.video import DEFAULT_CRF, DEFAULT_FPS, read_video, write_video


def parse_counts(text: str) -> int | dict[str, int]:
    """``"100"`` -> 100 for every task; ``"maze=100,sokoban=20"`` -> per task (others get 0)."""
    if "=" not in text:
        return int(text)
    counts: dict[str, int] = {}
    for part in text.split(","):
        task, _, value = part.partition("=")
        if task.strip() not in TASK_NAMES:
            raise argparse.ArgumentTypeError(f"unknown task {task.strip()!r} in {text!r}")
        counts[task.strip()] = int(value)
    return counts


def _json_object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _add_size_arguments(parser: argparse.ArgumentParser, height: int, width: int, frames: int) -> None:
    parser.add_argument("--height", type=int, default=height, help=f"frame height in px (default {height})")
    parser.add_argument("--width", type=int, default=width, help=f"frame width in px (default {width})")
    parser.add_argument("--num-frames", type=int, default=frames, help=f"frames per video (default {frames})")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="DATA_ROOT: train/ and test/ go under it")
    parser.add_argument("--tasks", nargs="+", choices=TASK_NAMES, default=list(TASK_NAMES))
    parser.add_argument(
        "--train-count", type=parse_counts, default=10_000, help="rows per task: N or maze=N,..."
    )
    parser.add_argument("--test-count", type=parse_counts, default=100, help="rows per task: N or maze=N,...")
    parser.add_argument("--difficulties", nargs="+", choices=DIFFICULTIES, default=["medium"])
    _add_size_arguments(parser, 480, 832, 81)
    parser.add_argument("--fps", type=int, default=DEFAULT_FPS)
    parser.add_argument("--crf", type=int, default=DEFAULT_CRF, help="H.264 quality (lower = better)")
    parser.add_argument(
        "--task-kwargs", type=_json_object, default={}, help='e.g. \'{"maze": {"size": [4, 4]}}\''
    )
    parser.add_argument("--train-seed-start", type=int, default=TRAIN_SEED_START)
    parser.add_argument("--test-seed-start", type=int, default=TEST_SEED_START)
    parser.add_argument(
        "--workers", type=int, default=0, help="render in this many processes (0: in-process)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_export(args: argparse.Namespace) -> int:
    summary = export_dataset(
        args.out, tasks=args.tasks, train_count=args.train_count, test_count=args.test_count,
        difficulties=args.difficulties, height=args.height, width=args.width, num_frames=args.num_frames,
        fps=args.fps, crf=args.crf, task_kwargs=args.task_kwargs, train_seed_start=args.train_seed_start,
        test_seed_start=args.test_seed_start, num_workers=args.workers, progress=not args.quiet,
    )  # fmt: skip
    print(summary.format())
    return 0


def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "video_dir", nargs="?", type=Path, help="the model's videos (omit: the dataset's own)"
    )
    parser.add_argument("--metadata", required=True, type=Path, help="metadata CSV (e.g. DATA_ROOT/test/...)")
    parser.add_argument(
        "--data-root", type=Path, help="CSV paths must stay inside it (default: CSV's folder)"
    )
    parser.add_argument("--video-column", help="CSV column of video paths relative to VIDEO_DIR")
    parser.add_argument("--height", type=int, help="required frame height (default: the CSV's height column)")
    parser.add_argument("--width", type=int, help="required frame width (default: the CSV's width column)")
    parser.add_argument(
        "--resize", action="store_true", help="resize wrongly-sized videos instead of failing"
    )
    parser.add_argument("--workers", type=int, default=0, help="score in this many processes")
    parser.add_argument(
        "--out", type=Path, help="write eval_results.json, eval_rows.csv, eval_summary.csv here"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_score(args: argparse.Namespace) -> int:
    report = evaluate_videos(
        args.metadata, args.video_dir, data_root=args.data_root, video_column=args.video_column,
        height=args.height, width=args.width, resize=args.resize, num_workers=args.workers,
        progress=not args.quiet,
    )  # fmt: skip
    print(report.format())
    if args.out is not None:
        for path in write_report(report, args.out).values():
            print(f"wrote {path}")
    return 0


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    parser.add_argument("--tasks", nargs="+", choices=TASK_NAMES, default=list(TASK_NAMES))
    parser.add_argument("--seeds", type=int, default=2, help="puzzles per task (seeds 0..N-1)")
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default="medium")
    _add_size_arguments(parser, 480, 832, 81)


def run_demo(args: argparse.Namespace) -> int:
    """Render first frames and oracle mp4s, score them and a reversed copy, print a table."""
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    header = f"{'task':<9}{'seed':>5}  {'video':<9}{'success':>8}{'reward':>8}{'F1':>7}{'score s':>8}  reason"
    lines, records = [header, "-" * 72], []
    for task_name in args.tasks:
        task = get_task(task_name)
        for seed in range(args.seeds):
            puzzle = task.generate(seed, args.difficulty)
            stem = args.out / task_name / f"{task_name}_{args.difficulty}_{seed}"
            write_png_atomic(
                stem.with_suffix(".png"), task.render_first_frame(puzzle, args.height, args.width)
            )
            oracle = task.render_solution(puzzle, args.height, args.width, args.num_frames)
            if seed == 0:
                print(f"[{task_name}] prompt: {task.prompt(puzzle)}")
            for variant, video in (("oracle", oracle), ("reversed", oracle[::-1])):
                path = write_video(f"{stem}_{variant}.mp4", video)
                start = time.perf_counter()
                verdict = task.verify(puzzle, read_video(path))
                seconds = time.perf_counter() - start
                f1 = cell_prf(verdict.predicted_cells, verdict.oracle_cells)[2]
                lines.append(
                    f"{task_name:<9}{seed:>5}  {variant:<9}{verdict.success!s:>8}{verdict.reward:>8.3f}"
                    f"{f1:>7.2f}{seconds:>8.2f}  {verdict.reason or '-'}"
                )
                records.append({
                    "task": task_name, "seed": seed, "video": str(path), "success": verdict.success,
                    "reward": verdict.reward, "f1": f1, "reason": verdict.reason,
                    "components": dict(verdict.components), "puzzle": puzzle.to_dict(),
                })  # fmt: skip
    atomic_write_bytes(args.out / "demo_results.json", (json.dumps(records, indent=2) + "\n").encode())
    print("\n".join(lines))
    print(f"wrote first frames, videos and demo_results.json to {args.out}")
    return 0


COMMANDS = {
    "demo": (add_demo_arguments, run_demo, "render, score and tabulate oracle and reversed videos"),
    "export": (add_export_arguments, run_export, "export train/test datasets (mp4 + PNG + metadata CSV)"),
    "score": (add_score_arguments, run_score, "score a folder of model videos against a metadata CSV"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m videorlvr.envs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, _, help_text) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except ValueError as error:  # bad options or data: one line, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
