"""``python -m videorlvr.envs demo | export | score | overlay``: the environments' command line.

Each subcommand has an ``add_<name>_arguments(parser)`` and a ``run_<name>(args) -> int`` so that other
command lines (``diffrl data``, ``diffrl eval``) reuse the same options. One meaning per flag across
commands: ``--seeds`` is a list of puzzle seeds, ``--task-kwargs`` is per task (``{"maze": {"size": [4, 4]}}``),
``--out`` is a folder, ``--quiet`` turns progress bars off. Commands that score videos write the same
results layout (:func:`videorlvr.envs.evaluate.write_report`) and exit 1 when a row could not be scored
(``--allow-errors`` to exit 0); bad options exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from videorlvr import __version__
from videorlvr.envs import TASK_NAMES, get_task
from videorlvr.envs.base import DIFFICULTIES
from videorlvr.envs.evaluate import (
    EvaluationReport,
    build_report,
    evaluate_videos,
    row_from_verdict,
    write_report,
)
from videorlvr.envs.export import TEST_SEED_START, TRAIN_SEED_START, export_dataset, write_png_atomic
from videorlvr.envs.progress import progress_bar
from videorlvr.envs.types import PACES
from videorlvr.envs.video import DEFAULT_CRF, DEFAULT_FPS, read_video, write_video

DEMO_OUT = Path("envs_demo_out")  # diffrl demo writes to demo_out: the two never share a folder


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


def parse_task_kwargs(text: str) -> dict[str, dict]:
    """``--task-kwargs``: a JSON object of per-task ``generate`` kwargs, ``{"maze": {"size": [4, 4]}}``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"--task-kwargs is not valid JSON: {error}") from error
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError(f'expected {{"task": {{kwarg: value}}, ...}}, got {text!r}')
    unknown = sorted(set(value) - set(TASK_NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(f"--task-kwargs names unknown tasks {unknown}; tasks: {', '.join(TASK_NAMES)}")
    return value


def add_task_kwargs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task-kwargs", type=parse_task_kwargs, default={},
        help='generate() kwargs per task, e.g. \'{"maze": {"size": [4, 4]}}\'',
    )  # fmt: skip


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_allow_errors_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-errors", action="store_true", help="exit 0 even when some rows could not be scored"
    )


def finish_report(report: EvaluationReport, out: Path | None, allow_errors: bool) -> int:
    """Print the table, write the results under ``out``; 1 if any row could not be scored (unless allowed)."""
    print(report.format())
    if out is not None:
        for path in write_report(report, out).values():
            print(f"wrote {path}")
    if report.overall.errors and not allow_errors:
        print(f"error: {report.overall.errors} of {report.overall.rows} rows could not be scored "
              "(--allow-errors to exit 0)", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _add_size_arguments(parser: argparse.ArgumentParser, height: int, width: int, frames: int) -> None:
    parser.add_argument("--height", type=int, default=height, help="frame height in px")
    parser.add_argument("--width", type=int, default=width, help="frame width in px")
    parser.add_argument("--num-frames", type=int, default=frames, help="frames per video")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="DATA_ROOT: train/ and test/ go under it")
    parser.add_argument("--tasks", nargs="+", choices=TASK_NAMES, default=list(TASK_NAMES), help="tasks to export")
    parser.add_argument(
        "--train-count", type=parse_counts, default=10_000, help="rows per task: N or maze=N,..."
    )
    parser.add_argument("--test-count", type=parse_counts, default=100, help="rows per task: N or maze=N,...")
    parser.add_argument(
        "--difficulties", nargs="+", choices=DIFFICULTIES, default=["medium"], help="row i uses the (i mod n)-th"
    )
    _add_size_arguments(parser, 480, 832, 81)
    parser.add_argument("--fps", type=int, default=DEFAULT_FPS, help="frames per second of the mp4s")
    parser.add_argument("--crf", type=int, default=DEFAULT_CRF, help="H.264 quality (lower = better)")
    add_task_kwargs_argument(parser)
    parser.add_argument(
        "--pace", choices=PACES, default="steady",
        help="oracle videos spread their moves over the video (steady) or move from frame 1 (eager)",
    )  # fmt: skip
    parser.add_argument("--train-seed-start", type=int, default=TRAIN_SEED_START, help="seed of train row 0")
    parser.add_argument(
        "--test-seed-start", type=int, default=TEST_SEED_START, help="test seeds count up from here"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="render in this many processes (0: in-process)"
    )
    parser.add_argument(
        "--hf", action="store_true",
        help='also write the Hugging Face layout under DATA_ROOT/hf (needs pip install "videorlvr[hf]")',
    )  # fmt: skip
    parser.add_argument(
        "--follow-count", type=int, default=0,
        help="also export this many follow-mode episodes per task (maze, sokoban) under DATA_ROOT/follow",
    )  # fmt: skip
    add_quiet_argument(parser)


