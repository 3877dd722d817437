"""SFT logs sample videos as its config says: held-out puzzles sampled and drawn with their verdicts."""

from __future__ import annotations

from synthetic_tasks import tiny_config

from diffrl.policies import build_policy
from diffrl.sft import SFTTrainer

SMALL_MAZES = {"policy": {"height": 48, "width": 48, "num_frames": 7},
               "data": {"tasks": ["maze"], "difficulty": "easy",
                        "task_kwargs": {"maze": {"size": [4, 4], "path_length": [2, 5]}}}}


def test_sft_logs_sample_videos_with_their_verdicts_every_n_steps(tmp_path):
    config = tiny_config(tmp_path, run={"max_steps": 2, "sample_video_every": 2}, sft={"max_steps": 2, "batch_size": 4},
                         **SMALL_MAZES)
    SFTTrainer(config, build_policy(config.policy)).train()
    samples = tmp_path / "test" / "samples"
    assert [folder.name for folder in sorted(samples.iterdir())] == ["step_000002"]
    names = sorted(path.name for path in (samples / "step_000002").glob("*.mp4"))
    assert len(names) == 2 and all(name.startswith("samples_") and ("_fail_" in name or "_success_" in name)
                                   for name in names)


def test_sft_skips_sampling_when_the_interval_is_beyond_the_run(tmp_path):
    config = tiny_config(tmp_path, run={"sample_video_every": 1000}, sft={"max_steps": 2, "batch_size": 4})
    trainer = SFTTrainer(config, build_policy(config.policy))
    assert trainer.samples is None


def test_training_progress_in_a_log_is_a_few_whole_lines(tmp_path, capsys):
    config = tiny_config(tmp_path, sft={"max_steps": 6, "batch_size": 4}, **SMALL_MAZES)
    SFTTrainer(config, build_policy(config.policy)).train()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("test (sft):")]  # run name
    assert 1 <= len(lines) <= 2 and "\r" not in "".join(lines)  # not one redraw per step
