"""Two CPU processes under `accelerate launch`: groups span ranks, parameters stay identical, and the
advantages equal a single process's on the same samples.

`accelerate launch --cpu --num_processes 2` starts several processes only through MPI (mpirun); without
it, it runs one. So the test launches through torchrun (`--multi_gpu`) with ``ACCELERATE_USE_CPU=true``,
which gives the same thing: two CPU processes on gloo (``DistributedType.MULTI_CPU``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_tasks import BrightnessSource, brightness_reward, tiny_config

from diffrl.grpo import group_advantages
from diffrl.policies import build_policy
from diffrl.trainer import GRPOTrainer

TESTS = Path(__file__).resolve().parent
SECTIONS = {
    "run": {"max_steps": 2, "name": "dist"},
    "grpo": {"group_size": 3, "prompts_per_step": 1, "kl_coefficient": 0.05, "cfg_range": [0.8, 1.2],
             "sde_cutoff_ratio": 0.5, "loss_steps": 2},
    "optim": {"micro_batch_size": 2},
}  # fmt: skip

WORKER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    from synthetic_tasks import BrightnessSource, brightness_reward, tiny_config
    from test_distributed import SECTIONS
    from diffrl.policies import build_policy
    from diffrl.trainer import GRPOTrainer

    out = sys.argv[1]
    config = tiny_config(out, **SECTIONS)
    trainer = GRPOTrainer(config, build_policy(config.policy), BrightnessSource(), brightness_reward)
    assert trainer.accelerator.num_processes == 2, trainer.accelerator.state
    rank, first, norms = trainer.accelerator.process_index, None, []
    while trainer.step < trainer.max_steps:
        norms.append(trainer.train_step()["grad_norm"])
        if first is None:
            first = dict(trainer.last_result)
    params = torch.cat([p.detach().flatten() for p in trainer.policy.trainable_parameters()])
    np.savez(f"{out}/rank{rank}.npz", params=params.numpy(), rewards=first["gathered"]["rewards"],
             groups=first["groups"], advantages=first["advantages"].numpy(), local=first["rewards"],
             grad_norms=np.array(norms))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path, script: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``tmp_path/script tmp_path *args`` in two gloo processes; a crashing rank prints its Python stack."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true", "PYTHONFAULTHANDLER": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--multi_gpu",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), str(tmp_path / script), str(tmp_path), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=400, check=False)


def test_two_processes_agree_with_one(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    done = launch(tmp_path, "worker.py")
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    assert np.array_equal(ranks[0]["params"], ranks[1]["params"])
    assert np.array_equal(ranks[0]["advantages"], ranks[1]["advantages"])
    groups = ranks[0]["groups"]
    assert set(groups[:3]) & set(groups[3:]), "expected a group spread over both ranks with this seed"
    gathered = np.concatenate([ranks[0]["local"], ranks[1]["local"]])
    assert np.array_equal(ranks[0]["rewards"], gathered)
    expected = group_advantages(torch.from_numpy(gathered), torch.from_numpy(groups), "group", 5.0)
    assert np.array_equal(ranks[0]["advantages"], expected.numpy())

    # One process sampling both prompts draws the very same samples (noise is keyed per sample).
    single = dict(SECTIONS, grpo={**SECTIONS["grpo"], "prompts_per_step": 2}, run={**SECTIONS["run"], "name": "one"})
    config = tiny_config(tmp_path, **single)
    trainer = GRPOTrainer(config, build_policy(config.policy), BrightnessSource(), brightness_reward)
    norms = [trainer.train_step()["grad_norm"]]
    assert np.array_equal(trainer.last_result["groups"], groups)
    np.testing.assert_allclose(trainer.last_result["gathered"]["rewards"], gathered, atol=1e-4)
    np.testing.assert_allclose(trainer.last_result["advantages"].numpy(), ranks[0]["advantages"], atol=1e-2)
    norms.append(trainer.train_step()["grad_norm"])
    # The gradient averaged over ranks is the single process's (Adam would hide a scale error in the
    # parameters, so compare the norms); parameters agree up to Adam's amplification of rounding.
    np.testing.assert_allclose(norms, ranks[0]["grad_norms"], rtol=1e-3)
    params = torch.cat([p.detach().flatten() for p in trainer.policy.trainable_parameters()]).numpy()
    np.testing.assert_allclose(params, ranks[0]["params"], atol=1e-3)


RESUME_SECTIONS = {
    "run": {"max_steps": 4, "save_every": 2},
    "grpo": {"group_size": 3, "prompts_per_step": 1, "kl_coefficient": 0.05, "cfg_range": [0.8, 1.2],
             "sde_cutoff_ratio": 0.5, "loss_steps": 2, "num_minibatches": 2},
    "optim": {"micro_batch_size": 1, "ema_decay": 0.9, "warmup_steps": 2},
}  # fmt: skip

ENGINE_WORKER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    import numpy as np
    import torch
    from accelerate import Accelerator
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from synthetic_tasks import BrightnessSource, brightness_reward, tiny_config
    from test_distributed import RESUME_SECTIONS
    from diffrl import checkpoint
    from diffrl.checkpoint import full_trainable_state
    from diffrl.policies import build_policy
    from diffrl.trainer import GRPOTrainer

    out, phase = sys.argv[1], sys.argv[2]
    accelerator = Accelerator()
    assert accelerator.num_processes == 2, accelerator.state
    if accelerator.process_index == 1:  # a slow rank: its files must still land before rank 0 renames the folder
        save_rng = checkpoint.save_rng
        checkpoint.save_rng = lambda *args: (time.sleep(0.5), save_rng(*args))

    def trainer(engine, name, resume=None):
        config = tiny_config(out, **dict(RESUME_SECTIONS, run={**RESUME_SECTIONS["run"], "name": name}))
        policy = build_policy(config.policy)
        if engine == "fsdp":  # the caller shards (FSDP2 on gloo); the trainer keeps the module as given
            mesh = init_device_mesh("cpu", (2,))
            for block in policy.network.blocks:
                fully_shard(block, mesh=mesh)
            fully_shard(policy.network, mesh=mesh)
        return GRPOTrainer(config, policy, BrightnessSource(), brightness_reward, resume=resume,
                           accelerator=accelerator)

    def record(run, name):
        full = full_trainable_state(run.policy.module)
        if accelerator.is_main_process:
            np.savez(f"{out}/{name}.npz", **{k: v.numpy() for k, v in full.items()})
            with open(f"{out}/{name}.json", "w") as handle:
                json.dump(run.tracker.history, handle)

    for engine in ("ddp", "fsdp"):
        if phase == "first":
            run = trainer(engine, f"{engine}_full")
            run.train()
            record(run, f"{engine}_full")
            if engine == "fsdp":
                local = run.parameters[0]
                assert local.to_local().numel() < local.numel(), "expected sharded parameters"
            trainer(engine, f"{engine}_cut").train(until_step=3)
        else:
            run = trainer(engine, f"{engine}_cut", resume=f"{out}/{engine}_cut")
            assert run.step == 2, run.step
            run.train()
            record(run, f"{engine}_resumed")
    if phase == "first" and accelerator.is_main_process:
        os.kill(os.getpid(), signal.SIGKILL)  # killed after step 3 of the last run: its newest checkpoint is 2
    """
)


