"""Follow-mode datasets: for each puzzle, a move list (with blocked moves) and the oracle follow video.

Layout written under ``data_root/follow`` (paths in the CSV relative to it)::

    metadata_follow.csv                            one row per episode
    videos/<task>/<task>_<difficulty>_<seed>.mp4   H.264 oracle follow video
    first_frames/<task>/<task>_<difficulty>_<seed>.png

Columns: ``video``, ``prompt`` (the follow prompt, moves included), ``task_type``, ``puzzle`` (JSON),
``moves`` (``udlr``), ``first_frame``, ``seed``, ``difficulty``, ``height``, ``width``, ``num_frames``.
Row ``i`` of a task is ``gym.make(<task id>, mode="follow", ...).reset(seed=seed_start + i)``. Files are
written atomically and finished ones are skipped, so an interrupted export resumes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from videorlvr.envs.export import write_csv_atomic, write_png_atomic
from videorlvr.envs.factory import make_env
from videorlvr.envs.follow_env import FOLLOW_TASKS
from videorlvr.envs.progress import progress_bar
from videorlvr.envs.video import DEFAULT_CRF, DEFAULT_FPS, write_video

FOLLOW_FOLDER = "follow"
FOLLOW_COLUMNS = ("video", "prompt", "task_type", "puzzle", "moves", "first_frame", "seed", "difficulty",
                  "height", "width", "num_frames")


def export_follow_dataset(
    data_root: str | os.PathLike,
    tasks: Sequence[str] = tuple(FOLLOW_TASKS),
    count: int = 100,
    difficulty: str = "medium",
    height: int = 480,
    width: int = 832,
    num_frames: int = 81,
    seed_start: int = 0,
    crf: int = DEFAULT_CRF,
    progress: bool = True,
) -> Path:
    """Write ``count`` follow episodes per task (see the module docstring); returns the CSV's path."""
    unknown = set(tasks) - set(FOLLOW_TASKS)
    if unknown:
        raise ValueError(f"follow mode is available for {sorted(FOLLOW_TASKS)}, not {sorted(unknown)}")
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    folder = Path(data_root) / FOLLOW_FOLDER
    rows = []
    jobs = [(task, seed_start + i) for task in tasks for i in range(count)]
    for task, seed in progress_bar(jobs, desc="follow export", unit="video", disable=not progress):
        env = make_env(task, mode="follow", difficulty=difficulty, height=height, width=width,
                       num_frames=num_frames)
        observation, info = env.reset(seed=seed)
        stem = f"{task}_{difficulty}_{seed:010d}"
        video = Path("videos") / task / f"{stem}.mp4"
        first_frame = Path("first_frames") / task / f"{stem}.png"
        if not (folder / video).is_file():
            write_video(folder / video, env.solution_video(), fps=DEFAULT_FPS, crf=crf)
        if not (folder / first_frame).is_file():
            write_png_atomic(folder / first_frame, observation["frame"])
        rows.append({
            "video": video.as_posix(), "prompt": observation["prompt"], "task_type": task,
            "puzzle": json.dumps(info["puzzle"], sort_keys=True), "moves": info["moves"],
            "first_frame": first_frame.as_posix(), "seed": seed, "difficulty": difficulty,
            "height": height, "width": width, "num_frames": num_frames,
        })
    path = folder / "metadata_follow.csv"
    write_csv_atomic(path, rows, FOLLOW_COLUMNS)
    return path

