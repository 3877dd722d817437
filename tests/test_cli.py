"""Command lines: one meaning per flag, defaults from the run, the shared results layout, exit codes, progress."""

from __future__ import annotations

import argparse
import io
import json

import pytest
import yaml
from synthetic_tasks import tiny_config

from diffrl.cli import main as diffrl_main
from diffrl.cli import sample_distribution
from diffrl.policies import build_policy
from videorlvr.envs import get_task
from videorlvr.envs.cli import main as envs_main
from videorlvr.envs.cli import parse_task_kwargs
from videorlvr.envs.evaluate import RESULT_FILES
from videorlvr.envs.progress import progress_bar

RUN_DATA = {"tasks": ["maze"], "difficulty": "easy", "task_kwargs": {"maze": {"size": [4, 4]}}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as training leaves it: config.yaml and a saved (untrained) tiny policy."""
    folder = tmp_path_factory.mktemp("run")
    config = tiny_config(folder, policy={"height": 48, "width": 48, "num_frames": 9}, data=RUN_DATA)
    (folder / "config.yaml").write_text(yaml.safe_dump(config.to_dict()))
    build_policy(config.policy).save_pretrained(folder)
    return folder


def _sample_args(checkpoint, **flags) -> argparse.Namespace:
    return argparse.Namespace(**({"checkpoint": checkpoint, "task": None, "difficulty": None, "task_kwargs": None}
                                 | flags))  # fmt: skip


def test_sample_defaults_to_the_puzzles_the_run_trained_on(run_dir):
    assert sample_distribution(_sample_args(run_dir)) == ("maze", "easy", {"size": [4, 4]})
    flags = {"difficulty": "hard", "task_kwargs": {"maze": {"size": [5, 5]}}}
    assert sample_distribution(_sample_args(run_dir, **flags)) == ("maze", "hard", {"size": [5, 5]})


def test_sample_without_a_run_config_needs_a_task(tmp_path):
    with pytest.raises(ValueError, match="--task is needed"):
        sample_distribution(_sample_args(tmp_path))
    assert sample_distribution(_sample_args(tmp_path, task="sokoban")) == ("sokoban", "medium", {})


def test_sample_writes_videos_and_the_shared_results_layout(run_dir, tmp_path):
    out = tmp_path / "samples"
    assert diffrl_main(["sample", str(run_dir), "--seeds", "3", "4", "--steps", "2", "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.glob("*.mp4")) == ["maze_easy_3.mp4", "maze_easy_4.mp4"]
    results = json.loads((out / RESULT_FILES["json"]).read_text())
    assert [row["seed"] for row in results["rows"]] == [3, 4] and "maze" in results["per_task"]


@pytest.mark.parametrize(
    "text, message",
    [('{"size": [4, 4]}', "task"), ('{"chess": {}}', "unknown tasks"), ("{not json", "not valid JSON")],
)
def test_task_kwargs_take_one_per_task_shape_everywhere(text, message):
    assert parse_task_kwargs('{"maze": {"size": [4, 4]}}') == {"maze": {"size": [4, 4]}}
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_task_kwargs(text)


def test_data_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        diffrl_main(["data", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 10000)" in text and "(default: 480)" in text and "(default: 81)" in text


def test_demo_takes_a_list_of_seeds_like_sample(tmp_path):
    code = envs_main(["demo", "--tasks", "maze", "--seeds", "2", "5", "--difficulty", "easy", "--height", "240",
                      "--width", "416", "--num-frames", "33", "--out", str(tmp_path), "--quiet"])  # fmt: skip
    assert code == 0
    rows = json.loads((tmp_path / RESULT_FILES["json"]).read_text())["rows"]
    assert sorted({row["seed"] for row in rows}) == [2, 5]
    puzzle = get_task("maze").generate(5, "easy").to_dict()
    assert (tmp_path / "maze" / f"maze_easy_{puzzle['seed']}_oracle.mp4").is_file()


def test_demo_rejects_settings_an_env_would_reject(capsys):
    assert envs_main(["demo", "--tasks", "sokoban", "--difficulty", "hard", "--num-frames", "17"]) == 2
    assert "frames" in capsys.readouterr().err


def test_progress_prints_whole_lines_when_not_on_a_terminal():
    stream = io.StringIO()
    for _ in progress_bar(range(5), desc="score", unit="video", stream=stream, log_interval=0):
        pass
    text = stream.getvalue()
    assert "\r" not in text and text.endswith("\n")
    assert text.splitlines()[-1].startswith("score: 100%") and "5/5" in text.splitlines()[-1]
    resumed = io.StringIO()
    with progress_bar(total=10, initial=4, desc="sft", stream=resumed, log_interval=0) as bar:
        bar.update(6)
    assert "10/10" in resumed.getvalue().splitlines()[-1]