def run_export(args: argparse.Namespace) -> int:
    summary = export_dataset(
        args.out, tasks=args.tasks, train_count=args.train_count, test_count=args.test_count,
        difficulties=args.difficulties, height=args.height, width=args.width, num_frames=args.num_frames,
        fps=args.fps, crf=args.crf, task_kwargs=args.task_kwargs, pace=args.pace,
        train_seed_start=args.train_seed_start, test_seed_start=args.test_seed_start, num_workers=args.workers,
        progress=not args.quiet,
    )  # fmt: skip
    print(summary.format())
    if args.follow_count:
        from videorlvr.envs.follow_env import FOLLOW_TASKS
        from videorlvr.envs.follow_export import export_follow_dataset

        tasks = [task for task in args.tasks if task in FOLLOW_TASKS]
        path = export_follow_dataset(
            args.out, tasks=tasks, count=args.follow_count, difficulty=args.difficulties[0], height=args.height,
            width=args.width, num_frames=args.num_frames, crf=args.crf, progress=not args.quiet,
        )  # fmt: skip
        print(f"follow-mode episodes ({', '.join(tasks)}): {path}")
    if args.hf:
        from videorlvr.envs.hf_dataset import write_hf_dataset

        print(f"Hugging Face layout: {write_hf_dataset(args.out)}  (datasets.load_dataset(path) reads it)")
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
    parser.add_argument(
        "--height", type=int,
        help="score at this frame height (default: the CSV's height column); other sizes are letterboxed",
    )  # fmt: skip
    parser.add_argument("--width", type=int, help="score at this frame width (default: the CSV's width column)")
    parser.add_argument("--workers", type=int, default=0, help="score in this many processes")
    parser.add_argument(
        "--out", type=Path, help="write eval_results.json, eval_rows.csv, eval_summary.csv here"
    )
    add_allow_errors_argument(parser)
    add_quiet_argument(parser)


def run_score(args: argparse.Namespace) -> int:
    report = evaluate_videos(
        args.metadata, args.video_dir, data_root=args.data_root, video_column=args.video_column,
        height=args.height, width=args.width, num_workers=args.workers, progress=not args.quiet,
    )  # fmt: skip
    return finish_report(report, args.out, args.allow_errors)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEMO_OUT, help="output folder")
    parser.add_argument("--tasks", nargs="+", choices=TASK_NAMES, default=list(TASK_NAMES), help="tasks to show")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="puzzle seeds")
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default="medium", help="difficulty preset")
    add_task_kwargs_argument(parser)
    _add_size_arguments(parser, 480, 832, 81)
    add_allow_errors_argument(parser)
    add_quiet_argument(parser)


def run_demo(args: argparse.Namespace) -> int:
    """Render first frames and oracle mp4s, score them and a reversed copy, write overlays, print a table."""
    from videorlvr.envs.overlay import verdict_video

    for task_name in args.tasks:  # what env construction checks: kwargs known, enough frames for the preset
        get_task(task_name).validate(args.difficulty, args.height, args.width, args.num_frames,
                                     **args.task_kwargs.get(task_name, {}))  # fmt: skip
    jobs = [(task, seed) for task in args.tasks for seed in args.seeds]
    rows = []
    for task_name, seed in progress_bar(jobs, desc="demo", unit="puzzle", disable=args.quiet):
        task = get_task(task_name)
        puzzle = task.generate(seed, args.difficulty, **args.task_kwargs.get(task_name, {}))
        stem = args.out / task_name / f"{task_name}_{args.difficulty}_{seed}"
        write_png_atomic(stem.with_suffix(".png"), task.render_first_frame(puzzle, args.height, args.width))
        oracle = task.render_solution(puzzle, args.height, args.width, args.num_frames)
        if seed == args.seeds[0]:
            print(f"[{task_name}] prompt: {task.prompt(puzzle)}")
        for variant, video in (("oracle", oracle), ("reversed", oracle[::-1])):
            path = write_video(f"{stem}_{variant}.mp4", video)
            scored = read_video(path)
            verdict = task.verify(puzzle, scored)
            write_video(f"{stem}_{variant}_overlay.mp4", verdict_video(scored, puzzle, verdict))
            rows.append(row_from_verdict(len(rows), task_name, verdict, str(path), seed))
    report = build_report(rows, video_dir=str(args.out))
    for row in rows:
        print(f"{row.task:<9}{row.seed:>5}  {Path(row.video).stem:<32}{row.success!s:>6}{row.reward:>7.3f}  "
              f"{row.reason or '-'}")  # fmt: skip
    print(f"first frames, videos and *_overlay.mp4 pictures of each verdict are in {args.out}")
    return finish_report(report, args.out, args.allow_errors)


