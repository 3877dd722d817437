"""Trainer features around the GRPO step: evaluation during training, weighted rewards, the policy handed
in by the caller, TensorBoard after a resume, and CLI step overrides."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from synthetic_tasks import BrightnessSource, brightness_reward, tiny_config

from diffrl.config import config_from_dict
from diffrl.data import SeedPromptSource
from diffrl.policies import build_policy
from diffrl.rewards import make_reward
from diffrl.trainer import GRPOTrainer


def brightness_trainer(tmp_path, resume=None, **sections) -> GRPOTrainer:
    config = tiny_config(tmp_path, **sections)
    return GRPOTrainer(config, build_policy(config.policy), BrightnessSource(), brightness_reward, resume=resume,
                       eval_source=BrightnessSource())


def test_evaluation_every_n_steps_logs_held_out_scores_with_the_ema_weights(tmp_path):
    trainer = brightness_trainer(tmp_path, run={"max_steps": 2}, optim={"ema_decay": 0.5},
                                 eval={"every": 2, "num_prompts": 3, "num_inference_steps": 3})
    history = trainer.train()
    assert "eval/success" not in history[0] and history[1]["eval/count"] == 3.0
    assert {"eval/reward", "eval/success/brightness", "eval/reward/brightness/gain"} <= set(history[1])
    rows = [json.loads(line) for line in (tmp_path / "test" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["eval/reward"] == history[1]["eval/reward"]
    live = [p.detach().clone() for p in trainer.parameters]
    with_ema = trainer.evaluator.evaluate(trainer.ema)
    assert all(torch.equal(a, b) for a, b in zip(live, trainer.parameters))  # EMA swapped back exactly
    with trainer.ema.applied():
        assert trainer.evaluator.evaluate(None) == with_ema  # the fixed set and seeds: reproducible
    assert trainer.evaluator.evaluate(None) != with_ema  # and the EMA weights were the ones used


def test_weighted_rewards_sum_named_rewards_each_on_its_own_tasks():
    source = SeedPromptSource(["maze"], "easy", (0, 1000), 0, {"maze": {"size": [4, 4]}})
    items = [source.item(i) for i in range(2)]
    videos = source.solution_videos(items, 48, 48, 7)
    frozen = np.repeat(videos[:, :1], 7, axis=1)
    weighted = make_reward({"maze_success": 1.0, "maze_pure_success": 0.5, "sokoban_success": 2.0})
    dense = make_reward("maze_success")(frozen, items).rewards
    assert weighted(videos, items).rewards.tolist() == [1.5, 1.5]
    np.testing.assert_allclose(weighted(frozen, items).rewards, dense)  # no success, no sokoban puzzle
    config = config_from_dict({"reward": {"name": {"maze_success": 1, "maze_pure_success": 0.5}}})
    assert config.reward.name == {"maze_success": 1.0, "maze_pure_success": 0.5}
    with pytest.raises(ValueError, match="scores only \\['sokoban'\\]"):
        config_from_dict({"reward": {"name": {"sokoban_success": 1.0}}})


def test_the_trainer_takes_its_policy_from_the_caller(tmp_path):
    config = tiny_config(tmp_path)
    with pytest.raises(TypeError, match="FlowPolicy protocol"):
        GRPOTrainer(config, object(), BrightnessSource(), brightness_reward)
    policy = build_policy(config.policy)
    assert GRPOTrainer(config, policy, BrightnessSource(), brightness_reward).policy is policy


def test_tensorboard_keeps_the_checkpoint_step_after_a_resume(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sections = {"run": {"max_steps": 3, "save_every": 2}}
    brightness_trainer(tmp_path, **sections).train()  # steps 1-3 logged, checkpoint 2
    brightness_trainer(tmp_path, resume=tmp_path / "test", **sections).train()  # step 3 again
    events = EventAccumulator(str(tmp_path / "test" / "tensorboard"))
    events.Reload()
    assert [event.step for event in events.Scalars("reward")] == [1, 2, 3]


def test_cli_max_steps_zero_is_a_clean_config_error(tmp_path, capsys):
    from diffrl.cli import main

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path).to_dict()))
    assert main(["train", str(path), "--max-steps", "0"]) == 2
    assert "run.max_steps = 0 must be >= 1" in capsys.readouterr().err
    path.write_text(yaml.safe_dump({"grpo": {"cfg_range": 0.6}}))
    assert main(["train", str(path)]) == 2  # a wrong type is a config error too, not a traceback
    assert "grpo.cfg_range must be a list" in capsys.readouterr().err
