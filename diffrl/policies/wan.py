"""Wan2.2-TI2V-5B behind the FlowPolicy protocol: thin glue around diffusers' own Wan classes.

First-frame conditioning is that of ``WanImageToVideoPipeline(expand_timesteps=True)``: the first
frame's VAE latent, normalised with the VAE's ``latents_mean``/``latents_std``, replaces latent frame 0;
its tokens get timestep 0 while all others get ``sigma * 1000``; the sampler re-imposes it after each
step (``given_mask``). Classifier-free guidance uses the negative prompt, with both prompts' UMT5
embeddings cached per prompt on the CPU so the text encoder need not stay on the accelerator.

Saved results load in the stock pipeline: full fine-tuning writes ``<dir>/transformer`` (a diffusers
``WanTransformer3DModel`` folder), LoRA writes ``<dir>/pytorch_lora_weights.safetensors`` for
``WanImageToVideoPipeline.load_lora_weights``.

Precision: the model loads in ``dtype`` (bf16) and the frozen parts (the reference copy, the LoRA base)
stay in it; the trained weights are upcast to ``master_dtype`` (float32), so AdamW states are float32
too and lr-5e-6 updates are not rounded away. Compute runs in bf16 when the trainer's autocast is on.
"""

from __future__ import annotations

import copy
import html
import json
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ftfy
import numpy as np
import torch
from diffusers import WanImageToVideoPipeline
from diffusers.pipelines.wan.pipeline_wan_i2v import whitespace_clean
from huggingface_hub import save_torch_state_dict
from peft import LoraConfig, get_peft_model_state_dict, set_peft_model_state_dict
from safetensors.torch import load_file

from diffrl.policies.wan_convert import check_keys
from diffrl.policies.wan_loading import (
    LORA_FILE,
    POLICY_FILE,
    load_components,
    load_folder_state_dict,
    merge_saved_policy,
    policy_kwargs_from_config,
)
from videorlvr.envs.video import resize_video

# Wan2.2's own default negative prompt (``sample_neg_prompt`` of the official configs)
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，"
    "静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
# attention q/k/v/o (self- and cross-attention) and the two FFN projections of every block
LORA_TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2")


def clean_prompt(text: str) -> str:
    """The pipeline's prompt cleaning: ftfy, HTML unescape, whitespace."""
    return whitespace_clean(html.unescape(html.unescape(ftfy.fix_text(text))).strip())


