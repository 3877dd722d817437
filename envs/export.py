"""Dataset export: oracle solution videos, first frames and DiffSynth-style metadata CSVs.

Layout written under ``data_root`` (paths inside a CSV are relative to that CSV's folder)::

    export_config.json                      render settings; a resume must use the same ones
    train/metadata_all.csv                  every task, rows interleaved round-robin
    train/metadata_<task>_only.csv          one task
    train/videos/<task>/<task>_<difficulty>_<seed>.mp4      H.264 oracle solution
    train/first_frames/<task>/<task>_<difficulty>_<seed>.png
    test/...                                the same, from a disjoint seed range, deduplicated by content

Every file (video, image, CSV, config) is written to a temp file and renamed into place, so a crash
never leaves a half-written file under a final name (with the mode the umask gives, 0644 under 022); re-running skips finished files and removes
leftover temp files.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2

from videorlvr.envs import TASK_NAMES, get_task
from videorlvr.envs.base import DIFFICULTIES
from videorlvr.envs.files import TEMP_MARK, atomic_write_bytes
from videorlvr.envs.progress import progress_bar
from videorlvr.envs.types import check_pace
from videorlvr.envs.video import DEFAULT_CRF, DEFAULT_FPS, write_video

SPLITS = ("train", "test")
TRAIN_SEED_START = 0
TEST_SEED_START = 2_000_000_000  # far above any train range and the trainer's default seed_range
SEED_LIMIT = 2**31 - 1  # exclusive; seeds must fit a 32-bit signed int (what the envs draw)
MAX_DUPLICATE_SKIPS = 1000  # per test row: give up if the puzzle space is too small to find a new one
METADATA_COLUMNS = (
    "video", "prompt", "task_type", "puzzle", "sokoban_metadata",
    "first_frame", "seed", "difficulty", "height", "width", "num_frames",
)  # fmt: skip
CONFIG_NAME = "export_config.json"


def metadata_name(task: str | None = None) -> str:
    """File name of a split's metadata CSV: ``metadata_all.csv`` or ``metadata_<task>_only.csv``."""
    return "metadata_all.csv" if task is None else f"metadata_{task}_only.csv"


def puzzle_content_key(puzzle_dict: Mapping[str, Any]) -> str:
    """A string equal for two puzzles exactly when they are the same puzzle, whatever their seed."""
    content = {key: value for key, value in puzzle_dict.items() if key not in ("seed", "difficulty")}
    return json.dumps(content, sort_keys=True, separators=(",", ":"))


def write_csv_atomic(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write rows (dicts) as a CSV with a header, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))


def read_metadata(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a metadata CSV as dicts (column -> text). ValueError if it is missing, unreadable or headerless.

    A row with more fields than the header keeps the extras as a list under the key ``None``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"metadata CSV not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            if not reader.fieldnames:
                raise ValueError(f"metadata CSV has no header: {path}")
            return list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"cannot read metadata CSV {path}: {error}") from error