def launch_phase(source: Path, phase: str) -> tuple[Path, subprocess.CompletedProcess]:
    """Run ``engines.py <phase>`` on a fresh copy of ``source``; returns the copy and the run.

    A rank that segfaults gets the phase one more try on a fresh copy, with a warning that keeps its stack
    (CI once saw rank 1 die with SIGSEGV inside a gloo collective, which none of about 100 runs here did).
    Any other failure, or a second segfault, fails the test as it is."""

    def attempt(number: int) -> tuple[Path, subprocess.CompletedProcess]:
        work = source.parent / f"{phase}_{number}"
        shutil.copytree(source, work)
        return work, launch(work, "engines.py", phase)

    work, done = attempt(0)
    if "(SIGSEGV)" in done.stderr:
        warnings.warn(f"a rank segfaulted in the {phase!r} phase; retrying once:\n{done.stderr[-6000:]}")
        work, done = attempt(1)
    return work, done


def test_ddp_and_fsdp_runs_killed_and_resumed_continue_exactly(tmp_path):
    """Two gloo processes, DDP (accelerate's wrapper) and FSDP2 (``fully_shard`` by the caller): every rank
    saves its shards, a run killed after step 3 resumes from checkpoint 2 and matches an uninterrupted
    run step for step; the consolidated policy export loads as a plain tiny policy."""
    from diffrl.policies.tiny import TinyPolicy

    (tmp_path / "start").mkdir()
    (tmp_path / "start" / "engines.py").write_text(ENGINE_WORKER)
    first, killed = launch_phase(tmp_path / "start", "first")
    assert killed.returncode != 0 and (first / "fsdp_full.npz").is_file(), killed.stderr[-3000:]
    out, resumed = launch_phase(first, "resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for engine in ("ddp", "fsdp"):
        full, again = np.load(out / f"{engine}_full.npz"), np.load(out / f"{engine}_resumed.npz")
        assert set(full) == set(again) and len(full) > 10
        for key in full:
            np.testing.assert_allclose(again[key], full[key], rtol=0, atol=1e-6, err_msg=f"{engine} {key}")
        expected = json.loads((out / f"{engine}_full.json").read_text())
        history = json.loads((out / f"{engine}_resumed.json").read_text())
        assert [row["step"] for row in history] == [1, 2, 3, 4]
        for want, got in zip(expected[2:], history[2:]):
            got = {k: v for k, v in got.items() if not k.startswith("time/")}
            assert got == pytest.approx({k: v for k, v in want.items() if not k.startswith("time/")}, rel=1e-6)
        checkpoint = out / f"{engine}_cut" / "checkpoint-000004"
        assert {p.name for p in (checkpoint / "state").glob("*.distcp")} == {"__0_0.distcp", "__1_0.distcp"}
        assert {p.name for p in checkpoint.glob("rng_state_*")} == {"rng_state_0.safetensors", "rng_state_1.safetensors"}
        exported = TinyPolicy.from_pretrained(checkpoint / "policy").network.state_dict()
        for key in full:
            np.testing.assert_array_equal(exported[key].numpy(), full[key], err_msg=f"{engine} export {key}")
