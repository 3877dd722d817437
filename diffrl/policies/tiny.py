"""A tiny flow-matching video model that trains on 2 CPU cores in minutes (tests, benchmarks, CPU recipe).

Latents are the video itself, normalised to [-1, 1], shaped (B, 3, T, H, W) like Wan's (B, C, T, H, W);
the "VAE" is the identity. Conditioning follows Wan2.2-TI2V: the first frame's latent is given and held
fixed, and every token carries its own timestep (0 on frame 0, sigma elsewhere).

The network is a space-time transformer with one token per ``patch_size`` square per frame. What made the
prototypes in docs/findings.md learn, kept here: the clean first frame is added to every frame's tokens; the
learned position embeddings start at std 0.5 (at 0.02 the model cannot tell cells or frames apart); the
clean video is predicted as a residual on the first frame (``x0 = first_frame + net(...)``), from which the
velocity follows as ``v = (x_t - x0) / sigma``. Pick a resolution whose board cells align with the patches.
``local_mixing=True`` adds a depthwise 3x3 convolution over each frame's token grid to every block, so a
cell sees its neighbours directly (the CPU demo's planning on 4x4 mazes needs it).
"""

from __future__ import annotations

import copy
import json
import math
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from diffrl.policy import Conditions

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MIN_SIGMA = 1e-3  # velocity = (x_t - x0) / sigma is evaluated no closer to sigma = 0 than this


