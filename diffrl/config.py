"""The run config: one YAML file describes a run; each section's dataclass below documents its keys.

Unknown sections or keys are errors, as are values of the wrong type or outside what is allowed; every
error is a :class:`ConfigError` (a ValueError; wrong types are also TypeErrors) naming the section, the
key, the value and what is allowed. ``${VAR}`` in a string is replaced by the environment variable
``VAR`` (an unset variable is an error naming it).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TASKS = ("maze", "flowfree", "sokoban")
REWARDS = ("maze_success", "flowfree_success", "sokoban_success", "combined_success", "combined_pure_success",
           "maze_pure_success", "flowfree_pure_success", "sokoban_pure_success")
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """A config value that is not allowed (the message names section, key, value and the rule)."""


class ConfigTypeError(ConfigError, TypeError):
    """A config value of the wrong type."""


@dataclass
class RunConfig:
    """``keep_checkpoints``: keep only the newest N checkpoints (null: all); ``eval_every``: see ``eval``."""

    name: str = "run"
    output_dir: str = "runs"
    seed: int = 42
    mixed_precision: str = "no"
    max_steps: int | None = None
    num_epochs: int = 1
    save_every: int = 100
    log_every: int = 1
    sample_video_every: int = 50
    keep_checkpoints: int | None = None


@dataclass
class PolicyConfig:
    type: str = "tiny"
    pretrained: str | None = None
    checkpoint: str | None = None
    finetune: str = "full"
    lora_rank: int = 32
    lora_alpha: int = 64
    gradient_checkpointing: bool = False
    height: int = 480
    width: int = 832
    num_frames: int = 81
    negative_prompt: str | None = None
    options: dict = field(default_factory=dict)


@dataclass
class DataConfig:
    source: str = "seeds"
    tasks: list = field(default_factory=lambda: ["maze"])
    difficulty: str = "medium"
    seed_range: list = field(default_factory=lambda: [0, 1_000_000])
    metadata_csv: str | None = None
    task_kwargs: dict = field(default_factory=dict)
    pace: str = "steady"  # SFT demonstrations rendered from puzzles: "steady" or "eager" (videorlvr.envs.types.PACES)


@dataclass
class RewardConfig:
    """``name``: a reward name, or a weighted sum of names ``{maze_success: 1.0, maze_pure_success: 0.5}``.

    A sample whose verification fails (the verifier raises; with ``num_workers > 0`` also: its worker
    dies, or it runs past ``timeout_s`` seconds) is logged with its puzzle to ``reward_failures.jsonl``
    and left out of its group (a group with fewer than 2 scored samples is skipped); more than
    ``max_failed_fraction`` of a step's samples failing stops the run.
    """

    name: str | dict = "maze_success"
    num_workers: int = 0
    timeout_s: float = 300.0
    max_failed_fraction: float = 0.25


@dataclass
class GrpoConfig:
    """Flow-GRPO settings. Two conventions differ from Flow-GRPO's code at equal numbers:

    ``kl_coefficient`` (beta) weighs the exact KL between the policy's and the reference's Gaussian
    step, ``|mean - ref_mean|^2 / (2 std^2 |dt|)`` averaged over latent elements. Flow-GRPO divides by
    ``2 std^2`` only (no ``|dt|``), so its KL is ours times ``|dt|``: at T = 20, shift 5, loss on the
    first 10 steps, 1/|dt| is 38-96, i.e. our beta 0.04 weighs the KL 40-100x more than Flow-GRPO's
    beta 0.04. To match Flow-GRPO's beta_F, set ``kl_coefficient = beta_F * mean |dt|`` (0.0167 for that
    schedule: beta_F 0.04 -> 6.7e-4).

    ``ppo_clip`` (epsilon) clips the ratio ``exp(log_prob - old_log_prob)`` whose log-probs are averaged
    over latent elements (as Flow-GRPO does), so the ratio moves by ~1e-4 per update and epsilon 0.2
    never binds: the loss is then the plain policy gradient. Flow-GRPO uses epsilon = 1e-4; set
    ``ppo_clip: 1.0e-4`` for its clipping behaviour (watch ``clipfrac`` in the logs).
    """

    group_size: int = 16
    prompts_per_step: int = 1
    num_inference_steps: int = 20
    shift: float | None = None
    sde_coefficient: float = 0.3
    sde_cutoff_ratio: float = 0.5
    loss_steps: int = 10
    cfg_range: list = field(default_factory=lambda: [0.6, 1.4])
    ppo_clip: float = 0.2
    kl_coefficient: float = 0.04
    advantage_std: str = "group"
    advantage_clip: float = 5.0
    num_inner_epochs: int = 1
    num_minibatches: int = 1
    skip_zero_variance_groups: bool = True


@dataclass
class OptimConfig:
    learning_rate: float = 5.0e-6
    weight_decay: float = 0.0
    adam_betas: list = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1.0e-8
    max_grad_norm: float = 1.0
    micro_batch_size: int = 2
    warmup_steps: int = 0
    ema_decay: float | None = None


@dataclass
class SftConfig:
    batch_size: int = 32
    max_steps: int = 1000
    num_demos: int | None = None
    condition_dropout: float = 0.1
    loss_weighting: str = "velocity"


@dataclass
class EvalConfig:
    """Evaluation during GRPO: every ``every`` steps (null: never), success and reward components on a
    fixed held-out set of ``num_prompts`` puzzles, ODE sampling with ``num_inference_steps`` (null: the
    GRPO count) at ``guidance_scale``, with the EMA weights if EMA is on. The set: rows of
    ``metadata_csv`` if given, else seeds drawn from ``seed_range`` (keep it disjoint from
    ``data.seed_range``) for ``data.tasks``."""

    every: int | None = None
    num_prompts: int = 16
    num_inference_steps: int | None = None
    guidance_scale: float = 1.0
    seed_range: list = field(default_factory=lambda: [2_000_000_000, 2_100_000_000])
    metadata_csv: str | None = None


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    grpo: GrpoConfig = field(default_factory=GrpoConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sft: SftConfig = field(default_factory=SftConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.run.output_dir) / self.run.name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS: dict[str, type] = {f.name: f.default_factory().__class__ for f in dataclasses.fields(Config)}


def expand_env(value: Any, where: str = "config") -> Any:
    """Replace ``${VAR}`` in every string (recursively) by the environment variable's value."""
    if isinstance(value, str):
        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable {name} is not set (used as ${{{name}}})")
            return os.environ[name]

        return _ENV_PATTERN.sub(substitute, value)
    if isinstance(value, dict):
        return {key: expand_env(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [expand_env(item, where) for item in value]
    return value


def _coerce(value: Any, annotation: str, where: str) -> Any:
    """Check ``value`` against a field annotation string; ints become floats where floats are expected."""
    optional = annotation.endswith("| None")
    base = annotation.replace("| None", "").strip()
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where} must not be null (expected {base})")
    if base == "bool":
        if not isinstance(value, bool):
            raise ConfigTypeError(f"{where} must be true or false, got {value!r}")
        return value
    if base == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigTypeError(f"{where} must be an integer, got {value!r}")
        return value
    if base == "float":
        if isinstance(value, str):  # PyYAML reads "5e-6" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigTypeError(f"{where} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigTypeError(f"{where} must be a finite number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    kinds = {"str": str, "list": list, "dict": dict}
    expected = tuple(kinds[name.strip()] for name in base.split("|"))
    if not isinstance(value, expected):
        raise ConfigTypeError(f"{where} must be a {' or a '.join(k.__name__ for k in expected)}, got {value!r}")
    return value


def _choice(section: str, key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{section}.{key} = {value!r} is not allowed; choose one of {list(allowed)}")


def _at_least(section: str, key: str, value: float | None, low: float, strict: bool = False) -> None:
    if value is not None and (value <= low if strict else value < low):
        raise ConfigError(f"{section}.{key} = {value!r} must be {'>' if strict else '>='} {low}")


def _in_range(section: str, key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{section}.{key} = {value!r} must be in [{low}, {high}]")


def _pair(section: str, key: str, value: list, kind: type) -> None:
    if len(value) != 2 or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{section}.{key} = {value!r} must be a list of two {kind.__name__}s")
    if value[0] > value[1]:
        raise ConfigError(f"{section}.{key} = {value!r}: the first value must not exceed the second")


def validate(config: Config) -> Config:
    """Check every value against what is allowed (raises ValueError naming key, value and the rule)."""
    run, policy, data, reward, grpo, optim, sft = (
        config.run, config.policy, config.data, config.reward, config.grpo, config.optim, config.sft
    )
    _choice("run", "mixed_precision", run.mixed_precision, ("no", "bf16", "fp16"))
    for key in ("max_steps", "num_epochs", "save_every", "log_every", "sample_video_every", "keep_checkpoints"):
        _at_least("run", key, getattr(run, key), 1)
    if not run.name or "/" in run.name:
        raise ConfigError(f"run.name = {run.name!r} must be a non-empty folder name")
    _choice("policy", "type", policy.type, ("tiny", "wan"))
    _choice("policy", "finetune", policy.finetune, ("full", "lora"))
    for key in ("lora_rank", "lora_alpha", "height", "width", "num_frames"):
        _at_least("policy", key, getattr(policy, key), 1)
    _choice("data", "source", data.source, ("seeds", "csv"))
    _choice("data", "difficulty", data.difficulty, ("easy", "medium", "hard"))
    _choice("data", "pace", data.pace, ("steady", "eager"))
    if not data.tasks:
        raise ConfigError("data.tasks must name at least one task")
    for task in data.tasks:
        _choice("data", "tasks", task, TASKS)
    unknown_tasks = set(data.task_kwargs) - set(TASKS)
    if unknown_tasks:
        raise ConfigError(f"data.task_kwargs names unknown tasks {sorted(unknown_tasks)}; allowed: {list(TASKS)}")
    _pair("data", "seed_range", data.seed_range, int)
    if data.seed_range[0] == data.seed_range[1] or data.seed_range[0] < 0:
        raise ConfigError(f"data.seed_range = {data.seed_range!r} must be a non-empty range of seeds >= 0")
    if data.source == "csv" and not data.metadata_csv:
        raise ConfigError("data.metadata_csv must be set when data.source is 'csv'")
    names = [reward.name] if isinstance(reward.name, str) else list(reward.name)
    if not names:
        raise ConfigError("reward.name = {} must name at least one reward")
    for name in names:
        _choice("reward", "name", name, REWARDS)
    if isinstance(reward.name, dict):
        for name, weight in reward.name.items():
            _coerce(weight, "float", f"reward.name.{name}")
        reward.name = {name: float(weight) for name, weight in reward.name.items()}
    _at_least("reward", "num_workers", reward.num_workers, 0)
    _at_least("reward", "timeout_s", reward.timeout_s, 0.0, strict=True)
    _in_range("reward", "max_failed_fraction", reward.max_failed_fraction, 0.0, 1.0)
    scored = {task for name in names for task in (TASKS if name.startswith("combined") else (name.split("_")[0],))}
    if data.source == "seeds" and not set(data.tasks) <= scored:
        raise ConfigError(f"reward.name = {reward.name!r} scores only {sorted(scored)}, but data.tasks = "
                          f"{data.tasks!r}")
    for key in ("group_size", "prompts_per_step", "num_inference_steps", "num_inner_epochs", "num_minibatches"):
        _at_least("grpo", key, getattr(grpo, key), 1)
    _at_least("grpo", "shift", grpo.shift, 0.0, strict=True)
    _at_least("grpo", "sde_coefficient", grpo.sde_coefficient, 0.0, strict=True)
    _in_range("grpo", "sde_cutoff_ratio", grpo.sde_cutoff_ratio, 0.0, 1.0)
    num_sde = round(grpo.sde_cutoff_ratio * grpo.num_inference_steps)
    if not 1 <= grpo.loss_steps <= num_sde:
        raise ConfigError(
            f"grpo.loss_steps = {grpo.loss_steps} must be in [1, {num_sde}] (the SDE steps: "
            f"round(sde_cutoff_ratio * num_inference_steps))"
        )
    _pair("grpo", "cfg_range", [float(v) if isinstance(v, int) else v for v in grpo.cfg_range], float)
    _at_least("grpo", "ppo_clip", grpo.ppo_clip, 0.0, strict=True)
    _at_least("grpo", "kl_coefficient", grpo.kl_coefficient, 0.0)
    _choice("grpo", "advantage_std", grpo.advantage_std, ("group", "batch"))
    _at_least("grpo", "advantage_clip", grpo.advantage_clip, 0.0, strict=True)
    if grpo.group_size < 2:
        raise ConfigError(f"grpo.group_size = {grpo.group_size} must be >= 2 (advantages are relative to the group)")
    _at_least("optim", "learning_rate", optim.learning_rate, 0.0, strict=True)
    _at_least("optim", "weight_decay", optim.weight_decay, 0.0)
    _pair("optim", "adam_betas", optim.adam_betas, float)
    for beta in optim.adam_betas:
        _in_range("optim", "adam_betas", beta, 0.0, 0.999999)
    _at_least("optim", "adam_eps", optim.adam_eps, 0.0, strict=True)
    _at_least("optim", "max_grad_norm", optim.max_grad_norm, 0.0, strict=True)
    _at_least("optim", "micro_batch_size", optim.micro_batch_size, 1)
    _at_least("optim", "warmup_steps", optim.warmup_steps, 0)
    if optim.ema_decay is not None:
        _in_range("optim", "ema_decay", optim.ema_decay, 0.0, 0.999999)
    _at_least("sft", "batch_size", sft.batch_size, 1)
    _at_least("sft", "max_steps", sft.max_steps, 1)
    _at_least("sft", "num_demos", sft.num_demos, 1)
    _in_range("sft", "condition_dropout", sft.condition_dropout, 0.0, 1.0)
    _choice("sft", "loss_weighting", sft.loss_weighting, ("velocity", "x0"))
    evaluation = config.eval
    for key in ("every", "num_prompts", "num_inference_steps"):
        _at_least("eval", key, getattr(evaluation, key), 1)
    _at_least("eval", "guidance_scale", evaluation.guidance_scale, 0.0, strict=True)
    _pair("eval", "seed_range", evaluation.seed_range, int)
    if evaluation.seed_range[0] == evaluation.seed_range[1] or evaluation.seed_range[0] < 0:
        raise ConfigError(f"eval.seed_range = {evaluation.seed_range!r} must be a non-empty range of seeds >= 0")
    return config


def config_from_dict(raw: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a (YAML-loaded) mapping."""
    if not isinstance(raw, Mapping):
        raise ConfigTypeError(f"a config must be a mapping of sections, got {type(raw).__name__}")
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown config section(s) {sorted(unknown)}; allowed: {list(SECTIONS)}")
    raw = expand_env(dict(raw))
    sections = {}
    for name, section_type in SECTIONS.items():
        values = raw.get(name) or {}
        if not isinstance(values, Mapping):
            raise ConfigTypeError(f"config section {name!r} must be a mapping, got {values!r}")
        fields = {f.name: f for f in dataclasses.fields(section_type)}
        unknown_keys = set(values) - set(fields)
        if unknown_keys:
            raise ConfigError(f"unknown key(s) {sorted(unknown_keys)} in section {name!r}; allowed: {list(fields)}")
        sections[name] = section_type(
            **{key: _coerce(value, str(fields[key].type), f"{name}.{key}") for key, value in values.items()}
        )
    return validate(Config(**sections))


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML run config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return config_from_dict(yaml.safe_load(path.read_text()) or {})


def save_config(config: Config, path: str | Path) -> None:
    """Write the config as YAML atomically (a temporary file renamed into place)."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    os.replace(temp, path)


__all__ = ["REWARDS", "TASKS", "Config", "ConfigError", "ConfigTypeError", "config_from_dict", "load_config",
           "save_config", "validate"]
