"""Dataset export: layout, CSV columns, disjoint and deduplicated splits, crash-safe resume."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from videorlvr import envs
from videorlvr.envs.evaluate import evaluate_videos
from videorlvr.envs.export import (
    CONFIG_NAME,
    METADATA_COLUMNS,
    _test_seeds,
    export_dataset,
    metadata_name,
    puzzle_content_key,
    read_metadata,
)
from videorlvr.envs.video import read_video

SIZE = {"height": 240, "width": 416, "num_frames": 81}  # 81: enough frames for every preset
MAZE_SIZE = {"height": 240, "width": 416, "num_frames": 33}  # medium mazes need up to 20 frames
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    export_dataset(root, train_count=2, test_count=1, difficulties=["easy", "medium"], progress=False, **SIZE)
    return root


def _fingerprints(root: Path) -> dict[str, tuple[int, str]]:
    """(mtime_ns, sha256) of every finished video and image under root."""
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in root.rglob("*")
        if path.suffix in (".mp4", ".png") and not path.name.startswith(".")
    }


def _content_keys(rows: list[dict]) -> set[str]:
    return {puzzle_content_key(json.loads(row["puzzle"])) for row in rows}


def test_export_writes_the_published_layout(dataset):
    for split in ("train", "test"):
        assert (dataset / split / "metadata_all.csv").is_file()
        for task in envs.TASK_NAMES:
            assert (dataset / split / metadata_name(task)).is_file()
    assert (dataset / "train" / "metadata_maze_only.csv").is_file()
    assert json.loads((dataset / CONFIG_NAME).read_text())["height"] == SIZE["height"]


def test_metadata_rows_reference_existing_files_by_relative_path(dataset):
    rows = read_metadata(dataset / "train" / "metadata_all.csv")
    with (dataset / "train" / "metadata_all.csv").open() as file:
        assert tuple(csv.DictReader(file).fieldnames) == METADATA_COLUMNS
    assert len(rows) == 2 * len(envs.TASK_NAMES)
    assert [row["task_type"] for row in rows[: len(envs.TASK_NAMES)]] == list(envs.TASK_NAMES)  # interleaved
    for row in rows:
        for column in ("video", "first_frame"):
            assert not Path(row[column]).is_absolute() and ".." not in row[column]
            assert (dataset / "train" / row[column]).is_file()
        puzzle = json.loads(row["puzzle"])
        assert puzzle == envs.get_task(row["task_type"]).puzzle_from_dict(puzzle).to_dict()
        assert row["prompt"] and row["difficulty"] in ("easy", "medium")
        assert (row["sokoban_metadata"] == row["puzzle"]) == (row["task_type"] == "sokoban")
    first = rows[0]
    assert read_video(dataset / "train" / first["video"]).shape == (81, 240, 416, 3)
    task = envs.get_task(first["task_type"])
    rendered = task.render_first_frame(task.puzzle_from_dict(json.loads(first["puzzle"])), 240, 416)
    png = cv2.cvtColor(cv2.imread(str(dataset / "train" / first["first_frame"])), cv2.COLOR_BGR2RGB)
    assert np.array_equal(png, rendered)


def test_per_task_csv_holds_only_that_task(dataset):
    for task in envs.TASK_NAMES:
        rows = read_metadata(dataset / "train" / metadata_name(task))
        assert len(rows) == 2 and {row["task_type"] for row in rows} == {task}
    sokoban = read_metadata(dataset / "train" / metadata_name("sokoban"))
    assert all(json.loads(row["sokoban_metadata"]) == json.loads(row["puzzle"]) for row in sokoban)


def test_train_and_test_splits_share_no_seed_and_no_puzzle(dataset):
    train = read_metadata(dataset / "train" / "metadata_all.csv")
    test = read_metadata(dataset / "test" / "metadata_all.csv")
    assert len(test) == len(envs.TASK_NAMES)
    for task in envs.TASK_NAMES:
        train_seeds = {int(r["seed"]) for r in train if r["task_type"] == task}
        test_seeds = {int(r["seed"]) for r in test if r["task_type"] == task}
        assert max(train_seeds) < min(test_seeds)
    assert not _content_keys(train) & _content_keys(test)


@pytest.mark.parametrize("split", ["train", "test"])
def test_exported_oracle_videos_all_succeed_when_rescored(dataset, split):
    report = evaluate_videos(dataset / split / "metadata_all.csv", progress=False)
    assert report.overall.errors == 0, report.format()
    assert report.overall.success_rate == 1.0, report.format()
    assert report.overall.f1 == 1.0
    assert set(report.per_task) == set(envs.TASK_NAMES)


def test_test_seeds_skip_a_puzzle_already_in_train():
    maze = envs.get_task("maze")
    start = 5_000
    seen = {puzzle_content_key(maze.generate(start, "easy").to_dict())}
    chosen = _test_seeds("maze", 2, ["easy"], start, {}, seen)
    assert [seed for _, seed in chosen] == [start + 1, start + 2]
    assert len(seen) == 3


def test_rerun_skips_finished_files(dataset):
    before = _fingerprints(dataset)
    summary = export_dataset(
        dataset, train_count=2, test_count=1, difficulties=["easy", "medium"], progress=False, **SIZE
    )
    assert summary.rendered == 0 and summary.skipped == 3 * len(envs.TASK_NAMES)
    assert _fingerprints(dataset) == before
    assert summary.counts["train"] == {task: 2 for task in envs.TASK_NAMES}
    assert "train" in summary.format()


def test_resume_refuses_other_render_settings(dataset):
    with pytest.raises(ValueError, match="height"):
        export_dataset(dataset, train_count=2, test_count=1, progress=False, **(SIZE | {"height": 256}))


def test_resume_refuses_another_pace_and_reads_a_root_without_one_as_steady(dataset):
    with pytest.raises(ValueError, match="pace: 'steady' there vs 'eager' now"):
        export_dataset(dataset, train_count=2, test_count=1, difficulties=["easy", "medium"], progress=False,
                       pace="eager", **SIZE)  # fmt: skip
    config_path = dataset / CONFIG_NAME
    written = config_path.read_text()
    try:  # a root exported before pace existed
        config_path.write_text(json.dumps({k: v for k, v in json.loads(written).items() if k != "pace"}))
        summary = export_dataset(dataset, train_count=2, test_count=1, difficulties=["easy", "medium"],
                                 progress=False, **SIZE)  # fmt: skip
        assert summary.rendered == 0
    finally:
        config_path.write_text(written)


def test_eager_export_writes_the_eager_oracle_and_it_rescores(tmp_path):
    tiny = {"height": 48, "width": 48, "num_frames": 7}
    export_dataset(tmp_path, tasks=["maze"], train_count=2, test_count=1, difficulties=["easy"], pace="eager",
                   task_kwargs={"maze": {"size": [4, 4], "path_length": [1, 3]}}, progress=False, **tiny)  # fmt: skip
    maze = envs.get_task("maze")
    for row in read_metadata(tmp_path / "train" / "metadata_all.csv"):
        puzzle = maze.generate(int(row["seed"]), "easy", size=[4, 4], path_length=[1, 3])
        written = read_video(tmp_path / "train" / row["video"])
        eager = maze.render_solution(puzzle, pace="eager", **tiny)
        steady = maze.render_solution(puzzle, pace="steady", **tiny)
        error = np.abs(written.astype(int) - eager).max()  # lossless H.264 4:4:4 at this size, up to RGB rounding
        assert error <= 4 < np.abs(written.astype(int) - steady).max(), error
    report = evaluate_videos(tmp_path / "test" / "metadata_all.csv", progress=False)
    assert report.overall.success_rate == 1.0, report.format()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"train_count": 10, "train_seed_start": 0, "test_seed_start": 5},
        {"difficulties": ["impossible"]},
        {"height": 241},
        {"tasks": ["chess"]},
        {"train_count": {"maze": -1}},
        {"task_kwargs": {"chess": {}}},
        {"task_kwargs": {"maze": {"colour": "red"}}},
        {"num_frames": 17, "difficulties": ["hard"]},  # too few frames for the preset's longest oracle
        {"pace": "fast"},
    ],
)
def test_export_rejects_bad_options(tmp_path, kwargs):
    with pytest.raises(ValueError):
        export_dataset(tmp_path, **({"tasks": ["maze"], "test_count": 0, **SIZE} | kwargs), progress=False)


def test_resume_after_a_killed_export_keeps_finished_files_and_completes(tmp_path):
    root = tmp_path / "data"
    command = [sys.executable, "-m", "videorlvr.envs", "export", "--out", str(root), "--tasks", "maze",
               "--train-count", "60", "--test-count", "2", "--height", "240", "--width", "416",
               "--num-frames", str(MAZE_SIZE["num_frames"]), "--quiet"]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    videos = root / "train" / "videos" / "maze"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if videos.is_dir() and len(list(videos.glob("*.mp4"))) >= 2:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (root / "train" / "metadata_all.csv").exists(), "the export finished before it could be killed"
    # A write interrupted mid-file leaves only a temp file, never a broken final file.
    for path in videos.glob("*.mp4"):
        if not path.name.startswith("."):
            assert read_video(path).shape == (MAZE_SIZE["num_frames"], 240, 416, 3)
    (videos / ".maze_medium_0000000059.crash.tmp.mp4").write_bytes(b"half a video")
    (root / "train" / ".metadata_all.csv.crash.tmp").write_text("video,prompt\n")
    finished = _fingerprints(root)
    assert finished

    summary = export_dataset(root, tasks=["maze"], train_count=60, test_count=2, progress=False, **MAZE_SIZE)

    after = _fingerprints(root)
    assert {name: after[name] for name in finished} == finished
    assert not [p for p in root.rglob(".*") if p.is_file()], "temp files left behind"
    assert summary.counts == {"train": {"maze": 60}, "test": {"maze": 2}}
    assert summary.skipped >= len([n for n in finished if n.endswith(".mp4")])
    rows = read_metadata(root / "train" / "metadata_maze_only.csv")
    assert len(rows) == 60 and all((root / "train" / row["video"]).is_file() for row in rows)