class Block(nn.Module):
    """Pre-norm transformer block: full space-time self-attention, then an MLP (same math in every mode).

    ``grid``: with it, the block also mixes each token with its 3x3 spatial neighbours in the same frame
    (a depthwise convolution on the token grid, residual): a board's cell then sees the cells next to it
    directly instead of learning adjacency from position embeddings."""

    def __init__(self, dim: int, heads: int, grid: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.heads, self.grid = heads, grid
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.local = nn.Conv2d(dim, dim, 3, padding=1, groups=dim) if grid is not None else None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, d = tokens.shape
        q, k, v = self.qkv(self.norm1(tokens)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        tokens = tokens + self.proj(attended)
        if self.local is not None:
            (gh, gw), frames = self.grid, n // (self.grid[0] * self.grid[1])
            planes = tokens.reshape(b * frames, gh, gw, d).permute(0, 3, 1, 2)
            tokens = tokens + self.local(planes).permute(0, 2, 3, 1).reshape(b, n, d)
        return tokens + self.mlp(self.norm2(tokens))


class TinyVideoTransformer(nn.Module):
    """Predicts the clean video (B, 3, T, H, W) as a residual on the first frame."""

    def __init__(
        self,
        num_frames: int,
        height: int,
        width: int,
        patch_size: int = 8,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        vocab_size: int = 512,
        pos_init_std: float = 0.5,
        local_mixing: bool = False,
    ) -> None:
        super().__init__()
        if height % patch_size or width % patch_size:
            raise ValueError(f"height and width ({height}x{width}) must be multiples of patch_size {patch_size}")
        if dim % heads:
            raise ValueError(f"dim {dim} must be a multiple of heads {heads}")
        self.num_frames, self.patch_size, self.dim = num_frames, patch_size, dim
        self.grid = (height // patch_size, width // patch_size)
        patch_dim = 3 * patch_size * patch_size
        self.in_proj = nn.Linear(2 * patch_dim, dim)
        self.pos_space = nn.Parameter(torch.randn(self.grid[0] * self.grid[1], dim) * pos_init_std)
        self.pos_time = nn.Parameter(torch.randn(num_frames, dim) * pos_init_std)
        self.sigma_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.prompt_embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.null_prompt = nn.Parameter(torch.zeros(dim))
        self.prompt_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, self.grid if local_mixing else None) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out_proj = nn.Linear(dim, patch_dim)

    def patchify(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, T * h * w, 3 * p * p)."""
        b, c, t, _, _ = video.shape
        p, (gh, gw) = self.patch_size, self.grid
        patches = video.reshape(b, c, t, gh, p, gw, p).permute(0, 2, 3, 5, 1, 4, 6)
        return patches.reshape(b, t * gh * gw, c * p * p)

    def unpatchify(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T * h * w, 3 * p * p) -> (B, 3, T, H, W)."""
        b = tokens.shape[0]
        p, (gh, gw), t = self.patch_size, self.grid, self.num_frames
        video = tokens.reshape(b, t, gh, gw, 3, p, p).permute(0, 4, 1, 2, 5, 3, 6)
        return video.reshape(b, 3, t, gh * p, gw * p)

    def _sigma_features(self, sigma: torch.Tensor) -> torch.Tensor:
        """Sinusoidal features of per-frame sigmas (B, T) -> (B, T, dim)."""
        half = self.dim // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=sigma.device) / half)
        angles = sigma[..., None] * 1000.0 * freqs
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    def forward(
        self, latents: torch.Tensor, sigma: torch.Tensor, first_frame: torch.Tensor, prompt_tokens: torch.Tensor
    ) -> torch.Tensor:
        """latents (B, 3, T, H, W); sigma (B,); first_frame (B, 3, H, W); prompt_tokens (B, P) long."""
        b, _, t, _, _ = latents.shape
        first_video = first_frame[:, :, None].expand(-1, -1, t, -1, -1)
        tokens = self.in_proj(torch.cat([self.patchify(latents), self.patchify(first_video)], dim=-1))
        frame_sigma = sigma[:, None].expand(b, t).clone()
        frame_sigma[:, 0] = 0.0  # the given first frame is clean: per-token timestep 0
        per_frame = self.sigma_mlp(self._sigma_features(frame_sigma)) + self.pos_time
        counts = (prompt_tokens > 0).sum(dim=1, keepdim=True)
        pooled = self.prompt_embedding(prompt_tokens).sum(dim=1) / counts.clamp(min=1)
        prompt = self.prompt_mlp(torch.where(counts > 0, pooled, self.null_prompt))
        n = self.grid[0] * self.grid[1]
        tokens = tokens.reshape(b, t, n, self.dim) + per_frame[:, :, None] + self.pos_space + prompt[:, None, None]
        tokens = tokens.reshape(b, t * n, self.dim)
        for block in self.blocks:
            tokens = block(tokens)
        return first_video + self.unpatchify(self.out_proj(self.norm(tokens)))


def prompt_tokens(prompts: Sequence[str], length: int, vocab_size: int) -> torch.Tensor:
    """Hash each prompt's lower-cased words to ids in [1, vocab_size): (B, length) long, 0 = padding."""
    rows = np.zeros((len(prompts), length), dtype=np.int64)
    for i, prompt in enumerate(prompts):
        words = re.findall(r"[a-z0-9]+", prompt.lower())[:length]
        rows[i, : len(words)] = [1 + zlib.crc32(word.encode()) % (vocab_size - 1) for word in words]
    return torch.from_numpy(rows)


class TinyPolicy:
    """:class:`~diffrl.policy.FlowPolicy` around :class:`TinyVideoTransformer`; see the module docstring."""

    def __init__(
        self,
        height: int = 48,
        width: int = 48,
        num_frames: int = 7,
        shift: float = 1.0,
        prompt_length: int = 16,
        seed: int = 0,
        device: str | torch.device = "cpu",
        **architecture: Any,
    ) -> None:
        self.height, self.width, self.num_frames = int(height), int(width), int(num_frames)
        self.shift, self.prompt_length = float(shift), int(prompt_length)
        self.architecture = dict(architecture)
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = TinyVideoTransformer(num_frames, height, width, **architecture)
        self.module: nn.Module = network.to(device)
        self._reference = self._frozen_copy()
        self._use_reference = False

    @property
    def network(self) -> TinyVideoTransformer:
        """The bare network, unwrapped from DDP or any other ``.module`` wrapper."""
        module = self.module
        while not isinstance(module, TinyVideoTransformer):
            module = module.module
        return module

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def _frozen_copy(self) -> nn.Module:
        return copy.deepcopy(self.network).requires_grad_(False).eval()

    def reset_reference(self) -> None:
        """Make the current weights the frozen reference (done at construction and by ``from_pretrained``)."""
        self._reference = self._frozen_copy()

    def config(self) -> dict[str, Any]:
        return {
            "type": "tiny",
            "height": self.height,
            "width": self.width,
            "num_frames": self.num_frames,
            "shift": self.shift,
            "prompt_length": self.prompt_length,
            "seed": self.seed,
            **self.architecture,
        }

    # --- FlowPolicy -------------------------------------------------------------------------------------
    def encode_conditions(self, first_frames: np.ndarray, prompts: Sequence[str]) -> Conditions:
        frames = np.asarray(first_frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(
                f"first_frames must be uint8 (B, {self.height}, {self.width}, 3), got {frames.dtype} {frames.shape}"
            )
        if len(prompts) != frames.shape[0]:
            raise ValueError(f"got {frames.shape[0]} first frames but {len(prompts)} prompts")
        first = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        tokens = prompt_tokens(prompts, self.prompt_length, self.network.prompt_embedding.num_embeddings)
        return {"first_frame": first, "prompt_tokens": tokens.to(self.device)}

    def latent_shape(self) -> tuple[int, int, int, int]:
        return (3, self.num_frames, self.height, self.width)

    def initial_latents(self, conditions: Conditions, generator: torch.Generator | None = None) -> torch.Tensor:
        first = conditions["first_frame"]
        noise = torch.randn((first.shape[0], *self.latent_shape()), generator=generator, dtype=torch.float32)
        latents = noise.to(first.device)
        latents[:, :, 0] = first
        return latents

    def given_mask(self, latents: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros((1, 1, latents.shape[2], 1, 1), dtype=torch.bool, device=latents.device)
        mask[:, :, 0] = True
        return mask

    def predict_clean(
        self, latents: torch.Tensor, sigma: torch.Tensor, conditions: Conditions, null_prompt: bool = False
    ) -> torch.Tensor:
        """The network's estimate of the clean video x_0, (B, 3, T, H, W)."""
        module = self._reference if self._use_reference else self.module
        tokens = conditions["prompt_tokens"]
        if null_prompt:
            tokens = torch.zeros_like(tokens)
        return module(latents, sigma, conditions["first_frame"], tokens)

    def velocity(
        self,
        latents: torch.Tensor,
        sigma: torch.Tensor,
        conditions: Conditions,
        guidance_scale: torch.Tensor | float = 1.0,
    ) -> torch.Tensor:
        b = latents.shape[0]
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=latents.device).expand(b)
        scale = torch.as_tensor(guidance_scale, dtype=torch.float32, device=latents.device).expand(b)
        guided = bool((scale != 1.0).any())
        if guided:  # conditional and unconditional in one batch: one forward (and one DDP sync)
            both = {key: torch.cat([value, value]) for key, value in conditions.items()}
            both["prompt_tokens"] = torch.cat([conditions["prompt_tokens"], torch.zeros_like(conditions["prompt_tokens"])])
            clean_cond, clean_uncond = self.predict_clean(
                torch.cat([latents, latents]), torch.cat([sigma, sigma]), both
            ).chunk(2)
            view = scale.reshape(-1, 1, 1, 1, 1)
            clean = clean_uncond + view * (clean_cond - clean_uncond)
        else:
            clean = self.predict_clean(latents, sigma, conditions)
        velocity = (latents.float() - clean.float()) / sigma.clamp(min=MIN_SIGMA).reshape(-1, 1, 1, 1, 1)
        return torch.cat([torch.zeros_like(velocity[:, :, :1]), velocity[:, :, 1:]], dim=2)

    @contextmanager
    def reference(self) -> Iterator[None]:
        previous, self._use_reference = self._use_reference, True
        try:
            yield
        finally:
            self._use_reference = previous

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        pixels = ((latents.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
        return pixels.permute(0, 2, 3, 4, 1).cpu().numpy()

    def encode_videos(self, videos: np.ndarray) -> torch.Tensor:
        videos = np.asarray(videos)
        expected = (self.num_frames, self.height, self.width, 3)
        if videos.dtype != np.uint8 or videos.ndim != 5 or videos.shape[1:] != expected:
            raise ValueError(f"videos must be uint8 (B, {', '.join(map(str, expected))}), got {videos.dtype} {videos.shape}")
        return torch.from_numpy(videos).to(self.device).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [parameter for parameter in self.network.parameters() if parameter.requires_grad]

    def save_pretrained(self, directory: str | Path, state_dict: Mapping[str, torch.Tensor] | None = None) -> None:
        """Weights (safetensors) and config; ``state_dict``: the weights gathered from a sharded module."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state_dict = self.network.state_dict() if state_dict is None else state_dict
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
        save_file(state, str(directory / WEIGHTS_NAME))
        (directory / CONFIG_NAME).write_text(json.dumps(self.config(), indent=2, sort_keys=True))

    def load_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        saved = json.loads((directory / CONFIG_NAME).read_text())
        mine = self.config()
        mismatched = {key for key in set(saved) | set(mine) if key != "seed" and saved.get(key) != mine.get(key)}
        if mismatched:
            details = ", ".join(f"{key}: saved {saved.get(key)!r} vs {mine.get(key)!r}" for key in sorted(mismatched))
            raise ValueError(f"policy in {directory} does not match this tiny policy ({details})")
        # The reference stays what it was (the run's starting point), so a resumed run keeps its KL anchor.
        self.network.load_state_dict(load_file(str(directory / WEIGHTS_NAME), device=str(self.device)))

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> TinyPolicy:
        """Build the policy a ``save_pretrained`` folder describes and load its weights."""
        config = json.loads((Path(directory) / CONFIG_NAME).read_text())
        if config.pop("type", "tiny") != "tiny":
            raise ValueError(f"{directory} does not hold a tiny policy")
        policy = cls(device=device, **config)
        policy.load_pretrained(directory)
        policy.reset_reference()
        return policy


__all__ = ["TinyPolicy", "TinyVideoTransformer", "prompt_tokens"]
