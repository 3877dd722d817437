"""Reward fault tolerance: a verifier that raises, a reward worker that dies and a verifier that hangs
fail only their own sample; the trainer leaves failed samples out of their groups and goes on, up to a
failure cap that stops the run with a clear message."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from faulty_verifiers import flaky, marked
from synthetic_tasks import tiny_config

from diffrl.data import SeedPromptSource
from diffrl.policies import build_policy
from diffrl.rewards import EnvReward
from diffrl.trainer import GRPOTrainer, RewardFailuresExceeded

MAZE = {"tasks": ["maze"], "difficulty": "easy", "task_kwargs": {"maze": {"size": [4, 4]}}}
SIZES = {"height": 48, "width": 48, "num_frames": 5}


def oracle_batch(count: int):
    source = SeedPromptSource(["maze"], "easy", (0, 1000), 0, {"maze": {"size": [4, 4]}})
    items = [source.item(i) for i in range(count)]
    return items, source.solution_videos(items, 48, 48, 7)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_a_raising_verifier_fails_only_its_own_sample(num_workers):
    items, videos = oracle_batch(3)
    videos[1, 0, 0, 0, 0] = 1
    reward = EnvReward("maze_success", num_workers=num_workers, verify=marked)
    try:
        result = reward(videos, items)
    finally:
        reward.close()
    assert result.failed.tolist() == [False, True, False]
    assert result.rewards[0] == 1.0 and result.rewards[2] == 1.0 and np.isnan(result.rewards[1])
    assert result.errors == {1: "RuntimeError: verifier exploded"}


def test_a_killed_worker_and_a_hung_verifier_fail_their_samples_and_the_pool_goes_on():
    items, videos = oracle_batch(4)
    videos[1, 0, 0, 0, 0] = 2  # kills its worker
    videos[2, 0, 0, 0, 0] = 3  # sleeps far past the timeout
    reward = EnvReward("maze_success", num_workers=2, timeout_s=3.0, verify=marked)
    try:
        result = reward(videos, items)
        assert result.failed.tolist() == [False, True, True, False]
        assert "worker died" in result.errors[1] and "timed out after 3 s" in result.errors[2]
        assert reward._pool.restarts == 2
        again = reward(videos[[0, 3]], [items[0], items[3]])  # the rebuilt pool scores the next batch
    finally:
        reward.close()
    assert again.rewards.tolist() == [1.0, 1.0] and not again.failed.any()


def fault_config(tmp_path, name: str, fraction: float):
    return tiny_config(tmp_path, policy=SIZES, data=MAZE, reward={"max_failed_fraction": fraction},
                       run={"max_steps": 2, "name": name}, grpo={"group_size": 4, "prompts_per_step": 2})


def test_grpo_leaves_failed_samples_out_of_their_groups_and_logs_their_puzzles(tmp_path):
    config = fault_config(tmp_path, "faults", 1.0)
    reward = EnvReward("maze_success", num_workers=1, timeout_s=30.0, verify=flaky)
    trainer = GRPOTrainer(config, build_policy(config.policy), reward_fn=reward)
    history = trainer.train()
    assert [row["step"] for row in history] == [1, 2]
    failures = sum(row["reward_failures"] for row in history)
    assert failures > 0
    last = trainer.last_result
    failed, groups = last["gathered"]["failed"], last["groups"]
    assert (last["advantages"][failed] == 0).all()
    for group in np.unique(groups):  # advantages of the scored samples sum to ~0 within each group
        scored = (groups == group) & ~failed
        if scored.sum() >= 2:
            assert abs(float(last["advantages"][scored].sum())) < 1e-3
    lines = [json.loads(line) for line in (config.run_dir / "reward_failures.jsonl").read_text().splitlines()]
    assert len(lines) == failures
    assert {"step", "task", "puzzle", "error"} <= set(lines[0]) and lines[0]["puzzle"]["rows"] == 4
    assert {line["error"].split(" ")[0] for line in lines} == {"RuntimeError:", "reward"}  # raised; worker died


def test_too_many_failures_stop_the_run_with_a_clear_message(tmp_path):
    config = fault_config(tmp_path, "capped", 0.0)
    trainer = GRPOTrainer(config, build_policy(config.policy),
                          reward_fn=EnvReward("maze_success", num_workers=0, verify=flaky))
    with pytest.raises(RewardFailuresExceeded, match="could not be scored, more than reward.max_failed_fraction = 0"):
        trainer.train()


def test_diffrl_train_survives_a_killed_worker_and_a_raising_verifier(tmp_path, monkeypatch, capsys):
    import diffrl.trainer
    from diffrl.cli import main

    monkeypatch.setattr(diffrl.trainer, "make_reward",
                        lambda name, workers, timeout: EnvReward(name, workers, timeout, verify=flaky))
    config = fault_config(tmp_path, "cli", 1.0)
    config.reward.num_workers = 1
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    assert main(["train", str(path)]) == 0
    assert (config.run_dir / "checkpoint-000002").is_dir() and (config.run_dir / "reward_failures.jsonl").is_file()
    assert "rewards failed" in capsys.readouterr().err
    config.run.name, config.reward.max_failed_fraction = "cli_capped", 0.0
    path.write_text(yaml.safe_dump(config.to_dict()))
    assert main(["train", str(path)]) == 1
    assert "diffrl train: stopped" in capsys.readouterr().err