class WanPolicy:
    """A Wan2.2-TI2V model as a FlowPolicy. Latents: float32 ``(B, 48, 1 + (T - 1) // 4, H // 16, W // 16)``."""

    def __init__(
        self,
        transformer: torch.nn.Module,
        vae: torch.nn.Module,
        text_encoder: torch.nn.Module | None,
        tokenizer: Any | None,
        *,
        height: int = 480,
        width: int = 832,
        num_frames: int = 81,
        shift: float = 5.0,
        finetune: str = "full",
        lora_rank: int = 32,
        lora_alpha: int = 64,
        gradient_checkpointing: bool = False,
        negative_prompt: str | None = None,
        reference: str = "auto",
        max_sequence_length: int = 512,
        num_train_timesteps: int = 1000,
        device: str | torch.device | None = None,
        text_encoder_offload: bool = True,
        prompt_cache_size: int = 256,
        master_dtype: torch.dtype = torch.float32,
    ) -> None:
        if finetune not in ("full", "lora"):
            raise ValueError(f"finetune must be 'full' or 'lora', got {finetune!r}")
        if reference not in ("auto", "copy", "lora", "none"):
            raise ValueError(f"reference must be 'auto', 'copy', 'lora' or 'none', got {reference!r}")
        if reference == "lora" and finetune != "lora":
            raise ValueError("reference='lora' (adapters disabled) needs finetune='lora'")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.vae = vae.to(self.device).eval().requires_grad_(False)
        self._spatial = int(vae.config.scale_factor_spatial)
        self._temporal = int(vae.config.scale_factor_temporal)
        self._patch = tuple(int(p) for p in transformer.config.patch_size)
        multiple = self._spatial * self._patch[1]
        if height % multiple or width % multiple or height <= 0 or width <= 0:
            raise ValueError(f"height and width must be positive multiples of {multiple}, got {height}x{width}")
        if num_frames < 1 or (num_frames - 1) % self._temporal:
            raise ValueError(f"num_frames must be 1 mod {self._temporal} (e.g. 81), got {num_frames}")
        self.height, self.width, self.num_frames = height, width, num_frames
        self.shift = float(shift)
        self.finetune = finetune
        self.lora_rank, self.lora_alpha = lora_rank, lora_alpha
        self.negative_prompt = WAN_NEGATIVE_PROMPT if negative_prompt is None else negative_prompt
        self.max_sequence_length = max_sequence_length
        self.num_train_timesteps = num_train_timesteps
        self.text_encoder, self.tokenizer = text_encoder, tokenizer
        self.text_encoder_offload = text_encoder_offload
        if text_encoder is not None:
            text_encoder.requires_grad_(False).eval().to("cpu" if text_encoder_offload else self.device)
        self._prompt_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._prompt_cache_size = prompt_cache_size
        z_dim = int(vae.config.z_dim)
        self._latents_mean = torch.tensor(vae.config.latents_mean, dtype=torch.float32).view(1, z_dim, 1, 1, 1)
        self._latents_std = torch.tensor(vae.config.latents_std, dtype=torch.float32).view(1, z_dim, 1, 1, 1)

        transformer.to(self.device)
        self._dtype = transformer.dtype  # the loaded (storage) dtype: frozen weights and the reference keep it
        self.master_dtype = master_dtype
        if reference == "auto":
            reference = "lora" if finetune == "lora" else "copy"
        self._reference_kind = reference
        self._reference_model = None
        if reference == "copy":  # copied before the upcast: the frozen reference stays in the storage dtype
            self._reference_model = copy.deepcopy(transformer).requires_grad_(False).eval()
        self._in_reference = False
        if finetune == "lora":
            transformer.requires_grad_(False)
            transformer.add_adapter(
                LoraConfig(
                    r=lora_rank,
                    lora_alpha=lora_alpha,
                    init_lora_weights=True,
                    target_modules=list(LORA_TARGET_MODULES),
                )
            )
            for param in transformer.parameters():
                if param.requires_grad:  # master weights: LoRA weights train in master_dtype on the frozen base
                    param.data = param.data.to(master_dtype)
        else:
            # Master weights: AdamW at lr 5e-6 moves a weight by ~5e-6 relative, below bf16's 2^-8 spacing,
            # so bf16 weights would drop most updates. Compute still runs in bf16 under autocast.
            transformer.requires_grad_(True).to(master_dtype)
        if gradient_checkpointing:
            transformer.enable_gradient_checkpointing()
        self._transformer = transformer
        self.module: torch.nn.Module = transformer

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls, model_root: str | Path, checkpoint: str | Path | None = None, dtype: torch.dtype = torch.bfloat16,
        text_encoder_dtype: torch.dtype | None = None, vae_dtype: torch.dtype = torch.float32, **kwargs: Any,
    ) -> WanPolicy:
        """Load a local diffusers-format Wan2.2-TI2V folder ``model_root``.

        ``checkpoint``: a single ``.safetensors`` transformer (original Wan / DiffSynth or diffusers keys)
        that replaces the folder's transformer weights, or a folder written by ``save_pretrained`` (full
        weights or LoRA weights, merged into the folder's model), or a training checkpoint holding one.
        """
        saved_policy = checkpoint is not None and Path(checkpoint).is_dir()
        parts = load_components(
            model_root, None if saved_policy else checkpoint, dtype, text_encoder_dtype or dtype, vae_dtype,
            load_text_encoder=kwargs.pop("load_text_encoder", True),
        )
        kwargs.setdefault("shift", parts.shift)
        kwargs.setdefault("num_train_timesteps", parts.num_train_timesteps)
        if saved_policy:  # merged into the base weights first, so the reference is the model we start from
            from diffrl.checkpoint import resolve_policy_folder

            merge_saved_policy(parts.transformer, resolve_policy_folder(checkpoint))
        return cls(parts.transformer, parts.vae, parts.text_encoder, parts.tokenizer, **kwargs)

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        """``(C, F, h, w)`` of one sample's latents."""
        frames = (self.num_frames - 1) // self._temporal + 1
        return (int(self.vae.config.z_dim), frames, self.height // self._spatial, self.width // self._spatial)

    # ------------------------------------------------------------------ conditions
    def cache_prompt_embeds(self, prompt: str, embeds: torch.Tensor) -> None:
        """Store the text embedding ``(L, text_dim)`` of ``prompt`` (as if the text encoder had made it)."""
        self._prompt_cache[prompt] = embeds.detach().to("cpu")
        self._prompt_cache.move_to_end(prompt)
        while len(self._prompt_cache) > self._prompt_cache_size:
            self._prompt_cache.popitem(last=False)

    @torch.no_grad()
    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """UMT5 embeddings ``(B, max_sequence_length, text_dim)`` on the CPU, zero after each prompt's end."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self._prompt_cache))
        if missing:
            if self.text_encoder is None or self.tokenizer is None:
                raise RuntimeError(
                    f"no text encoder loaded and no cached embedding for prompts {missing[:3]}; "
                    "load one or call cache_prompt_embeds first"
                )
            tokens = self.tokenizer(
                [clean_prompt(p) for p in missing], padding="max_length", max_length=self.max_sequence_length,
                truncation=True, add_special_tokens=True, return_attention_mask=True, return_tensors="pt",
            )
            encoder = self.text_encoder
            if self.text_encoder_offload:
                encoder.to(self.device)
            device = next(encoder.parameters()).device
            mask = tokens.attention_mask.to(device)
            hidden = encoder(tokens.input_ids.to(device), mask).last_hidden_state
            if self.text_encoder_offload:
                encoder.to("cpu")
            hidden = hidden * mask[..., None].to(hidden.dtype)  # the pipeline zeroes the padding positions
            for prompt, embeds in zip(missing, hidden):
                self.cache_prompt_embeds(prompt, embeds.to(self._dtype))
        return torch.stack([self._prompt_cache[p] for p in prompts])

    @torch.no_grad()
    def encode_first_frames(self, first_frames: np.ndarray) -> torch.Tensor:
        """uint8 ``(B, H, W, 3)`` to normalised latents ``(B, C, 1, h, w)`` float32."""
        frames = np.asarray(first_frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"first_frames must be uint8 (B, H, W, 3), got shape {frames.shape}")
        if frames.dtype != np.uint8:
            raise TypeError(f"first_frames must be uint8, got {frames.dtype}")
        return self.encode_videos(frames[:, None])

    def encode_conditions(self, first_frames: np.ndarray, prompts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Conditions for a batch: prompt/negative embeddings and the first frame's latent."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if len(prompts) != len(first_frames):
            raise ValueError(f"got {len(first_frames)} first frames but {len(prompts)} prompts")
        embeds = self.encode_prompts(prompts + [self.negative_prompt])
        return {
            "prompt_embeds": embeds[:-1].to(self.device),
            "negative_prompt_embeds": embeds[-1:].expand(len(prompts), -1, -1).to(self.device),
            "image_latents": self.encode_first_frames(first_frames).to(self.device),
        }

    # ------------------------------------------------------------------ sampling
    def initial_latents(
        self, conditions: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Standard normal latents ``(B, C, F, h, w)`` float32 with frame 0 set to the first frame's latent."""
        image_latents = conditions["image_latents"]
        shape = (image_latents.shape[0], *self.latent_shape)
        gen_device = generator.device if generator is not None else image_latents.device
        noise = torch.randn(shape, generator=generator, device=gen_device, dtype=torch.float32)
        noise = noise.to(image_latents.device)
        return torch.cat([image_latents.float(), noise[:, :, 1:]], dim=2)

    def given_mask(self, latents: torch.Tensor) -> torch.Tensor:
        """bool ``(1, 1, F, 1, 1)``: True on latent frame 0 (the given first frame)."""
        mask = torch.zeros(1, 1, latents.shape[2], 1, 1, dtype=torch.bool, device=latents.device)
        mask[:, :, 0] = True
        return mask

    def _timesteps(self, sigma: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """Per-token timesteps ``(B, seq_len)``: ``sigma * 1000``, 0 on the first frame's tokens."""
        p_t, p_h, p_w = self._patch
        frames, height, width = latents.shape[2] // p_t, latents.shape[3] // p_h, latents.shape[4] // p_w
        token_mask = torch.ones(frames, height * width, dtype=torch.float32, device=latents.device)
        token_mask[0] = 0.0
        t = sigma.to(latents.device, torch.float32).reshape(-1) * self.num_train_timesteps
        return t[:, None] * token_mask.flatten()[None]

    def velocity(
        self,
        latents: torch.Tensor,
        sigma: torch.Tensor,
        conditions: dict[str, torch.Tensor],
        guidance_scale: torch.Tensor | float = 1.0,
    ) -> torch.Tensor:
        """Guided velocity float32, same shape as ``latents``; ``sigma``: (B,) or a scalar."""
        batch = latents.shape[0]
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=latents.device).expand(batch)
        image_latents = conditions["image_latents"].to(latents.device, torch.float32)
        model_input = torch.cat([image_latents, latents[:, :, 1:].float()], dim=2)
        timestep = self._timesteps(sigma, latents)
        guidance = torch.as_tensor(guidance_scale, dtype=torch.float32, device=latents.device)
        use_cfg = bool((guidance != 1.0).any())
        embeds = conditions["prompt_embeds"]
        if use_cfg:  # one batched forward: [conditional; unconditional]
            model_input = torch.cat([model_input, model_input])
            timestep = torch.cat([timestep, timestep])
            embeds = torch.cat([embeds, conditions["negative_prompt_embeds"]])
        frozen = self._in_reference and self._reference_model is not None
        model = self._reference_model if frozen else self.module
        # inputs in the dtype of the model's own weights (LoRA: the frozen base); autocast, when on, casts
        # the matmuls to bf16 whatever that dtype is
        dtype = self._dtype if frozen or self.finetune == "lora" else self.master_dtype
        output = model(
            hidden_states=model_input.to(dtype),
            timestep=timestep,
            encoder_hidden_states=embeds.to(latents.device, dtype),
            return_dict=False,
        )[0].float()
        if not use_cfg:
            return output
        cond, uncond = output.chunk(2)
        return uncond + guidance.expand(batch).view(-1, 1, 1, 1, 1) * (cond - uncond)

    @contextmanager
    def reference(self) -> Iterator[None]:
        """Inside, ``velocity`` uses the frozen reference: LoRA adapters disabled, or the frozen copy."""
        if self._reference_kind == "none":
            raise RuntimeError("this WanPolicy was built with reference='none' (no frozen reference model)")
        with torch.no_grad():
            if self._reference_kind == "lora":
                self._transformer.disable_adapters()
                try:
                    yield
                finally:
                    self._transformer.enable_adapters()
            else:
                self._in_reference = True
                try:
                    yield
                finally:
                    self._in_reference = False

    # ------------------------------------------------------------------ pixels
    @torch.no_grad()
    def decode_unit(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents to float videos in [0, 1], ``(B, T, H, W, 3)`` on the CPU (one sample at a time)."""
        videos = []
        for sample in latents:
            z = sample[None].float().cpu() * self._latents_std + self._latents_mean
            frames = self.vae.decode(z.to(self.device, self.vae.dtype), return_dict=False)[0]
            videos.append((frames[0].float().cpu().permute(1, 2, 3, 0) / 2 + 0.5).clamp(0, 1))
        return torch.stack(videos)

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Latents to uint8 videos ``(B, T, H, W, 3)``."""
        return (self.decode_unit(latents) * 255).round().to(torch.uint8).numpy()

    @torch.no_grad()
    def encode_videos(self, videos: np.ndarray) -> torch.Tensor:
        """uint8 videos ``(B, T, H, W, 3)`` (T = 1 mod 4) to normalised clean latents float32 on the device."""
        videos = np.asarray(videos)
        if videos.ndim != 5 or videos.shape[-1] != 3:
            raise ValueError(f"videos must be uint8 (B, T, H, W, 3), got shape {videos.shape}")
        if videos.dtype != np.uint8:
            raise TypeError(f"videos must be uint8, got {videos.dtype}")
        if (videos.shape[1] - 1) % self._temporal:
            raise ValueError(f"video frame count must be 1 mod {self._temporal}, got {videos.shape[1]}")
        latents = []
        for video in videos:
            if video.shape[1:3] != (self.height, self.width):
                video = resize_video(video, self.height, self.width)
            pixels = torch.from_numpy(np.ascontiguousarray(video)).permute(3, 0, 1, 2)[None]
            pixels = pixels.float() / 127.5 - 1.0
            dist = self.vae.encode(pixels.to(self.device, self.vae.dtype)).latent_dist
            latents.append((dist.mode().float().cpu() - self._latents_mean) / self._latents_std)
        return torch.cat(latents).to(self.device)

    # ------------------------------------------------------------------ training state
    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """All transformer weights (full) or the LoRA weights only."""
        return [p for p in self._transformer.parameters() if p.requires_grad]

    def _settings(self) -> dict[str, Any]:
        return {
            "finetune": self.finetune, "lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha,
            "height": self.height, "width": self.width, "num_frames": self.num_frames, "shift": self.shift,
        }

    def save_pretrained(self, directory: str | Path, state_dict: Mapping[str, torch.Tensor] | None = None) -> None:
        """Full: ``directory/transformer`` (diffusers folder); LoRA: ``directory/pytorch_lora_weights.safetensors``.

        ``state_dict``: the trainable weights by name, gathered whole from a sharded module (default: this
        policy's own)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if state_dict is None:
            state_dict = {k: v for k, v in self._transformer.state_dict().items()}
        if self.finetune == "full":
            folder = directory / "transformer"
            self._transformer.save_config(str(folder))
            save_torch_state_dict(dict(state_dict), str(folder), max_shard_size="10GB",
                                  filename_pattern="diffusion_pytorch_model{suffix}.safetensors")
        else:
            WanImageToVideoPipeline.save_lora_weights(
                str(directory),
                transformer_lora_layers=get_peft_model_state_dict(self._transformer, state_dict=dict(state_dict)),
                weight_name=LORA_FILE,
                safe_serialization=True,
                transformer_lora_adapter_metadata=self._transformer.peft_config["default"].to_dict(),
            )
        (directory / POLICY_FILE).write_text(json.dumps(self._settings(), indent=2))

    def load_pretrained(self, directory: str | Path) -> None:
        """Load what ``save_pretrained`` wrote into this policy."""
        directory = Path(directory)
        settings_path = directory / POLICY_FILE
        if not settings_path.is_file():
            raise FileNotFoundError(f"{settings_path} not found (expected a folder written by WanPolicy.save_pretrained)")
        saved = json.loads(settings_path.read_text())
        if saved.get("finetune") != self.finetune:
            raise ValueError(f"{directory} holds {saved.get('finetune')!r} weights but this policy is {self.finetune!r}")
        if self.finetune == "full":
            state_dict = load_folder_state_dict(directory / "transformer")
            check_keys(self._transformer, state_dict, str(directory / "transformer"))
            self._transformer.load_state_dict(state_dict, strict=True)
            return
        lora_path = directory / LORA_FILE
        if not lora_path.is_file():
            raise FileNotFoundError(f"{lora_path} not found (expected LoRA weights written by save_pretrained)")
        state_dict = {k.removeprefix("transformer."): v for k, v in load_file(str(lora_path)).items()}
        result = set_peft_model_state_dict(self._transformer, state_dict, adapter_name="default")
        missing = [key for key in result.missing_keys if "lora_" in key]
        if result.unexpected_keys or missing:
            raise ValueError(f"{lora_path} does not match this policy's LoRA layers (rank/targets): unexpected "
                             f"{result.unexpected_keys[:3]}, missing {missing[:3]}")


def build_wan_policy(policy: Mapping[str, Any] | Any, device: str | torch.device | None = None) -> WanPolicy:
    """A WanPolicy from the run config's ``policy:`` section (a mapping or an object with those attributes)."""
    return WanPolicy.from_pretrained(**policy_kwargs_from_config(policy, device))
