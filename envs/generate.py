"""Generate one answer video per metadata row with any model, named so :mod:`videorlvr.envs.evaluate` finds it.

The model is a plain callable, so this module knows nothing about models::

    def model(first_frames: np.ndarray, prompts: list[str], rows: list[int]) -> np.ndarray:
        # first_frames: uint8 (B, H, W, 3); rows: the CSV row indices (e.g. to seed each sample by its row,
        # so results do not depend on batching or resuming); returns videos (B, T, H, W, 3), uint8 or
        # float in [0, 1]
        ...

    paths = generate_videos("DATA_ROOT/test/metadata_all.csv", "outputs/videos", model, height=480, width=832)
    report = evaluate_videos("DATA_ROOT/test/metadata_all.csv", "outputs/videos", height=480, width=832)

Rows whose video already exists are skipped (resumable); each video is written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from videorlvr.envs import get_task
from videorlvr.envs.evaluate import output_name_for_row, resolve_inside
from videorlvr.envs.export import read_metadata
from videorlvr.envs.progress import progress_bar
from videorlvr.envs.video import DEFAULT_FPS, as_video, write_video

VideoModel = Callable[
    [np.ndarray, Sequence[str]], object
]  # (first_frames, prompts) -> videos (B, T, H, W, 3)


def first_frame_for_row(row: dict[str, str], root: Path, height: int, width: int) -> np.ndarray:
    """uint8 (height, width, 3): the row's first-frame PNG if it has that size, else rendered from the puzzle."""
    if row.get("first_frame"):
        image = cv2.imread(str(resolve_inside(root, row["first_frame"])), cv2.IMREAD_COLOR)
        if image is not None and image.shape[:2] == (height, width):
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    task = get_task(row["task_type"])
    return task.render_first_frame(task.puzzle_from_dict(json.loads(row["puzzle"])), height, width)


def generate_videos(
    metadata_csv: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: VideoModel,
    *,
    height: int,
    width: int,
    batch_size: int = 1,
    data_root: str | os.PathLike | None = None,
    fps: int = DEFAULT_FPS,
    limit: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Call ``model`` on the first frame and prompt of every row (in batches) and write its videos.

    Videos go to ``out_dir/<file name of the row's video>`` (see :func:`~videorlvr.envs.evaluate.output_name_for_row`);
    existing ones are kept. ``limit``: only the first N rows. Returns the video path of every row handled.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    metadata_csv, out = Path(metadata_csv), Path(out_dir)
    root = Path(data_root) if data_root is not None else metadata_csv.parent
    rows = read_metadata(metadata_csv)[:limit]
    paths = [out / output_name_for_row(row) for row in rows]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{metadata_csv} has rows whose videos share a file name; names must be unique")
    todo = [index for index, path in enumerate(paths) if not path.is_file()]
    with progress_bar(total=len(todo), desc="generate", unit="video", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            frames = np.stack([first_frame_for_row(rows[i], root, height, width) for i in batch])
            videos = model(frames, [rows[i]["prompt"] for i in batch], list(batch))
            if len(videos) != len(batch):
                raise ValueError(f"the model returned {len(videos)} videos for a batch of {len(batch)}")
            for index, video in zip(batch, videos, strict=True):
                write_video(paths[index], as_video(video), fps=fps)
            bar.update(len(batch))
    return paths