def write_png_atomic(path: Path, image_rgb: Any) -> None:
    """Encode a uint8 (H, W, 3) RGB image as PNG and write it atomically."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"could not PNG-encode an image of shape {getattr(image_rgb, 'shape', None)}")
    atomic_write_bytes(path, encoded.tobytes())


@dataclass(frozen=True)
class RenderSettings:
    """What every exported video and image of one data root shares (checked again on resume)."""

    height: int = 480
    width: int = 832
    num_frames: int = 81
    fps: int = DEFAULT_FPS
    crf: int = DEFAULT_CRF
    task_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pace: str = "steady"  # how the oracle videos spread their moves (videorlvr.envs.types.PACES)

    def validate(self) -> None:
        check_pace(self.pace)
        for name in ("height", "width", "num_frames", "fps", "crf"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.height < 16 or self.width < 16 or self.height % 2 or self.width % 2:
            raise ValueError(f"height and width must be even and at least 16, got {self.height}x{self.width}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be at least 2, got {self.num_frames}")
        if not 1 <= self.fps <= 240:
            raise ValueError(f"fps must be in [1, 240], got {self.fps}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in [0, 51] (H.264), got {self.crf}")
        for task in self.task_kwargs:
            if task not in TASK_NAMES:
                raise ValueError(
                    f"task_kwargs names unknown task {task!r}; known tasks: {', '.join(TASK_NAMES)}"
                )

    def as_dict(self) -> dict[str, Any]:
        return {
            "height": self.height, "width": self.width, "num_frames": self.num_frames, "fps": self.fps,
            "crf": self.crf, "task_kwargs": {task: dict(kw) for task, kw in sorted(self.task_kwargs.items())},
            "pace": self.pace,
        }  # fmt: skip


@dataclass
class ExportSummary:
    """What an export run left on disk: rows per split and task, and how many files it (re)wrote."""

    data_root: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> task -> rows
    rendered: int = 0  # rows whose video/first frame were written by this run
    skipped: int = 0  # rows whose files were already finished
    csv_paths: list[Path] = field(default_factory=list)

    def format(self) -> str:
        tasks = sorted({task for per_split in self.counts.values() for task in per_split}, key=_task_order)
        header = f"{'split':<7}" + "".join(f"{task:>10}" for task in tasks) + f"{'total':>10}"
        lines = [f"dataset at {self.data_root}", header]
        for split, per_task in self.counts.items():
            cells = "".join(f"{per_task.get(task, 0):>10}" for task in tasks)
            lines.append(f"{split:<7}{cells}{sum(per_task.values()):>10}")
        lines.append(f"files written this run: {self.rendered} rows, already finished: {self.skipped} rows")
        return "\n".join(lines)


def _task_order(task: str) -> int:
    return TASK_NAMES.index(task) if task in TASK_NAMES else len(TASK_NAMES)


def _per_task_counts(count: int | Mapping[str, int], tasks: Sequence[str], what: str) -> dict[str, int]:
    counts = {task: count for task in tasks} if isinstance(count, int) else dict(count)
    for task, value in counts.items():
        if task not in tasks:
            raise ValueError(f"{what} names task {task!r} that is not exported (tasks: {', '.join(tasks)})")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{what} for {task!r} must be a non-negative int, got {value!r}")
    return {task: counts.get(task, 0) for task in tasks}


def _clean_temp_files(split_dir: Path) -> int:
    """Remove temp files a killed export left behind (ours only: hidden names with the temp mark)."""
    removed = 0
    if not split_dir.is_dir():
        return 0
    for path in split_dir.rglob(".*"):
        if path.is_file() and TEMP_MARK in path.name:
            path.unlink()
            removed += 1
    return removed


def _check_config(data_root: Path, settings: RenderSettings, seeds: Mapping[str, int]) -> None:
    """Refuse to resume into a data root exported with other render settings or seed ranges."""
    wanted = settings.as_dict() | {"seed_starts": dict(seeds)}
    path = data_root / CONFIG_NAME
    if path.is_file():
        found = {"pace": "steady"} | json.loads(path.read_text())  # roots from before pace existed are steady
        differing = sorted(key for key in wanted.keys() | found.keys() if wanted.get(key) != found.get(key))
        if differing:
            details = ", ".join(
                f"{key}: {found.get(key)!r} there vs {wanted.get(key)!r} now" for key in differing
            )
            raise ValueError(f"{data_root} was exported with other settings ({details}); use a new folder")
    else:
        atomic_write_bytes(path, (json.dumps(wanted, indent=2, sort_keys=True) + "\n").encode())


def _row_stem(task: str, difficulty: str, seed: int) -> str:
    return f"{task}_{difficulty}_{seed:010d}"


def _export_row(job: tuple[str, str, str, int, dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Generate one puzzle and write its video and first frame unless they exist. Returns (row, wrote)."""
    split_dir, task_name, difficulty, seed, settings = job
    task = get_task(task_name)
    kwargs = settings["task_kwargs"].get(task_name, {})
    puzzle = task.generate(seed, difficulty, **kwargs)
    height, width, num_frames = settings["height"], settings["width"], settings["num_frames"]
    stem = _row_stem(task_name, difficulty, seed)
    video_rel = f"videos/{task_name}/{stem}.mp4"
    frame_rel = f"first_frames/{task_name}/{stem}.png"
    video_path, frame_path = Path(split_dir) / video_rel, Path(split_dir) / frame_rel
    wrote = False
    if not frame_path.is_file():
        write_png_atomic(frame_path, task.render_first_frame(puzzle, height, width))
        wrote = True
    if not video_path.is_file():
        video = task.render_solution(puzzle, height, width, num_frames, pace=settings["pace"])
        write_video(video_path, video, fps=settings["fps"], crf=settings["crf"])
        wrote = True
    puzzle_json = json.dumps(puzzle.to_dict(), sort_keys=True)
    row = {
        "video": video_rel, "prompt": task.prompt(puzzle), "task_type": task_name, "puzzle": puzzle_json,
        "sokoban_metadata": puzzle_json if task_name == "sokoban" else "",
        "first_frame": frame_rel, "seed": seed, "difficulty": difficulty,
        "height": height, "width": width, "num_frames": num_frames,
    }  # fmt: skip
    return row, wrote


