"""The GRPO and SFT trainers: they learn, resume exactly, checkpoint atomically and validate configs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml
from synthetic_tasks import BrightnessSource, brightness_reward, tiny_config

from diffrl.checkpoint import latest_checkpoint
from diffrl.config import ConfigError, config_from_dict, load_config
from diffrl.grpo import group_advantages
from diffrl.policies import build_policy
from diffrl.rewards import make_reward
from diffrl.sft import SFTTrainer
from diffrl.trainer import GRPOTrainer


def grpo(tmp_path, name="run", **sections) -> GRPOTrainer:
    config = tiny_config(tmp_path, run={"name": name, **sections.pop("run", {})}, **sections)
    return GRPOTrainer(config, build_policy(config.policy), BrightnessSource(), brightness_reward)


def test_grpo_raises_the_mean_reward(tmp_path):
    """Seeded, ~3 s: the mean reward of the last 5 of 40 steps beats the first 5 by more than 0.08
    (measured: 0.504 -> 0.655)."""
    trainer = grpo(tmp_path, run={"max_steps": 40}, optim={"learning_rate": 1e-2})
    history = trainer.train()
    rewards = [row["reward"] for row in history]
    first, last = np.mean(rewards[:5]), np.mean(rewards[-5:])
    assert last > first + 0.08, rewards
    assert all(math.isclose(row["ratio/mean"], 1.0, abs_tol=1e-5) for row in history)  # one update per step
    assert (tmp_path / "run" / "checkpoint-000040" / "policy" / "model.safetensors").is_file()


def test_sft_loss_falls(tmp_path):
    config = tiny_config(tmp_path, sft={"max_steps": 40, "batch_size": 16, "loss_weighting": "x0"},
                         optim={"learning_rate": 3e-3, "micro_batch_size": 8})
    history = SFTTrainer(config, build_policy(config.policy), BrightnessSource()).train()
    losses = [row["loss"] for row in history]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


METRIC_KEYS_THAT_VARY = ("time/",)


def comparable(row):
    return {k: v for k, v in row.items() if not k.startswith(METRIC_KEYS_THAT_VARY)}


def test_resume_continues_exactly(tmp_path):
    sections = {"run": {"max_steps": 4, "save_every": 2}, "optim": {"ema_decay": 0.9, "warmup_steps": 3},
                "grpo": {"num_inner_epochs": 2, "num_minibatches": 2, "kl_coefficient": 0.05,
                         "cfg_range": [0.8, 1.2], "sde_cutoff_ratio": 0.5, "loss_steps": 2}}
    uninterrupted = grpo(tmp_path, "full", **sections).train()
    interrupted = grpo(tmp_path, "cut", **sections)
    interrupted.train(until_step=3)  # "killed" after step 3: the last checkpoint is step 2
    assert latest_checkpoint(tmp_path / "cut").name == "checkpoint-000002"
    config = tiny_config(tmp_path, run={"name": "cut", **sections["run"]},
                         **{k: v for k, v in sections.items() if k != "run"})
    resumed = GRPOTrainer(config, build_policy(config.policy), BrightnessSource(), brightness_reward,
                          resume=tmp_path / "cut")
    assert (resumed.step, resumed.cursor) == (2, 4)
    history = resumed.train()
    assert [row["step"] for row in history] == [1, 2, 3, 4]
    for expected, got in zip(uninterrupted[2:], history[2:]):
        assert comparable(got) == pytest.approx(comparable(expected), rel=1e-6, abs=1e-9)
    for a, b in zip(resumed.policy.trainable_parameters(), GRPOTrainer(
            config, build_policy(config.policy), BrightnessSource(), brightness_reward, resume=tmp_path / "full").policy.trainable_parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]


def test_checkpoints_are_complete_and_leave_no_temp_files(tmp_path):
    trainer = grpo(tmp_path, run={"max_steps": 1}, optim={"ema_decay": 0.5})
    trainer.train()
    folder = tmp_path / "run" / "checkpoint-000001"
    names = {p.name for p in folder.iterdir()}
    assert {"policy", "policy_ema", "state", "rng_state_0.safetensors", "trainer_state.json"} <= names
    assert not [p for p in (tmp_path / "run").iterdir() if ".tmp" in p.name or ".old" in p.name]
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["step"] == 1 and state["cursor"] == 2 and state["scheduler"]["last_epoch"] == 1


def test_a_kill_during_a_checkpoint_write_leaves_no_temp_folder_and_old_checkpoints_rotate(tmp_path):
    stale = tmp_path / "run" / ".checkpoint-000007.tmp"
    (stale / "state").mkdir(parents=True)  # what a kill -9 in the middle of save() leaves
    trainer = grpo(tmp_path, run={"max_steps": 3, "save_every": 1, "keep_checkpoints": 2})
    assert not stale.exists()
    trainer.train()
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(("checkpoint", ".check"))) == [
        "checkpoint-000002", "checkpoint-000003"]


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda c: (c / "trainer_state.json").write_text("{bad"), "trainer state"),
        (lambda c: _truncate(c / "state" / "__0_0.distcp"), "weights and optimizer states"),
        (lambda c: (c / "state" / ".metadata").unlink(), "weights and optimizer states"),
        (lambda c: (c / "rng_state_0.safetensors").write_text("garbage"), "RNG state"),
        (lambda c: (c / "rng_state_0.safetensors").unlink(), "no RNG state for rank 0"),
    ],
)
def test_a_damaged_checkpoint_is_refused_with_the_file_named(tmp_path, damage, named):
    grpo(tmp_path, run={"max_steps": 1}).train()
    checkpoint = tmp_path / "run" / "checkpoint-000001"
    damage(checkpoint)
    config = tiny_config(tmp_path, run={"name": "run", "max_steps": 2})
    with pytest.raises(ValueError, match=named) as raised:
        GRPOTrainer(config, build_policy(config.policy), BrightnessSource(), brightness_reward, resume=checkpoint)
    assert str(checkpoint) in str(raised.value)


def test_ema_weights_are_saved_in_float32_without_rounding_the_average(tmp_path):
    trainer = grpo(tmp_path, run={"max_steps": 1}, optim={"ema_decay": 0.5})
    with torch.no_grad():  # a bf16 live weight must not round the float32 average when saving
        for parameter in trainer.parameters:
            parameter.data = parameter.data.to(torch.bfloat16)
    trainer.ema.shadow = [torch.full_like(s, 1.0 + 2.0**-12) for s in trainer.ema.shadow]
    live = [p.detach().clone() for p in trainer.parameters]
    trainer.save()
    assert all(torch.equal(s, torch.full_like(s, 1.0 + 2.0**-12)) for s in trainer.ema.shadow)
    assert all(torch.equal(a, b) for a, b in zip(live, trainer.parameters))


def test_zero_variance_groups_are_skipped(tmp_path):
    def constant(videos, items):
        result = brightness_reward(videos, items)
        result.rewards[:] = 0.25
        return result

    config = tiny_config(tmp_path, run={"max_steps": 1})
    trainer = GRPOTrainer(config, build_policy(config.policy), BrightnessSource(), constant)
    before = [p.detach().clone() for p in trainer.policy.trainable_parameters()]
    metrics = trainer.train_step()
    assert metrics["zero_std_ratio"] == 1.0 and metrics["optimizer_steps"] == 0
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.policy.trainable_parameters()))


def test_step_advantages_are_group_advantages_of_the_gathered_rewards(tmp_path):
    trainer = grpo(tmp_path, grpo={"prompts_per_step": 3, "advantage_std": "batch"})
    trainer.train_step()
    result = trainer.last_result
    rewards, groups = torch.from_numpy(result["gathered"]["rewards"]), torch.from_numpy(result["groups"])
    assert torch.equal(result["advantages"], group_advantages(rewards, groups, "batch", 5.0))
    assert np.bincount(result["groups"]).tolist() == [4, 4, 4]


def test_grpo_with_the_maze_verifier_runs(tmp_path):
    config = tiny_config(
        tmp_path, policy={"height": 48, "width": 48, "num_frames": 5},
        data={"tasks": ["maze"], "difficulty": "easy", "task_kwargs": {"maze": {"size": [4, 4]}}},
        run={"max_steps": 1, "sample_video_every": 1}, grpo={"group_size": 2, "prompts_per_step": 1},
    )
    history = GRPOTrainer(config, build_policy(config.policy)).train()
    assert 0.0 <= history[0]["reward"] <= 1.0 and "success/maze" in history[0]
    assert any(key.startswith("reward/maze/") for key in history[0])
    assert list((tmp_path / "test" / "samples" / "step_000001").glob("*.mp4"))


def test_reward_factory_names_and_errors():
    with pytest.raises(ValueError, match="unknown reward"):
        make_reward("maze_dense")
    reward = make_reward("maze_success")
    with pytest.raises(ValueError, match="uint8"):
        reward(np.zeros((1, 2, 16, 16, 3), np.float32), [])


CONFIG_ERRORS = [
    ({"grpo": {"groupsize": 4}}, "unknown key.*groupsize.*'grpo'"),
    ({"training": {}}, "unknown config section.*training"),
    ({"grpo": {"loss_steps": 11}}, "loss_steps = 11 must be in \\[1, 10\\]"),
    ({"grpo": {"advantage_std": "global"}}, "advantage_std = 'global' is not allowed"),
    ({"run": {"mixed_precision": "fp8"}}, "mixed_precision"),
    ({"grpo": {"group_size": 1}}, "group_size = 1 must be >= 2"),
    ({"grpo": {"cfg_range": [1.4, 0.6]}}, "cfg_range"),
    ({"optim": {"learning_rate": "fast"}}, "optim.learning_rate must be a number"),
    ({"grpo": {"group_size": 2.5}}, "grpo.group_size must be an integer"),
    ({"reward": {"name": "sokoban_success"}}, "scores only \\['sokoban'\\]"),
    ({"reward": {"name": {"maze_success": "high"}}}, "reward.name.maze_success must be a number"),
    ({"reward": {"name": {"maze_dense": 1.0}}}, "reward.name = 'maze_dense' is not allowed"),
    ({"reward": {"max_failed_fraction": 1.5}}, "max_failed_fraction = 1.5 must be in"),
    ({"grpo": {"cfg_range": 0.6}}, "grpo.cfg_range must be a list"),
    ({"run": {"keep_checkpoints": 0}}, "keep_checkpoints = 0 must be >= 1"),
    ({"eval": {"every": 0}}, "eval.every = 0 must be >= 1"),
    ({"data": {"source": "csv"}}, "metadata_csv must be set"),
    ({"policy": {"type": "big"}}, "policy.type"),
]


@pytest.mark.parametrize(("raw", "message"), CONFIG_ERRORS)
def test_bad_configs_are_rejected_with_the_key_named(raw, message):
    with pytest.raises(ConfigError, match=message):  # a ValueError (wrong types: also a TypeError)
        config_from_dict(raw)


def test_config_expands_environment_variables_and_reads_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTPUT_ROOT", str(tmp_path))
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"run": {"output_dir": "${OUTPUT_ROOT}/out", "name": "x"},
                                    "optim": {"learning_rate": "5e-6"}}))
    config = load_config(path)
    assert config.run_dir == tmp_path / "out" / "x" and config.optim.learning_rate == 5e-6
    assert config.grpo.loss_steps == 10 and config.grpo.sde_cutoff_ratio == 0.5
    monkeypatch.delenv("OUTPUT_ROOT")
    with pytest.raises(ValueError, match="OUTPUT_ROOT is not set"):
        load_config(path)


def maze_items(count: int):
    from diffrl.data import SeedPromptSource

    source = SeedPromptSource(["maze"], "easy", (0, 1000), 0, {"maze": {"size": [4, 4]}})
    return source, [source.item(i) for i in range(count)]


@pytest.mark.parametrize("num_workers", [0, 1])
def test_env_reward_scores_oracle_videos_as_successes(num_workers):
    source, items = maze_items(2)
    videos = source.solution_videos(items, 48, 48, 7)
    reward = make_reward("maze_success", num_workers=num_workers)
    try:
        good = reward(videos, items)
        frozen = reward(np.repeat(videos[:, :1], 7, axis=1), items)
    finally:
        reward.close()
    assert good.rewards.tolist() == [1.0, 1.0] and good.success.all()
    assert (frozen.rewards < 1.0).all() and not frozen.success.any()
    assert set(good.components) and all(name.startswith("maze/") for name in good.components)
    pure = make_reward("combined_pure_success")(np.repeat(videos[:, :1], 7, axis=1), items)
    assert pure.rewards.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="got a 'maze' puzzle"):
        make_reward("sokoban_success")(videos, items)


def test_cli_trains_then_samples(tmp_path):
    from diffrl.cli import main

    config = tiny_config(tmp_path, policy={"height": 48, "width": 48, "num_frames": 5},
                         data={"tasks": ["maze"], "difficulty": "easy", "task_kwargs": {"maze": {"size": [4, 4]}}},
                         run={"max_steps": 1, "name": "cli"}, grpo={"group_size": 2, "prompts_per_step": 1})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    assert main(["train", str(path)]) == 0
    assert main(["train", str(path), "--resume", str(tmp_path / "cli"), "--max-steps", "2"]) == 0
    assert latest_checkpoint(tmp_path / "cli").name == "checkpoint-000002"
    out = tmp_path / "samples"
    assert main(["sample", str(tmp_path / "cli"), "--task", "maze", "--difficulty", "easy", "--seeds", "3", "4",
                 "--task-kwargs", '{"maze": {"size": [4, 4]}}', "--steps", "4", "--out", str(out)]) == 0
    assert len(list(out.glob("*.mp4"))) == 2
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2


def test_exported_dataset_feeds_sft_grpo_and_eval_from_a_checkpoint(tmp_path):
    from diffrl.cli import main
    from videorlvr.envs.export import export_dataset

    root = tmp_path / "data"
    export_dataset(root, tasks=["maze"], train_count=3, test_count=2, difficulties=("easy",), height=64,
                   width=64, num_frames=9, task_kwargs={"maze": {"size": [4, 4]}}, progress=False)
    csv_data = {"source": "csv", "tasks": ["maze"], "metadata_csv": str(root / "train" / "metadata_maze_only.csv")}
    sizes = {"height": 48, "width": 48, "num_frames": 5}
    sft = tiny_config(tmp_path, run={"name": "sft_csv", "max_steps": 1}, policy=sizes, data=csv_data,
                      sft={"batch_size": 4, "max_steps": 2})
    trainer = SFTTrainer(sft, build_policy(sft.policy))
    trainer.train()
    items = [trainer.source.item(i) for i in range(3)]
    demos = trainer.source.solution_videos(items, 48, 48, 5)  # the exported mp4s, resized and resampled
    assert demos.shape == (3, 5, 48, 48, 3) and len({it.puzzle.to_dict()["seed"] for it in items}) == 3
    grpo_config = tiny_config(tmp_path, run={"name": "grpo_csv", "max_steps": 1}, data=csv_data,
                              policy={**sizes, "pretrained": str(tmp_path / "sft_csv")},
                              grpo={"group_size": 2, "prompts_per_step": 1})
    assert GRPOTrainer(grpo_config, build_policy(grpo_config.policy)).train()[0]["reward"] >= 0.0
    out = tmp_path / "eval"
    assert main(["eval", "--metadata", str(root / "test" / "metadata_all.csv"), "--checkpoint",
                 str(tmp_path / "grpo_csv"), "--out", str(out), "--steps", "3", "--quiet"]) == 0
    assert len(list((out / "videos").glob("*.mp4"))) == 2 and (out / "eval_results.json").is_file()