def add_overlay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="the scored video (any size; fitted like score does)")
    source = parser.add_argument_group("the puzzle: a metadata CSV row, or a task and seed")
    source.add_argument("--metadata", type=Path, help="metadata CSV; the row is found by the video's file name")
    source.add_argument("--row", type=int, help="0-based CSV row instead of matching by file name")
    source.add_argument("--task", choices=TASK_NAMES, help="the puzzle's task (with --seed)")
    source.add_argument("--seed", type=int, help="the puzzle's seed")
    source.add_argument("--difficulty", choices=DIFFICULTIES, default="medium", help="difficulty preset")
    add_task_kwargs_argument(source)
    _add_size_arguments(parser, 480, 832, 81)
    parser.add_argument("--out", type=Path, help="output mp4 (default: VIDEO_overlay.mp4); a PNG beside it")


def run_overlay(args: argparse.Namespace) -> int:
    """Score one video and write the verdict drawn on every frame (mp4) and on the first frame (PNG)."""
    from videorlvr.envs.overlay import draw_verdict, verdict_video

    task_name, puzzle, size = _overlay_puzzle(args)
    task = get_task(task_name)
    video = read_video(args.video, *size)
    verdict = task.verify(puzzle, video)
    out = args.out or args.video.with_name(f"{args.video.stem}_overlay.mp4")
    write_video(out, verdict_video(video, puzzle, verdict))
    picture = draw_verdict(task.render_first_frame(puzzle, *size), puzzle, verdict, len(video))
    write_png_atomic(out.with_suffix(".png"), picture)
    print(f"success={verdict.success} reward={verdict.reward:.3f} {verdict.reason or ''}".rstrip())
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def _overlay_puzzle(args: argparse.Namespace) -> tuple[str, object, tuple[int, int]]:
    """(task, puzzle, (height, width)) from ``--metadata`` (+ ``--row``) or ``--task --seed``."""
    size = (args.height, args.width)
    if args.metadata is None:
        if args.task is None or args.seed is None:
            raise ValueError("give --metadata CSV (the video's row), or --task and --seed")
        task = get_task(args.task)
        return args.task, task.generate(args.seed, args.difficulty, **args.task_kwargs.get(args.task, {})), size
    from videorlvr.envs.evaluate import output_name_for_row
    from videorlvr.envs.export import read_metadata

    rows = read_metadata(args.metadata)
    if args.row is not None:
        if not 0 <= args.row < len(rows):
            raise ValueError(f"--row {args.row} is outside the CSV's {len(rows)} rows")
        row = rows[args.row]
    else:
        matches = [r for r in rows if Path(output_name_for_row(r)).stem == args.video.stem]
        if len(matches) != 1:
            raise ValueError(f"{len(matches)} rows of {args.metadata} match {args.video.name}; give --row")
        row = matches[0]
    task_name = row.get("task_type") or row.get("task") or ""
    task = get_task(task_name)
    puzzle = task.puzzle_from_dict(json.loads(row.get("puzzle") or row.get("sokoban_metadata") or "{}"))
    if row.get("height") and row.get("width"):
        size = (int(row["height"]), int(row["width"]))
    return task_name, puzzle, size


COMMANDS = {
    "demo": (add_demo_arguments, run_demo, "render, score and tabulate oracle and reversed videos"),
    "export": (add_export_arguments, run_export, "export train/test datasets (mp4 + PNG + metadata CSV)"),
    "score": (add_score_arguments, run_score, "score a folder of model videos against a metadata CSV"),
    "overlay": (add_overlay_arguments, run_overlay, "draw a video's verdict on it: an mp4 and a PNG"),
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default, except where there is none (required options, flags, None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or any(action.default is none for none in (None, False, argparse.SUPPRESS)):
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m videorlvr.envs", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, _, help_text) in COMMANDS.items():
        add_arguments(sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=HelpFormatter
        ))  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except ValueError as error:  # bad options or data: one line, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
