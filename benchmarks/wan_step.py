"""One GRPO micro-step of Wan2.2-TI2V-5B at 480x832x81: seconds per phase and peak memory.

The real 5B transformer and Wan2.2 VAE are built from their configs with random weights (no download);
prompt embeddings are random (the UMT5 encoder is cached away during training anyway). Phases, as the
trainer runs them: encode the first frame; sample 20 steps with log-probs (SDE on the first half,
Early-Step Focus); decode the video; the loss on 10 steps (policy forward + backward with gradient
checkpointing, reference forward for the KL); the optimizer step. Full fine-tuning and LoRA.

Precision as the trainer runs it: weights stored in ``--dtype`` (bf16), trained weights and AdamW states
in ``--master-dtype`` (float32), compute under ``--autocast`` (bf16). Peak memory: CUDA's peak allocated
bytes, or on the CPU the process's peak resident set during each phase (polled every 5 ms).

    python benchmarks/wan_step.py                          # CUDA, 480x832x81, full and LoRA
    python benchmarks/wan_step.py --tiny --device cpu      # seconds-long CPU smoke run, tiny architecture
    python benchmarks/wan_step.py --estimate               # 5B memory for weights/grads/AdamW, from counts
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Self

import numpy as np
import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from diffrl.grpo import kl_on_means, ppo_clip_loss
from diffrl.policies.wan import WanPolicy
from diffrl.policies.wan_convert import cast_like_from_pretrained
from diffrl.sampling import SamplingPlan, rollout, sample_generators, step_log_prob

PROMPT = "Solve the maze: move the red agent along the open corridors to the green goal."
TRANSFORMER_5B = {  # Wan-AI/Wan2.2-TI2V-5B-Diffusers transformer/config.json
    "patch_size": (1, 2, 2), "num_attention_heads": 24, "attention_head_dim": 128, "in_channels": 48,
    "out_channels": 48, "text_dim": 4096, "freq_dim": 256, "ffn_dim": 14336, "num_layers": 30,
    "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "rope_max_seq_len": 1024,
}
VAE_5B = {  # its vae/config.json (statistics omitted: random weights make them irrelevant)
    "base_dim": 160, "decoder_base_dim": 256, "z_dim": 48, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
    "is_residual": True, "in_channels": 12, "out_channels": 12, "patch_size": 2, "scale_factor_spatial": 16,
    "scale_factor_temporal": 4, "temperal_downsample": [False, True, True],
    "latents_mean": [0.0] * 48, "latents_std": [1.0] * 48,
}
TRANSFORMER_TINY = {**TRANSFORMER_5B, "num_attention_heads": 2, "attention_head_dim": 12, "text_dim": 32,
                    "ffn_dim": 32, "num_layers": 2, "rope_max_seq_len": 32}
VAE_TINY = {**VAE_5B, "base_dim": 3, "decoder_base_dim": None, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1}
DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}


def build(args: argparse.Namespace, finetune: str) -> WanPolicy:
    """A WanPolicy around randomly initialised modules built directly on the device."""
    transformer_config, vae_config = (TRANSFORMER_TINY, VAE_TINY) if args.tiny else (TRANSFORMER_5B, VAE_5B)
    torch.manual_seed(0)
    with torch.device(args.device):
        transformer = WanTransformer3DModel(**transformer_config)
        vae = AutoencoderKLWan(**vae_config)
    cast_like_from_pretrained(transformer, DTYPES[args.dtype])
    cast_like_from_pretrained(vae, DTYPES[args.vae_dtype])
    policy = WanPolicy(
        transformer, vae, None, None, height=args.height, width=args.width, num_frames=args.frames, shift=5.0,
        finetune=finetune, lora_rank=args.lora_rank, lora_alpha=2 * args.lora_rank,
        master_dtype=DTYPES[args.master_dtype],
        gradient_checkpointing=not args.no_gradient_checkpointing, device=args.device,
        max_sequence_length=args.text_tokens,
    )
    text_dim = transformer_config["text_dim"]
    for prompt in (PROMPT, policy.negative_prompt):
        policy.cache_prompt_embeds(prompt, torch.randn(args.text_tokens, text_dim).to(DTYPES[args.dtype]))
    return policy


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class PeakResidentSet:
    """The peak resident set (bytes) of this process while inside, polled by a thread every 5 ms."""

    def __enter__(self) -> Self:
        self.peak, self._stop = self.current(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def current() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.current())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def phase(name: str, device: str, results: dict, fn: Callable[[], object], autocast: str = "no") -> object:
    """Run ``fn`` (under autocast if asked), recording wall seconds and peak GiB during it."""
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sync(device)
    context = torch.autocast(device.split(":")[0], dtype=DTYPES[autocast]) if autocast != "no" else nullcontext()
    with PeakResidentSet() as resident, context:
        start = time.perf_counter()
        out = fn()
        sync(device)
        results[f"{name}_s"] = round(time.perf_counter() - start, 3)
    peak = torch.cuda.max_memory_allocated() if cuda else resident.peak
    results[f"{name}_peak_gib"] = round(peak / 2**30, 3)
    return out


def micro_step(args: argparse.Namespace, finetune: str) -> dict:
    results: dict = {"finetune": finetune}
    policy = phase("build", args.device, results, lambda: build(args, finetune))
    results["trainable_params_m"] = round(sum(p.numel() for p in policy.trainable_parameters()) / 1e6, 2)
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=1e-6)
    frame = np.random.default_rng(0).integers(0, 256, (args.batch, args.height, args.width, 3), dtype=np.uint8)
    conditions = phase("conditions", args.device, results,
                       lambda: policy.encode_conditions(frame, [PROMPT] * args.batch))
    plan = SamplingPlan.create(args.steps, policy.shift, sde_cutoff_ratio=args.sde_cutoff_ratio,
                               loss_steps=args.loss_steps, coefficient=0.3)
    result = phase("sampling", args.device, results, lambda: rollout(
        policy, conditions, plan, args.guidance, sample_generators(list(range(args.batch)))), args.autocast)
    if not args.no_decode:
        phase("decode", args.device, results, lambda: policy.decode(result.final))
    advantages = torch.ones(args.batch, device=result.final.device)

    def loss() -> None:
        counted = ~policy.given_mask(result.final).expand_as(result.final)
        for j in range(plan.num_loss_steps):
            step = (result.latents[:, j], result.next_latents[:, j], plan.sigmas[j], plan.sigmas[j + 1],
                    conditions, result.guidance, plan.coefficient)
            log_prob, mean, std = step_log_prob(policy, *step)
            total = ppo_clip_loss(log_prob, result.log_probs[:, j], advantages)[0].mean()
            if not args.no_kl:
                with policy.reference():
                    _, ref_mean, _ = step_log_prob(policy, *step)
                noise_std = std * torch.sqrt(plan.sigmas[j] - plan.sigmas[j + 1]).to(std.device)
                total = total + 0.04 * kl_on_means(mean, ref_mean, noise_std, counted).mean()
            (total / plan.num_loss_steps).backward()

    phase("loss", args.device, results, loss, args.autocast)

    def update() -> None:
        torch.nn.utils.clip_grad_norm_(policy.trainable_parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    phase("optimizer", args.device, results, update)
    results["micro_step_s"] = round(sum(results.get(f"{k}_s", 0.0) for k in
                                        ("conditions", "sampling", "decode", "loss", "optimizer")), 3)
    results["peak_gib"] = max(v for k, v in results.items() if k.endswith("_peak_gib"))
    results["master_dtype"] = str({p.dtype for p in policy.trainable_parameters()}.pop()).removeprefix("torch.")
    return results


def estimate(args: argparse.Namespace) -> None:
    """Memory for weights, gradients and AdamW states of the 5B model (no activations), from parameter
    counts on the meta device: an estimate, not a measurement."""
    with torch.device("meta"):
        transformer = WanTransformer3DModel(**TRANSFORMER_5B)
    total = sum(p.numel() for p in transformer.parameters())
    per_layer = sum(p.numel() for n, p in transformer.named_parameters() if n.startswith("blocks.0."))
    targets = ("to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2")
    lora = sum(args.lora_rank * (m.in_features + m.out_features) for n, m in transformer.named_modules()
               if isinstance(m, torch.nn.Linear) and n.startswith("blocks.") and n.endswith(targets))
    gib = 2**30
    # full: float32 master (4) + float32 grad (4) + AdamW m, v (8) per trained parameter; bf16 reference (2)
    full_sharded = 16 * total / gib
    rows = {
        "full, 1 GPU": full_sharded + 2 * total / gib,
        "full, FSDP over 8 GPUs": full_sharded / 8 + 2 * total / gib,
        "lora, 1 GPU (bf16 base + float32 adapters, grads, AdamW)": 2 * total / gib + 16 * lora / gib,
    }
    print(f"# ESTIMATE (not measured): Wan2.2-TI2V-5B, {total / 1e9:.2f} B parameters ({per_layer / 1e6:.0f} M per "
          f"block), LoRA rank {args.lora_rank}: {lora / 1e6:.1f} M; weights + grads + AdamW states per GPU, "
          "activations and the VAE not included")
    for name, value in rows.items():
        print(json.dumps({"estimate": name, "state_gib": round(value, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny architecture at 64x64x9 (CPU smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--modes", default="full,lora", help="comma-separated: full, lora")
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--batch", type=int, default=1, help="samples per micro-step")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sde-cutoff-ratio", type=float, default=0.5)
    parser.add_argument("--loss-steps", type=int, default=10)
    parser.add_argument("--guidance", type=float, default=5.0, help="1.0 turns classifier-free guidance off")
    parser.add_argument("--lora-rank", type=int, default=32)
    parser.add_argument("--text-tokens", type=int, default=None, help="prompt length (512 as in Wan)")
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES), help="transformer storage")
    parser.add_argument("--master-dtype", default="float32", choices=sorted(DTYPES), help="trained weights")
    parser.add_argument("--autocast", default="bfloat16", choices=["no", *sorted(DTYPES)], help="compute dtype")
    parser.add_argument("--estimate", action="store_true", help="print the 5B state-memory estimate and exit")
    parser.add_argument("--vae-dtype", default=None, choices=sorted(DTYPES))
    parser.add_argument("--no-gradient-checkpointing", action="store_true")
    parser.add_argument("--no-kl", action="store_true", help="skip the reference forward (KL coefficient 0)")
    parser.add_argument("--no-decode", action="store_true")
    args = parser.parse_args()
    if args.estimate:
        estimate(args)
        return
    size = (64, 64, 9) if args.tiny else (480, 832, 81)
    args.height, args.width, args.frames = (a or s for a, s in zip((args.height, args.width, args.frames), size))
    args.text_tokens = args.text_tokens or (16 if args.tiny else 512)
    args.vae_dtype = args.vae_dtype or "float32"  # the adapter's default (diffusers recommends a float32 VAE)
    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"# Wan2.2-TI2V-{'tiny' if args.tiny else '5B'} GRPO micro-step on {card}: {args.height}x{args.width}x"
          f"{args.frames}, batch {args.batch}, {args.steps} steps (SDE on {args.sde_cutoff_ratio:.0%}, loss on "
          f"{args.loss_steps}), cfg {args.guidance}, {args.dtype} storage, {args.master_dtype} master weights, "
          f"autocast {args.autocast}, checkpointing "
          f"{not args.no_gradient_checkpointing}")
    for mode in args.modes.split(","):
        results = micro_step(args, mode.strip())
        print(json.dumps({"card": card, **results}))
        gc.collect()  # free this mode's model before building the next
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
