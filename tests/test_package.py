"""The installed package: a collision-free import name, command lines that run from anywhere, a version."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import videorlvr

MAKE_AND_SOLVE = textwrap.dedent(
    """
    import sys
    import envs  # the folder's own package, not ours
    assert envs.MINE is True, envs
    import gymnasium as gym
    env = gym.make("videorlvr:VideoMaze-v0", difficulty="easy", height=240, width=416, num_frames=81)
    obs, info = env.reset(seed=3)
    _, reward, terminated, _, info = env.step(env.unwrapped.solution_video())
    assert "envs" not in {m.split(".")[0] for m in sys.modules if m.startswith("videorlvr")}
    print("OK", reward, info["success"], terminated, sys.modules["envs"].__file__)
    """
)


@pytest.fixture()
def foreign_folder(tmp_path: Path) -> Path:
    """A research repo with its own top-level ``envs`` package, as many RL repos have."""
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("MINE = True\n")
    return tmp_path


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_make_by_module_prefix_works_from_a_folder_with_its_own_envs_package(foreign_folder):
    result = _run([sys.executable, "-c", MAKE_AND_SOLVE], foreign_folder)
    assert result.returncode == 0, result.stderr
    status, reward, success, terminated, envs_file = result.stdout.split()
    assert (status, reward, success, terminated) == ("OK", "1.0", "True", "True")
    assert Path(envs_file).parent == foreign_folder / "envs"


@pytest.mark.parametrize(
    "module", ["videorlvr.envs", "diffrl.cli"], ids=["python -m videorlvr.envs", "python -m diffrl.cli"]
)
def test_command_lines_run_from_a_folder_with_its_own_envs_package(foreign_folder, module):
    result = _run([sys.executable, "-m", module, "--help"], foreign_folder)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


@pytest.mark.parametrize("module", ["videorlvr.envs", "diffrl.cli"])
def test_version_flag_prints_the_package_version(module, tmp_path):
    result = _run([sys.executable, "-m", module, "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert videorlvr.__version__ in result.stdout


def test_nothing_is_installed_under_the_top_level_name_envs():
    import importlib.metadata

    top_level = importlib.metadata.distribution("videorlvr").read_text("top_level.txt") or ""
    assert "envs" not in top_level.split()