def _worker_init() -> None:
    cv2.setNumThreads(1)


def _run_jobs(
    jobs: list, num_workers: int, desc: str, progress: bool
) -> Iterator[tuple[dict[str, Any], bool]]:
    bar = progress_bar(total=len(jobs), desc=desc, unit="video", disable=not progress)
    try:
        if num_workers <= 0 or len(jobs) <= 1:
            for job in jobs:
                yield _export_row(job)
                bar.update()
            return
        # spawn, not fork: callers (the trainer) may hold torch threads, which fork can deadlock.
        with ProcessPoolExecutor(
            num_workers, mp_context=get_context("spawn"), initializer=_worker_init
        ) as pool:
            for result in pool.map(
                _export_row, jobs, chunksize=max(1, min(8, len(jobs) // (4 * num_workers)))
            ):
                yield result
                bar.update()
    finally:
        bar.close()


def _test_seeds(
    task_name: str, count: int, difficulties: Sequence[str], seed_start: int,
    kwargs: Mapping[str, Any], seen: set[str],
) -> list[tuple[str, int]]:  # fmt: skip
    """(difficulty, seed) of ``count`` test puzzles whose content is not in ``seen`` (nor repeated)."""
    task = get_task(task_name)
    chosen: list[tuple[str, int]] = []
    seed = seed_start
    for index in range(count):
        difficulty = difficulties[index % len(difficulties)]
        for _ in range(MAX_DUPLICATE_SKIPS):
            if seed >= SEED_LIMIT:
                raise ValueError(f"test seeds for {task_name} ran past {SEED_LIMIT}; lower test_seed_start")
            key = puzzle_content_key(task.generate(seed, difficulty, **kwargs).to_dict())
            seed += 1
            if key not in seen:
                seen.add(key)
                chosen.append((difficulty, seed - 1))
                break
        else:
            raise ValueError(
                f"{task_name} ({difficulty}): {MAX_DUPLICATE_SKIPS} test seeds in a row repeated a train or test "
                f"puzzle; the puzzle space is too small for {count} distinct test puzzles"
            )
    return chosen


def _interleave(per_task: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows of all tasks round-robin (maze 0, flowfree 0, sokoban 0, maze 1, ...)."""
    longest = max((len(rows) for rows in per_task.values()), default=0)
    return [rows[i] for i in range(longest) for rows in per_task.values() if i < len(rows)]


def export_dataset(
    data_root: str | os.PathLike,
    *,
    tasks: Sequence[str] | None = None,
    train_count: int | Mapping[str, int] = 10_000,
    test_count: int | Mapping[str, int] = 100,
    difficulties: Sequence[str] = ("medium",),
    height: int = 480,
    width: int = 832,
    num_frames: int = 81,
    fps: int = DEFAULT_FPS,
    crf: int = DEFAULT_CRF,
    task_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    pace: str = "steady",
    train_seed_start: int = TRAIN_SEED_START,
    test_seed_start: int = TEST_SEED_START,
    num_workers: int = 0,
    progress: bool = True,
) -> ExportSummary:
    """Export train and test splits of oracle videos, first frames and metadata CSVs (resumable).

    ``train_count``/``test_count``: rows per task (an int for all, or ``{task: n}``). Row ``i`` of a task
    uses ``difficulties[i % len(difficulties)]``. Train row ``i`` has seed ``train_seed_start + i``; test
    rows take seeds upward from ``test_seed_start``, skipping any puzzle whose content equals a train
    puzzle or an earlier test puzzle. ``task_kwargs``: extra ``generate`` kwargs per task, e.g.
    ``{"maze": {"size": [4, 4]}}``. ``pace``: how the oracle videos spread their moves over the frames
    (``"steady"`` or ``"eager"``, see ``videorlvr.envs.types.PACES``). ``num_workers > 0`` renders in
    that many processes.
    """
    data_root = Path(data_root)
    tasks = tuple(TASK_NAMES if tasks is None else tasks)
    if not tasks or len(set(tasks)) != len(tasks) or any(task not in TASK_NAMES for task in tasks):
        raise ValueError(f"tasks must be distinct names from {TASK_NAMES}, got {tasks}")
    difficulties = tuple(difficulties)
    if not difficulties or any(d not in DIFFICULTIES for d in difficulties):
        raise ValueError(f"difficulties must be a non-empty list from {DIFFICULTIES}, got {difficulties}")
    settings = RenderSettings(height, width, num_frames, fps, crf, dict(task_kwargs or {}), pace)
    settings.validate()
    for task in tasks:  # the checks env construction makes: kwargs known, frames enough for every preset
        for difficulty in difficulties:
            get_task(task).validate(difficulty, height, width, num_frames, **settings.task_kwargs.get(task, {}))
    train_counts = _per_task_counts(train_count, tasks, "train_count")
    test_counts = _per_task_counts(test_count, tasks, "test_count")
    train_end = train_seed_start + max(train_counts.values())
    if train_seed_start < 0 or train_end > test_seed_start or test_seed_start >= SEED_LIMIT:
        raise ValueError(
            f"need disjoint seed ranges 0 <= train [{train_seed_start}, {train_end}) <= test_seed_start "
            f"({test_seed_start}) < {SEED_LIMIT}"
        )

    data_root.mkdir(parents=True, exist_ok=True)
    _check_config(data_root, settings, {"train": train_seed_start, "test": test_seed_start})
    job_settings = settings.as_dict()
    summary = ExportSummary(data_root=data_root)
    seen: set[str] = set()
    for split in SPLITS:
        split_dir = data_root / split
        _clean_temp_files(split_dir)
        if split == "train":
            plan = {
                task: [
                    (difficulties[i % len(difficulties)], train_seed_start + i)
                    for i in range(train_counts[task])
                ]
                for task in tasks
            }
        else:
            plan = {
                task: _test_seeds(task, test_counts[task], difficulties, test_seed_start,
                                  settings.task_kwargs.get(task, {}), seen)
                for task in tasks
            }  # fmt: skip
        jobs = [(str(split_dir), task, d, seed, job_settings) for task in tasks for d, seed in plan[task]]
        per_task: dict[str, list[dict[str, Any]]] = {task: [] for task in tasks}
        for row, wrote in _run_jobs(jobs, num_workers, f"export {split}", progress):
            per_task[row["task_type"]].append(row)
            if split == "train":
                seen.add(puzzle_content_key(json.loads(row["puzzle"])))
            summary.rendered += wrote
            summary.skipped += not wrote
        for task in tasks:
            path = split_dir / metadata_name(task)
            write_csv_atomic(path, per_task[task], METADATA_COLUMNS)
            summary.csv_paths.append(path)
        path = split_dir / metadata_name()
        write_csv_atomic(path, _interleave(per_task), METADATA_COLUMNS)
        summary.csv_paths.append(path)
        summary.counts[split] = {task: len(rows) for task, rows in per_task.items()}
    return summary
