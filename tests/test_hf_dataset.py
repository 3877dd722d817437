"""The Hugging Face layout of an exported dataset loads with ``datasets.load_dataset`` and round-trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest

from videorlvr.envs import get_task
from videorlvr.envs.export import export_dataset, metadata_name, read_metadata
from videorlvr.envs.hf_dataset import FIELDS, write_hf_dataset
from videorlvr.envs.video import read_video


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    export_dataset(root, train_count=2, test_count=1, difficulties=("easy",), height=120, width=208, num_frames=48,
                   progress=False)
    return root


def test_load_dataset_reads_the_layout_without_the_export_images(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(exported, copy)
    out = write_hf_dataset(copy)
    shutil.rmtree(copy / "train" / "first_frames")  # images are embedded in the Parquet shards
    loaded = datasets.load_dataset(str(out))
    assert set(loaded) == {"train", "test"}
    assert set(loaded["train"].column_names) == set(FIELDS)
    rows = read_metadata(exported / "train" / metadata_name())
    assert len(loaded["train"]) == len(rows) == 6
    for row, item in zip(rows, loaded["train"]):
        assert (item["task"], item["seed"], item["prompt"]) == (row["task_type"], int(row["seed"]), row["prompt"])
        first_frame = np.asarray(item["image"].convert("RGB"))
        video = read_video(out / item["video"])
        assert first_frame.shape == (item["height"], item["width"], 3) == video.shape[1:]
        assert get_task(item["task"]).score_answer(item["answer"], json.loads(item["puzzle"])).success


def test_dataset_card_states_fields_sizes_and_license(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(exported, copy)
    card = (write_hf_dataset(copy) / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0")
    assert all(f"`{name}`" in card for name in FIELDS)
    assert "| train | 6 | flowfree 2, maze 2, sokoban 2 | easy |" in card
    assert "120x208" in card


def test_missing_export_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="export the dataset first"):
        write_hf_dataset(tmp_path)


def test_export_command_writes_the_hf_layout_and_follow_episodes(tmp_path: Path) -> None:
    from videorlvr.envs.cli import main

    out = tmp_path / "data"
    assert main(["export", "--out", str(out), "--tasks", "maze", "--train-count", "1", "--test-count", "1",
                 "--height", "120", "--width", "208", "--num-frames", "17", "--difficulties", "easy",
                 "--hf", "--follow-count", "1", "--quiet"]) == 0
    loaded = datasets.load_dataset(str(out / "hf"))
    assert (len(loaded["train"]), len(loaded["test"])) == (1, 1)
    assert len(read_metadata(out / "follow" / "metadata_follow.csv")) == 1
