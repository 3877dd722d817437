"""Two CPU processes under `accelerate launch`: groups span ranks, parameters stay identical, and the
advantages equal a single process's on the same samples.

`accelerate launch --cpu --num_processes 2` starts several processes only through MPI (mpirun); without
it, it runs one. So the test launches through torchrun (`--multi_gpu`) with ``ACCELERATE_USE_CPU=true``,
which gives the same thing: two CPU processes on gloo (``DistributedType.MULTI_CPU``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
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


def test_two_processes_agree_with_one(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--multi_gpu",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), str(tmp_path / "worker.py"), str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
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
