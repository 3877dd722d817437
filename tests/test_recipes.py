"""Recipes: every YAML validates through diffrl.config, the published settings hold, launchers are sound."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
REPO_ROOT = RECIPES.parent
YAMLS = sorted(RECIPES.glob("*.yaml"))
LAUNCHERS = sorted(RECIPES.glob("*.sh"))
PUBLISHED = {  # recipe -> (reward, training CSV)
    "multitask_combined_success": ("combined_success", "metadata_all.csv"),
    "multitask_combined_pure_success": ("combined_pure_success", "metadata_all.csv"),
    "maze_success": ("maze_success", "metadata_maze_only.csv"),
    "flowfree_success": ("flowfree_success", "metadata_flowfree_only.csv"),
    "sokoban_success": ("sokoban_success", "metadata_sokoban_only.csv"),
}
ROOTS = {
    "DATA_ROOT": "/data",
    "MODEL_ROOT": "/models/wan",
    "OUTPUT_ROOT": "/out",
    "SFT_CHECKPOINT": "/sft.safetensors",
}


@pytest.fixture
def roots(monkeypatch):
    for name, value in ROOTS.items():
        monkeypatch.setenv(name, value)


def _bash(script: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in (*ROOTS, "ACCELERATE_CONFIG")}
    return subprocess.run(
        ["bash", "-c", script], check=False, cwd=cwd, env=base | (env or {}), capture_output=True, text=True
    )


def test_there_is_one_recipe_per_published_run():
    assert set(PUBLISHED) <= {path.stem for path in YAMLS}


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.stem)
def test_every_recipe_validates(path, roots):
    config = pytest.importorskip("diffrl.config")
    loaded = config.load_config(path)
    assert loaded.run.name and "$" not in str(loaded.to_dict())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_runs_use_the_published_settings(name, roots):
    config = pytest.importorskip("diffrl.config").load_config(RECIPES / f"{name}.yaml")
    reward, csv_name = PUBLISHED[name]
    assert config.run.name == f"{reward}_G16_T20_L10_KL0.04_FULL"
    assert config.run.output_dir == "/out" and (config.run.num_epochs, config.run.save_every) == (1, 100)
    assert config.reward.name == reward
    assert (config.data.source, config.data.metadata_csv) == ("csv", f"/data/train/{csv_name}")
    policy = config.policy
    assert (policy.type, policy.finetune, policy.pretrained, policy.checkpoint) == (
        "wan", "full", "/models/wan", "/sft.safetensors"
    )  # fmt: skip
    assert (policy.height, policy.width, policy.num_frames) == (480, 832, 81)
    grpo = config.grpo
    assert (grpo.group_size, grpo.num_inference_steps, grpo.loss_steps) == (16, 20, 10)
    assert (grpo.kl_coefficient, grpo.sde_coefficient, grpo.sde_cutoff_ratio) == (0.04, 0.3, 0.5)
    assert (grpo.ppo_clip, list(grpo.cfg_range)) == (0.2, [0.6, 1.4])
    assert (config.optim.learning_rate, config.optim.micro_batch_size) == (5e-6, 2)
    assert config.run.mixed_precision == "bf16"
    assert policy.options["dtype"] == "bfloat16" and policy.options["master_dtype"] == "float32"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_full_finetune_recipes_train_float32_master_weights(name, roots, tmp_path_factory):
    """The recipe's own policy section (sizes and model folder swapped for the tiny Wan) builds a policy
    whose trained weights are float32 while the frozen reference keeps the bf16 storage dtype."""
    import torch
    from wan_tiny import save_tiny_wan

    from diffrl.config import load_config
    from diffrl.policies.wan import build_wan_policy

    root = tmp_path_factory.getbasetemp() / "tiny_wan_recipes"
    if not root.is_dir():
        save_tiny_wan(root)
    policy = load_config(RECIPES / f"{name}.yaml").policy
    policy.pretrained, policy.checkpoint, policy.height, policy.width, policy.num_frames = str(root), None, 64, 64, 9
    policy.options = {**policy.options, "max_sequence_length": 16, "load_text_encoder": False}
    built = build_wan_policy(policy, "cpu")
    assert {p.dtype for p in built.trainable_parameters()} == {torch.float32}
    assert len(built.trainable_parameters()) == len(list(built.module.parameters()))
    assert built._reference_model.blocks[0].attn1.to_q.weight.dtype == torch.bfloat16


def test_recipes_name_every_section_of_the_contract_and_nothing_else():
    for path in YAMLS:
        raw = yaml.safe_load(path.read_text())
        assert set(raw) <= {"run", "policy", "data", "reward", "grpo", "optim", "sft", "eval"}, path.name


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
def test_launchers_parse(path):
    result = subprocess.run(["bash", "-n", str(path)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_launchers_name_existing_recipes_and_accelerate_configs():
    for path in LAUNCHERS:
        text = path.read_text()
        if path.name != "_env.sh":
            assert 'source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"' in text, path.name
        for recipe in re.findall(r"recipes/(\w+\.yaml)", text):
            assert (RECIPES / recipe).is_file(), (path.name, recipe)
    for name in re.findall(r"`(\w+\.yaml)`", (RECIPES / "README.md").read_text()):
        assert (RECIPES / name).is_file(), name


def test_env_defaults_are_folders_under_the_repository_wherever_it_is_called_from(tmp_path):
    result = _bash(
        f'source "{RECIPES}/_env.sh" && echo "$REPO_ROOT|$DATA_ROOT|$MODEL_ROOT|$OUTPUT_ROOT|$PWD"', tmp_path
    )
    repo, *roots, cwd = result.stdout.strip().split("|")
    assert Path(repo) == REPO_ROOT
    assert all(Path(root).parent in (REPO_ROOT, REPO_ROOT / "models") for root in roots), roots
    assert Path(cwd) == tmp_path  # sourcing does not move the caller


def test_env_keeps_roots_given_by_the_caller(tmp_path):
    result = _bash(f'source "{RECIPES}/_env.sh" && echo "$DATA_ROOT|$SFT_CHECKPOINT"', tmp_path, ROOTS)
    assert result.stdout.strip() == "/data|/sft.safetensors"


def test_train_launcher_stops_with_a_clear_message_when_the_model_is_missing(tmp_path):
    env = {"MODEL_ROOT": str(tmp_path / "no_model"), "OUTPUT_ROOT": str(tmp_path / "out")}
    result = _bash(f'bash "{RECIPES}/train_maze.sh"', tmp_path, env)
    assert result.returncode == 1 and "MODEL_ROOT" in result.stderr


@pytest.mark.parametrize(("name", "kind", "processes"), [("1gpu", "NO", 1), ("8gpu_ddp", "MULTI_GPU", 8),
                                                          ("8gpu_fsdp", "FSDP", 8)])  # fmt: skip
def test_accelerate_configs_load(name, kind, processes):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(RECIPES / "accelerate" / f"{name}.yaml"))
    assert (str(config.distributed_type).split(".")[-1], config.num_processes) == (kind, processes)
    assert config.mixed_precision == "bf16"


def test_tiny_cpu_recipe_builds_its_policy_and_its_oracles_pass_the_verifier(roots):
    pytest.importorskip("diffrl.config")
    from diffrl.config import load_config
    from diffrl.data import build_prompt_source
    from diffrl.policies import build_policy
    from videorlvr import envs

    sft, grpo = load_config(RECIPES / "tiny_maze_cpu_sft.yaml"), load_config(RECIPES / "tiny_maze_cpu.yaml")
    assert (sft.policy.type, grpo.policy.type) == ("tiny", "tiny")
    assert grpo.policy.pretrained == f"/out/{sft.run.name}"  # GRPO starts from the SFT run
    assert {k: v for k, v in vars(sft.policy).items() if k != "pretrained"} == {
        k: v for k, v in vars(grpo.policy).items() if k != "pretrained"
    }
    assert sft.data == grpo.data
    policy = build_policy(sft.policy)
    assert (policy.height, policy.width, policy.num_frames) == (48, 48, 7)
    source = build_prompt_source(sft.data, sft.run.seed)
    maze = envs.get_task("maze")
    for index in range(3):
        item = source.item(index)
        video = source.solution_videos([item], policy.height, policy.width, policy.num_frames)[0]
        assert maze.verify(item.puzzle, video).success


def test_exported_training_csv_feeds_the_trainers_csv_source(tmp_path):
    pytest.importorskip("diffrl.config")
    from diffrl.data import CsvPromptSource
    from videorlvr.envs.export import export_dataset, read_metadata

    export_dataset(tmp_path, tasks=["maze"], train_count=2, test_count=0, height=240, width=416, num_frames=21,
                   progress=False)  # fmt: skip
    csv_path = tmp_path / "train" / "metadata_maze_only.csv"
    rows = read_metadata(csv_path)
    source = CsvPromptSource(csv_path, run_seed=0, tasks=["maze"])
    items = [source.item(index) for index in range(len(rows))]
    assert sorted(json.dumps(item.puzzle_dict(), sort_keys=True) for item in items) == sorted(
        json.dumps(json.loads(row["puzzle"]), sort_keys=True) for row in rows
    )
    assert {item.prompt for item in items} == {row["prompt"] for row in rows}


def test_inference_script_answers_every_test_row_and_the_answers_can_be_scored(tmp_path, monkeypatch):
    pytest.importorskip("diffrl.config")
    import importlib.util

    from videorlvr.envs.evaluate import evaluate_videos
    from videorlvr.envs.export import export_dataset

    monkeypatch.setenv("OUTPUT_ROOT", str(tmp_path / "out"))
    export_dataset(tmp_path / "data", tasks=["maze"], train_count=0, test_count=2, height=48, width=48,
                   num_frames=7, difficulties=("easy",), task_kwargs={"maze": {"size": [4, 4], "path_length": [2, 5]}},
                   progress=False)  # fmt: skip  (the tiny recipe's mazes: short enough for 7 frames)
    spec = importlib.util.spec_from_file_location("inference_test", RECIPES / "inference_test.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    csv_path = tmp_path / "data" / "test" / "metadata_all.csv"
    videos = tmp_path / "videos"
    argv = ["--config", str(RECIPES / "tiny_maze_cpu_sft.yaml"), "--metadata", str(csv_path), "--out", str(videos),
            "--steps", "2", "--batch-size", "2", "--device", "cpu"]  # fmt: skip
    assert script.main(argv) == 0
    report = evaluate_videos(csv_path, videos, progress=False)
    assert report.overall.rows == 2 and report.overall.errors == 0, report.format()
